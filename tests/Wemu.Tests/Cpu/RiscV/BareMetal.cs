using Wemu.Cpu;
using System.Diagnostics;
using Wemu.Cpu.RiscV;
using Wemu.Devices;
using Wemu.Machines;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>
/// Assembles bare-metal test programs with the Debian cross assembler and runs them on the
/// <c>spike</c> machine; the same ELF also runs under <c>qemu-system-riscv64 -M spike</c> (the
/// reference) so a test's expectations are checked against real behaviour, not our own.
/// Programs end through HTIF: exit 0 = pass, otherwise the failing test number.
/// </summary>
public static class BareMetal
{
    /// <summary>Test macros in the style of riscv-tests (gp holds the current test number).</summary>
    public const string Prelude = """
        .option norvc
        .macro FAIL_IF_NE a, b
            bne \a, \b, fail
        .endm
        .macro TEST_RR n, inst, expect, v1, v2
            li gp, \n
            li a1, \v1
            li a2, \v2
            \inst a0, a1, a2
            li t2, \expect
            bne a0, t2, fail
        .endm
        .macro TEST_RI n, inst, expect, v1, imm
            li gp, \n
            li a1, \v1
            \inst a0, a1, \imm
            li t2, \expect
            bne a0, t2, fail
        .endm
        .macro TEST_EQ n, reg, expect
            li gp, \n
            li t2, \expect
            bne \reg, t2, fail
        .endm
        .section .text.init, "ax"
        .globl _start
        _start:
            la t0, trap_vector
            csrw mtvec, t0
            j tests
        trap_vector:
            la t0, trap_handler_hook
            ld t0, 0(t0)
            beqz t0, unexpected_trap
            jr t0
        unexpected_trap:
            li gp, 999
            j fail
        pass:
            li a0, 1
            j write_tohost
        fail:
            slli a0, gp, 1
            ori a0, a0, 1
        write_tohost:
            la t0, tohost
            sd a0, 0(t0)
        1:  j 1b
        .section .data
        .align 3
        trap_handler_hook: .dword 0
        .section .tohost, "aw", @progbits
        .align 6
        .globl tohost
        tohost: .dword 0
        .size tohost, 8
        .align 6
        .globl fromhost
        fromhost: .dword 0
        .size fromhost, 8
        .section .text
        tests:
        """;

    private const string LinkerScript = """
        OUTPUT_ARCH(riscv)
        ENTRY(_start)
        SECTIONS
        {
          . = 0x80000000;
          .text.init : { *(.text.init) }
          . = ALIGN(0x1000);
          .tohost : { *(.tohost) }
          . = ALIGN(0x1000);
          .text : { *(.text) }
          . = ALIGN(0x1000);
          .data : { *(.data) *(.sdata) }
          .bss : { *(.bss) *(.sbss) }
          _end = .;
        }
        """;

    public static bool ToolsAvailable => File.Exists("/usr/bin/riscv64-linux-gnu-as");

    public static bool QemuAvailable => File.Exists("/usr/bin/qemu-system-riscv64");

    private static readonly string WorkDir = Directory.CreateTempSubdirectory("wemu-baremetal-").FullName;
    private static int s_counter;

    /// <summary>Assembles and links <paramref name="body"/> after the prelude; returns the ELF path.</summary>
    public static string Assemble(string body, bool compressed = false)
    {
        Assert.True(ToolsAvailable, "riscv64-linux-gnu-as is missing: ./test.sh installs binutils-riscv64-linux-gnu");
        int id = Interlocked.Increment(ref s_counter);
        string src = Path.Combine(WorkDir, $"t{id}.S");
        string obj = Path.Combine(WorkDir, $"t{id}.o");
        string elf = Path.Combine(WorkDir, $"t{id}.elf");
        string prelude = compressed ? Prelude.Replace(".option norvc", ".option rvc") : Prelude;
        File.WriteAllText(src, prelude + "\n" + body + "\n    j pass\n");
        Run("riscv64-linux-gnu-as", $"-march=rv64gc -mabi=lp64d -o {obj} {src}");
        string lds = Path.Combine(WorkDir, "link.ld");
        if (!File.Exists(lds))
            File.WriteAllText(lds, LinkerScript);
        Run("riscv64-linux-gnu-ld", $"-nostdlib --no-warn-rwx-segments -T {lds} -o {elf} {obj}");
        return elf;
    }

    private static void Run(string tool, string args)
    {
        var psi = new ProcessStartInfo(tool, args) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} failed: {err}");
    }

    /// <summary>Runs an ELF on Wemu's spike machine and returns the HTIF exit code (0 = pass).</summary>
    public static int RunWemu(string elf, long maxInstructions = 50_000_000, ICpuEngine<RiscVHart>? engine = null)
    {
        var config = new MachineConfig { MachineType = "spike", NoFirmware = true, Kernel = elf, MemorySize = 64UL << 20 };
        using var m = new SpikeMachine(config, new MachineImages { Kernel = File.ReadAllBytes(elf) }, engine);
        long done = 0;
        while (done < maxInstructions)
        {
            var status = m.RunSlice(100_000);
            if (status == MachineStatus.PoweredOff)
                return m.ExitCode;
            if (status == MachineStatus.Idle)
                m.SkipIdleTime();
            done += 100_000;
        }
        return -1;
    }

    /// <summary>Runs an ELF under QEMU's spike machine (the reference) and returns its exit code.</summary>
    public static int RunQemu(string elf)
    {
        var psi = new ProcessStartInfo("qemu-system-riscv64", $"-M spike -bios none -nographic -m 64M -kernel {elf}")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
        };
        using var p = Process.Start(psi)!;
        if (!p.WaitForExit(20_000))
        {
            p.Kill();
            return -1;
        }
        return p.ExitCode;
    }

    /// <summary>
    /// Asserts the program passes on Wemu's interpreter and on its JIT compiling every block on
    /// first sight, and (when QEMU is installed) on QEMU too.
    /// </summary>
    public static void AssertPasses(string body, bool compressed = false)
    {
        string elf = Assemble(body, compressed);
        int interp = RunWemu(elf, engine: new RiscVInterpreter());
        int jit = RunWemu(elf, engine: new RiscVJitEngine(new Wemu.Jit.JitOptions { Threshold = 1 }));
        if (QemuAvailable)
        {
            int qemu = RunQemu(elf);
            Assert.True(qemu == 0, $"reference QEMU fails this program (failing test {qemu}): the test itself is wrong");
        }
        Assert.True(interp == 0, interp < 0 ? "Wemu (interpreter) did not finish" : $"Wemu (interpreter) fails test number {interp}");
        Assert.True(jit == 0, jit < 0 ? "Wemu (JIT) did not finish" : $"Wemu (JIT) fails test number {jit}");
    }
}
