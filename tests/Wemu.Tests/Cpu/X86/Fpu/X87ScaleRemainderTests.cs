using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>FSCALE, FXTRACT, FPREM, FPREM1 against the host x87.</summary>
public class X87ScaleRemainderTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private static List<(ushort, Float80, Float80)> ScaleCases()
    {
        var list = X87TestData.Pairs(41, 10000);
        var rng = new Random(41);
        var controls = X87TestData.Controls().ToArray();
        for (int i = 0; i < 20000; i++)
        {
            var a = X87TestData.Random(rng);
            double n = rng.Next(3) switch
            {
                0 => rng.Next(-70, 70),
                1 => rng.Next(-40000, 40000),
                _ => (rng.NextDouble() - 0.5) * 100,
            };
            var s = new X87Status();
            var b = X87Convert.FromDouble(BitConverter.DoubleToUInt64Bits(n), ref s);
            list.Add((controls[rng.Next(controls.Length)], a, b));
        }

        return list;
    }

    private static List<(ushort, Float80, Float80)> RemainderCases(int seed)
    {
        var list = X87TestData.Pairs(seed, 10000).Where(c => c.Cw == 0x37F).ToList();
        var rng = new Random(seed);
        for (int i = 0; i < 30000; i++)
        {
            var b = X87TestData.Random(rng);
            int d = rng.Next(4) == 0 ? rng.Next(-3, 4) : rng.Next(-2, 140);
            int exp = Math.Clamp(b.BiasedExponent % 0x8000 + d, 0, 0x7FFE);
            ulong sig = (ulong)rng.NextInt64() | Float80.IntegerBit;
            if (rng.Next(3) == 0)
                sig &= ~((1UL << rng.Next(64)) - 1);
            var a = new Float80((ushort)((rng.Next(2) << 15) | exp), exp == 0 ? sig >> 1 : sig);
            list.Add(((ushort)(0x7F | (rng.Next(4) << 10) | (rng.Next(2) == 0 ? 0x300 : 0)), a, b));
        }

        return list;
    }

    [Fact]
    public void Fscale() => X87TestData.Check(oracle, 0x18, "fscale", ScaleCases(), (cw, a, b) =>
    {
        var s = new X87Status();
        var r = X87Arithmetic.Scale(a, b, new X87Control(cw), ref s);
        return new(r, default, s.Word, 0);
    });

    [Fact]
    public void Fxtract() => X87TestData.Check(oracle, 0x19, "fxtract", X87TestData.Pairs(42, 20000, binary: false), (cw, a, b) =>
    {
        var s = new X87Status();
        var r = X87Arithmetic.Extract(a, out Float80 exponent, ref s);
        return new(r, exponent, s.Word, 0);
    }, compareQ: true);

    [Fact]
    public void Fprem() => X87TestData.Check(oracle, 0x1A, "fprem", RemainderCases(43), (cw, a, b) =>
    {
        var s = new X87Status();
        var r = X87Arithmetic.PartialRemainder(a, b, false, ref s);
        return new(r, default, s.Word, 0);
    });

    [Fact]
    public void Fprem1() => X87TestData.Check(oracle, 0x1B, "fprem1", RemainderCases(44), (cw, a, b) =>
    {
        var s = new X87Status();
        var r = X87Arithmetic.PartialRemainder(a, b, true, ref s);
        return new(r, default, s.Word, 0);
    });
}
