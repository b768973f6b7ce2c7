using System.Text;
using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>Operands and control words for the x87 reference tests, and the batch checker.</summary>
public static class X87TestData
{
    /// <summary>Edge operands: zeros, denormals, pseudo-denormals, normals at the range limits, rounding boundaries, infinities, NaNs, unsupported encodings.</summary>
    public static readonly Float80[] Edges =
    [
        new(0x0000, 0), new(0x8000, 0),
        new(0x0000, 1), new(0x8000, 1), new(0x0000, 0x7FFF_FFFF_FFFF_FFFF), new(0x8000, 0x4000_0000_0000_0000),
        new(0x0000, 0x8000_0000_0000_0001), new(0x8000, 0x8000_0000_0000_0000), // pseudo-denormals
        new(0x0001, 0x8000_0000_0000_0000), new(0x8001, 0xFFFF_FFFF_FFFF_FFFF),
        new(0x7FFE, 0xFFFF_FFFF_FFFF_FFFF), new(0xFFFE, 0x8000_0000_0000_0000),
        new(0x3FFF, 0x8000_0000_0000_0000), new(0xBFFF, 0x8000_0000_0000_0000),
        new(0x4000, 0xC000_0000_0000_0000), new(0x3FFE, 0xC000_0000_0000_0000), new(0xBFFD, 0xA000_0000_0000_0000),
        new(0x3FFF, 0x8000_0000_0000_0001), new(0x3FFF, 0xFFFF_FFFF_FFFF_FFFF), new(0xBFFE, 0xFFFF_FFFF_FFFF_FFFF),
        new(0x3FFF, 0x8000_0080_0000_0000), new(0x3FFF, 0x8000_0180_0000_0000), new(0x3FFF, 0x8000_0000_0000_0400),
        new(0x3FFF, 0x8000_0000_0000_0C00), new(0x3FFF, 0xFFFF_FF80_0000_0000), new(0x3FFF, 0xFFFF_FFFF_FFFF_F800),
        new(0x403E, 0x8000_0000_0000_0000), new(0xC03E, 0x8000_0000_0000_0000), new(0x401D, 0xFFFF_FFFF_0000_0000),
        new(0x400E, 0xFFFE_0000_0000_0000), new(0xC00E, 0x8001_0000_0000_0000), new(0x4034, 0x8000_0000_0000_0003),
        new(0x3C01, 0x8000_0000_0000_0000), new(0x3C00, 0xFFFF_FFFF_FFFF_F800), new(0x3F81, 0x8000_0000_0000_0000),
        new(0x43FE, 0xFFFF_FFFF_FFFF_F800), new(0x407E, 0xFFFF_FF00_0000_0000),
        new(0x7FFF, 0x8000_0000_0000_0000), new(0xFFFF, 0x8000_0000_0000_0000),
        new(0x7FFF, 0xC000_0000_0000_0000), new(0xFFFF, 0xC000_0000_0000_0000), new(0x7FFF, 0xC000_0000_0000_1234),
        new(0x7FFF, 0x8000_0000_0000_0001), new(0xFFFF, 0xA000_0000_0000_0000), new(0x7FFF, 0xBFFF_FFFF_FFFF_FFFF),
        new(0x4000, 0x4000_0000_0000_0000), new(0x0001, 0x0000_0000_0000_0001), // unnormals
        new(0x7FFF, 0x0000_0000_0000_0000), new(0xFFFF, 0x4000_0000_0000_0001), // pseudo-infinity, pseudo-NaN
    ];

    /// <summary>Control words: all exceptions masked, every PC (24/53/64) and RC.</summary>
    public static IEnumerable<ushort> Controls()
    {
        foreach (int pc in (int[])[0, 2, 3])
            for (int rc = 0; rc < 4; rc++)
                yield return (ushort)(0x7F | (pc << 8) | (rc << 10));
    }

    /// <summary>A random extended value, biased towards interesting exponents and significands.</summary>
    public static Float80 Random(Random rng)
    {
        int sign = rng.Next(2) << 15;
        int exp = rng.Next(8) switch
        {
            0 => rng.Next(0x8000),
            1 => rng.Next(70),
            2 => 0x7FFE - rng.Next(70),
            3 => rng.Next(4) == 0 ? 0x7FFF : 0,
            _ => 0x3FFF + rng.Next(-70, 70),
        };
        ulong sig = ((ulong)rng.NextInt64() << 1) | (uint)rng.Next(2);
        switch (rng.Next(6))
        {
            case 0:
                sig &= ~((1UL << rng.Next(64)) - 1); // trailing zeros: exact results, halfway cases
                break;
            case 1:
                sig |= (1UL << rng.Next(64)) - 1; // trailing ones
                break;
        }

        if (exp != 0 && rng.Next(40) != 0)
            sig |= Float80.IntegerBit;
        if (exp == 0 && rng.Next(4) != 0)
            sig &= ~Float80.IntegerBit;
        return new Float80((ushort)(sign | exp), sig);
    }

    /// <summary>A value close to <paramref name="near"/>: same exponent or one off, a few ulps away.</summary>
    public static Float80 Near(Random rng, Float80 near)
    {
        int exp = Math.Clamp(near.BiasedExponent + rng.Next(-1, 2), 1, 0x7FFE);
        ulong sig = (near.Significand + (ulong)rng.Next(-4, 5)) | Float80.IntegerBit;
        return new Float80((ushort)((rng.Next(2) << 15) | exp), sig);
    }

    /// <summary>Edge x edge pairs under every control word, plus random pairs.</summary>
    public static List<(ushort Cw, Float80 A, Float80 B)> Pairs(int seed, int randomCount, bool binary = true)
    {
        var list = new List<(ushort, Float80, Float80)>();
        var controls = Controls().ToArray();
        foreach (ushort cw in controls)
        {
            foreach (var a in Edges)
            {
                if (binary)
                {
                    foreach (var b in Edges)
                        list.Add((cw, a, b));
                }
                else
                {
                    list.Add((cw, a, a));
                }
            }
        }

        var rng = new Random(seed);
        for (int i = 0; i < randomCount; i++)
        {
            ushort cw = controls[rng.Next(controls.Length)];
            var a = Random(rng);
            var b = rng.Next(4) == 0 ? Near(rng, a) : Random(rng);
            list.Add((cw, a, b));
        }

        return list;
    }

    /// <summary>What our implementation produced for one request.</summary>
    public readonly record struct Outcome(Float80 R, Float80 Q, ushort Status, uint Eflags);

    /// <summary>
    /// Runs every pair on the host and through <paramref name="ours"/>; compares
    /// the results, the status word under <paramref name="statusMask"/> and
    /// EFLAGS exactly, and fails with the first differences.
    /// </summary>
    public static void Check(HostFpuOracle oracle, int op, string name, List<(ushort Cw, Float80 A, Float80 B)> cases,
        Func<ushort, Float80, Float80, Outcome> ours, ushort statusMask = 0x47FF, bool compareQ = false, bool compareR = true,
        int resultBits = 80)
    {
        var requests = new HostFpuOracle.Request[cases.Count];
        for (int i = 0; i < cases.Count; i++)
        {
            var (cw, a, b) = cases[i];
            requests[i] = new HostFpuOracle.Request(op, cw, a.SignExponent, a.Significand, b.SignExponent, b.Significand);
        }

        var replies = oracle.Run(requests);
        var failures = new List<string>();
        ulong mask = resultBits >= 64 ? ulong.MaxValue : (1UL << resultBits) - 1;
        for (int i = 0; i < cases.Count; i++)
        {
            var (cw, a, b) = cases[i];
            var h = replies[i];
            var o = ours(cw, a, b);
            ushort hs = (ushort)(h.Status & statusMask);
            ushort os = (ushort)(o.Status & statusMask);
            bool rOk = !compareR || (resultBits == 80
                ? h.RHi == o.R.SignExponent && h.RLo == o.R.Significand
                : (h.RLo & mask) == (o.R.Significand & mask));
            bool qOk = !compareQ || (h.QHi == o.Q.SignExponent && h.QLo == o.Q.Significand);
            if (rOk && qOk && hs == os && h.Eflags == o.Eflags)
                continue;
            {
                var report = new StringBuilder();
                report.Append($"{name} cw={cw:X4} a={a} b={b}: host {h.RHi:X4}:{h.RLo:X16}");
                if (compareQ)
                    report.Append($" q={h.QHi:X4}:{h.QLo:X16}");
                report.Append($" sw={hs:X4} ef={h.Eflags:X2}, ours {o.R}");
                if (compareQ)
                    report.Append($" q={o.Q}");
                report.Append($" sw={os:X4} ef={o.Eflags:X2}");
                failures.Add(report.ToString());
            }
        }

        Assert.True(failures.Count == 0, $"{name}: {failures.Count} of {cases.Count} differ from the host CPU:\n{Sample(failures)}");
    }

    /// <summary>Up to 30 failures spread over the list (the first ones tend to be alike).</summary>
    public static string Sample(List<string> failures)
    {
        var sb = new StringBuilder();
        int step = Math.Max(1, failures.Count / 30);
        for (int i = 0; i < failures.Count; i += step)
            sb.AppendLine(failures[i]);
        return sb.ToString();
    }
}
