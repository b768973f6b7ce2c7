using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>
/// X87State's FXSAVE image against the host's FXSAVE64 after the same
/// pushes/pops, and FXRSTOR of the host image. FOP/FIP/FDP, MXCSR_MASK,
/// XMM2-15 and the software area are not compared (they hold host state).
/// </summary>
public class X87StateTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private static bool Compared(int offset) =>
        offset is < 6 or (>= 24 and < 28) || (offset >= 32 && offset < 192);

    private static List<(ushort Cw, Float80 A, Float80 B, uint MxLow)> Cases()
    {
        var list = new List<(ushort, Float80, Float80, uint)>();
        var rng = new Random(91);
        foreach (var a in X87TestData.Edges)
            list.Add((0x037F, a, X87TestData.Edges[rng.Next(X87TestData.Edges.Length)], (uint)rng.Next(0x40)));
        for (int i = 0; i < 500; i++)
            list.Add(((ushort)(0x7F | (rng.Next(16) << 8)), X87TestData.Random(rng), X87TestData.Random(rng), (uint)rng.Next(0x80)));
        return list;
    }

    private static X87State Build(ushort cw, Float80 a, Float80 b, uint mxLow)
    {
        var state = new X87State();
        state.Initialize();
        state.Control = cw;
        Assert.True(state.Push(b));
        Assert.True(state.Push(a));
        Assert.True(state.Push(Float80.One));
        Assert.True(state.Push(Float80.Zero));
        state.Pop();
        state.Mxcsr = 0x1F80 | mxLow;
        state.SetXmm(0, 0, a.Significand);
        state.SetXmm(1, 0, b.Significand);
        return state;
    }

    [Fact]
    public void FxsaveMatchesHost()
    {
        var cases = Cases();
        var lines = oracle.RunLines(cases.Select(c => new HostFpuOracle.Request(0xA0, c.Cw | (c.MxLow << 16), c.A.SignExponent, c.A.Significand, c.B.SignExponent, c.B.Significand)).ToList());
        var failures = new List<string>();
        var ours = new byte[X87State.FxSaveSize];
        for (int i = 0; i < cases.Count; i++)
        {
            var (cw, a, b, mx) = cases[i];
            byte[] host = Convert.FromHexString(lines[i]["fx ".Length..]);
            Build(cw, a, b, mx).FxSave(ours);
            for (int k = 0; k < X87State.FxSaveSize; k++)
            {
                if (Compared(k) && host[k] != ours[k])
                {
                    failures.Add($"cw={cw:X4} a={a} b={b}: byte {k} host {host[k]:X2} ours {ours[k]:X2}");
                    break;
                }
            }

            // FXRSTOR of the host image, saved again, gives the same bytes.
            var restored = new X87State();
            Assert.True(restored.FxRestore(host));
            var again = new byte[X87State.FxSaveSize];
            restored.FxSave(again);
            for (int k = 0; k < 416; k++)
            {
                if ((k < 28 || k >= 32) && host[k] != again[k])
                {
                    failures.Add($"restore cw={cw:X4} a={a} b={b}: byte {k} host {host[k]:X2} ours {again[k]:X2}");
                    break;
                }
            }

            ushort expectedTags = Build(cw, a, b, mx).TagWord;
            if (expectedTags != restored.TagWord)
                failures.Add($"tags cw={cw:X4} a={a} b={b}: built {expectedTags:X4} restored {restored.TagWord:X4}");
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n{X87TestData.Sample(failures)}");
    }

    [Fact]
    public void PushOnFullStackFailsAndPopEmpties()
    {
        var state = new X87State();
        for (int i = 0; i < 8; i++)
            Assert.True(state.Push(X87Convert.FromInt32(i)));
        Assert.False(state.Push(Float80.One));
        Assert.Equal(X87Convert.FromInt32(7), state.St(0));
        Assert.Equal(0, state.Top);
        state.Pop();
        Assert.True(state.IsEmpty(7));
        Assert.Equal(1, state.Top);
        Assert.Equal(X87State.TagZero, state.Tag(7)); // register 7 held 0
        Assert.Equal(X87State.TagEmpty, state.Tag(0));
    }

    [Fact]
    public void FxrstorRejectsReservedMxcsrBits()
    {
        var state = new X87State();
        var area = new byte[X87State.FxSaveSize];
        state.FxSave(area);
        area[26] = 0x01; // MXCSR bit 16
        Assert.False(new X87State().FxRestore(area));
    }
}
