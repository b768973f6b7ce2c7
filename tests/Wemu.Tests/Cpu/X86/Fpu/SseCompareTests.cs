using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>CMPSS/CMPSD predicates 0-7 and (U)COMISS/(U)COMISD against the host SSE unit.</summary>
public class SseCompareTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private static List<(uint, ulong, ulong)> Cases(int seed, bool d)
    {
        var list = SseTestData.Pairs(seed, d, 10000).Where(c => (c.Mx & 0x6000) == 0).ToList();
        var rng = new Random(seed);
        for (int i = 0; i < 3000; i++)
        {
            ulong a = SseTestData.Random(rng, d);
            list.Add((0x1F80 | (uint)(rng.Next(2) * 0x40), a, rng.Next(2) == 0 ? a : a ^ (d ? 0x8000_0000_0000_0000UL : 0x8000_0000UL)));
        }

        return list;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public void Cmpss(int predicate) => SseTestData.Check(oracle, 0x58 + predicate, $"cmpss {predicate}", Cases(70 + predicate, false),
        (mx, a, b) =>
        {
            uint m = mx;
            uint r = SseCompare.CompareSingle((uint)a, (uint)b, predicate, ref m);
            return new(r, m, 0);
        }, 32);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public void Cmpsd(int predicate) => SseTestData.Check(oracle, 0x78 + predicate, $"cmpsd {predicate}", Cases(80 + predicate, true),
        (mx, a, b) =>
        {
            uint m = mx;
            ulong r = SseCompare.CompareDouble(a, b, predicate, ref m);
            return new(r, m, 0);
        }, 64);

    [Theory]
    [InlineData(0x47, false)]
    [InlineData(0x48, true)]
    public void ComissUcomiss(int op, bool quiet) => SseTestData.Check(oracle, op, quiet ? "ucomiss" : "comiss", Cases(op, false),
        (mx, a, b) =>
        {
            uint m = mx;
            uint ef = SseCompare.OrderedCompareSingle((uint)a, (uint)b, quiet, ref m);
            return new(0, m, ef);
        }, 0);

    [Theory]
    [InlineData(0x67, false)]
    [InlineData(0x68, true)]
    public void ComisdUcomisd(int op, bool quiet) => SseTestData.Check(oracle, op, quiet ? "ucomisd" : "comisd", Cases(op, true),
        (mx, a, b) =>
        {
            uint m = mx;
            uint ef = SseCompare.OrderedCompareDouble(a, b, quiet, ref m);
            return new(0, m, ef);
        }, 0);
}
