using System.Diagnostics;
using System.Text;
using Wemu.Cpu.RiscV;
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
    /// <summary>Sv39 tables for S-mode and U-mode programs: root, then the level-1 and level-0 tables of the data area.</summary>
    private const ulong PageTables = 0x8018_0000;

    public sealed record Program(int Seed, bool Compressed, int Mode, byte[] Code, ulong TrapOffset, string Source)
    {
        /// <summary>S- and U-mode programs run under Sv39 (the default) or on physical addresses (satp = 0).</summary>
        public bool Paging { get; init; } = true;

        public string Name => $"random program seed {Seed} ({Mode switch
        {
            RiscVHart.PrivMachine => "M-mode",
            RiscVHart.PrivSupervisor => "S-mode, Sv39",
            _ => "U-mode, Sv39",
        }}, {(Compressed ? "RVC" : "no RVC")})";

        public BareHart CreateMachine()
        {
            var m = new BareHart(2 << 20);
            m.Write(BareHart.RamBase, Code);
            m.Write(RandomProgramGenerator.DataBase, RandomProgramGenerator.FillData(Seed));
            if (Mode != RiscVHart.PrivMachine)
                EnterVirtualMemory(m);
            return m;
        }

        /// <summary>
        /// S-mode or U-mode under Sv39: an identity gigapage over RAM for the code (VA = PA, RWX,
        /// A and D set), one over the first GiB for the <see cref="ProbeDevice"/> (RW), and the
        /// data area's four pages at <see cref="RandomProgramGenerator.VirtualDataBase"/> in a
        /// seed-chosen physical order, with A/D clear on some (the hart sets them) and, for half the
        /// seeds, the last page read-only. For U-mode all of these are user pages, and an S-only
        /// alias of the code at 0xc0000000 holds the trap handler's stvec (SUM lets it read the
        /// user code). Exceptions are delegated to S, counters enabled.
        /// </summary>
        private void EnterVirtualMemory(BareHart m)
        {
            var h = m.Hart;
            bool user = Mode == RiscVHart.PrivUser;
            h.Medeleg = 0xB3FF;
            h.Mcounteren = 7;
            h.Scounteren = 7;
            if (user)
                h.Mstatus |= RvStatus.Fs | RvStatus.Sum;
            h.Priv = Mode;
            if (!Paging)
            {
                h.Stvec = BareHart.RamBase + TrapOffset;
                h.FlushTlb();
                return;
            }
            var rng = new Random(Seed * 7 + 3);
            const ulong V = 1, R = 2, W = 4, X = 8, U = 0x10, A = 0x40, D = 0x80;
            ulong u = user ? U : 0;
            ulong root = PageTables, l1 = PageTables + 0x1000, l0 = PageTables + 0x2000;
            void Pte(ulong table, ulong index, ulong pa, ulong flags) =>
                m.Write(table + index * 8, BitConverter.GetBytes(((pa >> 12) << 10) | flags));
            Pte(root, 2, BareHart.RamBase, V | R | W | X | A | D | u);
            Pte(root, 0, 0, V | R | W | A | D | u);   // identity gigapage over the device (and nothing else)
            if (user)
                Pte(root, 3, BareHart.RamBase, V | R | W | X | A | D);
            ulong data = RandomProgramGenerator.VirtualDataBase;
            Pte(root, data >> 30, l1, V);
            Pte(l1, (data >> 21) & 0x1FF, l0, V);
            int[] order = [0, 1, 2, 3];
            rng.Shuffle(order);
            bool readOnlyLast = rng.Next(2) == 0;
            for (int page = 0; page < 4; page++)
            {
                ulong flags = V | R | u | (page == 3 && readOnlyLast ? 0 : W);
                flags |= rng.Next(3) switch { 0 => 0, 1 => A, _ => A | D };
                Pte(l0, ((data >> 12) & 0x1FF) + (ulong)page, RandomProgramGenerator.DataBase + (ulong)order[page] * 0x1000, flags);
            }
            h.Satp = (8UL << 60) | (root >> 12);
            if (user)
                h.Stvec = 0xC000_0000 + TrapOffset;
            h.FlushTlb();
        }
    }

    private static readonly string WorkDir = Directory.CreateTempSubdirectory("wemu-jit-random-").FullName;

    public static IReadOnlyList<Program> Assemble(int firstSeed, int count, bool compressed, int mode)
    {
        var sources = new List<string>();
        for (int i = 0; i < count; i++)
            sources.Add(RandomProgramGenerator.Generate(firstSeed + i, $"p{firstSeed + i}", mode));
        return Assemble(firstSeed, sources, compressed, mode);
    }

    /// <summary>
    /// Programs in <see cref="RandomProgramGenerator"/>'s form (position independent, labels
    /// <c>p{seed}_*</c>, a trap handler <c>p{seed}_trap</c>), program i with seed <paramref name="firstSeed"/> + i.
    /// </summary>
    public static IReadOnlyList<Program> Assemble(int firstSeed, IReadOnlyList<string> sources, bool compressed, int mode)
    {
        Assert.True(BareMetal.ToolsAvailable, "riscv64-linux-gnu-as is missing: ./test.sh installs binutils-riscv64-linux-gnu");
        int count = sources.Count;
        var file = new StringBuilder();
        file.AppendLine("    .option norelax");
        file.AppendLine(compressed ? "    .option rvc" : "    .option norvc");
        file.AppendLine("    .text");
        file.AppendLine("    .globl _start");
        file.AppendLine("_start:");
        for (int i = 0; i < count; i++)
        {
            int seed = firstSeed + i;
            string source = sources[i];
            file.AppendLine("    .balign 4096");
            file.AppendLine($"p{seed}:");
            file.Append(source);
            file.AppendLine($"p{seed}_stop:");
        }
        string stem = Path.Combine(WorkDir, $"batch{firstSeed}-{mode}{(compressed ? "c" : "")}");
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
            programs.Add(new Program(seed, compressed, mode, code, elf.Symbols[$"p{seed}_trap"] - start, sources[i]));
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
