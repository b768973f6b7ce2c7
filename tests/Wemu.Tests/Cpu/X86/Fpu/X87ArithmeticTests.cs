using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>FADD/FSUB/FMUL/FDIV/FSQRT/FRNDINT against the host x87 in every PC and RC.</summary>
public class X87ArithmeticTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private const int RandomCount = 30000;

    private delegate Float80 Binary(Float80 a, Float80 b, X87Control c, ref X87Status s);

    private delegate Float80 Unary(Float80 a, X87Control c, ref X87Status s);

    private void CheckBinary(int op, string name, Binary f, int seed) =>
        X87TestData.Check(oracle, op, name, X87TestData.Pairs(seed, RandomCount), (cw, a, b) =>
        {
            var s = new X87Status();
            var r = f(a, b, new X87Control(cw), ref s);
            return new X87TestData.Outcome(r, default, s.Word, 0);
        });

    private void CheckUnary(int op, string name, Unary f, int seed) =>
        X87TestData.Check(oracle, op, name, X87TestData.Pairs(seed, RandomCount, binary: false), (cw, a, b) =>
        {
            var s = new X87Status();
            var r = f(a, new X87Control(cw), ref s);
            return new X87TestData.Outcome(r, default, s.Word, 0);
        });

    [Fact]
    public void Fadd() => CheckBinary(0x00, "fadd", X87Arithmetic.Add, 1);

    [Fact]
    public void Fsub() => CheckBinary(0x01, "fsub", X87Arithmetic.Sub, 2);

    [Fact]
    public void Fmul() => CheckBinary(0x02, "fmul", X87Arithmetic.Mul, 3);

    [Fact]
    public void Fdiv() => CheckBinary(0x03, "fdiv", X87Arithmetic.Div, 4);

    [Fact]
    public void Fsqrt() => CheckUnary(0x04, "fsqrt", X87Arithmetic.Sqrt, 5);

    [Fact]
    public void Frndint() => CheckUnary(0x05, "frndint", X87Arithmetic.RoundToInteger, 6);
}
