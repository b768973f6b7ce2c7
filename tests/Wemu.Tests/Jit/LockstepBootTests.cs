using Wemu.Cpu;
using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Machines;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Lockstep differential run of the real boot (OpenSBI, then Linux) on two identical machines:
/// one on the interpreter (the reference), one on the JIT compiling every block on first sight.
/// After every return from the JIT, the interpreter catches up to the same instruction count and
/// the architectural state must match. The engines are driven directly (no device ticks), so
/// both see exactly the same world.
/// </summary>
public sealed class LockstepBootTests
{
    internal static (RiscVVirtMachine Machine, TestCharBackend Serial) CreateMachine(ICpuEngine<RiscVHart> engine)
    {
        string dir = Path.Combine(WemuProcess.RepoRoot, "images", "riscv64");
        var config = new MachineConfig { Deterministic = true, Append = "console=ttyS0" };
        var serial = new TestCharBackend();
        var images = new MachineImages
        {
            Firmware = File.ReadAllBytes(Path.Combine(dir, "fw_dynamic.bin")),
            Kernel = File.ReadAllBytes(Path.Combine(dir, "Image")),
            Initrd = File.ReadAllBytes(Path.Combine(dir, "initramfs.cpio.gz")),
            Serial = serial,
            Entropy = static span => span.Fill(0x5A),
            RtcStartNanoseconds = 1_700_000_000_000_000_000,
        };
        return (new RiscVVirtMachine(config, images, engine), serial);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BootPrefix_JitThresholdOne_MatchesInterpreterInstructionByInstruction(bool nativeCode)
    {
        var reference = new RiscVInterpreter();
        var jit = new RiscVJitEngine(new JitOptions { Threshold = 1, NativeCode = nativeCode });
        var (a, _) = CreateMachine(reference);
        var (b, serialB) = CreateMachine(jit);
        using var ma = a;
        using var mb = b;
        RiscVHart ha = a.Hart, hb = b.Hart;
        const long Target = 100_000_000;
        ulong lastPc = hb.ProgramCounter;
        while (hb.InstructionsRetired < Target)
        {
            if (hb.IsWaiting)
                break;
            ulong before = hb.ProgramCounter;
            jit.Run(hb, 1000);
            while (ha.InstructionsRetired < hb.InstructionsRetired)
            {
                long n = reference.Run(ha, (long)(hb.InstructionsRetired - ha.InstructionsRetired));
                Assert.True(n > 0, "the interpreter made no progress");
            }
            string diff = Compare(ha, hb);
            // The JIT may have taken a trap the reference is about to take (a trap retires
            // nothing): let the reference take it too, then compare again.
            for (int step = 0; step < 2 && diff.Length != 0; step++)
            {
                ulong retired = ha.InstructionsRetired;
                reference.Run(ha, 1);
                if (ha.InstructionsRetired != retired)
                    break;
                diff = Compare(ha, hb);
            }
            Assert.True(diff.Length == 0,
                $"after {hb.InstructionsRetired} instructions, entered at 0x{before:x} (previous 0x{lastPc:x}): {diff}");
            lastPc = before;
        }
        Assert.True(hb.InstructionsRetired >= Target || hb.IsWaiting, "JIT stopped early");
        Assert.Contains("OpenSBI", serialB.OutputText);
        Assert.True(jit.Statistics.BlocksCompiled > 1000, $"only {jit.Statistics.BlocksCompiled} blocks compiled");
    }

    internal static string Compare(RiscVHart a, RiscVHart b)
    {
        var diffs = new List<string>();
        if (a.InstructionsRetired != b.InstructionsRetired)
            diffs.Add($"instret {a.InstructionsRetired} vs {b.InstructionsRetired}");
        if (a.ProgramCounter != b.ProgramCounter)
            diffs.Add($"pc 0x{a.ProgramCounter:x} vs 0x{b.ProgramCounter:x}");
        if (a.Privilege != b.Privilege)
            diffs.Add($"priv {a.Privilege} vs {b.Privilege}");
        for (int r = 1; r < 32; r++)
            if (a.GetRegister(r) != b.GetRegister(r))
                diffs.Add($"x{r} 0x{a.GetRegister(r):x} vs 0x{b.GetRegister(r):x}");
        void Csr(string name, ulong x, ulong y)
        {
            if (x != y)
                diffs.Add($"{name} 0x{x:x} vs 0x{y:x}");
        }
        Csr("mstatus", a.Mstatus, b.Mstatus);
        Csr("scause", a.Scause, b.Scause);
        Csr("sepc", a.Sepc, b.Sepc);
        Csr("stval", a.Stval, b.Stval);
        Csr("mcause", a.Mcause, b.Mcause);
        Csr("mepc", a.Mepc, b.Mepc);
        Csr("mtval", a.Mtval, b.Mtval);
        Csr("fcsr", (a.Frm << 5) | a.Fflags, (b.Frm << 5) | b.Fflags);
        for (int r = 0; r < 32; r++)
            if (a.GetFloatRegister(r) != b.GetFloatRegister(r))
                diffs.Add($"f{r} 0x{a.GetFloatRegister(r):x} vs 0x{b.GetFloatRegister(r):x}");
        return string.Join(", ", diffs);
    }
}
