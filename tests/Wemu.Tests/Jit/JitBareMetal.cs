using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Machines;
using Wemu.Tests.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Hand-written, self-checking <see cref="BareMetal"/> programs for the JIT: the program's own
/// checks are first validated on QEMU (when installed: if QEMU fails it, the test is wrong), then
/// it runs in lockstep (<see cref="JitLockstep"/>) with JIT thresholds 1 and 2 against the
/// interpreter, and must pass there too.
/// </summary>
internal static class JitBareMetal
{
    public static readonly int[] Thresholds = [1, 2];

    /// <summary>Returns the JIT engine of each run (threshold 1, then 2) for statistics checks.</summary>
    public static RiscVJitEngine[] AssertLockstep(string body, bool compressed = false, bool checkOnQemu = true)
    {
        string elfPath = BareMetal.Assemble(body, compressed);
        if (checkOnQemu && BareMetal.QemuAvailable)
        {
            int qemu = BareMetal.RunQemu(elfPath);
            Assert.True(qemu == 0, $"reference QEMU fails this program (failing test {qemu}): the test itself is wrong");
        }
        var elf = ElfImage.Parse(File.ReadAllBytes(elfPath));
        var engines = new RiscVJitEngine[Thresholds.Length];
        for (int i = 0; i < Thresholds.Length; i++)
        {
            int threshold = Thresholds[i];
            int exit = -1;
            engines[i] = JitLockstep.Run(() => BareHart.FromElf(elf), new JitOptions { Threshold = threshold }, seed: 17 * (i + 1),
                $"{Path.GetFileName(elfPath)}{(compressed ? " (RVC)" : "")}, threshold {threshold}", atEnd: m => exit = m.ExitCode);
            Assert.True(exit == 0, $"threshold {threshold}: both engines fail test number {exit}");
            Assert.True(engines[i].Statistics.CompiledInstructions > 0, $"threshold {threshold}: nothing ran compiled");
        }
        return engines;
    }
}
