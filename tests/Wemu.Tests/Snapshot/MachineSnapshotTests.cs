using Wemu.Cpu;
using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Machines;
using Wemu.Snapshot;
using Wemu.Tests.Devices;
using Wemu.Tests.Jit;
using Xunit;

namespace Wemu.Tests.Snapshot;

/// <summary>
/// Save a RISC-V machine (deterministic clock) at its shell prompt, type a command and run it on, and resume the file in a new machine:
/// the resumed machine must print exactly what the original printed after the save (on the interpreter and on both
/// JIT backends) and, on the interpreter, end in the same state. Damaged, truncated and foreign files are refused with a SnapshotException.
/// </summary>
public sealed class MachineSnapshotTests
{
    private const long SaveAt = 250_000_000, RunAfter = 100_000_000;

    /// <summary>Typed at the shell prompt right after the save (and after the load): the UART's receive interrupt, the PLIC and the shell must all have come back.</summary>
    private const string Command = "echo marker-$((6*7)); cat /proc/interrupts\n";

    private static void RunTo(Machine m, ulong target)
    {
        while (m.InstructionsRetired < target)
        {
            var status = m.RunSlice((long)Math.Min(1_000_000, target - m.InstructionsRetired));
            if (status == MachineStatus.Idle)
                m.SkipIdleTime();
            else if (status is not MachineStatus.Running)
                throw new InvalidOperationException($"machine stopped: {status}");
        }
    }

    /// <summary>A machine saved at <see cref="SaveAt"/> instructions: the file, and what it printed and ended as after running on.</summary>
    private static (byte[] File, string OutputAfter, string StateAfter, byte[] FileAfter) SaveAndRunOn()
    {
        var (m, serial) = LockstepBootTests.CreateMachine(new RiscVInterpreter());
        using (m)
        {
            RunTo(m, SaveAt);
            var file = new MemoryStream();
            MachineSnapshot.Save(m, file);
            Assert.Contains("/ # ", serial.OutputText);   // saved at the shell's prompt
            int printed = serial.Output.Count;
            serial.Type(Command);
            RunTo(m, SaveAt + RunAfter);
            var after = new MemoryStream();
            MachineSnapshot.Save(m, after);
            return (file.ToArray(), serial.OutputText[printed..], Describe(m), after.ToArray());
        }
    }

    private static string Describe(RiscVVirtMachine m)
    {
        var h = m.Hart;
        var regs = string.Join(",", Enumerable.Range(0, 32).Select(i => h.GetRegister(i).ToString("x")));
        return $"pc={h.ProgramCounter:x} instret={h.InstructionsRetired} priv={h.Privilege} x={regs} now={m.Clock.Now} {m.DescribeInterrupts()}";
    }

    private static readonly Lazy<(byte[] File, string OutputAfter, string StateAfter, byte[] FileAfter)> s_saved = new(SaveAndRunOn);

    public static TheoryData<string> Engines() => ["interp", "jit-native", "jit-il"];

    private static ICpuEngine<RiscVHart> Engine(string name) => name switch
    {
        "interp" => new RiscVInterpreter(),
        "jit-native" => new RiscVJitEngine(new JitOptions { NativeCode = true }),
        _ => new RiscVJitEngine(new JitOptions { NativeCode = false }),
    };

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_Resumed_Machine_Goes_On_Exactly_As_The_Saved_One_Did(string engine)
    {
        var (file, outputAfter, stateAfter, fileAfter) = s_saved.Value;
        Assert.True(outputAfter.Length > 100, $"the guest printed too little after the save to compare: '{outputAfter}'");
        var (m, serial) = LockstepBootTests.CreateMachine(Engine(engine));
        using (m)
        {
            MachineSnapshot.Load(m, file);
            Assert.Equal(SaveAt, (long)m.InstructionsRetired);
            serial.Type(Command);
            RunTo(m, SaveAt + RunAfter);
            Assert.Contains("marker-42", serial.OutputText);
            Assert.Equal(outputAfter, serial.OutputText);
            // The interpreter stops at exactly the same instruction; compiled regions may run a few past the
            // slice's end, so there the output (every line the kernel printed, with its timestamp) is the check.
            if (engine == "interp")
            {
                Assert.Equal(stateAfter, Describe(m));
                // Every part, field by field through its description, and RAM: the state diff of the two runs.
                Assert.Empty(MachineSnapshot.Differences(m, fileAfter));
            }
        }
    }

    [Fact]
    public void The_File_Is_Small_And_Saving_Twice_Gives_The_Same_Bytes()
    {
        var (file, _, _, _) = s_saved.Value;
        Assert.True(file.Length < 32 << 20, $"{file.Length} bytes for a 256 MiB machine booted to its prompt");
        var (m, _) = LockstepBootTests.CreateMachine(new RiscVInterpreter());
        using (m)
        {
            MachineSnapshot.Load(m, file);
            var again = new MemoryStream();
            MachineSnapshot.Save(m, again);
            Assert.Equal(file, again.ToArray());
        }
    }

    private static string LoadError(byte[] file)
    {
        var (m, _) = LockstepBootTests.CreateMachine(new RiscVInterpreter());
        using (m)
            return Assert.Throws<SnapshotException>(() => MachineSnapshot.Load(m, file)).Message;
    }

    [Fact]
    public void Truncated_Damaged_And_Foreign_Files_Are_Refused_With_One_Line()
    {
        var (file, _, _, _) = s_saved.Value;
        foreach (int length in new[] { 0, 5, 8, 12, 40, file.Length / 3, file.Length - 1 })
            Assert.Matches("truncated|not a Wemu snapshot", LoadError(file[..length]));
        var damaged = (byte[])file.Clone();
        damaged[file.Length / 2] ^= 0x40;
        Assert.Contains("damaged", LoadError(damaged));
        var header = (byte[])file.Clone();
        header[20] ^= 1;
        Assert.Matches("damaged|truncated", LoadError(header));
        var foreign = (byte[])file.Clone();
        foreign[0] = (byte)'X';
        Assert.Contains("not a Wemu snapshot", LoadError(foreign));
        var newer = (byte[])file.Clone();
        newer[8] = 9;
        Assert.Contains("format version 9", LoadError(newer));
        Assert.Contains("bytes after its last section", LoadError([.. file, 0]));
        foreach (string message in new[] { LoadError(damaged), LoadError(file[..(file.Length / 3)]) })
            Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void A_Machine_Of_Another_Size_Refuses_The_File()
    {
        var (file, _, _, _) = s_saved.Value;
        string dir = Path.Combine(WemuProcess.RepoRoot, "images", "riscv64");
        var images = new MachineImages
        {
            Firmware = File.ReadAllBytes(Path.Combine(dir, "fw_dynamic.bin")),
            Kernel = File.ReadAllBytes(Path.Combine(dir, "Image")),
            Serial = new TestCharBackend(),
        };
        using var smaller = new RiscVVirtMachine(new MachineConfig { Deterministic = true, MemorySize = 128UL << 20 }, images, new RiscVInterpreter());
        Assert.Contains("use the same -m", Assert.Throws<SnapshotException>(() => MachineSnapshot.Load(smaller, file)).Message);
    }

    [Fact]
    public void The_Clock_Goes_On_From_The_Saved_Time_Not_From_Zero()
    {
        var saved = new Wemu.Devices.MachineClock();
        saved.SkipTo(5_000_000_000);   // 500 s of guest time at 10 MHz
        var w = new StateWriter();
        ((IStateful)saved).SaveState(w);
        var resumed = new Wemu.Devices.MachineClock();
        ((IStateful)resumed).LoadState(new StateReader(w.WrittenSpan.ToArray(), "clock"));
        ulong now = resumed.Now;
        Assert.InRange(now, 5_000_000_000UL, 5_000_000_000UL + 50_000_000);   // within 5 s of host time
    }

    /// <summary>
    /// Runs until the shell's prompt is out (at most <paramref name="limit"/> instructions), then 200 M more: the
    /// x86 kernel still prints (the TSC clocksource) after the prompt.
    /// </summary>
    private static void RunToPrompt(Machine m, TestCharBackend serial, ulong limit)
    {
        while (!serial.OutputText.Contains("/ # ", StringComparison.Ordinal))
        {
            Assert.True(m.InstructionsRetired < limit, $"no prompt after {m.InstructionsRetired} instructions:\n{serial.OutputText[^Math.Min(2000, serial.OutputText.Length)..]}");
            RunTo(m, m.InstructionsRetired + 1_000_000);
        }
        RunTo(m, m.InstructionsRetired + 200_000_000);
    }

    /// <summary>The machine's state line without the counters of delivered exceptions and interrupts (statistics since the machine was built, not state).</summary>
    private static string X86State(Machine m) =>
        System.Text.RegularExpressions.Regex.Replace(m.DescribeState(), @"exceptions=\d+ interrupts=\d+ last=\([^)]*\) ", "");

    [Fact]
    public void An_X86_Machine_Saved_At_Its_Prompt_Resumes_Exactly_On_The_Interpreter()
    {
        byte[] file;
        string outputAfter, stateAfter;
        byte[] fileAfter;
        ulong savedAt;
        var (a, serialA) = Wemu.Tests.Cpu.X86.X86LockstepBootTests.CreateMachine("interp");
        using (a)
        {
            RunToPrompt(a, serialA, 3_000_000_000);
            savedAt = a.InstructionsRetired;
            var stream = new MemoryStream();
            MachineSnapshot.Save(a, stream);
            file = stream.ToArray();
            int printed = serialA.Output.Count;
            serialA.Type(Command);
            RunTo(a, savedAt + RunAfter);
            outputAfter = serialA.OutputText[printed..];
            stateAfter = X86State(a);
            var after = new MemoryStream();
            MachineSnapshot.Save(a, after);
            fileAfter = after.ToArray();
        }
        Assert.Contains("marker-42", outputAfter);
        var (b, serialB) = Wemu.Tests.Cpu.X86.X86LockstepBootTests.CreateMachine("interp");
        using (b)
        {
            MachineSnapshot.Load(b, file);
            Assert.Equal(savedAt, b.InstructionsRetired);
            serialB.Type(Command);
            RunTo(b, savedAt + RunAfter);
            Assert.Equal(outputAfter, serialB.OutputText);
            Assert.Equal(stateAfter, X86State(b));
            Assert.Empty(MachineSnapshot.Differences(b, fileAfter));
            // The diff names what differs, field by field: the same machine a few instructions on differs in its CPU.
            RunTo(b, b.InstructionsRetired + 1000);
            var moved = MachineSnapshot.Differences(b, fileAfter);
            Assert.Contains("cpu0.rip", moved);
            Assert.DoesNotContain("ioapic0", moved);
        }
    }
}
