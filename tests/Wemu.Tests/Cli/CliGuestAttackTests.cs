using System.Diagnostics;
using Wemu.Tests.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// Guests that attacked the host through compiled code, run as a user runs them: the real CLI
/// (the JIT-runtime build with the x86-64 and IL backends and the interpreter, and the launcher's
/// ahead-of-time build), compared with QEMU. The first is the reproducer of the soft-TLB flag
/// collision: a misaligned halfword load from the UART page, hot enough to be compiled, ran at
/// host address = guest address (SIGSEGV, exit 139, or with a chosen address, host memory read).
/// </summary>
[Collection("Boot")]
public class CliGuestAttackTests
{
    private const string MisalignedMmioLoop = """
          .globl _start
        _start:
          li a1, 0x10000000      # the UART page (any non-RAM address)
          lbu t0, 0(a1)          # slow path fills a TLB entry for an I/O page
          li t2, 20000
        1: lhu t0, 1(a1)         # misaligned halfword at an odd address: compiled after a few iterations
          addi t2, t2, -1
          bnez t2, 1b
          li a2, 0x100000        # sifive_test: pass
          li a3, 0x5555
          sw a3, 0(a2)
        2: j 2b
        """;

    private static string Build(string source)
    {
        Assert.True(BareMetal.ToolsAvailable, "riscv64-linux-gnu-as is missing: ./test.sh installs binutils-riscv64-linux-gnu");
        string dir = Directory.CreateTempSubdirectory("wemu-attack-").FullName;
        File.WriteAllText(Path.Combine(dir, "poc.S"), source + "\n");
        Tool("riscv64-linux-gnu-as", dir, "-march=rv64gc", "poc.S", "-o", "poc.o");
        Tool("riscv64-linux-gnu-ld", dir, "-N", "--no-warn-rwx-segments", "-Ttext=0x80000000", "poc.o", "-o", "poc.elf");
        return Path.Combine(dir, "poc.elf");
    }

    private static void Tool(string tool, string dir, params string[] args)
    {
        var psi = new ProcessStartInfo(tool, args) { WorkingDirectory = dir, RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool}: {err}");
    }

    public static TheoryData<string> Engines() => new() { "tcg", "tcg,backend=il", "tcg,thresh=1", "interp", "launcher" };

    [Theory]
    [MemberData(nameof(Engines))]
    public void Misaligned_Mmio_Loop_Passes_As_On_Qemu(string accel)
    {
        string elf = Build(MisalignedMmioLoop);
        if (BareMetal.QemuAvailable)
        {
            using var qemu = Process.Start(new ProcessStartInfo("qemu-system-riscv64",
                ["-M", "virt", "-bios", "none", "-kernel", elf, "-display", "none", "-serial", "null", "-monitor", "none"])
                { RedirectStandardOutput = true, RedirectStandardError = true })!;
            Assert.True(qemu.WaitForExit(30_000), "QEMU did not finish the program");
            Assert.True(qemu.ExitCode == 0, $"reference QEMU exits {qemu.ExitCode}: the program is wrong");
        }
        string[] args = ["-M", "virt", "-bios", "none", "-kernel", elf, "-nographic"];
        using var wemu = accel == "launcher" ? WemuProcess.Launcher(args) : new WemuProcess([.. args, "-accel", accel]);
        int code = wemu.WaitForExit(TimeSpan.FromSeconds(300));
        Assert.True(code == 0, $"-accel {accel}: exit {code} (139 = the host crashed)\n{wemu.Output}");
    }
}
