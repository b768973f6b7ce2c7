using Wemu.Jit;
using Wemu.Jit.Ir;

namespace Wemu.Cpu.X86;

/// <summary>
/// Translates 64-bit x86 code to IR, from the records of the interpreter's own decoder
/// (<see cref="X86Cpu.DecodeInstruction"/>, <see cref="X86Insn"/>), so both read an instruction the same
/// way. A region is one guest page with one entry, built like RISC-V's: blocks reachable by direct
/// branches inside the page (that have run) become labels, backward edges check the budget, and
/// everything else leaves through exits.
/// <para>
/// Flags are lazy, as in the interpreter: a flag-setting instruction writes the operation, result
/// and operands to the register file's CcOp/CcDst/CcSrc/CcSrc2 slots (so every exit leaves the
/// interpreter's state), and a flag reader computes just the condition it needs from them: from
/// the operands directly when the operation is known at translation time (within a block, or at a
/// label all of whose edges agree on it: a second pass uses what the first found), from any
/// operation by a selection otherwise.
/// </para>
/// <para>
/// Precise exceptions: each instruction does its loads and stores before it writes a register, so a
/// load or store that leaves for the slow path (or faults) leaves the state from before the
/// instruction. Instructions the translator does not handle run in the interpreter: through the
/// helper (<see cref="X86JitHelpers.HelperExecute"/>) when they go on to the next instruction and
/// change nothing compiled code assumes (string operations, x87, SSE, MUL/DIV, XCHG, CMPXCHG, bit
/// operations), else as the region's exit (system instructions, port I/O, far and indirect transfers
/// it does not know).
/// </para>
/// </summary>
internal sealed unsafe class X86Translator : RegionTranslator
{
    private const int Byte = X86Cpu.Byte, Word = X86Cpu.Word, Dword = X86Cpu.Dword, Qword = X86Cpu.Qword;
    private const int Rax = X86Cpu.Rax, Rcx = X86Cpu.Rcx, Rdx = X86Cpu.Rdx, Rsp = X86Cpu.Rsp;
    private const int Unknown = -1;

    private const int FlagC = 0, FlagZ = 1, FlagS = 2, FlagO = 3, FlagP = 4, FlagA = 5;

    private readonly int[] _cache = new int[X86Cpu.JitRegisters];

    /// <summary>SSE instructions run (no #UD/#NM): moves and common integer operations become IR.</summary>
    private bool _sse;

    /// <summary>The CcOp (operation and size) known to be in the register file here, or <see cref="Unknown"/>.</summary>
    private int _ccOp;

    /// <summary>SUB/CMP/NEG: the first operand (masked) while the last flag setter is in this block, else -1.</summary>
    private int _ccSrc1;

    /// <summary>This pass: the CcOp every edge into a pc has brought (Unknown if they differ); the last pass's, assumed at labels.</summary>
    private readonly Dictionary<ulong, int> _edgeCc = [];
    private readonly Dictionary<ulong, int> _assumedCc = [];

    public X86Translator(int maxInstructions = 256) : base(maxInstructions, X86Cpu.JitRegisters)
    {
    }

    /// <summary>The longest instruction's bytes past the page (15 bytes, at least one on this page).</summary>
    public override int CrossPageBytes => 16;

    /// <summary>Where this translation's code bytes end: the page's end, or past it by the next page's bytes the engine gave.</summary>
    private int _limit = 0x1000;

    public override IrFunction Translate(ulong entryPc, ulong mode, byte* page, Func<ulong, bool> include, bool reuse, int nextPageBytes = 0)
    {
        _limit = 0x1000 + Math.Clamp(nextPageBytes, 0, CrossPageBytes);
        _sse = (mode & X86Cpu.ModeNoSse) == 0;
        _assumedCc.Clear();
        TranslatePass(entryPc, page, include, reuse);
        bool anyKnown = false;
        foreach (var (pc, cc) in _edgeCc)
            if (cc != Unknown && pc != entryPc)
                anyKnown = true;
        if (!anyKnown)
            return F;
        // Second pass: labels start from what all their edges brought in the first (edges that were
        // known stay known: what a block's own flag setters leave does not depend on the assumptions).
        foreach (var (pc, cc) in _edgeCc)
            _assumedCc[pc] = cc;
        _assumedCc[entryPc] = Unknown;
        return TranslatePass(entryPc, page, include, reuse);
    }

    private IrFunction TranslatePass(ulong entryPc, byte* page, Func<ulong, bool> include, bool reuse)
    {
        _edgeCc.Clear();
        _edgeCc[entryPc] = Unknown; // entered from outside
        return BuildRegion(entryPc, page, include, reuse);
    }

    public override bool IsInterpretedOnly(ulong pc, ulong mode, byte* page)
    {
        if ((mode & ~X86Cpu.ModeNoSse) != X86Cpu.Mode64)
            return true;
        X86Insn d = default;
        if (!X86Cpu.DecodeInstruction(page, (int)(pc & 0xFFF), ref d))
            return false;   // it crosses into the next page: a region may take it if the engine gives that page's bytes

        return d.Op == X86FastOp.Generic && (d.Length == 0 || !RunsAsHelper(page, (int)(pc & 0xFFF), 0x1000));
    }

    /// <summary>
    /// Whether a generic instruction (one the translator leaves to the interpreter) may run through
    /// the helper inside a region: it goes on to the next instruction (or faults) and changes no
    /// mode, segment base, interrupt flag or device. Anything else ends the region.
    /// </summary>
    private static bool RunsAsHelper(byte* page, int offset, int limit)
    {
        int end = Math.Min(offset + 15, limit);
        int p = offset;
        int b;
        int rex = 0;
        while (true)
        {
            if (p >= end)
                return false;
            b = page[p++];
            if (b is 0x66 or 0x67 or 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65 or 0xF0 or 0xF2 or 0xF3)
            {
                rex = 0;
                continue;
            }
            if ((b & 0xF0) == 0x40)
            {
                rex = b;
                continue;
            }
            break;
        }
        if (b != 0x0F)
        {
            return b switch
            {
                < 0x40 => (b & 7) < 6,                                          // ALU forms (LOCK)
                (>= 0x50 and <= 0x5F) or 0x63 or 0x68 or 0x6A => true,         // PUSH/POP (66), MOVSXD
                (>= 0x80 and <= 0x8B) or 0x8D or 0xC6 or 0xC7 or 0x98 or 0x99 or (>= 0xB0 and <= 0xBF) => true,
                0xFE => true,                                                   // INC/DEC Eb (LOCK)
                0xFF => p < end && ((page[p] >> 3) & 7) is 0 or 1 or 6,        // INC/DEC/PUSH Ev (not the jumps)
                0x86 or 0x87 or (>= 0x91 and <= 0x97) => true,               // XCHG
                0x90 => (rex & 1) != 0 || page[offset] == 0xF3,                 // XCHG r8, rAX; PAUSE (F3 90)
                0x8C or 0x8F or 0x9C or 0x9E or 0x9F or 0xD7 => true,          // MOV Ev,Sreg; POP Ev; PUSHF; SAHF; LAHF; XLAT
                (>= 0xA0 and <= 0xA7) or (>= 0xAA and <= 0xAF) => true,         // MOV moffs; string operations
                0xC8 or 0xC9 or 0x9B or (>= 0xD8 and <= 0xDF) => true,         // ENTER, LEAVE, FWAIT, x87
                0xF5 or 0xF8 or 0xF9 or 0xFA or 0xFC or 0xFD => true,           // CMC, CLC, STC, CLI, CLD, STD
                0xFB => p == offset + 1 && StiJoinsRegion(page, offset, limit), // STI without prefixes, not STI; HLT
                (>= 0xC0 and <= 0xC1) or (>= 0xD0 and <= 0xD3) or 0xF6 or 0xF7 or 0x69 or 0x6B => true,
                _ => false,
            };
        }
        if (p >= end)
            return false;
        int op = page[p];
        return op switch
        {
            0x0D or (>= 0x18 and <= 0x1F) => true,                              // prefetch, hint NOPs
            0x31 or 0xA2 => true,                                               // RDTSC, CPUID
            0x38 or 0x3A => true,                                               // SSSE3/SSE4/MOVBE/CRC32
            0xA3 or 0xAB or 0xB3 or 0xBB or 0xBA => true,                       // BT, BTS, BTR, BTC
            0xA4 or 0xA5 or 0xAC or 0xAD or 0xAF => true,                       // SHLD, SHRD, IMUL
            0xAE => true,                                                       // fences, LDMXCSR/STMXCSR, FXSAVE/FXRSTOR
            0xB0 or 0xB1 or 0xC0 or 0xC1 or 0xC7 => true,                       // CMPXCHG, XADD, CMPXCHG8B/16B, RDRAND
            (>= 0xB6 and <= 0xBF) or 0xB8 => true,                              // MOVZX/MOVSX, POPCNT, BSF/BSR/TZCNT/LZCNT
            (>= 0x40 and <= 0x4F) or (>= 0x90 and <= 0x9F) => true,             // CMOVcc, SETcc
            (>= 0xC8 and <= 0xCF) => true,                                      // BSWAP
            _ => IsSse(op),
        };
    }

    private static bool IsSse(int op) =>
        op is (>= 0x10 and <= 0x17) or (>= 0x28 and <= 0x2F) or (>= 0x50 and <= 0x7F) or 0xC2 or (>= 0xC3 and <= 0xC6) or >= 0xD0;

    // ---- region structure ----

    /// <summary>Records that an edge enters <paramref name="pc"/> with the current flag state.</summary>
    protected override void OnEdge(ulong pc)
    {
        if (_edgeCc.TryGetValue(pc, out int cc))
        {
            if (cc != _ccOp)
                _edgeCc[pc] = Unknown;
        }
        else
        {
            _edgeCc[pc] = _ccOp;
        }
    }

    private void ResetCache()
    {
        Array.Fill(_cache, -1);
        _ccSrc1 = -1;
    }

    private int R(int r)
    {
        if (_cache[r] < 0)
            _cache[r] = F.GetReg(r);
        return _cache[r];
    }

    private void W(int r, int value)
    {
        F.SetReg(r, value);
        _cache[r] = value;
    }

    private int C(long value) => F.Const(IrType.I64, value);

    private int Op(IrOp op, int a, int b) => F.Binary(op, a, b);

    private int OpK(IrOp op, int a, long k) => F.Binary(op, a, C(k));

    private static ulong SizeMask(int size) => X86Cpu.SizeMask[size];

    private static int Bits(int size) => 8 << size;

    private int Mask(int v, int size) => size == Qword ? v : OpK(IrOp.And, v, (long)SizeMask(size));

    private int SignExtend(int v, int size)
    {
        if (size == Qword)
            return v;
        int shift = 64 - Bits(size);
        return OpK(IrOp.ShrS, OpK(IrOp.Shl, v, shift), shift);
    }

    protected override void EmitBlock(ulong pc)
    {
        var f = F;
        ResetCache();
        _ccOp = _assumedCc.TryGetValue(pc, out int assumed) ? assumed : Unknown;
        int k = 0;
        while (true)
        {
            if (BlockEndsAt(pc, k))
                return;
            X86Insn d = default;
            if (!X86Cpu.DecodeInstruction(Page, (int)(pc & 0xFFF), ref d, _limit))
            {
                f.Exit(CodeExit.Chain, pc, k);
                return;
            }
            if (d.Op == X86FastOp.Generic && (d.Length == 0 || !RunsAsHelper(Page, (int)(pc & 0xFFF), _limit)))
            {
                f.Exit(CodeExit.Interpret, pc, k);
                return;
            }
            int tail = (int)(pc & 0xFFF) + d.Length - 0x1000;
            if (tail > 0)
                GuardNextPageBytes(pc, k, tail);
            Total++;
            ulong next = pc + d.Length;
            if (!EmitInstruction(ref d, pc, next, k))
                return; // a control transfer ended the block
            k++;
            pc = next;
        }
    }

    /// <summary>
    /// An instruction that crosses into the next page was translated from that page's bytes as they were: it runs only
    /// while they still are. Each 8 bytes are read with a guest load (the next page's mapping, from the soft TLB or a
    /// refill, as the fetch would find it) and compared; a difference, a miss the refill cannot fill, or a fault leaves
    /// for the interpreter before the instruction, which fetches it (and raises the fetch's fault) itself. The load reads
    /// where the fetch would execute: a page that became non-executable without changing its bytes is not noticed
    /// (docs/JIT.md). The instruction after it starts on the next page, so the block ends there (a chained exit).
    /// </summary>
    private void GuardNextPageBytes(ulong pc, int k, int tail)
    {
        ulong nextPage = (pc | 0xFFF) + 1;
        int address = C((long)nextPage);
        for (int at = 0; at < tail; at += 8)
        {
            int n = Math.Min(8, tail - at);
            ulong expected = 0;
            for (int i = 0; i < n; i++)
                expected |= (ulong)Page[0x1000 + at + i] << (8 * i);
            int bytes = F.Load(address, at, 8, false, pc, k);
            if (n < 8)
                bytes = OpK(IrOp.And, bytes, (long)((1UL << (8 * n)) - 1));
            F.Branch(IrCondition.Ne, bytes, C((long)expected), LeaveLabel(pc, k));
        }
    }

    /// <summary>
    /// REP MOVS and REP STOS forwards with 64-bit addresses and no FS/GS override (the kernel's page
    /// clears and copies, memcpy and memset): a loop of page-sized bulk operations
    /// (<see cref="IrOp.PageCopy"/>, <see cref="IrOp.PageFill"/>), RSI/RDI/RCX advanced after each as
    /// the element loop would, over the interpreter's chunk (<see cref="X86Cpu.RepChunkOf"/>): a REP
    /// that goes on past it retires and leaves to run again, as the interpreter's does. Where a bulk
    /// operation cannot go on (a TLB miss, I/O, a code page, an overlap that repeats a pattern) or DF
    /// is set, the interpreter takes over the instruction from the registers as they are (where the
    /// architecture restarts an interrupted REP too), and yields at the same RCX.
    /// False for the other string forms (the helper runs them).
    /// </summary>
    private bool RepMoveOrStore(ulong pc, int k)
    {
        long plan = HelperPlan(pc);
        if (plan >> X86JitHelpers.PlanKindShift != X86JitHelpers.PlanString)
            return false;
        int op = (int)(plan & 0xFF), opSize = (int)(plan >> 8) & 0xF, addrSize = (int)(plan >> 12) & 0xF;
        int rep = (int)(plan >> 16) & 0xFF, segment = (int)(plan >> 24) & 0xF;
        if (op is not (0xA4 or 0xA5 or 0xAA or 0xAB) || rep != 0xF3 || addrSize != Qword || segment != 0)
            return false;
        bool copy = op <= 0xA5;
        int s = (op & 1) == 0 ? X86Cpu.Byte : opSize;
        LeaveIf(OpK(IrOp.And, R(X86Cpu.RegRflags), (long)X86Cpu.FlagDf), pc, k);
        var f = F;
        int top = f.NewLabel(), stuck = f.NewLabel(), finished = f.NewLabel();
        // where this execution yields: RCX less its chunk (X86Cpu.RepChunkOf; none when RCX is 0)
        int rcx = R(X86Cpu.Rcx);
        int chunk = f.Select(rcx, OpK(IrOp.Add, OpK(IrOp.And, OpK(IrOp.Sub, rcx, 1), X86Cpu.RepChunk - 1), 1), C(0));
        int chunkEnd = Op(IrOp.Sub, rcx, chunk);
        ResetCache();
        f.Label(top);
        int count = R(X86Cpu.Rcx), dst = R(X86Cpu.Rdi);
        int want = Op(IrOp.Sub, count, chunkEnd);   // elements left in this chunk (0 when RCX was 0)
        int done = copy ? f.PageCopy(dst, R(X86Cpu.Rsi), want, 1 << s) : f.PageFill(dst, R(X86Cpu.Rax), want, 1 << s);
        f.Branch(IrCondition.Eq, done, C(0), stuck);
        int bytes = OpK(IrOp.Shl, done, s);
        if (copy)
            W(X86Cpu.Rsi, Op(IrOp.Add, R(X86Cpu.Rsi), bytes));
        W(X86Cpu.Rdi, Op(IrOp.Add, dst, bytes));
        int left = Op(IrOp.Sub, count, done);
        W(X86Cpu.Rcx, left);
        f.Branch(IrCondition.Ne, left, chunkEnd, top);
        // the chunk is done: the end of the REP, or its yield
        f.Branch(IrCondition.Eq, left, C(0), finished);
        f.Exit(CodeExit.Stop, pc, k + 1);
        f.Label(stuck);
        ResetCache();
        // RCX is 0 (it was 0), or the rest needs the interpreter
        LeaveIf(R(X86Cpu.Rcx), pc, k);
        f.Label(finished);
        ResetCache();
        return true;
    }

    /// <summary>
    /// PUSHF and CLI without prefixes as IR (the kernel's local_irq_save is PUSHF, POP, CLI: in the page a helper is a
    /// round trip to the dispatcher). PUSHF pushes the materialized RFLAGS with VM and RF read as 0; CLI clears IF at
    /// CPL 0 (CS.RPL, which the CPU keeps equal to CPL in long mode) and otherwise leaves for the interpreter, which
    /// checks IOPL. Neither can let an interrupt in, so the region goes on.
    /// <para>STI (the kernel's local_irq_enable, ~17 K a pigz run, each a round trip in the page) sets IF at CPL 0 when
    /// no interrupt waits (<see cref="X86Cpu.RegInterruptWaiting"/>, set before compiled code runs) and goes on: with
    /// nothing waiting there is nothing for it to let in. Otherwise, or at CPL &gt; 0, it leaves for the interpreter,
    /// which runs STI with its one-instruction shadow and looks for the interrupt after it (compiled code sets no flag
    /// that makes the CPU look again: a waiting interrupt would wait for the next device tick). STI; HLT (safe_halt) always
    /// leaves (<see cref="RunsAsHelper"/> does not take it): an interrupt the host raised while compiled code ran must
    /// not be taken between the two, or the HLT would sleep past it.</para>
    /// </summary>
    private bool PushfCliSti(ulong pc, int k)
    {
        switch (Page[(int)(pc & 0xFFF)])
        {
            case 0x9C:
                Push(OpK(IrOp.And, OpK(IrOp.Or, MaterializedFlags(), 2), 0xFC_FFFF), pc, k);
                return true;
            case 0xFA:
                LeaveIf(CsRpl(), pc, k);
                W(X86Cpu.RegRflags, OpK(IrOp.And, R(X86Cpu.RegRflags), ~(long)X86Cpu.FlagIf));
                return true;
            case 0xFB when StiJoinsRegion(Page, (int)(pc & 0xFFF), _limit):
                LeaveIf(Op(IrOp.Or, CsRpl(), R(X86Cpu.RegInterruptWaiting)), pc, k);
                W(X86Cpu.RegRflags, OpK(IrOp.Or, R(X86Cpu.RegRflags), (long)X86Cpu.FlagIf));
                return true;
            default:
                return false;
        }
    }

    /// <summary>F3 90 (PAUSE) at <paramref name="pc"/>, both bytes in the page.</summary>
    private bool IsPause(ulong pc)
    {
        int offset = (int)(pc & 0xFFF);
        return offset + 1 < _limit && Page[offset] == 0xF3 && Page[offset + 1] == 0x90;
    }

    /// <summary>CS.RPL (the CPL in long mode): nonzero outside ring 0.</summary>
    private int CsRpl() => OpK(IrOp.And, R(X86Cpu.RegSegments + X86Cpu.Cs * X86Cpu.SegmentSlots), 3);

    /// <summary>STI at <paramref name="offset"/> may run in a region: the next byte is there to see and is not HLT.</summary>
    private static bool StiJoinsRegion(byte* page, int offset, int limit) => offset + 1 < limit && page[offset + 1] != 0xF4;

    /// <summary>Runs the instruction at <paramref name="pc"/> in the interpreter (the helper) and goes on.</summary>
    private void Helper(ulong pc, ulong next, int k)
    {
        F.Call(X86JitHelpers.HelperExecute, C((long)next), IrInst.NoTemp, HelperPlan(pc), pc, k);
        ResetCache();
        _ccOp = Unknown;
    }

    /// <summary>
    /// BSF/BSR r32/r64, r/m (0F BC/BD; not the F3 forms, TZCNT/LZCNT where the model has them):
    /// a zero source sets ZF and leaves the destination alone, else ZF clear and the bit's index; the
    /// other flags kept, materialized (as the interpreter's <c>BitScan</c>), unless the next
    /// instructions overwrite them all first.
    /// </summary>
    private bool BitScan(bool reverse, ref X86Insn m, int s, ref X86Cpu.CodeCursor c, ulong pc, ulong next, int k)
    {
        if (c.Position - (int)(pc & 0xFFF) != (int)(next - pc))
            return false;
        int src = (m.Flags & X86Insn.Mem) != 0 ? F.Load(EffectiveAddress(ref m, next), 0, 1 << s, false, pc, k) : Mask(R(m.Rm), s);
        int zero = F.Compare(IrCondition.Eq, src, C(0));
        int index = reverse ? F.Binary(IrOp.Sub, C(63), F.Unary(IrOp.Clz, src)) : F.Unary(IrOp.Ctz, src);
        W(m.Reg, F.Select(zero, R(m.Reg), index));
        if (!FlagsOverwrittenAfter(next, k + 1))
        {
            int flags = Op(IrOp.Or, OpK(IrOp.And, MaterializedFlags(), ~(long)X86Cpu.FlagZf), OpK(IrOp.Shl, zero, 6));
            SetCc(new Cc(index, EflagsCc, flags, -1, -1, -1));
        }
        return true;
    }

    /// <summary>
    /// SHLD/SHRD Ev, Gv, imm8/CL on 32- and 64-bit operands (0F A4/A5/AC/AD) as the interpreter's
    /// <c>DoubleShift</c>: the lazy state of SHL/SHR with the last bit out; a count of 0 (masked) keeps
    /// the flags and writes the operand back unchanged (a 32-bit register's upper half cleared).
    /// </summary>
    private bool DoubleShift(int op, ref X86Insn m, int s, ref X86Cpu.CodeCursor c, ulong pc, ulong next, int k)
    {
        int start = (int)(pc & 0xFFF);
        bool byImmediate = (op & 1) == 0, left = op < 0xA8;
        int imm = byImmediate ? c.U8() : 0;
        if (c.Overrun || c.Position - start != (int)(next - pc))
            return false;
        int bits = Bits(s), source = m.Reg;
        ModifyE(ref m, s, pc, next, k, a =>
        {
            int b = Mask(R(source), s);
            if (byImmediate)
            {
                int n = imm & (bits - 1);
                if (n == 0)
                    return new Cc(a, Unknown, -1, -1, -1, -1);
                int r = Mask(left ? Op(IrOp.Or, OpK(IrOp.Shl, a, n), OpK(IrOp.ShrU, b, bits - n))
                                  : Op(IrOp.Or, OpK(IrOp.ShrU, a, n), OpK(IrOp.Shl, b, bits - n)), s);
                // the last bit out: a shifted by n - 1 (b's part shifted out entirely when n is 1)
                int src = Mask(left ? (n == 1 ? a : Op(IrOp.Or, OpK(IrOp.Shl, a, n - 1), OpK(IrOp.ShrU, b, bits - n + 1)))
                                    : (n == 1 ? a : Op(IrOp.Or, OpK(IrOp.ShrU, a, n - 1), OpK(IrOp.Shl, b, bits - n + 1))), s);
                return new Cc(r, (left ? X86CcOp.Shl : X86CcOp.Sar) + s, r, src, -1, -1);
            }
            int count = OpK(IrOp.And, R(Rcx), bits - 1);
            int zero = F.Compare(IrCondition.Eq, count, C(0));
            int one = F.Compare(IrCondition.Eq, count, C(1));
            int back = Op(IrOp.Sub, C(bits), count);              // 1..bits-1 when count is not 0
            int rest = OpK(IrOp.Add, back, 1);                    // 2..bits: b's part of the last bit out
            int rc = left ? Op(IrOp.Or, Op(IrOp.Shl, a, count), Op(IrOp.ShrU, b, back))
                          : Op(IrOp.Or, Op(IrOp.ShrU, a, count), Op(IrOp.Shl, b, back));
            int minus1 = OpK(IrOp.Sub, count, 1);
            int bOut = F.Select(one, C(0), left ? Op(IrOp.ShrU, b, rest) : Op(IrOp.Shl, b, rest));
            int sc = Mask(Op(IrOp.Or, left ? Op(IrOp.Shl, a, minus1) : Op(IrOp.ShrU, a, minus1), bOut), s);
            int res = F.Select(zero, a, Mask(rc, s));
            int oldOp = R(X86Cpu.RegCcOp), oldDst = R(X86Cpu.RegCcDst), oldSrc = R(X86Cpu.RegCcSrc);
            return new Cc(res, DynamicCc, F.Select(zero, oldOp, C((long)((left ? X86CcOp.Shl : X86CcOp.Sar) + s))),
                F.Select(zero, oldDst, res), F.Select(zero, oldSrc, sc), -1);
        });
        return true;
    }

    /// <summary>
    /// Prefixes (REX, 67, FS/GS and the null segments; 66 and F0/F2/F3 refuse) and a 0F opcode, with
    /// the cursor after the opcode, for the two-byte instructions the translator decodes itself.
    /// </summary>
    private bool TwoByteOpcode(ulong pc, out int op, out X86Insn m, out int rex, out X86Cpu.CodeCursor c)
    {
        int p = (int)(pc & 0xFFF);
        int end = Math.Min(p + 15, _limit);
        m = new X86Insn { Base = X86Insn.NoRegister, Index = X86Insn.NoRegister };
        rex = 0;
        op = 0;
        c = default;
        while (p < end)
        {
            int b = Page[p];
            if (b == 0x67) m.Flags |= X86Insn.Addr32;
            else if (b == 0x64) m.Flags = (byte)((m.Flags & ~X86Insn.SegGs) | X86Insn.SegFs);
            else if (b == 0x65) m.Flags = (byte)((m.Flags & ~X86Insn.SegFs) | X86Insn.SegGs);
            else if (b is 0x26 or 0x2E or 0x36 or 0x3E) { }
            else if ((b & 0xF0) == 0x40) { rex = b; p++; break; }
            else break;
            p++;
        }
        if (p + 2 > end || Page[p] != 0x0F)
            return false;
        op = Page[p + 1];
        c = new X86Cpu.CodeCursor { Page = Page, Position = p + 2, Limit = _limit };
        return true;
    }

    /// <summary>
    /// The two-byte instructions the fast decoder leaves generic that the translator turns into IR
    /// itself, after <see cref="TwoByteOpcode"/>: BSWAP, BSF/BSR, SHLD/SHRD. False leaves the
    /// instruction to the helper.
    /// </summary>
    private bool TwoByte(int op, ref X86Insn m, int rex, ref X86Cpu.CodeCursor c, ulong pc, ulong next, int k)
    {
        if ((op & 0xF8) == 0xC8)
        {
            // BSWAP r32/r64 (0F C8+r; the 16-bit form is undefined: the helper's)
            int r = (op & 7) | ((rex & 1) << 3);
            int swapped = F.Unary(IrOp.ByteSwap, R(r));
            W(r, (rex & 8) != 0 ? swapped : OpK(IrOp.ShrU, swapped, 32));   // bswap64(x) >> 32 = bswap32 of the low half, zero-extended
            return true;
        }
        if (op is 0x0D or (>= 0x18 and <= 0x1F))
        {
            // hint NOPs (PREFETCHh, PREFETCHW, NOP Ev): the operand is decoded, never accessed
            X86Cpu.DecodeModRmInto(ref c, ref m, rex, Qword, Qword);
            return !c.Overrun && c.Position - (int)(pc & 0xFFF) == (int)(next - pc);
        }
        if (op is not (0xBC or 0xBD or 0xA4 or 0xA5 or 0xAC or 0xAD))
            return false;
        int s = (rex & 8) != 0 ? Qword : Dword;
        X86Cpu.DecodeModRmInto(ref c, ref m, rex, s, s);
        if (c.Overrun)
            return false;
        return op is 0xBC or 0xBD ? BitScan(op == 0xBD, ref m, s, ref c, pc, next, k) : DoubleShift(op, ref m, s, ref c, pc, next, k);
    }

    /// <summary>
    /// What the helper can skip decoding at run time (<see cref="X86JitHelpers.PlanKindShift"/>): the
    /// string operations (MOVS, CMPS, STOS, LODS, SCAS with their prefixes) and RDTSC; 0 for the rest.
    /// </summary>
    private long HelperPlan(ulong pc)
    {
        int p = (int)(pc & 0xFFF);
        int end = Math.Min(p + 15, _limit);
        bool opSizePrefix = false;
        int addrSize = X86Cpu.Qword, rep = 0, segment = -1, rex = 0;
        while (p < end)
        {
            int b = Page[p++];
            switch (b)
            {
                case 0x66: opSizePrefix = true; rex = 0; continue;
                case 0x67: addrSize = X86Cpu.Dword; rex = 0; continue;
                case 0x26: case 0x2E: case 0x36: case 0x3E: rex = 0; continue;
                case 0x64: segment = X86Cpu.Fs; rex = 0; continue;
                case 0x65: segment = X86Cpu.Gs; rex = 0; continue;
                case 0xF2: case 0xF3: rep = b; rex = 0; continue;
                case 0xF0: return 0;
            }
            if ((b & 0xF0) == 0x40)
            {
                rex = b;
                continue;
            }
            if (b == 0x0F)
                return p < end && Page[p] == 0x31 ? X86JitHelpers.PlanRdtsc << X86JitHelpers.PlanKindShift : 0;
            if (b is (>= 0xA4 and <= 0xA7) or (>= 0xAA and <= 0xAF))
            {
                int opSize = (rex & 8) != 0 ? X86Cpu.Qword : opSizePrefix ? X86Cpu.Word : X86Cpu.Dword;
                return (X86JitHelpers.PlanString << X86JitHelpers.PlanKindShift) | (uint)b | ((long)opSize << 8) | ((long)addrSize << 12)
                    | ((long)rep << 16) | ((long)(segment + 1) << 24);
            }
            return 0;
        }
        return 0;
    }

    /// <summary>Emits one instruction; false if it ended the block (a control transfer).</summary>
    private bool EmitInstruction(ref X86Insn d, ulong pc, ulong next, int k)
    {
        var f = F;
        int s = d.Size;
        switch (d.Op)
        {
            case X86FastOp.Nop:
                return true;
            case X86FastOp.MovLoad:
            case X86FastOp.MovLoadQ:
            case X86FastOp.MovLoadD:
                SetOperand(s, d.Reg, ReadE(ref d, s, pc, next, k));
                return true;
            case X86FastOp.MovStore:
            case X86FastOp.MovStoreQ:
            case X86FastOp.MovStoreD:
                WriteE(ref d, s, GetOperand(s, d.Reg), pc, next, k);
                return true;
            case X86FastOp.MovImm:
                WriteE(ref d, s, C((long)(d.Imm & SizeMask(s))), pc, next, k);
                return true;
            case X86FastOp.Lea:
                SetOperand(s, d.Reg, EffectiveAddress(ref d, next));
                return true;
            case X86FastOp.AluEG:
                AluToE(ref d, GetOperand(s, d.Reg), pc, next, k);
                return true;
            case X86FastOp.AluEImm:
                AluToE(ref d, C((long)d.Imm), pc, next, k);
                return true;
            case X86FastOp.AluGE:
            {
                int a = GetOperand(s, d.Reg);
                int b = ReadE(ref d, s, pc, next, k);
                var r = Alu(d.Sub, s, a, b);
                if (d.Sub != 7)
                    SetOperand(s, d.Reg, r.Value);
                SetCc(r);
                return true;
            }
            case X86FastOp.IncDec:
            {
                int cf = Flag(FlagC);
                bool inc = d.Sub == 0;
                ModifyE(ref d, s, pc, next, k, a =>
                {
                    int v = Mask(OpK(inc ? IrOp.Add : IrOp.Sub, a, 1), s);
                    return new Cc(v, (inc ? X86CcOp.Inc : X86CcOp.Dec) + s, v, cf, -1, -1);
                });
                return true;
            }
            case X86FastOp.Shift when d.Imm != X86Insn.ImmCl && d.Sub >= 4:
            {
                int count = (int)d.Imm & (s == Qword ? 63 : 31);
                int bits = Bits(s);
                int shift = d.Sub;
                ModifyE(ref d, s, pc, next, k, a =>
                {
                    if (count == 0)
                        return new Cc(a, Unknown, -1, -1, -1, -1); // the flags stay (the operand is still written)
                    int src, r;
                    if (shift == 7)
                    {
                        int sa = SignExtend(a, s);
                        src = Mask(OpK(IrOp.ShrS, sa, Math.Min(count - 1, 63)), s);
                        r = Mask(OpK(IrOp.ShrS, sa, Math.Min(count, 63)), s);
                        return new Cc(r, X86CcOp.Sar + s, r, src, -1, -1);
                    }
                    if (shift == 5)
                    {
                        src = count - 1 >= bits ? C(0) : OpK(IrOp.ShrU, a, count - 1);
                        r = count >= bits ? C(0) : OpK(IrOp.ShrU, a, count);
                        return new Cc(r, X86CcOp.Sar + s, r, src, -1, -1);
                    }
                    src = count - 1 >= bits ? C(0) : Mask(OpK(IrOp.Shl, a, count - 1), s);
                    r = count >= bits ? C(0) : Mask(OpK(IrOp.Shl, a, count), s);
                    return new Cc(r, X86CcOp.Shl + s, r, src, -1, -1);
                });
                return true;
            }
            case X86FastOp.Shift when d.Imm != X86Insn.ImmCl && d.Sub <= 1:
            {
                // ROL/ROR by an immediate: CF and OF from the result, the other flags kept (materialized)
                int count = (int)d.Imm & (s == Qword ? 63 : 31);
                int bits = Bits(s);
                int n = count & (bits - 1);
                bool left = d.Sub == 0;
                bool flagsDead = FlagsOverwrittenAfter(next, k + 1);
                ModifyE(ref d, s, pc, next, k, a =>
                {
                    if (count == 0 || flagsDead)
                        return new Cc(n == 0 ? a : Mask(Op(IrOp.Or, OpK(IrOp.Shl, a, left ? n : bits - n), OpK(IrOp.ShrU, a, left ? bits - n : n)), s), Unknown, -1, -1, -1, -1);
                    int r = n == 0 ? a : Mask(Op(IrOp.Or, OpK(IrOp.Shl, a, left ? n : bits - n), OpK(IrOp.ShrU, a, left ? bits - n : n)), s);
                    int top = OpK(IrOp.And, OpK(IrOp.ShrU, r, bits - 1), 1);
                    int cf = left ? OpK(IrOp.And, r, 1) : top;
                    int of = left ? Op(IrOp.Xor, top, cf) : Op(IrOp.Xor, top, OpK(IrOp.And, OpK(IrOp.ShrU, r, bits - 2), 1));
                    int flags = OpK(IrOp.And, MaterializedFlags(), ~(long)(X86Cpu.FlagCf | X86Cpu.FlagOf));
                    flags = Op(IrOp.Or, flags, Op(IrOp.Or, cf, OpK(IrOp.Shl, of, 11)));
                    return new Cc(r, EflagsCc, flags, -1, -1, -1);
                });
                return true;
            }
            case X86FastOp.Shift when d.Sub >= 4:
            {
                // by CL: a count of 0 changes neither the flags nor (beyond the write) the operand
                int count = OpK(IrOp.And, R(Rcx), s == Qword ? 63 : 31);
                int zero = F.Compare(IrCondition.Eq, count, C(0));
                int minus1 = OpK(IrOp.Sub, count, 1);
                int shift = d.Sub;
                int oldOp = R(X86Cpu.RegCcOp), oldDst = R(X86Cpu.RegCcDst), oldSrc = R(X86Cpu.RegCcSrc);
                ModifyE(ref d, s, pc, next, k, a =>
                {
                    int src, r;
                    X86CcOp op;
                    if (shift == 7)
                    {
                        int sa = SignExtend(a, s);
                        src = Mask(Op(IrOp.ShrS, sa, minus1), s);
                        r = Mask(Op(IrOp.ShrS, sa, count), s);
                        op = X86CcOp.Sar;
                    }
                    else if (shift == 5)
                    {
                        src = Op(IrOp.ShrU, a, minus1);
                        r = Op(IrOp.ShrU, a, count);
                        op = X86CcOp.Sar;
                    }
                    else
                    {
                        src = Mask(Op(IrOp.Shl, a, minus1), s);
                        r = Mask(Op(IrOp.Shl, a, count), s);
                        op = X86CcOp.Shl;
                    }
                    r = F.Select(zero, a, r);
                    return new Cc(r, DynamicCc, F.Select(zero, oldOp, C((long)(op + s))), F.Select(zero, oldDst, r), F.Select(zero, oldSrc, src), -1);
                });
                return true;
            }
            case X86FastOp.Not:
                ModifyE(ref d, s, pc, next, k, a => new Cc(Mask(OpK(IrOp.Xor, a, -1L), s), Unknown, -1, -1, -1, -1));
                return true;
            case X86FastOp.Neg:
                ModifyE(ref d, s, pc, next, k, a =>
                {
                    int r = Mask(Op(IrOp.Sub, C(0), a), s);
                    return new Cc(r, X86CcOp.Sub + s, r, a, -1, C(0));
                });
                return true;
            case X86FastOp.Imul2:
            {
                int a = GetOperand(s, d.Reg);
                int b = ReadE(ref d, s, pc, next, k);
                var r = Imul(s, a, b);
                SetOperand(s, d.Reg, r.Value);
                SetCc(r);
                return true;
            }
            case X86FastOp.Imul3:
            {
                int a = ReadE(ref d, s, pc, next, k);
                var r = Imul(s, a, C((long)d.Imm));
                SetOperand(s, d.Reg, r.Value);
                SetCc(r);
                return true;
            }
            case X86FastOp.Movzx:
                SetOperand(s, d.Reg, ReadE(ref d, d.Sub, pc, next, k));
                return true;
            case X86FastOp.Movsx:
                SetOperand(s, d.Reg, Mask(SignExtend(ReadE(ref d, d.Sub, pc, next, k), d.Sub), s));
                return true;
            case X86FastOp.Cmov:
            {
                int v = ReadE(ref d, s, pc, next, k);
                int cond = Condition(d.Sub);
                if (s == Word)
                    SetOperand(Word, d.Reg, f.Select(cond, v, GetOperand(Word, d.Reg)));
                else
                    W(d.Reg, f.Select(cond, v, s == Dword ? Mask(R(d.Reg), Dword) : R(d.Reg)));
                return true;
            }
            case X86FastOp.Setcc:
                WriteE(ref d, Byte, Condition(d.Sub), pc, next, k);
                return true;
            case X86FastOp.Push:
                Push(R(d.Reg), pc, k);
                return true;
            case X86FastOp.Pop:
            {
                int rsp = R(Rsp);
                int v = f.Load(rsp, 0, 8, false, pc, k);
                W(Rsp, OpK(IrOp.Add, rsp, 8));
                W(d.Reg, v);
                return true;
            }
            case X86FastOp.PushImm:
                Push(C((long)d.Imm), pc, k);
                return true;
            case X86FastOp.PushE:
                Push(ReadE(ref d, Qword, pc, next, k), pc, k);
                return true;
            case X86FastOp.Cdqe:
                if (s == Word)
                    SetOperand(Word, Rax, SignExtend(R(Rax), Byte));
                else if (s == Dword)
                    SetOperand(Dword, Rax, SignExtend(R(Rax), Word));
                else
                    W(Rax, SignExtend(R(Rax), Dword));
                return true;
            case X86FastOp.Cqo:
            {
                int sign = OpK(IrOp.And, OpK(IrOp.ShrU, GetOperand(s, Rax), Bits(s) - 1), 1);
                SetOperand(s, Rdx, Op(IrOp.Sub, C(0), sign));
                return true;
            }
            case X86FastOp.Jcc:
            {
                int cond = Condition(d.Sub);
                ulong target = next + d.Imm;
                f.Retire(k + 1);
                f.Branch(IrCondition.Ne, cond, C(0), TargetLabel(target, pc));
                f.Jump(FallInto(next));
                return false;
            }
            case X86FastOp.Jmp:
                f.Retire(k + 1);
                f.Jump(TargetLabel(next + d.Imm, pc));
                return false;
            case X86FastOp.Call:
                Push(C((long)next), pc, k);
                f.Retire(k + 1);
                f.Jump(TargetLabel(next + d.Imm, pc));
                return false;
            case X86FastOp.Ret:
            {
                int rsp = R(Rsp);
                int target = f.Load(rsp, 0, 8, false, pc, k);
                W(Rsp, OpK(IrOp.Add, rsp, 8));
                f.Retire(k + 1);
                f.ExitTo(CodeExit.Chain, target, 0);
                return false;
            }
            case X86FastOp.CallE:
            {
                int target = ReadE(ref d, Qword, pc, next, k);
                Push(C((long)next), pc, k);
                f.Retire(k + 1);
                f.ExitTo(CodeExit.Chain, target, 0);
                return false;
            }
            case X86FastOp.JmpE:
            {
                int target = ReadE(ref d, Qword, pc, next, k);
                f.Retire(k + 1);
                f.ExitTo(CodeExit.Chain, target, 0);
                return false;
            }
            case X86FastOp.BitTest:
                BitTest(ref d, pc, next, k);
                return true;
            case X86FastOp.Cmpxchg:
            {
                // (memory forms: the load, then the store of the new value or the old one; a fault in either leaves the
                // registers as they were, for the interpreter to run the instruction again)
                int ea = EffectiveAddress(ref d, next);
                int dest = f.Load(ea, 0, 1 << s, false, pc, k);
                int acc = GetOperand(s, Rax);
                var cc = Alu(7, s, acc, dest);
                int equal = f.Compare(IrCondition.Eq, acc, dest);
                f.Store(ea, 0, f.Select(equal, GetOperand(s, d.Reg), dest), 1 << s, pc, k);
                // rAX takes the old value on a mismatch (a 32-bit write zeroes the upper half); on a match it keeps all of it
                if (s >= Dword)
                    W(Rax, f.Select(equal, R(Rax), dest));
                else
                    SetOperand(s, Rax, f.Select(equal, acc, dest));
                SetCc(cc);
                return true;
            }
            case X86FastOp.Xadd:
            {
                int ea = EffectiveAddress(ref d, next);
                int dest = f.Load(ea, 0, 1 << s, false, pc, k);
                var cc = Alu(0, s, dest, GetOperand(s, d.Reg));
                f.Store(ea, 0, cc.Value, 1 << s, pc, k);
                SetOperand(s, d.Reg, dest);
                SetCc(cc);
                return true;
            }
            case X86FastOp.MulDiv when d.Sub is 4 or 5 && s >= Dword:
            {
                // MUL/IMUL rDX:rAX = rAX * Ev, with the interpreter's lazy state (CcDst the product, CcSrc the overflow witness)
                int src = ReadE(ref d, s, pc, next, k);
                bool signed = d.Sub == 5;
                int a = R(Rax);
                if (s == Qword)
                {
                    int lo = Op(IrOp.Mul, a, src);
                    int hi = Op(signed ? IrOp.MulHighS : IrOp.MulHighU, a, src);
                    W(Rax, lo);
                    W(Rdx, hi);
                    int witness = signed ? F.Compare(IrCondition.Ne, hi, OpK(IrOp.ShrS, lo, 63)) : hi;
                    SetCc(new Cc(lo, X86CcOp.Mul + s, lo, witness, -1, -1));
                }
                else
                {
                    int p = signed ? Op(IrOp.Mul, SignExtend(a, Dword), SignExtend(src, Dword)) : Op(IrOp.Mul, Mask(a, Dword), Mask(src, Dword));
                    W(Rax, Mask(p, Dword));
                    W(Rdx, signed ? Mask(OpK(IrOp.ShrS, p, 32), Dword) : OpK(IrOp.ShrU, p, 32));
                    int witness = signed ? F.Compare(IrCondition.Ne, SignExtend(p, Dword), p) : OpK(IrOp.ShrU, p, 32);
                    SetCc(new Cc(p, X86CcOp.Mul + s, p, witness, -1, -1));
                }
                return true;
            }
            case X86FastOp.MulDiv when d.Sub is 6 or 7 && s >= Dword:
            {
                // DIV/IDIV rDX:rAX by Ev, flags left as they are (the interpreter's). Where the interpreter raises #DE
                // (a zero divisor, a quotient too wide) the code leaves for it at the instruction; so it does for a
                // 128-bit dividend (rDX not the zero or sign extension of rAX), which wasm and IL cannot divide.
                int src = ReadE(ref d, s, pc, next, k);
                bool signed = d.Sub == 7;
                IrOp div = signed ? IrOp.DivS : IrOp.DivU, rem = signed ? IrOp.RemS : IrOp.RemU;
                if (s == Qword)
                {
                    int a = R(Rax);
                    LeaveIf(F.Compare(IrCondition.Ne, R(Rdx), signed ? OpK(IrOp.ShrS, a, 63) : C(0)), pc, k);
                    int q = F.Divide(div, a, src, IrDivision.Exit, pc, k);
                    int r = F.Divide(rem, a, src, IrDivision.Exit, pc, k);
                    W(Rax, q);
                    W(Rdx, r);
                }
                else
                {
                    // EDX:EAX as one 64-bit dividend (its bits are the signed one too) by the 32-bit divisor, extended
                    int dividend = Op(IrOp.Or, OpK(IrOp.Shl, R(Rdx), 32), Mask(R(Rax), Dword));
                    int divisor = signed ? SignExtend(src, Dword) : Mask(src, Dword);
                    int q = F.Divide(div, dividend, divisor, IrDivision.Exit, pc, k);
                    LeaveIf(signed ? F.Compare(IrCondition.Ne, SignExtend(q, Dword), q) : OpK(IrOp.ShrU, q, 32), pc, k);
                    int r = F.Divide(rem, dividend, divisor, IrDivision.Exit, pc, k);
                    W(Rax, Mask(q, Dword));
                    W(Rdx, Mask(r, Dword));
                }
                return true;
            }
            case X86FastOp.Sse when _sse && Sse(ref d, pc, next, k):
                return true;
            default:
                if (TwoByteOpcode(pc, out int op, out var m, out int rex, out var c) && TwoByte(op, ref m, rex, ref c, pc, next, k))
                    return true;
                if (RepMoveOrStore(pc, k))
                    return true;
                if (next == pc + 1 && PushfCliSti(pc, k))
                    return true;
                if (next == pc + 2 && IsPause(pc))
                    return true;   // PAUSE: a spin-wait hint, a NOP to the interpreter too (no region ends at a spin loop's every turn)
                // MUL/DIV, rotates, SSE/MMX it does not translate, and the generic instructions that go on
                Helper(pc, next, k);
                return true;
        }
    }

    // ---- operands ----

    /// <summary>A register operand by predecoded number (16-19: AH, CH, DH, BH), zero-extended.</summary>
    private int GetOperand(int size, int r)
    {
        if (size == Byte && r >= 16)
            return OpK(IrOp.And, OpK(IrOp.ShrU, R(r - 16), 8), 0xFF);
        return Mask(R(r), size);
    }

    /// <summary>Writes a register operand: 32-bit writes zero the upper half, 8- and 16-bit ones merge.</summary>
    private void SetOperand(int size, int r, int value)
    {
        switch (size)
        {
            case Qword:
                W(r, value);
                break;
            case Dword:
                W(r, Mask(value, Dword));
                break;
            case Word:
                W(r, Op(IrOp.Or, OpK(IrOp.And, R(r), ~0xFFFFL), Mask(value, Word)));
                break;
            default:
                if (r < 16)
                    W(r, Op(IrOp.Or, OpK(IrOp.And, R(r), ~0xFFL), Mask(value, Byte)));
                else
                    W(r - 16, Op(IrOp.Or, OpK(IrOp.And, R(r - 16), ~0xFF00L), OpK(IrOp.Shl, Mask(value, Byte), 8)));
                break;
        }
    }

    /// <summary>The linear address of a memory operand (segment base included unless it is LEA's).</summary>
    private int EffectiveAddress(ref X86Insn d, ulong next)
    {
        int ea;
        if (d.Base == X86Insn.RipBase)
            ea = C((long)next + d.Disp);
        else
        {
            ea = d.Base < 16 ? R(d.Base) : -1;
            if (d.Index < 16)
            {
                int index = d.Scale != 0 ? OpK(IrOp.Shl, R(d.Index), d.Scale) : R(d.Index);
                ea = ea < 0 ? index : Op(IrOp.Add, ea, index);
            }
            if (ea < 0)
                ea = C(d.Disp);
            else if (d.Disp != 0)
                ea = OpK(IrOp.Add, ea, d.Disp);
        }
        if ((d.Flags & X86Insn.Addr32) != 0)
            ea = Mask(ea, Dword);
        if ((d.Flags & X86Insn.SegFs) != 0)
            ea = Op(IrOp.Add, ea, R(X86Cpu.SegmentBaseRegister(X86Cpu.Fs)));
        else if ((d.Flags & X86Insn.SegGs) != 0)
            ea = Op(IrOp.Add, ea, R(X86Cpu.SegmentBaseRegister(X86Cpu.Gs)));
        return ea;
    }

    private int ReadE(ref X86Insn d, int size, ulong pc, ulong next, int k) =>
        (d.Flags & X86Insn.Mem) != 0 ? F.Load(EffectiveAddress(ref d, next), 0, 1 << size, false, pc, k) : GetOperand(size, d.Rm);

    private void WriteE(ref X86Insn d, int size, int value, ulong pc, ulong next, int k)
    {
        if ((d.Flags & X86Insn.Mem) != 0)
            F.Store(EffectiveAddress(ref d, next), 0, value, 1 << size, pc, k);
        else
            SetOperand(size, d.Rm, value);
    }

    /// <summary>
    /// True if the instructions from <paramref name="pc"/> (the <paramref name="k"/>-th of the block)
    /// overwrite all six arithmetic flags before anything reads them or anything can leave compiled code
    /// (a memory operand's slow path, a helper, an exit, the end of the block): then the flags an
    /// instruction before them would set are never seen, and it need not compute them. (QEMU's liveness
    /// analysis drops such flag computations the same way.) Rotates materialize the flags to keep SF,
    /// ZF, AF and PF; SHA-256 rotates between ADDs and XORs.
    /// </summary>
    private bool FlagsOverwrittenAfter(ulong pc, int k)
    {
        for (int j = 0; j < 6; j++, k++)
        {
            if ((pc & ~0xFFFUL) != PageBase || HasLabel(pc) || Total + j + 1 >= MaxInstructions)
                return false;
            X86Insn d = default;
            if (!X86Cpu.DecodeInstruction(Page, (int)(pc & 0xFFF), ref d) || d.Length == 0 || (d.Flags & X86Insn.Mem) != 0)
                return false;
            switch (d.Op)
            {
                case X86FastOp.AluEG or X86FastOp.AluGE or X86FastOp.AluEImm when d.Sub is not (2 or 3): // not ADC/SBB
                case X86FastOp.Neg:
                    return true;
                case X86FastOp.Shift when d.Imm != X86Insn.ImmCl && d.Sub >= 4 && ((int)d.Imm & (d.Size == Qword ? 63 : 31)) != 0:
                    return true; // SHL/SHR/SAR by a non-zero immediate
                case X86FastOp.Shift when d.Imm != X86Insn.ImmCl && d.Sub <= 1 && ((int)d.Imm & (d.Size == Qword ? 63 : 31)) != 0:
                    break; // ROL/ROR by a non-zero immediate: sets CF and OF anew, keeps SF, ZF, AF, PF (which a rotate before it kept too)
                case X86FastOp.Nop or X86FastOp.MovLoad or X86FastOp.MovLoadQ or X86FastOp.MovLoadD or X86FastOp.MovStore
                    or X86FastOp.MovStoreQ or X86FastOp.MovStoreD or X86FastOp.MovImm or X86FastOp.Lea or X86FastOp.Not
                    or X86FastOp.Movzx or X86FastOp.Movsx or X86FastOp.Cdqe or X86FastOp.Cqo:
                    break; // register-only (no memory operand here) and flagless
                default:
                    return false;
            }
            pc += d.Length;
        }
        return false;
    }

    /// <summary>Reads the E operand, computes, writes it back, then sets the flags (after the store: it may leave).</summary>
    private void ModifyE(ref X86Insn d, int size, ulong pc, ulong next, int k, Func<int, Cc> compute)
    {
        if ((d.Flags & X86Insn.Mem) != 0)
        {
            int ea = EffectiveAddress(ref d, next);
            var r = compute(F.Load(ea, 0, 1 << size, false, pc, k));
            F.Store(ea, 0, r.Value, 1 << size, pc, k);
            SetCc(r);
        }
        else
        {
            var r = compute(GetOperand(size, d.Rm));
            SetOperand(size, d.Rm, r.Value);
            SetCc(r);
        }
    }

    /// <summary>
    /// BT/BTS/BTR/BTC: CF = the selected bit, the other flags as the interpreter leaves them (materialized;
    /// the SDM leaves OF, SF, AF and PF undefined). A register offset selects any bit from a memory
    /// operand: the address moves by whole operands (SDM vol. 2A, BT).
    /// </summary>
    private void BitTest(ref X86Insn d, ulong pc, ulong next, int k)
    {
        int s = d.Size, bits = Bits(s), kind = d.Sub;
        bool fromRegister = d.Imm == X86Insn.ImmRegister;
        int offset = fromRegister ? SignExtend(GetOperand(s, d.Reg), s) : -1;
        int bit = fromRegister ? OpK(IrOp.And, offset, bits - 1) : C((long)d.Imm);
        int ea = -1, value;
        if ((d.Flags & X86Insn.Mem) != 0)
        {
            ea = EffectiveAddress(ref d, next);
            if (fromRegister)
            {
                // (offset >> log2(bits)) operands of (1 << s) bytes; the decoder leaves FS/GS forms to the helper
                ea = Op(IrOp.Add, ea, OpK(IrOp.Shl, OpK(IrOp.ShrS, offset, s == Word ? 4 : s == Dword ? 5 : 6), s));
                if ((d.Flags & X86Insn.Addr32) != 0)
                    ea = Mask(ea, Dword);
            }
            value = F.Load(ea, 0, 1 << s, false, pc, k);
        }
        else
        {
            value = GetOperand(s, d.Rm);
        }
        int cf = OpK(IrOp.And, Op(IrOp.ShrU, value, bit), 1);
        if (kind != 0)
        {
            int one = Op(IrOp.Shl, C(1), bit);
            int r = kind switch
            {
                1 => Op(IrOp.Or, value, one),
                2 => Op(IrOp.And, value, OpK(IrOp.Xor, one, -1L)),
                _ => Op(IrOp.Xor, value, one),
            };
            if (ea >= 0)
                F.Store(ea, 0, r, 1 << s, pc, k);
            else
                SetOperand(s, d.Rm, r);
        }
        int flags = Op(IrOp.Or, OpK(IrOp.And, MaterializedFlags(), ~(long)X86Cpu.FlagCf), cf);
        SetCc(new Cc(value, EflagsCc, flags, -1, -1, -1));
    }

    private void Push(int value, ulong pc, int k)
    {
        int rsp = OpK(IrOp.Sub, R(Rsp), 8);
        F.Store(rsp, 0, value, 8, pc, k);
        W(Rsp, rsp);
    }

    // ---- SSE ----

    private static int XmmLo(int x) => X86Cpu.RegXmm + 2 * x;

    private static int XmmHi(int x) => X86Cpu.RegXmm + 2 * x + 1;

    /// <summary>
    /// SSE moves, bitwise operations and the common integer ones as IR on the two 64-bit halves of
    /// the XMM registers (lanes by SWAR); false leaves the instruction to the helper. Memory operands
    /// follow the interpreter: MOVAPS/MOVDQA fault (#GP) when misaligned (the interpreter raises it),
    /// a 16-byte store crossing a page is the interpreter's (it probes both pages before writing).
    /// </summary>
    private bool Sse(ref X86Insn d, ulong pc, ulong next, int k)
    {
        if (d.Length == 0)
            return false;
        int op = d.Sub, rex = d.Reg;
        int pfx = d.Size == 0xF3 ? 2 : d.Size == 0xF2 ? 3 : d.Scale != 0 ? 1 : 0;
        var m = new X86Insn { Base = X86Insn.NoRegister, Index = X86Insn.NoRegister, Flags = (byte)(d.Flags & (X86Insn.Addr32 | X86Insn.SegFs | X86Insn.SegGs)), Length = d.Length };
        var c = new X86Cpu.CodeCursor { Page = Page, Position = (int)(pc & 0xFFF) + d.Rm, Limit = _limit };
        X86Cpu.DecodeModRmInto(ref c, ref m, rex, Qword, Qword);
        if (c.Overrun)
            return false;
        bool mem = (m.Flags & X86Insn.Mem) != 0;
        int reg = m.Reg, rm = m.Rm;
        switch (op)
        {
            case 0x10 when pfx <= 1: // MOVUPS/MOVUPD xmm, xmm/m128
            case 0x28 when pfx <= 1: // MOVAPS/MOVAPD
            case 0x6F when pfx is 1 or 2: // MOVDQA/MOVDQU
            {
                bool aligned = op == 0x28 || (op == 0x6F && pfx == 1);
                var (lo, hi) = ReadXmm128(ref m, rm, mem, aligned, pc, next, k);
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
            case 0x11 when pfx <= 1:
            case 0x29 when pfx <= 1:
            case 0x7F when pfx is 1 or 2:
            {
                bool aligned = op == 0x29 || (op == 0x7F && pfx == 1);
                int lo = R(XmmLo(reg)), hi = R(XmmHi(reg));
                if (!mem)
                {
                    W(XmmLo(rm), lo);
                    W(XmmHi(rm), hi);
                    return true;
                }
                int ea = EffectiveAddress(ref m, next);
                // a misaligned aligned store, or a 16-byte store crossing a page: the interpreter's
                if (aligned)
                    LeaveIf(OpK(IrOp.And, ea, 15), pc, k);
                else
                    LeaveIf(F.Compare(IrCondition.LtU, C(0xFF0), OpK(IrOp.And, ea, 0xFFF)), pc, k);
                F.Store(ea, 0, lo, 8, pc, k);
                F.Store(ea, 8, hi, 8, pc, k);
                return true;
            }
            case 0x10 when pfx >= 2: // MOVSS (F3), MOVSD (F2) xmm, xmm/m32/m64
            {
                int bytes = pfx == 2 ? 4 : 8;
                if (mem)
                {
                    // from memory the rest of the register is zeroed
                    W(XmmLo(reg), F.Load(EffectiveAddress(ref m, next), 0, bytes, false, pc, k));
                    W(XmmHi(reg), C(0));
                }
                else
                {
                    W(XmmLo(reg), ScalarMerge(R(XmmLo(reg)), R(XmmLo(rm)), bytes));
                }
                return true;
            }
            case 0x11 when pfx >= 2: // MOVSS (F3), MOVSD (F2) xmm/m32/m64, xmm
            {
                int bytes = pfx == 2 ? 4 : 8;
                if (mem)
                    F.Store(EffectiveAddress(ref m, next), 0, R(XmmLo(reg)), bytes, pc, k);
                else
                    W(XmmLo(rm), ScalarMerge(R(XmmLo(rm)), R(XmmLo(reg)), bytes));
                return true;
            }
            case 0x2E or 0x2F when pfx == 1: // UCOMISD, COMISD xmm, xmm/m64
            {
                // Ordinary operands only: a NaN or a denormal leaves for the interpreter (MXCSR's IE/DE
                // flags, DAZ, and #XM live there). ZF, PF, CF from the order; OF, SF, AF cleared.
                int a = R(XmmLo(reg));
                int b = mem ? F.Load(EffectiveAddress(ref m, next), 0, 8, false, pc, k) : R(XmmLo(rm));
                LeaveIf(Op(IrOp.Or, NanOrDenormal(a), NanOrDenormal(b)), pc, k);
                int ka = OrderKey(a), kb = OrderKey(b);
                int below = F.Compare(IrCondition.LtS, ka, kb), equal = F.Compare(IrCondition.Eq, ka, kb);
                int flags = Op(IrOp.Or, OpK(IrOp.And, R(X86Cpu.RegRflags), ~(long)X86Cpu.ArithmeticFlags), Op(IrOp.Or, below, OpK(IrOp.Shl, equal, 6)));
                SetCc(new Cc(flags, EflagsCc, flags, -1, -1, -1));
                return true;
            }
            case 0x62 or 0x6C or 0x6D when pfx == 1: // PUNPCKLDQ, PUNPCKLQDQ, PUNPCKHQDQ xmm, xmm/m128
            {
                var (slo, shi) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                int dlo = R(XmmLo(reg)), dhi = R(XmmHi(reg));
                int lo, hi;
                if (op == 0x62)
                {
                    // dwords d0 s0 | d1 s1
                    lo = Op(IrOp.Or, Mask(dlo, X86Cpu.Dword), OpK(IrOp.Shl, slo, 32));
                    hi = Op(IrOp.Or, OpK(IrOp.ShrU, dlo, 32), OpK(IrOp.Shl, OpK(IrOp.ShrU, slo, 32), 32));
                }
                else
                {
                    (lo, hi) = op == 0x6C ? (dlo, slo) : (dhi, shi);
                }
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
            case 0x7E when pfx == 2: // MOVQ xmm, xmm/m64
            {
                int v = mem ? F.Load(EffectiveAddress(ref m, next), 0, 8, false, pc, k) : R(XmmLo(rm));
                W(XmmLo(reg), v);
                W(XmmHi(reg), C(0));
                return true;
            }
            case 0xD6 when pfx == 1: // MOVQ xmm/m64, xmm
                if (mem)
                {
                    F.Store(EffectiveAddress(ref m, next), 0, R(XmmLo(reg)), 8, pc, k);
                }
                else
                {
                    W(XmmLo(rm), R(XmmLo(reg)));
                    W(XmmHi(rm), C(0));
                }
                return true;
            case 0x6E when pfx == 1: // MOVD/MOVQ xmm, r/m32/64
            {
                int s = (rex & 8) != 0 ? Qword : Dword;
                int v = mem ? F.Load(EffectiveAddress(ref m, next), 0, 1 << s, false, pc, k) : Mask(R(rm), s);
                W(XmmLo(reg), v);
                W(XmmHi(reg), C(0));
                return true;
            }
            case 0x7E when pfx == 1: // MOVD/MOVQ r/m32/64, xmm
            {
                int s = (rex & 8) != 0 ? Qword : Dword;
                int v = Mask(R(XmmLo(reg)), s);
                if (mem)
                    F.Store(EffectiveAddress(ref m, next), 0, v, 1 << s, pc, k);
                else
                    SetOperand(s, rm, v);
                return true;
            }
            case 0xEF or 0xEB or 0xDB or 0xDF when pfx == 1: // PXOR, POR, PAND, PANDN
            case 0x57 or 0x56 or 0x54 or 0x55 when pfx <= 1: // XORPS/PD, ORPS/PD, ANDPS/PD, ANDNPS/PD
            {
                var (slo, shi) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                int kind = op is 0xEF or 0x57 ? 0 : op is 0xEB or 0x56 ? 1 : op is 0xDB or 0x54 ? 2 : 3;
                int Bitwise(int a, int b) => kind switch
                {
                    0 => Op(IrOp.Xor, a, b),
                    1 => Op(IrOp.Or, a, b),
                    2 => Op(IrOp.And, a, b),
                    _ => Op(IrOp.And, OpK(IrOp.Xor, a, -1L), b),
                };
                if (kind == 0 && !mem && rm == reg)
                {
                    W(XmmLo(reg), C(0)); // the zeroing idiom
                    W(XmmHi(reg), C(0));
                    return true;
                }
                int lo = Bitwise(R(XmmLo(reg)), slo), hi = Bitwise(R(XmmHi(reg)), shi);
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
            case 0xD4 or 0xFB or 0xFE or 0xFA or 0xFD or 0xF9 or 0xFC or 0xF8 when pfx == 1: // PADD/PSUB Q, D, W, B
            {
                var (slo, shi) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                bool sub = op is 0xFB or 0xFA or 0xF9 or 0xF8;
                int lane = op is 0xD4 or 0xFB ? 64 : op is 0xFE or 0xFA ? 32 : op is 0xFD or 0xF9 ? 16 : 8;
                int lo = LaneAddSub(R(XmmLo(reg)), slo, lane, sub), hi = LaneAddSub(R(XmmHi(reg)), shi, lane, sub);
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
            case 0x74 or 0x75 or 0x76 when pfx == 1: // PCMPEQB/W/D
            {
                var (slo, shi) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                int lane = op == 0x74 ? 8 : op == 0x75 ? 16 : 32;
                int lo = LaneEqual(R(XmmLo(reg)), slo, lane), hi = LaneEqual(R(XmmHi(reg)), shi, lane);
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
            case 0xD7 when pfx == 1 && !mem: // PMOVMSKB r32, xmm
            {
                int lo = MoveMask(R(XmmLo(rm))), hi = MoveMask(R(XmmHi(rm)));
                SetOperand(Qword, reg, Op(IrOp.Or, lo, OpK(IrOp.Shl, hi, 8)));
                return true;
            }
            case 0x70 when pfx is 2 or 3: // PSHUFHW (F3), PSHUFLW (F2) xmm, xmm/m128, imm8
            {
                if (c.Position >= _limit)
                    return false;
                int imm = Page[c.Position];
                var (slo, shi) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                int half = pfx == 3 ? slo : shi;
                int Word(int i) => OpK(IrOp.And, OpK(IrOp.ShrU, half, 16 * i), 0xFFFF);
                int shuffled = Word(imm & 3);
                for (int j = 1; j < 4; j++)
                    shuffled = Op(IrOp.Or, shuffled, OpK(IrOp.Shl, Word((imm >> (2 * j)) & 3), 16 * j));
                W(XmmLo(reg), pfx == 3 ? shuffled : slo);
                W(XmmHi(reg), pfx == 3 ? shi : shuffled);
                return true;
            }
            case 0x61 when pfx == 1: // PUNPCKLWD xmm, xmm/m128
            {
                var (slo, _) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                int dlo = R(XmmLo(reg));
                // words d0 s0 d1 s1 | d2 s2 d3 s3: each source's two words of a dword spread 32 bits apart
                int Spread(int v) => Op(IrOp.Or, OpK(IrOp.And, v, 0xFFFF), OpK(IrOp.Shl, OpK(IrOp.And, v, 0xFFFF_0000L), 16));
                int lo = Op(IrOp.Or, Spread(dlo), OpK(IrOp.Shl, Spread(slo), 16));
                int hi = Op(IrOp.Or, Spread(OpK(IrOp.ShrU, dlo, 32)), OpK(IrOp.Shl, Spread(OpK(IrOp.ShrU, slo, 32)), 16));
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
            case 0x66 when pfx == 1: // PCMPGTD xmm, xmm/m128
            {
                var (slo, shi) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                int Greater(int a, int b)
                {
                    int lane0 = LaneGreater(OpK(IrOp.ShrS, OpK(IrOp.Shl, a, 32), 32), OpK(IrOp.ShrS, OpK(IrOp.Shl, b, 32), 32));
                    int lane1 = LaneGreater(OpK(IrOp.ShrS, a, 32), OpK(IrOp.ShrS, b, 32));
                    return Op(IrOp.Or, lane0, OpK(IrOp.Shl, lane1, 32));
                }
                int LaneGreater(int a, int b) => OpK(IrOp.Mul, F.Compare(IrCondition.LtS, b, a), 0xFFFF_FFFFL);
                int lo = Greater(R(XmmLo(reg)), slo), hi = Greater(R(XmmHi(reg)), shi);
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
            case 0x70 when pfx == 1: // PSHUFD xmm, xmm/m128, imm8
            {
                if (c.Position >= _limit)
                    return false;
                int imm = Page[c.Position];
                var (slo, shi) = ReadXmm128(ref m, rm, mem, true, pc, next, k);
                int Dword(int i) => (i & 2) == 0 ? (i & 1) == 0 ? Mask(slo, X86Cpu.Dword) : OpK(IrOp.ShrU, slo, 32)
                                                 : (i & 1) == 0 ? Mask(shi, X86Cpu.Dword) : OpK(IrOp.ShrU, shi, 32);
                int lo = Op(IrOp.Or, Dword(imm & 3), OpK(IrOp.Shl, Dword((imm >> 2) & 3), 32));
                int hi = Op(IrOp.Or, Dword((imm >> 4) & 3), OpK(IrOp.Shl, Dword((imm >> 6) & 3), 32));
                W(XmmLo(reg), lo);
                W(XmmHi(reg), hi);
                return true;
            }
        }
        return false;
    }

    /// <summary>1 if the double's bits <paramref name="x"/> are a NaN or a denormal (a non-zero fraction with the exponent all ones or all zeros).</summary>
    private int NanOrDenormal(int x)
    {
        const long fraction = (1L << 52) - 1, exponent = 0x7FFL << 52;
        int e = OpK(IrOp.And, x, exponent);
        int special = Op(IrOp.Or, F.Compare(IrCondition.Eq, e, C(0)), F.Compare(IrCondition.Eq, e, C(exponent)));
        return Op(IrOp.And, special, F.Compare(IrCondition.Ne, OpK(IrOp.And, x, fraction), C(0)));
    }

    /// <summary>A signed integer that orders non-NaN doubles as their values (both zeros are 0).</summary>
    private int OrderKey(int x)
    {
        int magnitude = OpK(IrOp.And, x, long.MaxValue);
        return F.Select(OpK(IrOp.ShrU, x, 63), F.Binary(IrOp.Sub, C(0), magnitude), magnitude);
    }

    /// <summary>A scalar move between registers: the low <paramref name="bytes"/> (4 or 8) of <paramref name="source"/> into <paramref name="target"/>'s low half.</summary>
    private int ScalarMerge(int target, int source, int bytes) =>
        bytes == 8 ? source : Op(IrOp.Or, OpK(IrOp.And, target, unchecked((long)0xFFFF_FFFF_0000_0000UL)), Mask(source, X86Cpu.Dword));

    /// <summary>A 128-bit source: an XMM register, or 16 bytes of memory (#GP when <paramref name="aligned"/> and misaligned: the interpreter raises it).</summary>
    private (int Lo, int Hi) ReadXmm128(ref X86Insn m, int rm, bool mem, bool aligned, ulong pc, ulong next, int k)
    {
        if (!mem)
            return (R(XmmLo(rm)), R(XmmHi(rm)));
        int ea = EffectiveAddress(ref m, next);
        if (aligned)
            LeaveIf(OpK(IrOp.And, ea, 15), pc, k);
        return (F.Load(ea, 0, 8, false, pc, k), F.Load(ea, 8, 8, false, pc, k));
    }

    /// <summary>Leaves for the interpreter at <paramref name="pc"/> (which runs the instruction, raising what it raises) if <paramref name="value"/> is not 0. The exit is out of line: no label splits the block.</summary>
    private void LeaveIf(int value, ulong pc, int k) => F.Branch(IrCondition.Ne, value, C(0), LeaveLabel(pc, k));

    /// <summary>Lane-wise add or subtract of two 64-bit halves (lanes of <paramref name="lane"/> bits; carries stay in their lane).</summary>
    private int LaneAddSub(int a, int b, int lane, bool sub)
    {
        if (lane == 64)
            return Op(sub ? IrOp.Sub : IrOp.Add, a, b);
        long high = lane switch { 32 => unchecked((long)0x8000_0000_8000_0000UL), 16 => unchecked((long)0x8000_8000_8000_8000UL), _ => unchecked((long)0x8080_8080_8080_8080UL) };
        if (!sub)
        {
            // (a & ~H) + (b & ~H), then the lanes' top bits: a ^ b ^ carry-in
            int low = Op(IrOp.Add, OpK(IrOp.And, a, ~high), OpK(IrOp.And, b, ~high));
            return Op(IrOp.Xor, low, OpK(IrOp.And, Op(IrOp.Xor, a, b), high));
        }
        // (a | H) - (b & ~H): no lane borrows from the next; then the top bits: a ^ ~b ^ borrow
        int diff = Op(IrOp.Sub, OpK(IrOp.Or, a, high), OpK(IrOp.And, b, ~high));
        return Op(IrOp.Xor, diff, OpK(IrOp.And, OpK(IrOp.Xor, Op(IrOp.Xor, a, b), -1L), high));
    }

    /// <summary>Lane-wise equality of two 64-bit halves: all ones where equal, else zero.</summary>
    private int LaneEqual(int a, int b, int lane)
    {
        ulong high = lane switch { 32 => 0x8000_0000_8000_0000UL, 16 => 0x8000_8000_8000_8000UL, _ => 0x8080_8080_8080_8080UL };
        int x = Op(IrOp.Xor, a, b);
        // a lane's top bit in y is set if the lane's low bits are not all zero; in z if the lane is zero
        int y = OpK(IrOp.Add, OpK(IrOp.And, x, (long)~high), (long)~high);
        int z = OpK(IrOp.And, OpK(IrOp.Xor, Op(IrOp.Or, y, x), -1L), (long)high);
        // spread each lane's top bit over the lane: (z >> (lane - 1)) * (2^lane - 1)
        return OpK(IrOp.Mul, OpK(IrOp.ShrU, z, lane - 1), (long)((1UL << lane) - 1));
    }

    /// <summary>The top bits of the eight bytes of a 64-bit half as an 8-bit mask (byte i to bit i).</summary>
    private int MoveMask(int v) =>
        OpK(IrOp.ShrU, OpK(IrOp.Mul, OpK(IrOp.And, v, unchecked((long)0x8080_8080_8080_8080UL)), 0x0002_0408_1020_4081L), 56);

    // ---- arithmetic and flags ----

    /// <summary>A <see cref="Cc"/> whose operation is computed (<c>Dst</c> holds the CcOp temp, <c>Src</c> and <c>Src2</c> the CcDst and CcSrc temps).</summary>
    private const int DynamicCc = -2;

    /// <summary>A result and the lazy-flag state it leaves (<see cref="Op"/> Unknown: the flags are not changed).</summary>
    private readonly record struct Cc(int Value, int Op, int Dst, int Src, int Src2, int Src1)
    {
        public Cc(int value, X86CcOp op, int dst, int src, int src2, int src1) : this(value, (int)op, dst, src, src2, src1) { }
    }

    private void AluToE(ref X86Insn d, int b, ulong pc, ulong next, int k)
    {
        int s = d.Size;
        if ((d.Flags & X86Insn.NoWrite) != 0)
        {
            SetCc(Alu(d.Sub, s, ReadE(ref d, s, pc, next, k), b));
            return;
        }
        int sub = d.Sub;
        ModifyE(ref d, s, pc, next, k, a => Alu(sub, s, a, b));
    }

    /// <summary>ADD, OR, ADC, SBB, AND, SUB, XOR, CMP on zero-extended operands (<paramref name="b"/> may carry bits above the size, as the interpreter's).</summary>
    private Cc Alu(int op, int size, int a, int b)
    {
        int r;
        switch (op)
        {
            case 0:
                r = Mask(Op(IrOp.Add, a, b), size);
                return new Cc(r, X86CcOp.Add + size, r, b, -1, -1);
            case 1:
                r = Mask(Op(IrOp.Or, a, b), size);
                return new Cc(r, X86CcOp.Logic + size, r, -1, -1, -1);
            case 2:
            {
                int c = Flag(FlagC);
                r = Mask(Op(IrOp.Add, Op(IrOp.Add, a, b), c), size);
                return new Cc(r, X86CcOp.Adc + size, r, b, c, -1);
            }
            case 3:
            {
                int c = Flag(FlagC);
                r = Mask(Op(IrOp.Sub, Op(IrOp.Sub, a, b), c), size);
                return new Cc(r, X86CcOp.Sbb + size, r, b, c, -1);
            }
            case 4:
                r = Mask(Op(IrOp.And, a, b), size);
                return new Cc(r, X86CcOp.Logic + size, r, -1, -1, -1);
            case 5:
            case 7:
                r = Mask(Op(IrOp.Sub, a, b), size);
                return new Cc(r, X86CcOp.Sub + size, r, b, -1, a);
            default:
                r = Mask(Op(IrOp.Xor, a, b), size);
                return new Cc(r, X86CcOp.Logic + size, r, -1, -1, -1);
        }
    }

    /// <summary>IMUL (two and three operands): the low half, CF = OF = the product needed more bits.</summary>
    private Cc Imul(int size, int a, int b)
    {
        if (size == Qword)
        {
            int lo = Op(IrOp.Mul, a, b);
            int hi = Op(IrOp.MulHighS, a, b);
            int wide = F.Compare(IrCondition.Ne, hi, OpK(IrOp.ShrS, lo, 63));
            return new Cc(lo, X86CcOp.Mul + size, lo, wide, -1, -1);
        }
        int p = Op(IrOp.Mul, SignExtend(a, size), SignExtend(b, size));
        int r = Mask(p, size);
        int overflow = F.Compare(IrCondition.Ne, SignExtend(r, size), p);
        return new Cc(r, X86CcOp.Mul + size, r, overflow, -1, -1);
    }

    /// <summary>A <see cref="Cc"/> that writes RFLAGS itself (<c>Dst</c>: the new RFLAGS) and leaves CcOp = Eflags.</summary>
    private const int EflagsCc = -3;

    /// <summary>RFLAGS with the six arithmetic flags of the lazy state (the interpreter's <c>MaterializedFlags</c> without bit 1).</summary>
    private int MaterializedFlags()
    {
        int arith = Flag(FlagC);
        arith = Op(IrOp.Or, arith, OpK(IrOp.Shl, Flag(FlagP), 2));
        arith = Op(IrOp.Or, arith, OpK(IrOp.Shl, Flag(FlagA), 4));
        arith = Op(IrOp.Or, arith, OpK(IrOp.Shl, Flag(FlagZ), 6));
        arith = Op(IrOp.Or, arith, OpK(IrOp.Shl, Flag(FlagS), 7));
        arith = Op(IrOp.Or, arith, OpK(IrOp.Shl, Flag(FlagO), 11));
        return Op(IrOp.Or, OpK(IrOp.And, R(X86Cpu.RegRflags), ~(long)X86Cpu.ArithmeticFlags), arith);
    }

    /// <summary>Writes the lazy-flag state <paramref name="cc"/> leaves to the register file.</summary>
    private void SetCc(in Cc cc)
    {
        if (cc.Op == Unknown)
            return;
        if (cc.Op == EflagsCc)
        {
            W(X86Cpu.RegRflags, cc.Dst);
            if (_ccOp != (int)X86CcOp.Eflags)
                W(X86Cpu.RegCcOp, C((long)X86CcOp.Eflags));
            _ccOp = (int)X86CcOp.Eflags;
            _ccSrc1 = -1;
            return;
        }
        if (cc.Op == DynamicCc)
        {
            W(X86Cpu.RegCcOp, cc.Dst);
            W(X86Cpu.RegCcDst, cc.Src);
            W(X86Cpu.RegCcSrc, cc.Src2);
            _ccOp = Unknown;
            _ccSrc1 = -1;
            return;
        }
        if (_ccOp != cc.Op)
            W(X86Cpu.RegCcOp, C(cc.Op));
        W(X86Cpu.RegCcDst, cc.Dst);
        if (cc.Src >= 0)
            W(X86Cpu.RegCcSrc, cc.Src);
        if (cc.Src2 >= 0)
            W(X86Cpu.RegCcSrc2, cc.Src2);
        _ccOp = cc.Op;
        _ccSrc1 = cc.Src1;
    }

    /// <summary>Condition code <paramref name="cc"/> (O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G) as 0 or 1.</summary>
    private int Condition(int cc)
    {
        int kind = cc >> 1;
        int r = _ccOp != Unknown ? KnownCondition(kind) : -1;
        if (r < 0)
        {
            r = kind switch
            {
                0 => Flag(FlagO),
                1 => Flag(FlagC),
                2 => Flag(FlagZ),
                3 => Op(IrOp.Or, Flag(FlagC), Flag(FlagZ)),
                4 => Flag(FlagS),
                5 => Flag(FlagP),
                6 => Op(IrOp.Xor, Flag(FlagS), Flag(FlagO)),
                _ => Op(IrOp.Or, Flag(FlagZ), Op(IrOp.Xor, Flag(FlagS), Flag(FlagO))),
            };
        }
        return (cc & 1) != 0 ? OpK(IrOp.Xor, r, 1) : r;
    }

    /// <summary>Conditions straight from the operands of a known SUB/CMP or logic operation; -1 for the rest.</summary>
    private int KnownCondition(int kind)
    {
        var op = (X86CcOp)(_ccOp & ~3);
        int size = _ccOp & 3;
        if (op == X86CcOp.Sub && kind is not (0 or 5))
        {
            int src = Mask(R(X86Cpu.RegCcSrc), size);
            if (kind == 2)
                return F.Compare(IrCondition.Eq, Mask(R(X86Cpu.RegCcDst), size), C(0));
            if (kind == 4)
                return Flag(FlagS);
            int src1 = _ccSrc1 >= 0 ? _ccSrc1 : Mask(Op(IrOp.Add, R(X86Cpu.RegCcDst), R(X86Cpu.RegCcSrc)), size);
            return kind switch
            {
                1 => F.Compare(IrCondition.LtU, src1, src),
                3 => OpK(IrOp.Xor, F.Compare(IrCondition.LtU, src, src1), 1),
                6 => F.Compare(IrCondition.LtS, SignExtend(src1, size), SignExtend(src, size)),
                _ => OpK(IrOp.Xor, F.Compare(IrCondition.LtS, SignExtend(src, size), SignExtend(src1, size)), 1),
            };
        }
        if (op == X86CcOp.Logic && kind != 5)
        {
            return kind switch
            {
                0 or 1 => C(0),
                2 or 3 => Flag(FlagZ),
                4 or 6 => Flag(FlagS),
                _ => Op(IrOp.Or, Flag(FlagZ), Flag(FlagS)),
            };
        }
        return -1;
    }

    /// <summary>One arithmetic flag (0 or 1) of the lazy state: for the known operation, else selected by the CcOp in the register file.</summary>
    private int Flag(int which)
    {
        if (_ccOp != Unknown)
        {
            int size = _ccOp & 3;
            return FlagFor((X86CcOp)(_ccOp & ~3), C((long)SizeMask(size)), C(Bits(size) - 1), which);
        }
        int ccOp = R(X86Cpu.RegCcOp);
        int sizeBits = Op(IrOp.Shl, C(8), OpK(IrOp.And, ccOp, 3));
        int mask = F.Binary(IrOp.ShrU, C(-1), Op(IrOp.Sub, C(64), sizeBits));
        int signShift = Op(IrOp.Sub, sizeBits, C(1));
        int kind = OpK(IrOp.And, ccOp, ~3L);
        int r = FlagFor(X86CcOp.Eflags, mask, signShift, which);
        if (which is FlagZ or FlagS or FlagP)
            return F.Select(F.Compare(IrCondition.Eq, kind, C(0)), r, FlagFor(X86CcOp.Add, mask, signShift, which));
        foreach (var op in (ReadOnlySpan<X86CcOp>)[X86CcOp.Add, X86CcOp.Adc, X86CcOp.Sub, X86CcOp.Sbb, X86CcOp.Logic, X86CcOp.Inc, X86CcOp.Dec, X86CcOp.Shl, X86CcOp.Sar, X86CcOp.Mul])
            r = F.Select(F.Compare(IrCondition.Eq, kind, C((long)op)), FlagFor(op, mask, signShift, which), r);
        return r;
    }

    /// <summary>
    /// Flag <paramref name="which"/> after operation <paramref name="op"/> of the size given by
    /// <paramref name="mask"/> and <paramref name="signShift"/> (temps: constants when known), as the
    /// interpreter's <c>ComputeArithmeticFlags</c> computes it.
    /// </summary>
    private int FlagFor(X86CcOp op, int mask, int signShift, int which)
    {
        if (op == X86CcOp.Eflags)
        {
            int bit = which switch { FlagC => 0, FlagZ => 6, FlagS => 7, FlagO => 11, FlagA => 4, _ => 2 };
            return OpK(IrOp.And, OpK(IrOp.ShrU, R(X86Cpu.RegRflags), bit), 1);
        }
        int dst = Op(IrOp.And, R(X86Cpu.RegCcDst), mask);
        switch (which)
        {
            case FlagZ: return F.Compare(IrCondition.Eq, dst, C(0));
            case FlagS: return OpK(IrOp.And, F.Binary(IrOp.ShrU, dst, signShift), 1);
            case FlagP: return F.Unary(IrOp.Parity, dst);
        }
        int src = Op(IrOp.And, R(X86Cpu.RegCcSrc), mask);
        if (which == FlagA)
        {
            int AuxCarry(int src1) => OpK(IrOp.And, OpK(IrOp.ShrU, Op(IrOp.Xor, Op(IrOp.Xor, dst, src1), src), 4), 1);
            return op switch
            {
                X86CcOp.Add => AuxCarry(Op(IrOp.And, Op(IrOp.Sub, dst, src), mask)),
                X86CcOp.Adc => AuxCarry(Op(IrOp.And, Op(IrOp.Sub, Op(IrOp.Sub, dst, src), R(X86Cpu.RegCcSrc2)), mask)),
                X86CcOp.Sub => AuxCarry(Op(IrOp.And, Op(IrOp.Add, dst, src), mask)),
                X86CcOp.Sbb => AuxCarry(Op(IrOp.And, Op(IrOp.Add, Op(IrOp.Add, dst, src), R(X86Cpu.RegCcSrc2)), mask)),
                X86CcOp.Inc => OpK(IrOp.And, OpK(IrOp.ShrU, Op(IrOp.Xor, dst, OpK(IrOp.Sub, dst, 1)), 4), 1),
                X86CcOp.Dec => OpK(IrOp.And, OpK(IrOp.ShrU, Op(IrOp.Xor, dst, OpK(IrOp.Add, dst, 1)), 4), 1),
                _ => C(0),
            };
        }
        int Sign(int v) => OpK(IrOp.And, F.Binary(IrOp.ShrU, v, signShift), 1);
        bool carry = which == FlagC;
        switch (op)
        {
            case X86CcOp.Add:
            case X86CcOp.Adc:
            case X86CcOp.Sub:
            case X86CcOp.Sbb:
            {
                bool add = op is X86CcOp.Add or X86CcOp.Adc, withCarry = op is X86CcOp.Adc or X86CcOp.Sbb;
                // the first operand, from the result
                int first = Op(add ? IrOp.Sub : IrOp.Add, dst, src);
                if (withCarry)
                    first = Op(add ? IrOp.Sub : IrOp.Add, first, R(X86Cpu.RegCcSrc2));
                int src1 = Op(IrOp.And, first, mask);
                if (carry)
                {
                    // ADD: result < first (ADC with a carry in: <=); SUB: first < second (SBB with a borrow in: <=)
                    int a = add ? dst : src1, b = add ? src1 : src;
                    int lt = F.Compare(IrCondition.LtU, a, b);
                    if (!withCarry)
                        return lt;
                    int le = OpK(IrOp.Xor, F.Compare(IrCondition.LtU, b, a), 1);
                    return F.Select(R(X86Cpu.RegCcSrc2), le, lt);
                }
                int x = Op(IrOp.Xor, src1, src);
                if (add)
                    x = Op(IrOp.Xor, x, mask);
                return Sign(Op(IrOp.And, x, Op(IrOp.Xor, src1, dst)));
            }
            case X86CcOp.Logic:
                return C(0);
            case X86CcOp.Inc:
            case X86CcOp.Dec:
            {
                if (carry)
                    return OpK(IrOp.And, R(X86Cpu.RegCcSrc), 1);
                int signBit = F.Binary(IrOp.Shl, C(1), signShift);
                return F.Compare(IrCondition.Eq, dst, op == X86CcOp.Inc ? signBit : Op(IrOp.Sub, signBit, C(1)));
            }
            case X86CcOp.Shl:
                return carry ? Sign(src) : OpK(IrOp.And, Op(IrOp.Xor, Sign(src), Sign(dst)), 1);
            case X86CcOp.Sar:
                return carry ? OpK(IrOp.And, src, 1) : Sign(Op(IrOp.Xor, src, dst));
            default: // Mul
                return F.Compare(IrCondition.Ne, R(X86Cpu.RegCcSrc), C(0));
        }
    }
}
