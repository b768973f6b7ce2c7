using System.Globalization;
using System.Text;
using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Jit;

/// <summary>
/// The property behind the soft-TLB fast paths, attacked through whole programs on both native
/// backends (x86-64 machine code and IL): a hot loop does every load and store (integer and
/// F/D, every size) at every misalignment against RAM, both ends of RAM pages (crossing into the
/// next page, mapped or not), the <see cref="ProbeDevice"/> (MMIO: an I/O TLB entry), unmapped
/// physical space, a far address no mapping reaches, and pages holding compiled code (same-value
/// rewrites, and rewrites that change an instruction of a compiled function through 1-, 2-, 4- and
/// 8-byte stores at every offset, including one crossing into the next code page, after which the
/// function must return the new value). It runs in M-mode, in S- and U-mode under Sv39 and on
/// physical addresses, in lockstep with the interpreter (<see cref="JitLockstep"/>): state, RAM and
/// device traffic must match after every slice. Before the tag-flag fix, the first compiled
/// misaligned access to the device read and wrote host memory at the guest's address (a crash).
/// </summary>
public sealed class JitAccessSweepTests(ITestOutputHelper output)
{
    private static readonly string[] Loads = ["lb", "lbu", "lh", "lhu", "lw", "lwu", "ld", "flw", "fld"];
    private static readonly string[] Stores = ["sb", "sh", "sw", "sd", "fsw", "fsd"];
    private static readonly string[] Atomics = ["amoadd.w", "amoswap.d", "amomax.w", "lr.w", "sc.w", "lr.d", "sc.d"];

    private static int SizeOf(string op) => op switch
    {
        "lb" or "lbu" or "sb" => 1,
        "lh" or "lhu" or "sh" => 2,
        "lw" or "lwu" or "sw" or "flw" or "fsw" => 4,
        _ => 8,
    };

    private static string LoadFor(string store) => store switch
    {
        "sb" => "lbu", "sh" => "lhu", "sw" => "lwu", "sd" => "ld", "fsw" => "flw", _ => "fld",
    };

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>(size, offset in the victim's addi) pairs whose access covers an immediate bit (bit 24 - 8 * offset of the loaded value).</summary>
    private static IEnumerable<(string Load, string Store, int Offset)> Rewrites()
    {
        foreach (var (load, store, size) in new[] { ("lbu", "sb", 1), ("lhu", "sh", 2), ("lwu", "sw", 4), ("ld", "sd", 8) })
            for (int o = 0; o < 4; o++)
                if (24 - 8 * o < 8 * size)
                    yield return (load, store, o);
    }

    /// <summary>The sweep program for <paramref name="mode"/> (paging or physical addresses): labels p{seed}_*.</summary>
    internal static string Source(int seed, int mode, bool paging)
    {
        string p = $"p{seed}";
        string x = mode == RiscVHart.PrivMachine ? "m" : "s";
        bool virtualData = mode != RiscVHart.PrivMachine && paging;
        ulong data = virtualData ? RandomProgramGenerator.VirtualDataBase : RandomProgramGenerator.DataBase;
        var s = new StringBuilder();
        if (mode != RiscVHart.PrivUser)
        {
            s.AppendLine($"    la tp, {p}_trap");
            s.AppendLine($"    csrw {x}tvec, tp");
            s.AppendLine("    li tp, 0x6000");
            s.AppendLine($"    csrs {x}status, tp");
        }
        s.AppendLine("    li s4, 0x8877665544332211");
        s.AppendLine("    fmv.d.x f1, s4");
        s.AppendLine("    li s2, 5");
        s.AppendLine($"{p}_loop:");
        // Data regions: RAM mid-page, RAM page ends (the last one runs into unmapped space under
        // paging), the device, unmapped physical space, a far address.
        var regions = new List<(string Name, string Base)>
        {
            ("ram", Hex(data + 0x800)),
            ("ram end", Hex(data + 0xFF8)),
            ("ram area end", Hex(data + 0x3FF8)),
            ("device", Hex(ProbeDevice.Base)),
            ("unmapped", Hex(0x2000_0000)),
            ("far", Hex(0x7FF0_0000_0000)),
        };
        foreach (var (_, b) in regions)
        {
            s.AppendLine($"    li a1, {b}");
            for (int off = 0; off < 8; off++)
            {
                foreach (string op in Loads)
                    s.AppendLine(op.StartsWith('f') ? $"    {op} f0, {off}(a1)" : $"    {op} t0, {off}(a1)");
                foreach (string op in Stores)
                    s.AppendLine(op.StartsWith('f') ? $"    {op} f1, {off}(a1)" : $"    {op} s4, {off}(a1)");
                // atomics (no offset field: the address in a2) aligned for both sizes, for .w only, and for neither;
                // misaligned ones fault, as on a device
                if (off is 0 or 3 or 4)
                {
                    s.AppendLine($"    addi a2, a1, {off}");
                    foreach (string op in Atomics)
                        s.AppendLine(op.StartsWith("lr") ? $"    {op} t0, (a2)" : $"    {op} t0, s4, (a2)");
                }
            }
        }
        // Code pages: every store size at every offset writes back what is there (the page's
        // compiled code must be dropped each time, and stay right), mid-page and at the page end.
        foreach (string b in new[] { $"{p}_victims + 0x100", $"{p}_victims + 0xFF8" })
        {
            s.AppendLine($"    la a1, {b}");
            for (int off = 0; off < 8; off++)
                foreach (string op in Stores)
                {
                    string reg = op.StartsWith('f') ? "f0" : "t0";
                    s.AppendLine($"    {LoadFor(op)} {reg}, {off}(a1)");
                    s.AppendLine($"    {op} {reg}, {off}(a1)");
                }
        }
        // Rewrites of compiled functions: call, flip an immediate bit through the store, call again.
        int v = 0;
        foreach (var (load, store, o) in Rewrites().Append(("ld", "sd", 2)))
        {
            string victim = v < Rewrites().Count() ? $"{p}_v{v}" : $"{p}_vend";
            s.AppendLine($"    call {victim}");
            s.AppendLine("    add s6, s6, a0");
            s.AppendLine($"    la a1, {victim}");
            s.AppendLine($"    {load} t0, {o}(a1)");
            s.AppendLine($"    li t2, {1 << (24 - 8 * o)}");
            s.AppendLine("    xor t0, t0, t2");
            s.AppendLine($"    {store} t0, {o}(a1)");
            s.AppendLine($"    call {victim}");
            s.AppendLine("    slli s6, s6, 1");
            s.AppendLine("    add s6, s6, a0");
            v++;
        }
        s.AppendLine("    addi s2, s2, -1");
        s.AppendLine($"    bnez s2, {p}_loop");
        RandomProgramGenerator.AppendEnd(s, p, mode);

        // The trap handler skips the faulting instruction.
        RandomProgramGenerator.AppendTrapHandler(s, p, x);

        // Victims: a page of small functions (addi a0, zero, imm; ret), one at the page's end
        // whose doubleword rewrite crosses into the next code page.
        s.AppendLine("    .balign 4096");
        s.AppendLine($"{p}_victims:");
        for (int i = 0; i < Rewrites().Count(); i++)
        {
            s.AppendLine("    .balign 16");
            s.AppendLine($"{p}_v{i}:");
            s.AppendLine($"    addi a0, zero, {i * 3}");
            s.AppendLine("    ret");
        }
        s.AppendLine($"    .org {p}_victims + 0xFF8");
        s.AppendLine($"{p}_vend:");
        s.AppendLine("    addi a0, zero, 77");
        s.AppendLine("    ret");
        s.AppendLine($"{p}_vnext:");
        s.AppendLine("    addi a0, zero, 5");
        s.AppendLine("    ret");
        s.AppendLine("    .balign 4096");
        return s.ToString();
    }

    public static TheoryData<int, bool> Modes() => new()
    {
        { RiscVHart.PrivMachine, false },
        { RiscVHart.PrivSupervisor, true },
        { RiscVHart.PrivSupervisor, false },
        { RiscVHart.PrivUser, true },
        { RiscVHart.PrivUser, false },
    };

    private static readonly (string Name, JitOptions Options)[] Configurations =
    [
        ("x86-64 backend, threshold 1", new JitOptions { Threshold = 1, RewriteWindow = 0 }),
        ("x86-64 backend, threshold 2", new JitOptions { Threshold = 2, RewriteWindow = 0 }),
        ("IL backend, threshold 1", new JitOptions { Threshold = 1, RewriteWindow = 0, NativeCode = false }),
        ("IL backend, threshold 2", new JitOptions { Threshold = 2, RewriteWindow = 0, NativeCode = false }),
    ];

    [Theory]
    [MemberData(nameof(Modes))]
    public void Every_Access_At_Every_Misalignment_Matches_The_Interpreter(int mode, bool paging)
    {
        int seed = 9100 + mode * 2 + (paging ? 1 : 0);
        var program = RandomProgramBatch.Assemble(seed, [Source(seed, mode, paging)], compressed: false, mode)[0] with { Paging = paging };
        string where = $"{(mode == RiscVHart.PrivMachine ? "M" : mode == RiscVHart.PrivSupervisor ? "S" : "U")}-mode{(paging ? ", Sv39" : mode == RiscVHart.PrivMachine ? "" : ", no paging")}";
        foreach (var (name, options) in Configurations)
        {
            ulong accumulated = 0, deviceReads = 0;
            var jit = JitLockstep.Run(program.CreateMachine, options, seed, $"access sweep, {where}, {name}", maxInstructions: 5_000_000,
                atEnd: m =>
                {
                    accumulated = m.Hart.GetRegister(22);   // s6
                    deviceReads = m.Probe.WriteLog;
                });
            var stats = jit.Statistics;
            output.WriteLine($"{where}, {name}: {stats.CompiledInstructions} compiled, {stats.ColdInstructions} cold, " +
                $"{stats.Fallbacks} slow paths, {stats.Invalidations} invalidations");
            Assert.True(stats.CompiledInstructions > 6000, $"{where}, {name}: only {stats.CompiledInstructions} instructions ran compiled");
            Assert.True(stats.Invalidations > 15, $"{where}, {name}: code-page stores invalidated only {stats.Invalidations} blocks");
            Assert.True(deviceReads != 0, $"{where}, {name}: no store reached the device");
            Assert.True(accumulated != 0, $"{where}, {name}: the rewritten functions returned nothing");
        }
    }
}
