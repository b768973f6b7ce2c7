using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>FILD, FIST(P), FISTTP, FLD m32/m64, FST m32/m64 against the host x87.</summary>
public class X87ConvertTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private static List<(ushort, Float80, Float80)> Integers(int seed)
    {
        var list = new List<(ushort, Float80, Float80)>();
        var rng = new Random(seed);
        ulong[] edges = [0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF,
            0x8000_0000_0000_0000, ulong.MaxValue, 0x0123_4567_89AB_CDEF];
        foreach (ulong e in edges)
            list.Add((0x37F, new Float80(0, e), default));
        for (int i = 0; i < 5000; i++)
            list.Add((0x37F, new Float80(0, (ulong)rng.NextInt64() >> rng.Next(64) ^ (rng.Next(2) == 0 ? 0 : ulong.MaxValue)), default));
        return list;
    }

    /// <summary>Edges, random values, and values around the integer range limits and halfway points.</summary>
    private static List<(ushort, Float80, Float80)> ToIntegerCases(int seed)
    {
        var list = X87TestData.Pairs(seed, 10000, binary: false);
        var rng = new Random(seed);
        var controls = X87TestData.Controls().ToArray();
        for (int i = 0; i < 20000; i++)
        {
            int bits = rng.Next(3) switch { 0 => 16, 1 => 32, _ => 64 };
            int exp = Float80.Bias + rng.Next(-3, bits + 1);
            ulong sig = Float80.IntegerBit | ((ulong)rng.NextInt64() & (rng.Next(2) == 0 ? ~0UL : ~((1UL << rng.Next(1, 64)) - 1)));
            if (rng.Next(4) == 0)
                sig = Float80.IntegerBit | ((ulong)rng.Next(4) << 62 >> (exp - Float80.Bias + 1));
            list.Add((controls[rng.Next(controls.Length)], new Float80((ushort)((rng.Next(2) << 15) | exp), sig), default));
        }

        return list;
    }

    private static List<(ushort, Float80, Float80)> BinaryCases(int seed, bool d)
    {
        var list = new List<(ushort, Float80, Float80)>();
        var rng = new Random(seed);
        ulong[] edges = d
            ? [0, 1, 0x000F_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0x7FF0_0000_0000_0000,
               0x7FF8_0000_0000_0000, 0x7FF0_0000_0000_0001, 0x7FF4_0000_0000_1234, 0x7FFF_FFFF_FFFF_FFFF, 0x3FF0_0000_0000_0000]
            : [0, 1, 0x007F_FFFF, 0x0080_0000, 0x7F7F_FFFF, 0x7F80_0000, 0x7FC0_0000, 0x7F80_0001, 0x7FA0_1234, 0x7FFF_FFFF, 0x3F80_0000];
        foreach (ulong e in edges)
        {
            list.Add((0x37F, new Float80(0, e), default));
            list.Add((0x37F, new Float80(0, e | (d ? 0x8000_0000_0000_0000UL : 0x8000_0000UL)), default));
        }

        for (int i = 0; i < 10000; i++)
        {
            ulong v = (ulong)rng.NextInt64() << 1 ^ (ulong)rng.Next(2);
            if (!d)
                v &= 0xFFFF_FFFF;
            if (rng.Next(4) == 0)
                v &= d ? 0x800F_FFFF_FFFF_FFFFUL : 0x807F_FFFFUL; // denormals
            list.Add((0x37F, new Float80(0, v), default));
        }

        return list;
    }

    /// <summary>Extended values around the binary32/binary64 range limits, plus edges and random values.</summary>
    private static List<(ushort, Float80, Float80)> NarrowingCases(int seed, bool d)
    {
        var list = X87TestData.Pairs(seed, 10000, binary: false);
        var rng = new Random(seed);
        var controls = X87TestData.Controls().ToArray();
        int[] centers = d ? [-1022, -1074, 1023, 0] : [-126, -149, 127, 0];
        for (int i = 0; i < 30000; i++)
        {
            int exp = Float80.Bias + centers[rng.Next(centers.Length)] + rng.Next(-3, 4);
            ulong sig = Float80.IntegerBit | (ulong)rng.NextInt64();
            if (rng.Next(2) == 0)
                sig &= ~((1UL << rng.Next(64)) - 1);
            if (rng.Next(4) == 0)
                sig |= (1UL << rng.Next(64)) - 1;
            list.Add((controls[rng.Next(controls.Length)], new Float80((ushort)((rng.Next(2) << 15) | exp), sig | Float80.IntegerBit), default));
        }

        return list;
    }

    private delegate long ToInt(Float80 a, X87Control c, ref X87Status s);

    private void CheckToInt(int op, string name, int bits, ToInt f, int seed) =>
        X87TestData.Check(oracle, op, name, ToIntegerCases(seed), (cw, a, b) =>
        {
            var s = new X87Status();
            long r = f(a, new X87Control(cw), ref s);
            return new X87TestData.Outcome(new Float80(0, (ulong)r), default, s.Word, 0);
        }, resultBits: bits);

    [Fact]
    public void Fild16() => X87TestData.Check(oracle, 0x0A, "fild m16", Integers(21),
        (cw, a, b) => new(X87Convert.FromInt16((short)a.Significand), default, 0, 0));

    [Fact]
    public void Fild32() => X87TestData.Check(oracle, 0x0B, "fild m32", Integers(22),
        (cw, a, b) => new(X87Convert.FromInt32((int)a.Significand), default, 0, 0));

    [Fact]
    public void Fild64() => X87TestData.Check(oracle, 0x0C, "fild m64", Integers(23),
        (cw, a, b) => new(X87Convert.FromInt64((long)a.Significand), default, 0, 0));

    [Fact]
    public void Fist16() => CheckToInt(0x0D, "fistp m16", 16, (Float80 a, X87Control c, ref X87Status s) => X87Convert.ToInt16(a, c, ref s), 24);

    [Fact]
    public void Fist32() => CheckToInt(0x0E, "fistp m32", 32, (Float80 a, X87Control c, ref X87Status s) => X87Convert.ToInt32(a, c, ref s), 25);

    [Fact]
    public void Fist64() => CheckToInt(0x0F, "fistp m64", 64, X87Convert.ToInt64, 26);

    [Fact]
    public void Fisttp16() => CheckToInt(0x10, "fisttp m16", 16, (Float80 a, X87Control c, ref X87Status s) => X87Convert.TruncateToInt16(a, ref s), 27);

    [Fact]
    public void Fisttp32() => CheckToInt(0x11, "fisttp m32", 32, (Float80 a, X87Control c, ref X87Status s) => X87Convert.TruncateToInt32(a, ref s), 28);

    [Fact]
    public void Fisttp64() => CheckToInt(0x12, "fisttp m64", 64, (Float80 a, X87Control c, ref X87Status s) => X87Convert.TruncateToInt64(a, ref s), 29);

    [Fact]
    public void FldSingle() => X87TestData.Check(oracle, 0x13, "fld m32", BinaryCases(30, false), (cw, a, b) =>
    {
        var s = new X87Status();
        var r = X87Convert.FromSingle((uint)a.Significand, ref s);
        return new(r, default, s.Word, 0);
    });

    [Fact]
    public void FldDouble() => X87TestData.Check(oracle, 0x14, "fld m64", BinaryCases(31, true), (cw, a, b) =>
    {
        var s = new X87Status();
        var r = X87Convert.FromDouble(a.Significand, ref s);
        return new(r, default, s.Word, 0);
    });

    [Fact]
    public void FstSingle() => X87TestData.Check(oracle, 0x15, "fstp m32", NarrowingCases(32, false), (cw, a, b) =>
    {
        var s = new X87Status();
        uint r = X87Convert.ToSingle(a, new X87Control(cw), ref s);
        return new(new Float80(0, r), default, s.Word, 0);
    }, resultBits: 32);

    [Fact]
    public void FstDouble() => X87TestData.Check(oracle, 0x16, "fstp m64", NarrowingCases(33, true), (cw, a, b) =>
    {
        var s = new X87Status();
        ulong r = X87Convert.ToDouble(a, new X87Control(cw), ref s);
        return new(new Float80(0, r), default, s.Word, 0);
    }, resultBits: 64);
}
