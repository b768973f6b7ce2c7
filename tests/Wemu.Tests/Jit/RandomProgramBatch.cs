using System.Diagnostics;
using System.Text;
using Wemu.Machines;
using Wemu.Tests.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Many <see cref="RandomProgramGenerator"/> programs assembled in one go (one assembler and one
/// linker run per batch): each program starts on its own page of one ELF, and since the programs
/// are position independent, each is copied to 0x80000000 of its own machine to run.
/// </summary>
internal sealed class RandomProgramBatch
{
    public sealed record Program(int Seed, bool Compressed, byte[] Code, string Source)
    {
        public string Name => $"random program seed {Seed} ({(Compressed ? "RVC" : "no RVC")})";

        public BareHart CreateMachine()
        {
            var m = new BareHart(2 << 20);
            m.Write(BareHart.RamBase, Code);
            m.Write(RandomProgramGenerator.DataBase, RandomProgramGenerator.FillData(Seed));
            return m;
        }
    }

    private static readonly string WorkDir = Directory.CreateTempSubdirectory("wemu-jit-random-").FullName;

    public static IReadOnlyList<Program> Assemble(int firstSeed, int count, bool compressed)
    {
        Assert.True(BareMetal.ToolsAvailable, "riscv64-linux-gnu-as is missing: ./test.sh installs binutils-riscv64-linux-gnu");
        var sources = new List<string>();
        var file = new StringBuilder();
        file.AppendLine("    .option norelax");
        file.AppendLine(compressed ? "    .option rvc" : "    .option norvc");
        file.AppendLine("    .text");
        file.AppendLine("    .globl _start");
        file.AppendLine("_start:");
        for (int i = 0; i < count; i++)
        {
            int seed = firstSeed + i;
            string source = RandomProgramGenerator.Generate(seed, $"p{seed}");
            sources.Add(source);
            file.AppendLine("    .balign 4096");
            file.AppendLine($"p{seed}:");
            file.Append(source);
            file.AppendLine($"p{seed}_stop:");
        }
        string stem = Path.Combine(WorkDir, $"batch{firstSeed}{(compressed ? "c" : "")}");
        File.WriteAllText(stem + ".S", file.ToString());
        Run("riscv64-linux-gnu-as", $"-march=rv64gc -mabi=lp64d -o {stem}.o {stem}.S");
        Run("riscv64-linux-gnu-ld", $"-nostdlib --no-warn-rwx-segments -Ttext=0x80000000 -o {stem}.elf {stem}.o");
        var elf = ElfImage.Parse(File.ReadAllBytes(stem + ".elf"));
        var text = elf.Segments.Single(s => s.VirtualAddress <= 0x8000_0000 && 0x8000_0000 < s.VirtualAddress + (ulong)s.Data.Length);
        var programs = new List<Program>();
        for (int i = 0; i < count; i++)
        {
            int seed = firstSeed + i;
            ulong start = elf.Symbols[$"p{seed}"], stop = elf.Symbols[$"p{seed}_stop"];
            Assert.True((start & 0xFFF) == 0, "programs start on a page");
            byte[] code = text.Data.AsSpan((int)(start - text.VirtualAddress), (int)(stop - start)).ToArray();
            programs.Add(new Program(seed, compressed, code, sources[i]));
        }
        return programs;
    }

    private static void Run(string tool, string args)
    {
        var psi = new ProcessStartInfo(tool, args) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} failed: {(err.Length > 4000 ? err[..4000] : err)}");
    }
}
