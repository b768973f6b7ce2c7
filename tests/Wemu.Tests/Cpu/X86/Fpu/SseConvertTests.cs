using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>
/// CVTSI2SS/SD, CVTSS2SD, CVTSD2SS, CVT(T)SS2SI, CVT(T)SD2SI, the packed
/// CVTDQ2PS/CVT(T)PS2DQ/CVTDQ2PD/CVT(T)PD2DQ (lane 0) and ROUNDSS/SD against
/// the host SSE unit.
/// </summary>
public class SseConvertTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    /// <summary>Float operands in b (unary ops read their source from b), including values around the integer limits.</summary>
    private static List<(uint, ulong, ulong)> FloatCases(int seed, bool d, bool inA)
    {
        var list = SseTestData.Pairs(seed, d, 20000, binary: false);
        var rng = new Random(seed);
        var controls = SseTestData.Controls();
        for (int i = 0; i < 10000; i++)
        {
            // Magnitudes 2^-2 .. 2^64 with random fractions: rounding and range limits.
            int e = rng.Next(-2, 65);
            ulong v = d
                ? ((ulong)(1023 + e) << 52) | ((ulong)rng.NextInt64() & 0x000F_FFFF_FFFF_FFFF & ~((1UL << rng.Next(53)) - 1))
                : ((ulong)(127 + e) << 23) | ((ulong)rng.Next() & 0x7F_FFFF & ~((1UL << rng.Next(24)) - 1));
            v |= (ulong)rng.Next(2) << (d ? 63 : 31);
            list.Add((controls[rng.Next(controls.Length)], v, v));
        }

        return list.Select(c => inA ? (c.Item1, c.Item2, 0UL) : (c.Item1, 0UL, c.Item3)).ToList();
    }

    private static List<(uint, ulong, ulong)> IntCases(int seed, bool wide)
    {
        var list = new List<(uint, ulong, ulong)>();
        var rng = new Random(seed);
        var controls = SseTestData.Controls();
        ulong[] edges = [0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF_8000_0000, 0x00FF_FFFF, 0x0100_0001,
            0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x001F_FFFF_FFFF_FFFF, 0x0020_0000_0000_0001];
        foreach (uint mx in controls)
            foreach (ulong e in edges)
                list.Add((mx, wide ? e : e & 0xFFFF_FFFF, 0));
        for (int i = 0; i < 20000; i++)
        {
            ulong v = (ulong)rng.NextInt64() >> rng.Next(64);
            if (rng.Next(2) == 0)
                v = 0 - v;
            list.Add((controls[rng.Next(controls.Length)], wide ? v : v & 0xFFFF_FFFF, 0));
        }

        return list;
    }

    private delegate ulong Unary(ulong x, ref uint mxcsr);

    private void Check(int op, string name, List<(uint, ulong, ulong)> cases, bool fromA, Unary f, int bits) =>
        SseTestData.Check(oracle, op, name, cases, (mx, a, b) =>
        {
            uint m = mx;
            ulong r = f(fromA ? a : b, ref m);
            return new(r, m, 0);
        }, bits);

    [Fact]
    public void Cvtsi2ssR32() => Check(0x49, "cvtsi2ss r32", IntCases(90, false), true,
        (ulong x, ref uint m) => SseConvert.Int32ToSingle((int)x, ref m), 32);

    [Fact]
    public void Cvtsi2ssR64() => Check(0x4A, "cvtsi2ss r64", IntCases(91, true), true,
        (ulong x, ref uint m) => SseConvert.Int64ToSingle((long)x, ref m), 32);

    [Fact]
    public void Cvtsi2sdR32() => Check(0x69, "cvtsi2sd r32", IntCases(92, false), true,
        (ulong x, ref uint m) => SseConvert.Int32ToDouble((int)x), 64);

    [Fact]
    public void Cvtsi2sdR64() => Check(0x6A, "cvtsi2sd r64", IntCases(93, true), true,
        (ulong x, ref uint m) => SseConvert.Int64ToDouble((long)x, ref m), 64);

    [Fact]
    public void Cvtdq2ps() => Check(0x50, "cvtdq2ps", IntCases(94, false).Select(c => (c.Item1, 0UL, c.Item2)).ToList(), false,
        (ulong x, ref uint m) => SseConvert.Int32ToSingle((int)x, ref m), 32);

    [Fact]
    public void Cvtdq2pd() => Check(0x70, "cvtdq2pd", IntCases(95, false).Select(c => (c.Item1, 0UL, c.Item2)).ToList(), false,
        (ulong x, ref uint m) => SseConvert.Int32ToDouble((int)x), 64);

    [Fact]
    public void Cvtss2sd() => Check(0x4B, "cvtss2sd", FloatCases(96, false, false), false,
        (ulong x, ref uint m) => SseConvert.SingleToDouble((uint)x, ref m), 64);

    [Fact]
    public void Cvtsd2ss() => Check(0x6B, "cvtsd2ss", FloatCases(97, true, false), false,
        (ulong x, ref uint m) => SseConvert.DoubleToSingle(x, ref m), 32);

    [Theory]
    [InlineData(0x4C, false, false)]
    [InlineData(0x4E, true, false)]
    [InlineData(0x4D, false, true)]
    [InlineData(0x4F, true, true)]
    public void Cvtss2si(int op, bool truncate, bool wide) => Check(op, $"cvt{(truncate ? "t" : "")}ss2si r{(wide ? 64 : 32)}",
        FloatCases(op, false, true), true,
        (ulong x, ref uint m) => wide ? (ulong)SseConvert.SingleToInt64((uint)x, truncate, ref m) : (uint)SseConvert.SingleToInt32((uint)x, truncate, ref m),
        wide ? 64 : 32);

    [Theory]
    [InlineData(0x6C, false, false)]
    [InlineData(0x6E, true, false)]
    [InlineData(0x6D, false, true)]
    [InlineData(0x6F, true, true)]
    public void Cvtsd2si(int op, bool truncate, bool wide) => Check(op, $"cvt{(truncate ? "t" : "")}sd2si r{(wide ? 64 : 32)}",
        FloatCases(op, true, true), true,
        (ulong x, ref uint m) => wide ? (ulong)SseConvert.DoubleToInt64(x, truncate, ref m) : (uint)SseConvert.DoubleToInt32(x, truncate, ref m),
        wide ? 64 : 32);

    [Theory]
    [InlineData(0x51, false)]
    [InlineData(0x52, true)]
    public void Cvtps2dq(int op, bool truncate) => Check(op, truncate ? "cvttps2dq" : "cvtps2dq", FloatCases(op, false, false), false,
        (ulong x, ref uint m) => (uint)SseConvert.SingleToInt32((uint)x, truncate, ref m), 32);

    [Theory]
    [InlineData(0x71, false)]
    [InlineData(0x72, true)]
    public void Cvtpd2dq(int op, bool truncate) => Check(op, truncate ? "cvttpd2dq" : "cvtpd2dq", FloatCases(op, true, false), false,
        (ulong x, ref uint m) => (uint)SseConvert.DoubleToInt32(x, truncate, ref m), 32);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(12)]
    public void Roundss(int imm) => Check(0x80 + imm, $"roundss {imm}", FloatCases(100 + imm, false, false), false,
        (ulong x, ref uint m) => SseConvert.RoundSingle((uint)x, imm, ref m), 32);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(12)]
    public void Roundsd(int imm) => Check(0x90 + imm, $"roundsd {imm}", FloatCases(110 + imm, true, false), false,
        (ulong x, ref uint m) => SseConvert.RoundDouble(x, imm, ref m), 64);
}
