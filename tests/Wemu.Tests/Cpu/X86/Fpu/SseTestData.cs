using System.Text;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>Operands and MXCSR values for the SSE reference tests, and the batch checker.</summary>
public static class SseTestData
{
    public static readonly ulong[] SingleEdges =
    [
        0x0000_0000, 0x8000_0000, 0x0000_0001, 0x8000_0001, 0x007F_FFFF, 0x807F_FFFF, 0x0040_0000, 0x0080_0000, 0x8080_0000,
        0x0080_0001, 0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F00_0000, 0x3F80_0000, 0xBF80_0000, 0x3F80_0001, 0x3FFF_FFFF, 0x3F00_0000,
        0x3FC0_0000, 0x4020_0000, 0xC020_0000, 0x4B00_0000, 0x4B00_0001, 0x4AFF_FFFF, 0x4EFF_FFFF, 0x4F00_0000, 0xCF00_0000,
        0xCF00_0001, 0x5EFF_FFFF, 0x5F00_0000, 0xDF00_0000, 0x3400_0000, 0x0C00_0000, 0x3380_0000,
        0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0000, 0x7FC0_1234, 0x7F80_0001, 0xFFA0_0000, 0x7FBF_FFFF,
    ];

    public static readonly ulong[] DoubleEdges =
    [
        0, 0x8000_0000_0000_0000, 1, 0x8000_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF, 0x0008_0000_0000_0000,
        0x0010_0000_0000_0000, 0x8010_0000_0000_0000, 0x0010_0000_0000_0001, 0x7FEF_FFFF_FFFF_FFFF, 0xFFEF_FFFF_FFFF_FFFF,
        0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x3FF0_0000_0000_0001, 0x3FFF_FFFF_FFFF_FFFF, 0x3FE0_0000_0000_0000,
        0x3FF8_0000_0000_0000, 0x4004_0000_0000_0000, 0xC004_0000_0000_0000, 0x4330_0000_0000_0000, 0x4330_0000_0000_0001,
        0x41DF_FFFF_FFC0_0000, 0x41DF_FFFF_FFE0_0000, 0x41E0_0000_0000_0000, 0xC1E0_0000_0000_0000, 0xC1E0_0000_0010_0000,
        0xC1E0_0000_0020_0000, 0x43DF_FFFF_FFFF_FFFF, 0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0000,
        0x47EF_FFFF_E000_0000, 0x47EF_FFFF_F000_0000, 0x3810_0000_0000_0000, 0x380F_FFFF_F000_0000, 0x36A0_0000_0000_0000,
        0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FF8_0000_0000_1234,
        0x7FF0_0000_0000_0001, 0xFFF4_0000_0000_0000, 0x7FF7_FFFF_FFFF_FFFF,
    ];

    /// <summary>Every RC with DAZ/FTZ off and on, all exceptions masked.</summary>
    public static uint[] Controls()
    {
        var list = new List<uint>();
        for (uint rc = 0; rc < 4; rc++)
            foreach (uint extra in (uint[])[0, 0x40, 0x8000, 0x8040])
                list.Add(0x1F80 | (rc << 13) | extra);
        return [.. list];
    }

    public static ulong Random(Random rng, bool d)
    {
        int expBits = d ? 11 : 8;
        int fracBits = d ? 52 : 23;
        int maxExp = (1 << expBits) - 1;
        int bias = maxExp >> 1;
        int exp = rng.Next(8) switch
        {
            0 => rng.Next(maxExp + 1),
            1 => rng.Next(30),
            2 => maxExp - 1 - rng.Next(30),
            3 => rng.Next(4) == 0 ? maxExp : 0,
            _ => bias + rng.Next(-70, 70),
        };
        ulong frac = (ulong)rng.NextInt64() & ((1UL << fracBits) - 1);
        switch (rng.Next(6))
        {
            case 0:
                frac &= ~((1UL << rng.Next(fracBits + 1)) - 1);
                break;
            case 1:
                frac |= (1UL << rng.Next(fracBits + 1)) - 1;
                break;
        }

        ulong sign = (ulong)rng.Next(2) << (expBits + fracBits);
        return sign | ((ulong)Math.Clamp(exp, 0, maxExp) << fracBits) | frac;
    }

    /// <summary>Edge x edge pairs under every MXCSR, plus random pairs (a second operand near the first a quarter of the time).</summary>
    public static List<(uint Mx, ulong A, ulong B)> Pairs(int seed, bool d, int randomCount, bool binary = true)
    {
        var edges = d ? DoubleEdges : SingleEdges;
        var controls = Controls();
        var list = new List<(uint, ulong, ulong)>();
        foreach (uint mx in controls)
            foreach (ulong a in edges)
            {
                if (binary)
                {
                    foreach (ulong b in edges)
                        list.Add((mx, a, b));
                }
                else
                {
                    list.Add((mx, a, a));
                }
            }

        var rng = new Random(seed);
        for (int i = 0; i < randomCount; i++)
        {
            ulong a = Random(rng, d);
            ulong b = rng.Next(4) == 0 ? a + (ulong)rng.Next(-3, 4) ^ ((ulong)rng.Next(2) << (d ? 63 : 31)) : Random(rng, d);
            if (!d)
                b &= 0xFFFF_FFFF;
            list.Add((controls[rng.Next(controls.Length)], a, b));
        }

        return list;
    }

    public readonly record struct Outcome(ulong Result, uint Mxcsr, uint Eflags);

    public static void Check(HostFpuOracle oracle, int op, string name, List<(uint Mx, ulong A, ulong B)> cases,
        Func<uint, ulong, ulong, Outcome> ours, int resultBits)
    {
        var requests = new HostFpuOracle.Request[cases.Count];
        for (int i = 0; i < cases.Count; i++)
            requests[i] = new HostFpuOracle.Request(op, cases[i].Mx, 0, cases[i].A, 0, cases[i].B);
        var replies = oracle.Run(requests);
        ulong mask = resultBits == 64 ? ulong.MaxValue : (1UL << resultBits) - 1;
        var failures = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            var (mx, a, b) = cases[i];
            var h = replies[i];
            var o = ours(mx, a, b);
            if ((h.RLo & mask) == (o.Result & mask) && h.Status == o.Mxcsr && h.Eflags == o.Eflags)
                continue;
            failures.Add($"{name} mxcsr={mx:X4} a={a:X} b={b:X}: host {h.RLo & mask:X} mxcsr={h.Status:X4} ef={h.Eflags:X2}, "
                + $"ours {o.Result & mask:X} mxcsr={o.Mxcsr:X4} ef={o.Eflags:X2}");
        }

        Assert.True(failures.Count == 0, $"{name}: {failures.Count} of {cases.Count} differ from the host CPU:\n{X87TestData.Sample(failures)}");
    }
}
