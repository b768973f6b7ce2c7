using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>FCOM/FUCOM/FCOMI/FUCOMI/FXAM against the host x87.</summary>
public class X87CompareTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private static List<(ushort, Float80, Float80)> Cases(int seed)
    {
        var list = X87TestData.Pairs(seed, 20000).Where(c => c.Cw == 0x7F || c.Cw == 0xF7F).ToList();
        var rng = new Random(seed);
        for (int i = 0; i < 5000; i++)
        {
            var a = X87TestData.Random(rng);
            list.Add((0x37F, a, rng.Next(2) == 0 ? a : a.Negate())); // equal, and +-0 / sign pairs
        }

        return list;
    }

    private void CheckCc(int op, string name, bool quiet, int seed) =>
        X87TestData.Check(oracle, op, name, Cases(seed), (cw, a, b) =>
        {
            var s = new X87Status();
            X87Compare.Compare(a, b, quiet, ref s);
            return new X87TestData.Outcome(a, default, s.Word, 0);
        });

    private void CheckEflags(int op, string name, bool quiet, int seed) =>
        X87TestData.Check(oracle, op, name, Cases(seed), (cw, a, b) =>
        {
            var s = new X87Status();
            uint ef = X87Compare.CompareToEflags(a, b, quiet, ref s);
            return new X87TestData.Outcome(default, default, s.Word, ef);
        }, compareR: false);

    [Fact]
    public void Fcom() => CheckCc(0x06, "fcom", false, 11);

    [Fact]
    public void Fucom() => CheckCc(0x07, "fucom", true, 12);

    [Fact]
    public void Fcomi() => CheckEflags(0x08, "fcomi", false, 13);

    [Fact]
    public void Fucomi() => CheckEflags(0x09, "fucomi", true, 14);

    [Fact]
    public void Fxam() =>
        X87TestData.Check(oracle, 0x17, "fxam", X87TestData.Pairs(15, 20000, binary: false).Where(c => c.Cw == 0x37F).ToList(),
            (cw, a, b) =>
            {
                var s = new X87Status();
                X87Compare.Examine(a, false, ref s);
                return new X87TestData.Outcome(a, default, s.Word, 0);
            });
}
