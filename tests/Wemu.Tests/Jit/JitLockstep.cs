using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Runs one program on two identical <see cref="BareHart"/> machines: the JIT (the subject) in
/// slices of random length, and after each slice the interpreter (the reference) catches up to
/// the same instruction count; then every piece of architectural state and all of RAM must be
/// identical. A JIT region may run past its budget (to its next exit), so the slices also
/// exercise the budget exits of compiled loops.
/// </summary>
internal static class JitLockstep
{
    /// <summary>
    /// Runs the program built by <paramref name="create"/> to its end (WFI or tohost) in lockstep
    /// and returns the JIT engine, whose statistics callers may check. Fails at the first step
    /// where the two machines differ.
    /// </summary>
    public static RiscVJitEngine Run(Func<BareHart> create, JitOptions options, int seed, string name,
        long maxInstructions = 2_000_000, Action<BareHart>? atEnd = null,
        Action<RiscVJitEngine>? setUp = null, Action<RiscVJitEngine>? afterSlice = null)
    {
        using var reference = create();
        using var subject = create();
        var interpreter = new RiscVInterpreter();
        var jit = new RiscVJitEngine(options);
        setUp?.Invoke(jit);
        var rng = new Random(seed);
        RiscVHart ha = reference.Hart, hb = subject.Hart;
        long steps = 0;
        ulong lastEntry = hb.ProgramCounter;
        while (!subject.Finished)
        {
            Assert.True(hb.InstructionsRetired < (ulong)maxInstructions && steps < maxInstructions,
                $"{name}: no end after {hb.InstructionsRetired} instructions (pc 0x{hb.ProgramCounter:x})");
            ulong entry = hb.ProgramCounter;
            long budget = NextBudget(rng);
            jit.Run(hb, budget);
            afterSlice?.Invoke(jit);
            steps++;
            while (ha.InstructionsRetired < hb.InstructionsRetired)
            {
                Assert.False(ha.IsWaiting, $"{name}: the interpreter stopped in WFI at 0x{ha.ProgramCounter:x} before the JIT's instruction count");
                interpreter.Run(ha, (long)(hb.InstructionsRetired - ha.InstructionsRetired));
            }
            string diff = Compare(reference, subject);
            // The JIT may have taken a trap the reference is about to take (a trapping
            // instruction retires nothing): let the reference take it too, then compare again.
            for (int t = 0; t < 2 && diff.Length != 0 && !ha.IsWaiting; t++)
            {
                ulong retired = ha.InstructionsRetired;
                interpreter.Run(ha, 1);
                if (ha.InstructionsRetired != retired)
                    break;
                diff = Compare(reference, subject);
            }
            Assert.True(diff.Length == 0,
                $"{name}: step {steps} (budget {budget}), entered at 0x{entry:x} (previous entry 0x{lastEntry:x}), " +
                $"{hb.InstructionsRetired} instructions retired: interpreter vs JIT: {diff}");
            lastEntry = entry;
        }
        Assert.True(reference.Finished, $"{name}: the interpreter did not reach the end");
        atEnd?.Invoke(reference);
        return jit;
    }

    /// <summary>Short slices (budget exits at almost every loop edge), medium and long ones.</summary>
    private static long NextBudget(Random rng) => rng.Next(10) switch
    {
        < 3 => rng.Next(1, 8),
        < 8 => rng.Next(8, 200),
        _ => rng.Next(200, 5000),
    };

    /// <summary>Every difference in architectural state and RAM between two machines, or "".</summary>
    public static string Compare(BareHart ma, BareHart mb)
    {
        RiscVHart a = ma.Hart, b = mb.Hart;
        var diffs = new List<string>();
        string core = LockstepBootTests.Compare(a, b);
        if (core.Length != 0)
            diffs.Add(core);
        void Csr(string name, ulong x, ulong y)
        {
            if (x != y)
                diffs.Add($"{name} 0x{x:x} vs 0x{y:x}");
        }
        Csr("mscratch", a.Mscratch, b.Mscratch);
        Csr("sscratch", a.Sscratch, b.Sscratch);
        Csr("mtvec", a.Mtvec, b.Mtvec);
        Csr("stvec", a.Stvec, b.Stvec);
        Csr("satp", a.Satp, b.Satp);
        Csr("medeleg", a.Medeleg, b.Medeleg);
        Csr("mie", a.Mie, b.Mie);
        Csr("reservation", a.ReservationAddress, b.ReservationAddress);
        if (a.GetRegister(0) != 0 || b.GetRegister(0) != 0)
            diffs.Add($"x0 0x{a.GetRegister(0):x} vs 0x{b.GetRegister(0):x}");
        if (ma.Probe.Reads != mb.Probe.Reads || ma.Probe.WriteLog != mb.Probe.WriteLog || ma.Probe.Halted != mb.Probe.Halted)
            diffs.Add($"device reads {ma.Probe.Reads} vs {mb.Probe.Reads}, write log 0x{ma.Probe.WriteLog:x} vs 0x{mb.Probe.WriteLog:x}");
        if (a.IsWaiting != b.IsWaiting)
            diffs.Add($"waiting {a.IsWaiting} vs {b.IsWaiting}");
        var ra = ma.Ram.AsSpan();
        var rb = mb.Ram.AsSpan();
        if (!ra.SequenceEqual(rb))
        {
            int i = ra.CommonPrefixLength(rb);
            int at = i & ~7;
            diffs.Add($"memory at 0x{BareHart.RamBase + (ulong)at:x}: " +
                $"0x{BitConverter.ToUInt64(ra.Slice(at, 8)):x16} vs 0x{BitConverter.ToUInt64(rb.Slice(at, 8)):x16}");
        }
        return string.Join(", ", diffs);
    }
}
