using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Memory;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Jit.Wasm;

/// <summary>
/// The page's WebAssembly interpreter for cold RISC-V code (<see cref="RiscVWasmInterpreter"/>), run in Node against
/// <see cref="RiscVInterpreter"/>: random programs and the access sweep, entered at points all through them, with the
/// data and fetch TLBs the interpreter built (some entries dropped or made read-only, the device's I/O entries aimed at
/// a canary area), on a copy of the code and data pages. After as many instructions as the wasm retired, the C#
/// interpreter must be at the same pc with the same registers, data and hot table (every taken branch counted as
/// <see cref="HotTable.Bump"/> does), and a Chain exit before the budget must be at the first target that got hot.
/// </summary>
public sealed unsafe class RiscVWasmInterpreterTests(ITestOutputHelper output)
{
    // (each TLB: RiscVHart.TlbSize entries of 64 bytes, 256 KiB)
    private const int Ctx = 0x100, Regs = 0x1000, DataTlb = 0x4000, FetchTlb = 0x44000, NoPage = 0x84000,
        CanaryArea = 0x86000, CanarySize = 0x2000, Primary = 0x88000, Short = 0x8F000, Expand = 0x90000, Hot = 0xD0000,
        JumpCache = 0x1D0000, DataPages = 0x1D2000, CodePages = DataPages + RandomProgramGenerator.DataSize;
    private const int JumpCacheBits = 8, Stamp = 7;

    private static readonly GuestCodeAbi RegionAbi = new() { Tlb = RiscVHart.TlbLayout, JumpCacheBits = JumpCacheBits, PcAlignShift = 1 };
    private const byte Canary = 0xA5;
    private const int HotBytes = 16 << HotTable.Bits;

    [Theory]
    [MemberData(nameof(WasmBackendTests.ProgramCases), MemberType = typeof(WasmBackendTests))]
    public void Random_Programs_Match_The_Interpreter(int modeIndex, bool compressed)
    {
        int mode = ModeOf(modeIndex);
        var programs = RandomProgramBatch.Assemble(7000 + modeIndex * 100 + (compressed ? 50 : 0), 6, compressed, mode);
        var rng = new Random(modeIndex * 2 + (compressed ? 1 : 0));
        var starts = new List<(RandomProgramBatch.Program, int)>();
        foreach (var p in programs)
            for (int start = 0; start < 6; start++)
                starts.Add((p, rng.Next(start * 400, start * 400 + 600)));
        var (kinds, _) = Check(starts, rng, $"random programs ({mode}, compressed {compressed})");
        Assert.True(kinds.GetValueOrDefault(CodeExit.Slow) > 0, "no Slow exit");
    }

    /// <summary>
    /// A loop of what the module runs itself (loads and stores of every size, the plain AMOs, LR/SC that succeed and
    /// fail, division by zero, by -1 and
    /// of the most negative value, shifts by counts past the width, calls and returns), long runs from points all
    /// through it: most end at the budget or at a target that got hot.
    /// </summary>
    [Theory]
    [MemberData(nameof(WasmBackendTests.ProgramCases), MemberType = typeof(WasmBackendTests))]
    public void A_Loop_Of_Handled_Instructions_Matches_The_Interpreter(int modeIndex, bool compressed)
    {
        int mode = ModeOf(modeIndex);
        // Without CSR instructions and with them, with compiled regions in half the cases (which stop at every CSR
        // instruction and AMO, and go on in the interpreter there).
        foreach (bool csrs in new[] { false, true })
        {
            int seed = 9500 + modeIndex * 2 + (compressed ? 1 : 0) + (csrs ? 10 : 0);
            var p = RandomProgramBatch.Assemble(seed, [LoopSource(seed, mode, csrs)], compressed, mode)[0] with { Paging = true };
            var rng = new Random(seed);
            var starts = new List<(RandomProgramBatch.Program, int)>();
            for (int start = 5; start < 4000; start += 89)
                starts.Add((p, start));
            var (kinds, leftAt) = Check(starts, rng, $"loop ({mode}, compressed {compressed}, CSRs {csrs})", minimumInstructions: csrs ? 2_000 : 4_000, regions: true);   // (with CSRs, the host's sstatus writes end runs)
            Assert.True(kinds.GetValueOrDefault(CodeExit.Chain) >= 5, "fewer than 5 Chain exits");
            if (csrs && mode == RiscVHart.PrivUser)
            {
                // the trap CSRs U may not touch left for the host (which raised illegal instruction)
                Assert.True(leftAt.Any(k => System.Text.RegularExpressions.Regex.IsMatch(k.Key, @"^Slow csr 0x14[0-3]$")), "no S-mode trap CSR access from U left for the host");
                Assert.True(leftAt.Any(k => System.Text.RegularExpressions.Regex.IsMatch(k.Key, @"^Slow csr 0x34[0-3]$")), "no M-mode trap CSR access from U left for the host");
            }
            if (csrs && mode != RiscVHart.PrivUser)
            {
                // the writes the host must make (FS cleared by csrrc) and SIE set with an interrupt pending (csrrsi)
                Assert.True(leftAt.GetValueOrDefault("Slow Csrrc") > 0, "no sstatus write that clears FS left for the host");
                Assert.True(leftAt.GetValueOrDefault("Slow Csrrsi") > 0, "no SIE write with an interrupt pending left for the host");
                // the trap-handling CSRs run here, from S (and M) for sscratch..stval, from M for mscratch..mtval
                var trapCsrExits = leftAt.Where(k => System.Text.RegularExpressions.Regex.IsMatch(k.Key, mode == RiscVHart.PrivMachine ? @"csr 0x[13]4[0-3]$" : @"csr 0x14[0-3]$")).ToList();
                Assert.True(trapCsrExits.Count == 0, $"left for the host at trap CSRs: {string.Join(", ", trapCsrExits)}");
            }
        }
    }

    private static string LoopSource(int seed, int mode, bool csrs)
    {
        string q = $"p{seed}";
        ulong data = mode == RiscVHart.PrivMachine ? RandomProgramGenerator.DataBase : RandomProgramGenerator.VirtualDataBase;
        // sstatus from S and M: interrupt-flag saves and restores every iteration, and every 16th the host's cases (FS
        // cleared and set again, SUM set and cleared) and writes of whole values
        // and the trap-handling CSRs: sscratch..stval from S and M, mscratch..mtval from M
        string mcsrs = mode != RiscVHart.PrivMachine ? "" : """
                csrrw t2, mscratch, a0
                csrr t3, mscratch
                csrrs t4, mepc, t0
                csrrsi t5, mepc, 1
                csrrc t2, mcause, s2
                csrw mcause, t1
                csrrwi t3, mtval, 7
                csrrs t4, mtval, t6
            """;
        // and from U (two iterations in 16, S's then M's) the trap CSRs U may not touch: each an illegal instruction the host raises
        // (the S handler skips it), never read or written here
        string denied = !csrs || mode != RiscVHart.PrivUser ? "" : """
                andi a5, s2, 15
                li a6, 3
                bne a5, a6, 3f
                csrr t2, sscratch
                csrw sepc, t0
                csrrs t3, stval, s2
            3:  li a6, 11
                bne a5, a6, 4f
                csrr t2, mscratch
                csrrci t3, mcause, 1
            4:
            """;
        string sstatus = mode == RiscVHart.PrivUser || !csrs ? denied : $$"""
                csrrci t0, sstatus, 2
                andi t0, t0, 2
                csrr t1, sstatus
                csrrsi zero, sstatus, 2
                csrrc zero, sstatus, t0
                csrrs zero, sstatus, t0
                andi a5, s2, 15
                bnez a5, 2f
                li t2, 0x2000
                csrs sstatus, t2
                csrr t1, sstatus
                csrrc t3, sstatus, t1
                csrrs zero, sstatus, t1
                li t2, 0x40000
                csrs sstatus, t2
                csrc sstatus, t2
                csrrw t4, sstatus, t1
                csrrw zero, sstatus, t4
                csrrwi t5, sstatus, 0
                csrw sstatus, t5
                csrs sstatus, t1
            2:
                csrrw t2, sscratch, a0
                csrr t3, sscratch
                csrw sepc, t0
                csrrs t4, sepc, s2
                csrrsi t5, sepc, 3
                csrrs t2, scause, t1
                csrrc t3, scause, s2
                csrrci zero, scause, 1
                csrrw zero, stval, t6
                csrrs t4, stval, zero
                csrrwi t5, stval, 13
            {{mcsrs}}
            """;
        string body = $$"""
                li s2, 300
                li a1, {{data + 0x1100}}
                addi a2, a1, 16
                addi a3, a1, 24
                li s5, 0x8000000000000000
                li s6, 0x80000000
                li t6, -1
            {{q}}_loop:
                ld t0, 0(a1)
                addi t0, t0, 3
                sd t0, 0(a1)
                lw t1, 8(a1)
                xor t1, t1, s2
                sw t1, 8(a1)
                lh t2, 10(a1)
                lhu t3, 10(a1)
                sh t2, 12(a1)
                lb t2, 13(a1)
                lbu t3, 13(a1)
                sb t3, 14(a1)
                lwu t4, 8(a1)
                amoadd.d t2, s2, (a1)
                amoswap.w t3, t1, (a2)
                amoxor.d t4, t0, (a3)
                amoand.w t5, s2, (a2)
                amoor.d t5, t1, (a3)
                amoadd.w t5, t6, (a2)
                lr.d t2, (a1)
                addi t2, t2, 1
                sc.d t3, t2, (a1)
                sc.d t4, t2, (a1)
                lr.w t2, (a2)
                sc.w t3, t1, (a3)
                lr.w t2, (a2)
                sc.w t4, t1, (a2)
                div t4, t0, s2
                rem t5, t0, s2
                divu t4, t0, s2
                remu t5, t0, s2
                div t4, t0, zero
                rem t5, t0, zero
                divu t4, t0, zero
                remu t5, t0, zero
                div t4, s5, t6
                rem t5, s5, t6
                divw t4, s6, t6
                remw t5, s6, t6
                divw t4, t0, zero
                remw t5, t0, zero
                divuw t4, t0, zero
                remuw t5, t0, zero
                divuw t4, t0, s2
                remuw t5, t1, s2
                mul t4, t0, t1
                mulw t5, t0, t1
                mulh t4, s5, t6
                mulh t5, t0, t1
                mulhsu t4, s5, t1
                mulhsu t5, t6, t0
                mulhu t4, t0, s5
                mulhu t5, t6, t6
                sll t4, t0, s2
                srl t5, t0, s2
                sra t4, s5, s2
                sllw t5, t1, s2
                srlw t4, t1, s2
                sraw t5, s6, s2
                slliw t4, t1, 7
                srliw t5, s6, 3
                sraiw t4, s6, 3
                slt t5, t0, s2
                sltu t4, s5, t0
                slti t5, t0, -5
                sltiu t4, t0, -5
                addw t5, t0, t1
                subw t4, t0, t1
                lui t5, 0xfffff
                auipc t4, 0x12
            {{sstatus}}
                jal ra, {{q}}_fn
                bltu s2, t6, 1f
                addi t0, t0, 1
            1:  bge s5, zero, 1f
                andi t0, t0, 0x7f
            1:  addi s2, s2, -1
                bnez s2, {{q}}_loop
                j {{q}}_end
            {{q}}_fn:
                addi a0, a0, 1
                srai a0, a0, 1
                ori a0, a0, 2
                ret

            """;
        var s = new System.Text.StringBuilder(body);
        RandomProgramGenerator.AppendEnd(s, q, mode);
        RandomProgramGenerator.AppendTrapHandler(s, q, mode == RiscVHart.PrivMachine ? "m" : "s");
        return s.ToString();
    }

    /// <summary>
    /// The 256-byte table the interpreter looks in first: for every primary key it gives the primary table's op, or says
    /// the key's funct7 matters; and it answers itself for the ops where funct7 does not (loads, stores, branches, ADDI).
    /// </summary>
    [Fact]
    public void The_Short_Decode_Table_Agrees_With_The_Primary_Table()
    {
        byte* primary = (byte*)RiscVInterpreter.PrimaryTable, shortTable = (byte*)RiscVInterpreter.ShortTable;
        int answered = 0;
        for (int key = 0; key < 1 << 15; key++)
        {
            byte op = shortTable[key & 0xFF];
            Assert.True(op == RiscVInterpreter.ShortNeedsFunct7 || op == primary[key], $"key 0x{key:x}: {(RvOp)op}, the primary table {(RvOp)primary[key]}");
            if (op != RiscVInterpreter.ShortNeedsFunct7)
                answered++;
        }
        foreach (uint inst in new uint[] { 0x00A58593 /* addi a1,a1,10 */, 0x0085B503 /* ld a0,8(a1) */, 0x00A5B423 /* sd a0,8(a1) */, 0xFE059EE3 /* bnez a1 */ })
            Assert.NotEqual(RiscVInterpreter.ShortNeedsFunct7, shortTable[RvOpcodeTable.Key(inst) & 0xFF]);
        Assert.Equal(RiscVInterpreter.ShortNeedsFunct7, shortTable[RvOpcodeTable.Key(0x40B50533 /* sub a0,a0,a1 */) & 0xFF]);
        Assert.True(answered > 20 * 128, $"only {answered} keys answered by the short table");
    }

    /// <summary>
    /// A region whose first instruction is one it does not run (an AMO: a helper call) goes on in the interpreter at it,
    /// which must not count that pc as an arrival: the pc is hot and its code is in the jump cache, so counting it would
    /// chain straight back into the region with nothing run (and the engine would go round for ever).
    /// </summary>
    [Fact]
    public void A_Region_That_Starts_At_An_Amo_Goes_On_In_The_Interpreter()
    {
        const int seed = 9700;
        string q = $"p{seed}";
        var p = MachineProgram(seed, $$"""
                li s2, 40
                li a1, {{RandomProgramGenerator.DataBase + 0x1100}}
            {{q}}_loop:
                amoadd.w t0, s2, (a1)
                addi s2, s2, -1
                bnez s2, {{q}}_loop
                j {{q}}_end

            """, compressed: false);
        var rng = new Random(seed);
        var cases = new List<NodeWasmRunner.Case>();
        var names = new List<string>();
        foreach (int steps in StepsAt(p, BareHart.RamBase + OffsetOfFirst(p, 0x2F), 6))
        {
            for (int threshold = 1; threshold <= 3; threshold++)
            {
                cases.Add(BuildCase(p, steps, threshold, budget: 500, regions: true, chained: false, pending: false, rng, startInRegion: true)!);
                names.Add($"from step {steps}, threshold {threshold}");
            }
        }
        var results = NodeWasmRunner.Run(cases);
        for (int c = 0; c < cases.Count; c++)
        {
            var r = results[c];
            Assert.True(r.Error == null, $"{names[c]}: {r.Error}");
            var kind = (CodeExit)BitConverter.ToInt32(r.Memory, Ctx + ExitContext.ExitKind);
            // (an AMO whose page the copied TLB dropped leaves as Slow with nothing run; Chain means a hot target, after progress)
            Assert.True(kind != CodeExit.Chain || r.Count > 0, $"{names[c]}: a Chain exit with nothing run");
            Assert.True(kind == CodeExit.Slow || r.Count >= 3, $"{names[c]}: {kind} exit after {r.Count} instructions");
        }
        Assert.True(results.Count(r => r.Count >= 30) >= cases.Count / 2, "fewer than half the runs went round the loop 10 times");
    }

    /// <summary>The offset in <paramref name="p"/>'s code of its first 4-byte instruction with opcode <paramref name="major"/>.</summary>
    private static ulong OffsetOfFirst(RandomProgramBatch.Program p, int major)
    {
        for (int at = 0; at + 4 <= p.Code.Length; at += 2)
        {
            uint inst = BitConverter.ToUInt32(p.Code, at);
            if ((inst & 3) == 3 && (inst & 0x7F) == major)
                return (ulong)at;
        }
        throw new InvalidOperationException("no such instruction");
    }

    /// <summary>An M-mode program of <paramref name="body"/> (labels <c>p{seed}_*</c>), with the common ending and trap handler.</summary>
    private static RandomProgramBatch.Program MachineProgram(int seed, string body, bool compressed)
    {
        var source = new System.Text.StringBuilder(body);
        RandomProgramGenerator.AppendEnd(source, $"p{seed}", RiscVHart.PrivMachine);
        RandomProgramGenerator.AppendTrapHandler(source, $"p{seed}", "m");
        return RandomProgramBatch.Assemble(seed, [source.ToString()], compressed, RiscVHart.PrivMachine)[0];
    }

    /// <summary>The step counts at which <paramref name="p"/>, run from its start, is at <paramref name="pc"/> (the first <paramref name="most"/>).</summary>
    private static List<int> StepsAt(RandomProgramBatch.Program p, ulong pc, int most)
    {
        using var m = p.CreateMachine();
        var interp = new RiscVInterpreter();
        var steps = new List<int>();
        for (int n = 0; n < 100_000 && !m.Finished && steps.Count < most; n++)
        {
            if (m.Hart.ProgramCounter == pc)
                steps.Add(n);
            interp.Run(m.Hart, 1);
        }
        Assert.True(steps.Count == most, $"the program was at 0x{pc:x} {steps.Count} times");
        return steps;
    }

    /// <summary>
    /// Fetches at a page's last two bytes: a compressed instruction there runs in wasm (its page is all it needs); a
    /// 4-byte one crosses into the next page, which the fetch TLB does not hold yet, and must leave for the host before
    /// it runs (in the test's image the next page's bytes follow, so reading on would go unseen by the state compare).
    /// </summary>
    [Fact]
    public void Fetches_At_A_Page_End_Need_Only_The_Pages_They_Touch()
    {
        const int seed = 9710;
        string q = $"p{seed}";
        // (the only program of its batch: .org is from its start)
        var p = MachineProgram(seed, $$"""
                li s3, 2
            {{q}}_again:
                j {{q}}_edge
            {{q}}_back:
                addi s3, s3, -1
                bnez s3, {{q}}_again
                j {{q}}_cross
                .org 0x1ffa
            {{q}}_edge:
                c.addi a0, 1
                c.addi a0, 1
                c.addi a0, 1
                addi a0, a0, 1
                j {{q}}_back
                .org 0x2ffe
            {{q}}_cross:
                addi a1, a0, 1000
                j {{q}}_end

            """, compressed: true);
        ulong edge = BareHart.RamBase + 0x1FFA, cross = BareHart.RamBase + 0x2FFE;
        Assert.True((BitConverter.ToUInt16(p.Code, 0x1FFE) & 3) != 3, "no compressed instruction at 0x1ffe");
        Assert.True((BitConverter.ToUInt16(p.Code, 0x2FFE) & 3) == 3, "no 4-byte instruction at 0x2ffe");
        int steps = StepsAt(p, edge, 2)[1];   // (the second time: the pages before the crossing have been fetched from)
        var rng = new Random(seed);
        var cases = new List<NodeWasmRunner.Case>();
        for (int i = 0; i < 24; i++)
            cases.Add(BuildCase(p, steps, 1 << 30, budget: 500, regions: false, chained: false, pending: false, rng)!);
        var results = NodeWasmRunner.Run(cases);
        int full = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            var (r, kind, pc) = ExitOf(results[c]);
            bool Held(ulong page) => FetchTlbHolds(cases[c].Memory, page);
            Assert.False(Held(cross + 2 & ~0xFFFUL), "the page after the crossing is in the fetch TLB");
            if (Held(BareHart.RamBase) && Held(edge & ~0xFFFUL) && Held(cross & ~0xFFFUL))
            {
                // three compressed adds (the last at 0x1ffe), an add and a jump on the next page, the loop's end, the jump
                Assert.True(kind == CodeExit.Slow && pc == cross && r.Count == 8, $"run {c}: {kind} exit at 0x{pc:x} after {r.Count} instructions");
                full++;
            }
            else
            {
                Assert.True(kind == CodeExit.Slow && pc != cross && pc != edge + 4, $"run {c}: {kind} exit at 0x{pc:x} with a page dropped from the TLB");
            }
        }
        Assert.True(full >= 8, $"only {full} runs had all three pages");
    }

    /// <summary>A run's result (no error), how it left and where.</summary>
    private static (NodeWasmRunner.Result Result, CodeExit Kind, ulong Pc) ExitOf(NodeWasmRunner.Result r)
    {
        Assert.True(r.Error == null, r.Error);
        return (r, (CodeExit)BitConverter.ToInt32(r.Memory, Ctx + ExitContext.ExitKind), BitConverter.ToUInt64(r.Memory, Ctx + ExitContext.ExitPc));
    }

    /// <summary>Whether a case's image has <paramref name="page"/> in its fetch TLB.</summary>
    private static bool FetchTlbHolds(byte[] image, ulong page)
    {
        int entry = FetchTlb + (int)((page >> 12) & RiscVHart.TlbMask) * sizeof(TlbEntry);
        return BitConverter.ToUInt64(image, entry + TlbEntry.TagExecOffset) == page;
    }

    /// <summary>
    /// A 4-byte instruction across a page end whose next page the fetch TLB holds for execution runs here, its upper half
    /// read from that page (the interpreter then goes on from there); when the TLB does not hold that page it leaves for the
    /// host at the instruction. Each run is checked against the C# interpreter, and the runs where the copied TLB holds
    /// every page must have gone past the crossing: twice around the loop, so 14 instructions.
    /// </summary>
    [Fact]
    public void An_Instruction_Across_A_Page_Runs_Here_When_The_Next_Page_Is_Executable()
    {
        const int seed = 9720;
        string q = $"p{seed}";
        var p = MachineProgram(seed, $$"""
                li s3, 4
            {{q}}_again:
                j {{q}}_cross
            {{q}}_back:
                addi s3, s3, -1
                bnez s3, {{q}}_again
                j {{q}}_end
                .org 0x1ffe
            {{q}}_cross:
                addi a1, a1, 7
                addi a1, a1, 1
                j {{q}}_back

            """, compressed: false);
        ulong cross = BareHart.RamBase + 0x1FFE;
        Assert.True((BitConverter.ToUInt16(p.Code, 0x1FFE) & 3) == 3, "no 4-byte instruction at 0x1ffe");
        int steps = StepsAt(p, cross, 2)[1];   // (the second time: both pages have been fetched from)
        var rng = new Random(seed);
        var cases = new List<NodeWasmRunner.Case>();
        for (int i = 0; i < 24; i++)
            cases.Add(BuildCase(p, steps, 1 << 30, budget: 14, regions: false, chained: false, pending: false, rng)!);
        var results = NodeWasmRunner.Run(cases);
        int across = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            var (r, kind, pc) = ExitOf(results[c]);
            bool Held(ulong page) => FetchTlbHolds(cases[c].Memory, page);
            using var m = p.CreateMachine();
            var interp = new RiscVInterpreter();
            WasmBackendTests.Step(m, interp, steps + (int)r.Count);
            Assert.True(m.Hart.ProgramCounter == pc, $"run {c}: wasm left at 0x{pc:x} after {r.Count}, the interpreter is at 0x{m.Hart.ProgramCounter:x}");
            for (int reg = 0; reg < 32; reg++)
                Assert.True(m.Hart.GetRegister(reg) == BitConverter.ToUInt64(r.Memory, Regs + reg * 8), $"run {c}: x{reg} differs after {r.Count} instructions");
            if (Held(BareHart.RamBase) && Held(cross & ~0xFFFUL) && Held(cross + 2))
            {
                Assert.True(r.Count == 14 && kind == CodeExit.Chain, $"run {c}: {kind} exit at 0x{pc:x} after {r.Count} instructions");
                across++;
            }
            else if (!Held(cross + 2) && Held(BareHart.RamBase) && Held(cross & ~0xFFFUL))
            {
                Assert.True(r.Count == 0 && kind == CodeExit.Slow && pc == cross, $"run {c}: {kind} exit at 0x{pc:x} after {r.Count}, the next page not held");
            }
        }
        Assert.True(across >= 6, $"only {across} runs had every page");
    }

    [Theory]
    [MemberData(nameof(WasmBackendTests.ProgramCases), MemberType = typeof(WasmBackendTests))]
    public void The_Access_Sweep_Matches_The_Interpreter(int modeIndex, bool paging)
    {
        int mode = ModeOf(modeIndex);
        if (mode == RiscVHart.PrivMachine && !paging)
            return;   // (M-mode has one form; the theory's other row runs it)
        int seed = 9400 + modeIndex * 2 + (paging ? 1 : 0);
        var p = RandomProgramBatch.Assemble(seed, [JitAccessSweepTests.Source(seed, mode, paging)], false, mode)[0] with { Paging = paging || mode == RiscVHart.PrivMachine };
        var rng = new Random(seed);
        var starts = new List<(RandomProgramBatch.Program, int)>();
        for (int start = 300; start < 6000; start += 97)
            starts.Add((p, start));
        var (kinds, _) = Check(starts, rng, $"access sweep ({mode}, paging {paging})");
        Assert.True(kinds.GetValueOrDefault(CodeExit.Slow) >= 5, "fewer than 5 Slow exits");
    }

    private static int ModeOf(int index) => index switch { 0 => RiscVHart.PrivMachine, 1 => RiscVHart.PrivSupervisor, _ => RiscVHart.PrivUser };

    /// <summary>
    /// Runs each start in wasm and checks it against the C# interpreter. With <paramref name="regions"/>, half the cases
    /// also have compiled regions for the targets ahead in the jump cache (low thresholds, so the interpreter chains into
    /// them and they chain back), and half of those start in a region.
    /// </summary>
    private (Dictionary<CodeExit, int> Kinds, Dictionary<string, int> LeftAt) Check(List<(RandomProgramBatch.Program Program, int Steps)> starts,
        Random rng, string what, long minimumInstructions = 0, bool regions = false)
    {
        var cases = new List<NodeWasmRunner.Case>();
        var built = new List<(RandomProgramBatch.Program Program, int Steps, int Threshold, int Budget, bool Regions, bool Chained, bool Pending)>();
        foreach (var (p, steps) in starts)
        {
            bool withRegions = regions && rng.Next(2) == 0;
            bool chained = rng.Next(3) == 0;   // entered as compiled code's chained exit (count 0), else by the engine (-1)
            int threshold = withRegions ? rng.Next(1, 4) : rng.Next(3) == 0 ? rng.Next(1, 6) : 1 << 30;
            int budget = rng.Next(4) == 0 ? rng.Next(1, 40) : rng.Next(40, 3000);
            bool pending = rng.Next(3) == 0;   // a supervisor software interrupt pending and enabled
            var c = BuildCase(p, steps, threshold, budget, withRegions, chained, pending, rng);
            if (c == null)
                continue;
            cases.Add(c);
            built.Add((p, steps, threshold, budget, withRegions, chained, pending));
        }
        long mixed = 0;
        var results = NodeWasmRunner.Run(cases);
        var kinds = new Dictionary<CodeExit, int>();
        var leftAt = new Dictionary<string, int>();
        long total = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            var (p, steps, threshold, budget, withRegions, chained, pending) = built[c];
            var r = results[c];
            string name = $"{what}: {p.Name} from step {steps}, threshold {threshold}, budget {budget}{(withRegions ? ", with regions" : "")}{(chained ? ", chained to" : "")}";
            Assert.True(r.Error == null, $"{name}: {r.Error}");
            var kind = (CodeExit)BitConverter.ToInt32(r.Memory, Ctx + ExitContext.ExitKind);
            ulong pc = BitConverter.ToUInt64(r.Memory, Ctx + ExitContext.ExitPc);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            total += r.Count;
            // (a region checks the budget where it chains or loops, so it may end up to a region past it)
            Assert.True(r.Count >= 0 && r.Count <= budget + (withRegions ? 256 : 0), $"{name}: count {r.Count}");

            using var m = p.CreateMachine();
            var interp = new RiscVInterpreter();
            WasmBackendTests.Step(m, interp, steps);
            // the rest as the JIT's profiling interpreter, which counts every taken branch's target
            if (pending)
            {
                m.Hart.Mie |= RvStatus.SsipBit;
                m.Hart.MipSoft |= RvStatus.SsipBit;
            }
            using var hot = new HotTable(threshold, 1);
            var profiling = new RiscVInterpreter(hot);
            bool hotSeen = chained && !withRegions && hot.Bump(m.Hart.ProgramCounter);   // (chained to: its first pc is an arrival)
            long cold = (long)BitConverter.ToUInt64(r.Memory, Ctx + ExitContext.ColdRetired);
            Assert.True(cold >= 0 && cold <= r.Count, $"{name}: {cold} of {r.Count} instructions counted as the interpreter's");
            if (withRegions)
            {
                // (regions retire without counting arrivals: only the machine state is compared)
                profiling = interp;
                if (cold > 0 && cold < r.Count)
                    mixed++;
            }
            else
            {
                Assert.True(cold == r.Count, $"{name}: {cold} of {r.Count} instructions counted as the interpreter's");
            }
            for (int n = 0; n < r.Count; n++)
            {
                Assert.False(hotSeen, $"{name}: went on after a hot target");
                m.Hart.HotExit = false;
                m.Hart.CsrWriteEndsRun = false;
                Assert.True(profiling.Run(m.Hart, 1) == 1, $"{name}: the interpreter did not retire instruction {n} of {r.Count}");
                hotSeen = m.Hart.HotExit;
                // (a CSR write the machine loop must see first: the wasm must have left before it, for the host to run it)
                Assert.False(m.Hart.CsrWriteEndsRun, $"{name}: the wasm ran instruction {n}, a CSR write that ends the run");
            }
            Assert.True(m.Hart.ProgramCounter == pc, $"{name}: after {r.Count} instructions ({kind} exit) wasm is at 0x{pc:x}, the interpreter at 0x{m.Hart.ProgramCounter:x}");
            for (int reg = 0; reg < 32; reg++)
                Assert.True(m.Hart.GetRegister(reg) == BitConverter.ToUInt64(r.Memory, Regs + reg * 8),
                    $"{name}: after {r.Count} instructions x{reg} = 0x{BitConverter.ToUInt64(r.Memory, Regs + reg * 8):x}, interpreter 0x{m.Hart.GetRegister(reg):x}");
            ulong mstatus = BitConverter.ToUInt64(r.Memory, Regs + RiscVHart.MstatusSlot * 8);
            Assert.True(m.Hart.Mstatus == mstatus, $"{name}: mstatus is 0x{mstatus:x}, the interpreter's 0x{m.Hart.Mstatus:x}");
            for (int f = 0; f < 32; f++)
                Assert.True(m.Hart.F[f] == BitConverter.ToUInt64(r.Memory, Regs + (32 + f) * 8), $"{name}: after {r.Count} instructions f{f} differs");
            for (int slot = RiscVHart.SscratchSlot; slot < RiscVHart.MscratchSlot + 4; slot++)
                Assert.True(m.Hart.X[slot] == BitConverter.ToUInt64(r.Memory, Regs + slot * 8),
                    $"{name}: trap CSR slot {slot} is 0x{BitConverter.ToUInt64(r.Memory, Regs + slot * 8):x}, the interpreter's 0x{m.Hart.X[slot]:x}");
            ulong reservation = BitConverter.ToUInt64(r.Memory, Regs + RiscVHart.ReservationSlot * 8);
            Assert.True(m.Hart.ReservationAddress == reservation, $"{name}: the reservation is 0x{reservation:x}, the interpreter's 0x{m.Hart.ReservationAddress:x}");
            var data = new Span<byte>(m.Ram.Pointer + (RandomProgramGenerator.DataBase - BareHart.RamBase), RandomProgramGenerator.DataSize);
            Assert.True(data.SequenceEqual(r.Memory.AsSpan(DataPages, RandomProgramGenerator.DataSize)), $"{name}: data memory differs");
            Assert.True(r.Memory.AsSpan(CanaryArea, CanarySize).IndexOfAnyExcept(Canary) < 0, $"{name}: an access through an I/O TLB entry reached linear memory");
            if (!withRegions)
            {
                Assert.True(new Span<byte>(hot.Entries, HotBytes).SequenceEqual(r.Memory.AsSpan(Hot, HotBytes)), $"{name}: the hot tables differ");
                if (hotSeen)
                    Assert.True(kind == CodeExit.Chain, $"{name}: a target got hot and the wasm left with {kind}");
                if (kind == CodeExit.Chain && r.Count < budget)
                    Assert.True(hotSeen, $"{name}: a Chain exit before the budget with no hot target");
            }
            if (kind is CodeExit.Slow or CodeExit.Interpret)
            {
                m.Hart.TryReadVirtual(pc, 4, out ulong word);
                uint inst = (word & 3) == 3 ? (uint)word : RvcExpander.Table[(ushort)word];
                var op = RvOpcodeTable.Decode(inst);
                leftAt[$"{kind} {op}"] = leftAt.GetValueOrDefault($"{kind} {op}") + 1;
                // (a CSR instruction it left at with its page in the fetch TLB: not a fetch that missed)
                bool fetchable = (pc & 0xFFF) <= 0xFFC && FetchTlbHolds(cases[c].Memory, pc & ~0xFFFUL);
                if (op is >= RvOp.Csrrw and <= RvOp.Csrrci && fetchable)
                    leftAt[$"{kind} csr 0x{inst >> 20:x}"] = leftAt.GetValueOrDefault($"{kind} csr 0x{inst >> 20:x}") + 1;
                // the instruction it left at is one it does not run here, or its access or fetch missed
                Assert.True(r.Count < budget || withRegions, $"{name}: {kind} exit at the budget");
            }
        }
        output.WriteLine($"{what}: {cases.Count} cases, {total} instructions; exits: {string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}; left at {string.Join(", ", leftAt.Select(k => $"{k.Key} {k.Value}"))}; {mixed} runs through both");
        Assert.True(cases.Count >= 10, $"{what}: only {cases.Count} cases");
        Assert.True(total >= minimumInstructions, $"{what}: only {total} instructions ran in wasm");
        if (regions)
            Assert.True(mixed >= 1, $"{what}: only {mixed} runs went between the interpreter and compiled code");
        return (kinds, leftAt);
    }

    /// <summary>The image and the module for a run from <paramref name="steps"/> instructions into the program, or null if it ended before.</summary>
    private static NodeWasmRunner.Case? BuildCase(RandomProgramBatch.Program p, int steps, int threshold, int budget, bool regions, bool chained, bool pending, Random rng,
        bool startInRegion = false)
    {
        using var m = p.CreateMachine();
        var interp = new RiscVInterpreter();
        WasmBackendTests.Step(m, interp, steps);
        if (m.Finished)
            return null;
        var h = m.Hart;
        int codeBytes = (p.Code.Length + 0xFFF) & ~0xFFF;
        var image = new byte[CodePages + codeBytes + 0x1000];
        image.AsSpan(CanaryArea, CanarySize).Fill(Canary);
        fixed (byte* img = image)
        {
            *(int*)(img + Ctx + ExitContext.Regs) = Regs;
            *(int*)(img + Ctx + ExitContext.Tlb) = DataTlb;
            *(int*)(img + Ctx + ExitContext.FetchTlb) = FetchTlb;
            *(int*)(img + Ctx + ExitContext.Budget) = budget;
            *(int*)(img + Ctx + ExitContext.ExitKind) = -1;
            *(ulong*)(img + Ctx + ExitContext.ExitPc) = h.ProgramCounter;
            *(int*)(img + Ctx + ExitContext.JumpCache) = JumpCache;
            *(int*)(img + Ctx + ExitContext.Stamp) = Stamp;
            *(int*)(img + Ctx + ExitContext.GlobalStamp) = Stamp + 1000;
            *(int*)(img + Ctx + ExitContext.ColdCode) = 1;   // (the runner puts module k at table index k + 1)
            for (int r = 0; r < 32; r++)
            {
                *(ulong*)(img + Regs + r * 8) = h.GetRegister(r);
                *(ulong*)(img + Regs + (32 + r) * 8) = h.F[r];
            }
            *(ulong*)(img + Regs + RiscVHart.ReservationSlot * 8) = h.ReservationAddress;
            *(ulong*)(img + Regs + RiscVHart.MstatusSlot * 8) = h.Mstatus;
            *(int*)(img + Regs + RiscVHart.PrivSlot * 8) = h.Priv;
            // A supervisor software interrupt pending and enabled in a third of the cases: an sstatus write that sets SIE
            // must then leave for the host. (Stepping one instruction at a time, the C# interpreter goes on the same
            // either way: only the machine loop takes interrupts.)
            *(ulong*)(img + Regs + RiscVHart.MieSlot * 8) = h.Mie | (pending ? RvStatus.SsipBit : 0);
            *(ulong*)(img + Regs + RiscVHart.MipSoftSlot * 8) = h.MipSoft | (pending ? RvStatus.SsipBit : 0);
            *(ulong*)(img + Regs + RiscVHart.MipPinsSlot * 8) = h.MipPins;
            for (int k = 0; k < 4; k++)
            {
                *(ulong*)(img + Regs + (RiscVHart.SscratchSlot + k) * 8) = h.X[RiscVHart.SscratchSlot + k];
                *(ulong*)(img + Regs + (RiscVHart.MscratchSlot + k) * 8) = h.X[RiscVHart.MscratchSlot + k];
            }
            new Span<byte>((void*)RiscVInterpreter.PrimaryTable, 1 << 15).CopyTo(image.AsSpan(Primary));
            new Span<byte>((void*)RiscVInterpreter.ShortTable, 256).CopyTo(image.AsSpan(Short));
            new Span<byte>((void*)RiscVInterpreter.ExpandTable, 4 << 16).CopyTo(image.AsSpan(Expand));
            image.AsSpan(Hot, HotBytes).Fill(0xFF);   // (empty, as HotTable.Clear leaves it)
            new Span<byte>(m.Ram.Pointer + (RandomProgramGenerator.DataBase - BareHart.RamBase), RandomProgramGenerator.DataSize)
                .CopyTo(image.AsSpan(DataPages));
            new Span<byte>(m.Ram.Pointer, codeBytes).CopyTo(image.AsSpan(CodePages));
            WasmBackendTests.CopyTlb(h.TlbFor(h.DataMmuContext), (TlbEntry*)(img + DataTlb), RandomProgramGenerator.DataBase, RandomProgramGenerator.DataSize, DataPages, CanaryArea, rng);
            WasmBackendTests.CopyTlb(h.TlbFor(h.FetchMmuContext), (TlbEntry*)(img + FetchTlb), BareHart.RamBase, codeBytes, CodePages, CanaryArea, rng);
        }
        var modules = new List<byte[]> { RiscVWasmInterpreter.Build(new RiscVWasmInterpreter.Layout(Primary, Short, Expand, NoPage, Hot, threshold, JumpCacheBits)) };
        int entry = 0;
        if (regions)
        {
            // Regions for where the program goes next (the first, its entry, half the time), in the jump cache.
            ulong start = h.ProgramCounter;
            var targets = new List<ulong> { start };
            WasmBackendTests.AddTargetsAhead(p, steps, targets, 17);
            if (!startInRegion && rng.Next(2) != 0)
                targets.RemoveAt(0);
            var translator = new RiscVTranslator(256);
            foreach (ulong t in targets)
            {
                bool inCode = t >= BareHart.RamBase && t < BareHart.RamBase + (ulong)p.Code.Length;
                byte* page = m.Ram.Pointer + ((t & ~0xFFFUL) - BareHart.RamBase);
                if (!inCode || RiscVTranslator.IsInterpretedOnly(t, page))
                    continue;
                var f = translator.Translate(t, page, _ => true);
                Wemu.Jit.Passes.IrPipeline.Run(f);
                modules.Add(Wemu.Jit.Wasm.WasmBackend.Compile(f, RegionAbi, chain: true));
                int slot = JumpCache + ExitContext.JumpCacheIndex(t, 1, JumpCacheBits) * ExitContext.JumpCacheEntry;
                BitConverter.TryWriteBytes(image.AsSpan(slot + ExitContext.EntryPc), t);
                BitConverter.TryWriteBytes(image.AsSpan(slot + ExitContext.EntryStamp), rng.Next(8) == 0 ? Stamp - 1 : Stamp);
                BitConverter.TryWriteBytes(image.AsSpan(slot + ExitContext.EntryCode), modules.Count);
                if (t == start)
                    entry = modules.Count - 1;
            }
        }
        return new NodeWasmRunner.Case([.. modules], image, Ctx, entry, entry != 0 ? 0 : chained ? 0 : -1);
    }
}
