using Wemu.Cpu.X86;
using Wemu.Machines;
using Wemu.Machines.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// Lockstep differential run of our x86_64 kernel's boot on two identical microvm machines: one on
/// the interpreter (the reference), one on the JIT compiling every block on first sight. After every
/// return from the JIT, the interpreter catches up to the same instruction count and the
/// architectural state must match. The engines are driven directly (no device ticks, the clock
/// follows instructions), so both machines see the same world.
/// </summary>
public sealed class X86LockstepBootTests
{
    internal static (MicrovmMachine Machine, TestCharBackend Serial) CreateMachine(string accelerator, string backend = "native")
    {
        string dir = Path.Combine(WemuProcess.RepoRoot, "images", "x86_64");
        var config = new MachineConfig
        {
            Arch = "x86_64",
            MachineType = "microvm",
            Deterministic = true,
            Append = "console=ttyS0",
            Accelerator = accelerator,
            JitBackend = backend,
            JitThreshold = 1,
        };
        var serial = new TestCharBackend();
        var images = new MachineImages
        {
            Kernel = File.ReadAllBytes(Path.Combine(dir, "bzImage")),
            Initrd = File.ReadAllBytes(Path.Combine(dir, "initramfs.cpio.gz")),
            Serial = serial,
            Entropy = static span => span.Fill(0x5A),
            RtcStartNanoseconds = 1_700_000_000_000_000_000,
        };
        return ((MicrovmMachine)MachineFactory.Create(config, images), serial);
    }

    public static long Target => long.TryParse(Environment.GetEnvironmentVariable("WEMU_X86_LOCKSTEP"), out long n) ? n : 40_000_000;

    [Theory]
    [InlineData("native")]
    [InlineData("il")]
    public void Boot_Prefix_Compiled_At_Threshold_One_Matches_The_Interpreter(string backend)
    {
        var (a, _) = CreateMachine("interp");
        var (b, _) = CreateMachine("tcg", backend);
        using var ma = a;
        using var mb = b;
        X86Cpu ca = a.Cpu, cb = b.Cpu;
        var jit = b.Jit!;
        ulong lastPc = cb.ProgramCounter;
        while ((long)cb.InstructionsRetired < Target && !cb.IsHalted)
        {
            ulong before = cb.ProgramCounter;
            jit.Run(cb, 1000);
            while (ca.InstructionsRetired < cb.InstructionsRetired)
            {
                long n = ca.Run((long)(cb.InstructionsRetired - ca.InstructionsRetired));
                Assert.True(n > 0 || ca.IsHalted, "the interpreter made no progress");
                if (ca.IsHalted)
                    break;
            }
            string diff = Compare(ca, cb);
            for (int step = 0; step < 2 && diff.Length != 0; step++)
            {
                // the JIT side may have delivered an exception the reference is about to (it retires nothing)
                ulong retired = ca.InstructionsRetired;
                ca.Run(1);
                if (ca.InstructionsRetired != retired)
                    break;
                diff = Compare(ca, cb);
            }
            Assert.True(diff.Length == 0, $"after {cb.InstructionsRetired} instructions, entered at 0x{before:x} (previous 0x{lastPc:x}): {diff}");
            lastPc = before;
        }
        Assert.True(jit.Statistics.BlocksCompiled > 500, $"only {jit.Statistics.BlocksCompiled} blocks compiled");
    }

    internal static string Compare(X86Cpu a, X86Cpu b)
    {
        var diffs = new List<string>();
        void Diff(string name, ulong x, ulong y, string format = "0x{0:x} vs 0x{1:x}")
        {
            if (x != y)
                diffs.Add(name + " " + string.Format(format, x, y));
        }
        Diff("instret", a.InstructionsRetired, b.InstructionsRetired, "{0} vs {1}");
        Diff("rip", a.ProgramCounter, b.ProgramCounter);
        for (int r = 0; r < 16; r++)
            Diff($"r{r}", a.GetRegister(r), b.GetRegister(r));
        if ((a.Flags & 0xFFF) != (b.Flags & 0xFFF))
            diffs.Add($"rflags 0x{a.Flags:x} vs 0x{b.Flags:x}");
        Diff("cpl", (ulong)a.CurrentPrivilegeLevel, (ulong)b.CurrentPrivilegeLevel, "{0} vs {1}");
        Diff("cr2", a.ControlRegister2, b.ControlRegister2);
        Diff("cr3", a.ControlRegister3, b.ControlRegister3);
        for (int i = 0; i < 16; i++)
            if (a.GetXmm(i) != b.GetXmm(i))
                diffs.Add($"xmm{i} differs");
        return string.Join(", ", diffs);
    }
}
