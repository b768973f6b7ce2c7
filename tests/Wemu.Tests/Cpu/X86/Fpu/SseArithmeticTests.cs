using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>ADD/SUB/MUL/DIV/SQRT/MIN/MAX SS and SD against the host SSE unit, every RC with DAZ and FTZ.</summary>
public class SseArithmeticTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private const int RandomCount = 30000;

    private delegate uint Single2(uint a, uint b, ref uint mxcsr);

    private delegate ulong Double2(ulong a, ulong b, ref uint mxcsr);

    private void CheckSingle(int op, string name, Single2 f, int seed) =>
        SseTestData.Check(oracle, op, name, SseTestData.Pairs(seed, false, RandomCount), (mx, a, b) =>
        {
            uint m = mx;
            uint r = f((uint)a, (uint)b, ref m);
            return new(r, m, 0);
        }, 32);

    private void CheckDouble(int op, string name, Double2 f, int seed) =>
        SseTestData.Check(oracle, op, name, SseTestData.Pairs(seed, true, RandomCount), (mx, a, b) =>
        {
            uint m = mx;
            ulong r = f(a, b, ref m);
            return new(r, m, 0);
        }, 64);

    [Fact]
    public void Addss() => CheckSingle(0x40, "addss", SseArithmetic.AddSingle, 51);

    [Fact]
    public void Subss() => CheckSingle(0x41, "subss", SseArithmetic.SubSingle, 52);

    [Fact]
    public void Mulss() => CheckSingle(0x42, "mulss", SseArithmetic.MulSingle, 53);

    [Fact]
    public void Divss() => CheckSingle(0x43, "divss", SseArithmetic.DivSingle, 54);

    [Fact]
    public void Sqrtss() => CheckSingle(0x44, "sqrtss", (uint a, uint b, ref uint m) => SseArithmetic.SqrtSingle(b, ref m), 55);

    [Fact]
    public void Minss() => CheckSingle(0x45, "minss", SseArithmetic.MinSingle, 56);

    [Fact]
    public void Maxss() => CheckSingle(0x46, "maxss", SseArithmetic.MaxSingle, 57);

    [Fact]
    public void Addsd() => CheckDouble(0x60, "addsd", SseArithmetic.AddDouble, 61);

    [Fact]
    public void Subsd() => CheckDouble(0x61, "subsd", SseArithmetic.SubDouble, 62);

    [Fact]
    public void Mulsd() => CheckDouble(0x62, "mulsd", SseArithmetic.MulDouble, 63);

    [Fact]
    public void Divsd() => CheckDouble(0x63, "divsd", SseArithmetic.DivDouble, 64);

    [Fact]
    public void Sqrtsd() => CheckDouble(0x64, "sqrtsd", (ulong a, ulong b, ref uint m) => SseArithmetic.SqrtDouble(b, ref m), 65);

    [Fact]
    public void Minsd() => CheckDouble(0x65, "minsd", SseArithmetic.MinDouble, 66);

    [Fact]
    public void Maxsd() => CheckDouble(0x66, "maxsd", SseArithmetic.MaxDouble, 67);
}
