using Wemu.Jit.Ir;
using static Wemu.Jit.X64.Reg;
using Alu = Wemu.Jit.X64.X64Assembler.Alu;

namespace Wemu.Jit.X64;

/// <summary>
/// Compiles an <see cref="IrFunction"/> straight to x86-64 machine code (System V calling
/// convention): <c>long f(byte* ctx, long count)</c> returns the instructions retired plus
/// <c>count</c>, with the exit kind and next pc in the <see cref="ExitContext"/>. A baseline code generator, built for compile speed
/// (RyuJIT costs about a microsecond per IL statement, so a region costs ~1 ms; this costs a
/// few microseconds): guest registers stay in the register file in memory, except the few a region
/// names most, held in host registers for the whole region and stored at every exit (so every exit
/// leaves the guest state complete); temps live in the host registers left, given out by a linear
/// scan (the rest, and those that lose their register to a shorter-lived one, in stack slots); ops
/// work two-address on those registers where they can, else through scratch registers. Loads and
/// stores probe the soft TLB inline (one compare covers page, permission and alignment); a miss calls
/// the guest's refill helper if it has one, and every slow path (TLB miss, MMIO, misaligned, code
/// page) is an exit the engine runs in the interpreter; helper calls (x86) call the guest's entry.
/// A chained exit with budget left looks the next pc up in the jump cache (filled by the engine,
/// stamped like the WebAssembly backend's) and jumps straight to that code, its count passed on.
/// Fixed registers: rdi ctx, rsi guest registers, r8 TLB, r9 retired count (the budget is compared
/// in the context); rax, rcx, rdx scratch; r11 and r10, temps' too, are saved around helper calls.
/// Code is entered through one trampoline (<see cref="Compiler.EnterCode"/>, in the code arena) that
/// saves the callee-saved registers (rbx, rbp, r12-r15: temps' and cached guest registers') and sets
/// up a frame of <see cref="Compiler.FrameSlots"/> stack slots for every region; regions chain by
/// jumping, and the exit that returns to the host releases the frame and restores the registers.
/// </summary>
public static class X64Backend
{
    /// <summary>Compiles <paramref name="f"/> (after <see cref="Passes.IrPipeline"/>) to position-independent code bytes.</summary>
    public static byte[] Compile(IrFunction f, GuestCodeAbi abi) => new Compiler(abi).Compile(f).ToArray();

    /// <summary>A reusable compiler: its buffers stay allocated between regions (one per engine, one thread).</summary>
    public sealed class Compiler
    {
        /// <param name="bmi2">Use BMI2 (rorx in the TLB probe) if the host has it (tests turn it off to cover the other form).</param>
        public Compiler(GuestCodeAbi abi, bool bmi2 = true)
        {
            TlbTagLayout.Check(abi.Tlb.PageBits, abi.Tlb.TagFlags);   // the one-compare probe below relies on it
            _abi = abi;
            _bmi2 = bmi2 && System.Runtime.Intrinsics.X86.Bmi2.X64.IsSupported;
        }

        private readonly bool _bmi2;

        private const Reg Ctx = Rdi, Regs = Rsi, Tlb = R8, Count = R9;

        private IrFunction _f = null!;
        private readonly GuestCodeAbi _abi;
        private readonly X64Assembler _a = new();
        private int[] _labels = [];
        private int _exit, _chainExit, _knownChainExit;
        /// <summary>Out-of-line exits at an instruction: the slow path of loads, stores and CAS, and exiting divisions (interpret).</summary>
        private readonly List<(int Label, ulong Pc, int Completed, CodeExit Kind, int WritesFrom, int WritesCount)> _slowStubs = [];
        /// <summary>Out-of-line TLB refills: the helper call, back to the probe on success, else the slow stub.</summary>
        private readonly List<(int Label, int Retry, int Slow, Reg Va, long Kind)> _fillStubs = [];

        /// <summary>
        /// Deferred register writes: a SetReg that a later one of the same register overwrites before
        /// anything reads the register file (a label, branch, exit or helper call; a read of that
        /// register) is not stored; the out-of-line slow paths in between (which leave for the
        /// interpreter) store it instead. x86 flag setters write CcOp/CcDst/CcSrc at every instruction.
        /// </summary>
        private bool[] _deferred = [];
        private int[] _nextWrite = [];
        /// <summary>The deferred writes not yet overwritten, as (guest register, temp).</summary>
        private readonly List<(int Reg, int Temp)> _pending = [];
        /// <summary>The pending writes each slow stub stores (ranges of this list).</summary>
        private readonly List<(int Reg, int Temp)> _stubWrites = [];

        private int[] _def = [];
        private bool[] _inline = [];
        private int[] _slot = [];
        private int[] _lastUse = [];
        private int[] _uses = [];
        // Temps whose slot is free after instruction k: a list through _releaseNext from _releaseHead[k].
        private int[] _releaseHead = [];
        private int[] _releaseNext = [];
        private readonly Stack<int> _freeSlots = new();
        private int _slots;

        /// <summary>
        /// The registers temps live in: six callee-saved ones (those a function uses are saved at its
        /// entry; they survive helper calls), then r11 (caller-saved: saved around helper calls).
        /// </summary>
        private static readonly Reg[] HostRegisters = [Rbx, Rbp, R12, R13, R14, R15, R11, R10];
        private const int CalleeSaved = 6;

        /// <summary>
        /// Guest registers held in host registers for the whole function (the region's most used
        /// ones: x86's loop counters, pointers and lazy-flag state): loaded at the entry, read and
        /// written there in place of the register file, stored at every exit (the shared exits, so
        /// slow stubs too), around helper calls (stored before, loaded after) and before a TLB refill.
        /// They take callee-saved registers from the end of <see cref="HostRegisters"/>' six.
        /// </summary>
        private const int MaxCached = 4, CacheMinReferences = 4, LoopWeight = 8;
        private readonly IrLoops _loops = new();
        private int[] _loopDepth = [];
        private Reg[] _cachedHost = [];
        private readonly List<(int Guest, Reg Host)> _cached = [];
        private bool[] _cachedWritten = [];
        private int[] _references = [];

        /// <summary>The registers temps live in this function: <see cref="HostRegisters"/> less the cache's.</summary>
        private readonly Reg[] _tempRegs = new Reg[8];
        private int _tempRegCount;

        /// <summary>Each temp's host register (an index into <see cref="_tempRegs"/>), or -1: a stack slot.</summary>
        private int[] _reg = [];
        private int _emitting;
        private readonly int[] _activeTemp = new int[8];

        /// <summary>
        /// Linear scan over the temps in order of definition (a temp lives from its definition to its
        /// last use, in code order, as the stack slots assumed before): a free register if there is
        /// one, else the register of the live temp that ends last, if that ends after this one (which
        /// then lives in a stack slot for all its life), else a stack slot.
        /// </summary>
        private void AllocateRegisters(Span<IrInst> code, int n)
        {
            ScratchArray.Ensure(ref _reg, n);
            Array.Fill(_reg, -1, 0, n);
            var active = _activeTemp.AsSpan(0, _tempRegCount);
            active.Fill(-1);
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                if (!i.HasDst)
                    continue;
                int t = i.Dst;
                if (_inline[t] || _uses[t] == 0 || _coalesced[t] != Rsp)
                    continue;
                int free = -1, latest = -1;
                // the result may take the register of an operand that dies here (A's first: in place)
                if (i.A >= 0 && !_inline[i.A] && _reg[i.A] >= 0 && _lastUse[i.A] == k && active[_reg[i.A]] == i.A)
                {
                    free = _reg[i.A];
                    active[free] = -1;
                }
                for (int r = 0; r < active.Length; r++)
                {
                    if (active[r] >= 0 && _lastUse[active[r]] <= k)
                        active[r] = -1;
                    if (active[r] < 0)
                    {
                        if (free < 0)
                            free = r;
                    }
                    else if (latest < 0 || _lastUse[active[r]] > _lastUse[active[latest]])
                    {
                        latest = r;
                    }
                }
                if (free < 0 && _lastUse[active[latest]] > _lastUse[t])
                {
                    _reg[active[latest]] = -1;
                    free = latest;
                }
                if (free >= 0)
                {
                    active[free] = t;
                    _reg[t] = free;
                }
            }
        }

        /// <summary>
        /// Picks the guest registers to hold in host registers (see <see cref="_cached"/>): those
        /// named by <see cref="CacheMinReferences"/> or more GetReg/SetReg, the most named first.
        /// </summary>
        private void ChooseCachedRegisters(Span<IrInst> code)
        {
            int regs = _f.GuestRegisterCount;
            ScratchArray.Ensure(ref _references, regs);
            ScratchArray.Ensure(ref _cachedHost, regs);
            ScratchArray.Ensure(ref _cachedWritten, regs);
            Array.Clear(_references, 0, regs);
            Array.Fill(_cachedHost, Rsp, 0, regs);   // rsp: not cached
            Array.Clear(_cachedWritten, 0, regs);
            _cached.Clear();
            // A read counts twice (a load on the way to what uses it); a write counts once, and not
            // at all if a later write of the register overwrites it before anything reads the
            // register file (those are mostly deferred: x86's lazy-flag state at every instruction).
            // A reference inside a loop of the region counts LoopWeight times more (per loop around it).
            ScratchArray.Ensure(ref _nextWrite, regs);
            Array.Fill(_nextWrite, -1, 0, regs);
            ScratchArray.Ensure(ref _loopDepth, code.Length);
            _loops.Depths(code, _f.LabelCount, _loopDepth);
            for (int k = code.Length - 1; k >= 0; k--)
            {
                ref var i = ref code[k];
                int weight = _loopDepth[k] switch { 0 => 1, 1 => LoopWeight, _ => LoopWeight * LoopWeight };
                if (i.Op == IrOp.SetReg)
                {
                    if (_nextWrite[(int)i.Imm] < 0)
                        _references[(int)i.Imm] += weight;
                    _nextWrite[(int)i.Imm] = k;
                }
                else if (i.Op == IrOp.GetReg)
                {
                    _references[(int)i.Imm] += 2 * weight;
                    _nextWrite[(int)i.Imm] = -1;
                }
                else if (!i.IsPure && i.Op is not (IrOp.Load or IrOp.Store or IrOp.CompareAndSwap or IrOp.Retire))
                {
                    Array.Fill(_nextWrite, -1, 0, regs);
                }
            }
            while (_cached.Count < MaxCached)
            {
                int best = -1;
                for (int r = 0; r < regs; r++)
                    if (_references[r] >= CacheMinReferences && _cachedHost[r] == Rsp && (best < 0 || _references[r] > _references[best]))
                        best = r;
                if (best < 0)
                    break;
                var host = HostRegisters[CalleeSaved - 1 - _cached.Count];
                _cached.Add((best, host));
                _cachedHost[best] = host;
            }
            foreach (ref var i in code)
                if (i.Op == IrOp.SetReg && IsCached((int)i.Imm, out _))
                    _cachedWritten[(int)i.Imm] = true;
            _tempRegCount = 0;
            foreach (var r in HostRegisters)
                if (!_cachedHost.AsSpan(0, regs).Contains(r))
                    _tempRegs[_tempRegCount++] = r;
        }

        /// <summary>True (and its host register) if guest register <paramref name="guest"/> is held in one.</summary>
        private bool IsCached(int guest, out Reg host)
        {
            host = _cachedHost[guest];
            return host != Rsp;
        }

        /// <summary>Stores the cached guest registers the function writes to the register file.</summary>
        private void StoreCached()
        {
            foreach (var (guest, host) in _cached)
                if (_cachedWritten[guest])
                    _a.Store64(Regs, guest * 8, host);
        }

        /// <summary>Loads every cached guest register from the register file.</summary>
        private void LoadCached()
        {
            foreach (var (guest, host) in _cached)
                _a.Load64(host, Regs, guest * 8);
        }

        /// <summary>
        /// x86-64 forms the IR does not spell out, rewritten before anything else looks at the function: a 64-bit
        /// add, sub, and, or, xor or mul whose only use masks it to 32 bits becomes the 32-bit op (which zero-extends
        /// on x86-64, so the mask, now an ExtendU of it, is free where it takes the same register); a shift left by
        /// 32 whose only use shifts it right arithmetically by 32 becomes a sign extension (movsxd).
        /// </summary>
        private void Narrow(Span<IrInst> code, int temps)
        {
            CountDefinitionsAndUses(code, temps);
            ScratchArray.Ensure(ref _scale, code.Length);
            Array.Clear(_scale, 0, code.Length);
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                if (i.Op == IrOp.Add && i.A >= 0 && i.B >= 0 && i.A != i.B && (IsScaledShift(code, i.B) || IsScaledShift(code, i.A)))
                {
                    // a + (x << 1, 2 or 3): lea [a + x * scale]
                    if (!IsScaledShift(code, i.B))
                        (i.A, i.B) = (i.B, i.A);
                    ref var shift = ref code[_def[i.B]];
                    _scale[k] = (byte)code[_def[shift.B]].Imm;
                    i.B = shift.A;
                    shift = IrInst.Nop;
                    continue;
                }
                if (i.Type != IrType.I64 || i.A < 0 || i.B < 0 || _uses[i.A] != 1 || _def[i.A] < 0 || _def[i.B] < 0)
                    continue;
                ref var a = ref code[_def[i.A]];
                ref var b = ref code[_def[i.B]];
                if (i.Op == IrOp.And && b.Op == IrOp.Const && b.Imm == 0xFFFF_FFFF && a.Type == IrType.I64
                    && a.Op is IrOp.Add or IrOp.Sub or IrOp.And or IrOp.Or or IrOp.Xor or IrOp.Mul)
                {
                    a.Type = IrType.I32;
                    _f.SetType(a.Dst, IrType.I32);
                    i.Op = IrOp.ExtendU;
                    i.B = IrInst.NoTemp;
                }
                else if (i.Op == IrOp.ShrS && b.Op == IrOp.Const && b.Imm == 32 && a.Op == IrOp.Shl && a.Type == IrType.I64
                    && a.B >= 0 && _def[a.B] >= 0 && code[_def[a.B]].Op == IrOp.Const && code[_def[a.B]].Imm == 32)
                {
                    i.Op = IrOp.ExtendS;
                    i.A = a.A;
                    i.B = IrInst.NoTemp;
                    a = IrInst.Nop;   // (its operands: no longer used)
                }
            }
        }

        /// <summary>Each temp's defining instruction (-1: none), number of uses and last use.</summary>
        private void CountDefinitionsAndUses(Span<IrInst> code, int temps)
        {
            ScratchArray.Ensure(ref _def, temps);
            ScratchArray.Ensure(ref _uses, temps);
            ScratchArray.Ensure(ref _lastUse, temps);
            Array.Fill(_def, -1, 0, temps);
            Array.Clear(_uses, 0, temps);
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                if (i.HasDst) _def[i.Dst] = k;
                if (i.A >= 0) { _uses[i.A]++; _lastUse[i.A] = k; }
                if (i.B >= 0) { _uses[i.B]++; _lastUse[i.B] = k; }
                if (i.C >= 0) { _uses[i.C]++; _lastUse[i.C] = k; }
            }
        }

        /// <summary>Each temp's host register when it is computed straight into a cached guest register's (else rsp: none).</summary>
        private Reg[] _coalesced = [];

        /// <summary>For each add <see cref="Narrow"/> made a lea: log2 of its second operand's scale (0: a plain add).</summary>
        private byte[] _scale = [];

        /// <summary>True if <paramref name="temp"/> is a 64-bit shift left by 1, 2 or 3 used only once.</summary>
        private bool IsScaledShift(Span<IrInst> code, int temp)
        {
            if (_def[temp] < 0 || _uses[temp] != 1)
                return false;
            ref var s = ref code[_def[temp]];
            return s.Op == IrOp.Shl && s.Type == IrType.I64 && s.B >= 0 && _def[s.B] >= 0
                && code[_def[s.B]].Op == IrOp.Const && code[_def[s.B]].Imm is >= 1 and <= 3;
        }

        /// <summary>True if <paramref name="temp"/>'s register holds it zero-extended: a 32-bit add, sub, and, or, xor or mul (see <see cref="Narrow"/>).</summary>
        private bool ZeroExtended(int temp) =>
            _f.TypeOf(temp) == IrType.I32 && _def[temp] >= 0 && _f.Code[_def[temp]].Op is IrOp.Add or IrOp.Sub or IrOp.And or IrOp.Or or IrOp.Xor or IrOp.Mul;

        /// <summary>Compiles <paramref name="f"/>; the code is valid until the next call.</summary>
        public ReadOnlySpan<byte> Compile(IrFunction f)
        {
            _f = f;
            _a.Reset();
            _slowStubs.Clear();
            _fillStubs.Clear();
            _pending.Clear();
            _stubWrites.Clear();
            _freeSlots.Clear();
            _slots = 0;
            _spilled = _spilledEnd = -1;
            var code = f.Code;
            int n = f.TempCount;
            Narrow(code, n);
            CountDefinitionsAndUses(code, n);   // (again: Narrow changed operands)
            ScratchArray.Ensure(ref _inline, n);
            ScratchArray.Ensure(ref _slot, n);
            ScratchArray.Ensure(ref _releaseNext, n);
            ScratchArray.Ensure(ref _releaseHead, code.Length);
            Array.Fill(_slot, -1, 0, n);
            Array.Clear(_inline, 0, n);
            Array.Fill(_releaseHead, -1, 0, code.Length);
            var lastUse = _lastUse;
            var uses = _uses;
            ChooseCachedRegisters(code);
            // Constants are immediates at every use; a register read used once (a cached register's:
            // used any number of times), with no write to that register, no helper call and no label
            // before its last use, reads the register file (the cached register's host register) at its uses.
            for (int t = 0; t < n; t++)
            {
                int d = _def[t];
                if (d < 0)
                    continue;
                if (code[d].Op == IrOp.Const)
                {
                    _inline[t] = true;
                    continue;
                }
                if (code[d].Op != IrOp.GetReg || (uses[t] != 1 && !IsCached((int)code[d].Imm, out _)))
                    continue;
                bool clean = true;
                for (int k = d + 1; k < lastUse[t] && clean; k++)
                {
                    ref var i = ref code[k];
                    clean = !(i.Op == IrOp.Label || i.Op == IrOp.Call || (i.Op == IrOp.SetReg && i.Imm == code[d].Imm));
                }
                _inline[t] = clean;
            }
            FindDeferredWrites(code);
            // A result whose only use is the next instruction, a write of a guest register held in a host register,
            // is computed in that register (a pure op's or a load's: neither writes its result before it could leave).
            ScratchArray.Ensure(ref _coalesced, n);
            Array.Fill(_coalesced, Rsp, 0, n);
            for (int k = 0; k + 1 < code.Length; k++)
            {
                ref var i = ref code[k];
                ref var next = ref code[k + 1];
                if (i.HasDst && !_inline[i.Dst] && uses[i.Dst] == 1 && (i.IsPure || i.Op == IrOp.Load)
                    && next.Op == IrOp.SetReg && next.A == i.Dst && IsCached((int)next.Imm, out var host))
                    _coalesced[i.Dst] = host;
            }
            AllocateRegisters(code, n);
            for (int t = 0; t < n; t++)
            {
                if (_def[t] >= 0 && !_inline[t] && uses[t] > 0 && _reg[t] < 0 && _coalesced[t] == Rsp)
                {
                    _releaseNext[t] = _releaseHead[lastUse[t]];
                    _releaseHead[lastUse[t]] = t;
                }
            }
            ScratchArray.Ensure(ref _labels, f.LabelCount);
            for (int k = 0; k < f.LabelCount; k++)
                _labels[k] = _a.NewLabel();
            _exit = _a.NewLabel();
            _chainExit = _a.NewLabel();
            _knownChainExit = _a.NewLabel();
            return Emit();
        }

        private ReadOnlySpan<byte> Emit()
        {
            var a = _a;
            // The frame the entry trampoline set up holds FrameSlots slots; a region that may need
            // more (an upper bound: every temp that has neither a register nor an immediate) widens it
            // at its entry by a multiple of 16 (patched once the slot count is known) and narrows it
            // again at its exits.
            int frameAt = -1;
            if (SpillBound() > FrameSlots)
            {
                a.AdjustRsp(-1);
                frameAt = a.Length - 4;
            }
            LoadCached();

            var code = _f.Code;
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                _emitting = k;
                if (!(i.HasDst && _inline[i.Dst]))
                    EmitInst(in i);
                for (int t = _releaseHead[k]; t >= 0; t = _releaseNext[t])
                    if (_slot[t] >= 0)
                        _freeSlots.Push(_slot[t]);
            }
            // Every path ends in an exit; should one not, stop at the entry rather than run off.
            a.MovImm(Rax, (long)_f.EntryPc);
            ExitWith(CodeExit.Stop, 0);

            foreach (var (label, retry, slow, va, fillKind) in _fillStubs)
            {
                a.Bind(label);
                StoreCached();
                a.Store64(Ctx, ExitContext.HelperA, va);
                a.MovImm(Rax, fillKind);
                a.Store64(Ctx, ExitContext.HelperB, Rax);
                a.MovImm(Rax, _abi.TlbFillHelper);
                a.Store64(Ctx, ExitContext.HelperIndex, Rax);
                CallHelperEntry();
                a.Test(Rax, Rax, false);
                a.Jcc(Cc.NE, retry);
                a.Jmp(slow);
            }
            foreach (var (label, pc, completed, kind, from, count) in _slowStubs)
            {
                a.Bind(label);
                for (int w = from; w < from + count; w++)
                    StoreReg(_stubWrites[w].Reg, _stubWrites[w].Temp);
                a.MovImm(Rax, (long)pc);
                ExitWith(kind, completed);
            }

            // The extra frame is a multiple of 16: rsp stays 8 below a 16-byte boundary (as the trampoline leaves it) for helper calls.
            int extra = frameAt < 0 ? 0 : (Math.Max(0, _slots - FrameSlots) * 8 + 15) & ~15;
            int exitStored = a.NewLabel(), chainLeave = a.NewLabel();
            // Chained exits (rax: the next pc; the exit kind is stored only if they leave): the slot's offset in the jump
            // cache into rdx (exits to a constant pc computed it at compile time and come in below); then, with budget
            // left, jump to the next code if the jump cache has it under the current stamp. The count stays in r9, the
            // frame as the trampoline made it.
            a.Bind(_chainExit);
            // (the slot: ExitContext.JumpCacheIndex)
            a.MovRR(Rdx, Rax);
            if (_abi.PcAlignShift != 0)
                a.ShiftImm(5, Rdx, _abi.PcAlignShift, true);
            a.MovRR(Rcx, Rdx);
            a.ShiftImm(5, Rcx, _abi.JumpCacheBits, true);
            a.AluRR(Alu.Xor, Rdx, Rcx, true);
            a.AluRI(Alu.And, Rdx, (1 << _abi.JumpCacheBits) - 1, false);
            a.ShiftImm(4, Rdx, ExitContext.JumpCacheEntryShift, false);
            a.Bind(_knownChainExit);
            StoreCached();
            a.CmpRM(Count, Ctx, ExitContext.Budget);
            a.Jcc(Cc.GE, chainLeave);
            a.Load64(Rcx, Ctx, ExitContext.JumpCache);
            a.AluRR(Alu.Add, Rdx, Rcx, true);
            a.CmpRM(Rax, Rdx, ExitContext.EntryPc);
            a.Jcc(Cc.NE, chainLeave);
            a.Load64(Rcx, Rdx, ExitContext.EntryStamp);
            int stampOk = a.NewLabel();
            a.CmpRM32(Rcx, Ctx, ExitContext.Stamp);
            a.Jcc(Cc.E, stampOk);
            a.CmpRM32(Rcx, Ctx, ExitContext.GlobalStamp);
            a.Jcc(Cc.NE, chainLeave);
            a.Bind(stampOk);
            if (extra != 0)
                a.AdjustRsp(extra);
            a.JmpMem(Rdx, ExitContext.EntryCode);
            a.Bind(chainLeave);
            a.StoreImm32(Ctx, ExitContext.ExitKind, (int)CodeExit.Chain);
            a.Jmp(exitStored);

            // The shared exit: rax holds the next pc, the kind is stored; back to the trampoline's caller.
            a.Bind(_exit);
            StoreCached();
            a.Bind(exitStored);
            a.Store64(Ctx, ExitContext.ExitPc, Rax);
            a.MovRR(Rax, Count);
            a.AdjustRsp(FrameSlots * 8 + extra);
            for (int r = CalleeSaved - 1; r >= 0; r--)
                a.Pop(HostRegisters[r]);
            a.Ret();
            if (frameAt >= 0)
                a.PatchInt32(frameAt, extra);
            a.Finish();
            return a.Code;
        }

        /// <summary>Stack slots of the frame every region shares (set up by <see cref="EnterCode"/>).</summary>
        public const int FrameSlots = 32;

        /// <summary>
        /// The entry trampoline, <c>long enter(byte* ctx (rdi), long count (rsi), byte* code (rdx))</c>: pushes the
        /// callee-saved registers (the first six of <see cref="HostRegisters"/>, which regions then use freely),
        /// reserves <see cref="FrameSlots"/> slots (leaving rsp 8 below a 16-byte boundary, as at a function's
        /// entry), loads the fixed registers (r9 count, rsi guest registers, r8 TLB) and jumps to the region.
        /// Regions chain to each other by jumping, so the registers are saved once per entry from the host, not
        /// once per region; a region's exit releases the frame, pops them and returns.
        /// </summary>
        public static byte[] EnterCode()
        {
            var a = new X64Assembler();
            for (int r = 0; r < CalleeSaved; r++)
                a.Push(HostRegisters[r]);
            a.AdjustRsp(-FrameSlots * 8);
            a.MovRR(Count, Rsi);
            a.Load64(Regs, Ctx, ExitContext.Regs);
            a.Load64(Tlb, Ctx, ExitContext.Tlb);
            a.JmpReg(Rdx);
            a.Finish();
            return a.Code.ToArray();
        }

        /// <summary>An upper bound of the stack slots the function takes: its temps with neither a register nor an immediate.</summary>
        private int SpillBound()
        {
            int n = 0;
            for (int t = 0; t < _f.TempCount; t++)
                if (_def[t] >= 0 && !_inline[t] && _uses[t] > 0 && _reg[t] < 0 && _coalesced[t] == Rsp)
                    n++;
            return n;
        }

        /// <summary>Leaves through the shared exit with the next pc in rax: kind, count + <paramref name="completed"/>.</summary>
        private void ExitWith(CodeExit kind, int completed)
        {
            if (kind != CodeExit.Chain)
                _a.StoreImm32(Ctx, ExitContext.ExitKind, (int)kind);   // (a chained exit stores it only if it leaves)
            if (completed != 0)
                _a.AluRI(Alu.Add, Count, completed, true);
            _a.Jmp(kind == CodeExit.Chain ? _chainExit : _exit);
        }

        /// <summary>A chained exit to the constant <paramref name="pc"/>: its jump-cache slot's offset is known now.</summary>
        private void ChainTo(ulong pc, int completed)
        {
            _a.MovImm(Rax, (long)pc);
            if (completed != 0)
                _a.AluRI(Alu.Add, Count, completed, true);
            _a.MovImm(Rdx, ExitContext.JumpCacheIndex(pc, _abi.PcAlignShift, _abi.JumpCacheBits) << ExitContext.JumpCacheEntryShift);
            _a.Jmp(_knownChainExit);
        }

        private static int SlotDisp(int slot) => slot * 8;

        /// <summary>Loads a temp's value into <paramref name="r"/> (I32 temps: the low 32 bits are the value).</summary>
        private void Ld(int temp, Reg r)
        {
            if (_inline[temp])
            {
                ref var d = ref _f.Code[_def[temp]];
                if (d.Op == IrOp.Const)
                    _a.MovImm(r, d.Type == IrType.I32 ? (uint)(int)d.Imm : d.Imm);
                else
                    LoadGuest(r, (int)d.Imm);
                return;
            }
            if (_coalesced[temp] != Rsp)
            {
                if (r != _coalesced[temp])
                    _a.MovRR(r, _coalesced[temp]);
            }
            else if (_reg[temp] >= 0)
                _a.MovRR(r, _tempRegs[_reg[temp]]);
            else if (temp == _spilled && _a.Length == _spilledEnd && _a.LastBind != _a.Length)
            {
                // just stored from a register, and nothing since: take it from there (a label bound in between
                // would be a jump target; valid IR cannot reach one there, as the temp's definition must come
                // first on every path, but the register need not hold it on a jump)
                if (r != _spilledFrom)
                    _a.MovRR(r, _spilledFrom);
            }
            else
                _a.Load64(r, Rsp, SlotDisp(_slot[temp]));
        }

        /// <summary>The temp <see cref="St"/> last stored to its stack slot, the register it came from, and where the store ends.</summary>
        private int _spilled = -1, _spilledEnd = -1;
        private Reg _spilledFrom;

        /// <summary>Stores <paramref name="r"/> as the value of <paramref name="temp"/>.</summary>
        private void St(int temp, Reg r)
        {
            if (_coalesced[temp] != Rsp)
            {
                if (r != _coalesced[temp])
                    _a.MovRR(_coalesced[temp], r);
                return;
            }
            if (_reg[temp] >= 0)
            {
                _a.MovRR(_tempRegs[_reg[temp]], r);
                return;
            }
            if (_uses[temp] == 0)
                return;
            if (_slot[temp] < 0)
                _slot[temp] = _freeSlots.Count > 0 ? _freeSlots.Pop() : _slots++;
            _a.Store64(Rsp, SlotDisp(_slot[temp]), r);
            (_spilled, _spilledFrom, _spilledEnd) = (temp, r, _a.Length);
        }

        private bool W64(int temp) => _f.TypeOf(temp) == IrType.I64;

        /// <summary><paramref name="r"/> = guest register <paramref name="guest"/> (its host register's if cached).</summary>
        private void LoadGuest(Reg r, int guest)
        {
            if (IsCached(guest, out var host))
            {
                if (host != r)
                    _a.MovRR(r, host);
            }
            else
            {
                _a.Load64(r, Regs, guest * 8);
            }
        }

        private void EmitInst(in IrInst i)
        {
            var a = _a;
            System.Diagnostics.Debug.Assert(_pending.Count == 0 || i.IsPure || i.IsExitingDivision
                || i.Op is IrOp.SetReg or IrOp.Load or IrOp.Store or IrOp.CompareAndSwap or IrOp.Retire or IrOp.Label or IrOp.Jump or IrOp.Branch,
                $"x64 backend: deferred register writes pending at {i.Op}");
            switch (i.Op)
            {
                case IrOp.Nop:
                    break;
                case IrOp.SetReg:
                {
                    int reg = (int)i.Imm;
                    if (IsCached(reg, out var host))
                    {
                        if (InReg(i.A, out var value))
                        {
                            if (value != host)
                                a.MovRR(host, value);
                        }
                        else if (IsImm32(i.A, out int imm))
                            a.MovImm(host, imm);
                        else
                            Ld(i.A, host);
                        break;
                    }
                    for (int p = 0; p < _pending.Count; p++)
                    {
                        if (_pending[p].Reg == reg)
                        {
                            _pending.RemoveAt(p);
                            break;
                        }
                    }
                    if (_deferred[_emitting])
                        _pending.Add((reg, i.A));
                    else
                        StoreReg(reg, i.A);
                    break;
                }
                case IrOp.Load: EmitLoad(in i); break;
                case IrOp.Store: EmitStore(in i); break;
                case IrOp.CompareAndSwap: EmitCompareAndSwap(in i); break;
                case IrOp.PageCopy or IrOp.PageFill: EmitPageBulk(in i); break;
                case IrOp.DivS or IrOp.DivU or IrOp.RemS or IrOp.RemU when i.IsExitingDivision:
                    EmitValue(in i);
                    St(i.Dst, Rax);
                    break;
                case IrOp.Call when _abi.HelperCall != 0:
                    EmitHelperCall(in i);
                    break;
                case IrOp.Call:
                {
                    // Helpers (atomics, F/D) run in the engine's interpreter.
                    a.MovImm(Rax, (long)i.GuestPc);
                    ExitWith(CodeExit.Slow, i.Completed);
                    break;
                }
                case IrOp.Label:
                    _pending.Clear();   // (dead here: see FindDeferredWrites)
                    a.Bind(_labels[i.Imm]);
                    break;
                case IrOp.Jump:
                    _pending.Clear();
                    if (!FallsInto(in i) && !(_emitting > 0 && _f.Code[_emitting - 1].Op == IrOp.ExitIfBudget))
                        a.Jmp(_labels[i.Imm]);
                    break;
                case IrOp.Branch:
                    _pending.Clear();
                    CompareOperands(i.A, i.B);
                    a.Jcc(CcOf(i.Cond), _labels[i.Imm]);
                    break;
                case IrOp.Retire:
                    a.AluRI(Alu.Add, Count, (int)i.Imm, true);
                    break;
                case IrOp.ExitIfBudget:
                {
                    // (a loop's back edge: with budget left, straight to the jump's label)
                    bool toJump = _emitting + 1 < _f.Code.Length && _f.Code[_emitting + 1].Op == IrOp.Jump;
                    int stay = toJump ? _labels[_f.Code[_emitting + 1].Imm] : a.NewLabel();
                    a.CmpRM(Count, Ctx, ExitContext.Budget);
                    a.Jcc(Cc.L, stay);
                    a.MovImm(Rax, i.Imm);
                    ExitWith(CodeExit.Chain, 0);
                    if (!toJump)
                        a.Bind(stay);
                    break;
                }
                case IrOp.Exit:
                {
                    if (i.A < 0 && i.Kind == CodeExit.Chain)
                    {
                        ChainTo((ulong)i.Imm, i.Completed);
                        break;
                    }
                    if (i.A >= 0)
                        Ld(i.A, Rax);
                    else
                        a.MovImm(Rax, i.Imm);
                    ExitWith(i.Kind, i.Completed);
                    break;
                }
                default:
                    if (!i.IsPure)
                        throw new NotSupportedException($"x64 backend: {i.Op}");
                    if (EmitInPlace(in i))
                        break;
                    EmitValue(in i);
                    St(i.Dst, Rax);
                    break;
            }
        }

        /// <summary>Guest register <paramref name="reg"/> = <paramref name="temp"/> in the register file.</summary>
        private void StoreReg(int reg, int temp)
        {
            if (InReg(temp, out var value))
                _a.Store64(Regs, reg * 8, value);
            else if (IsImm32(temp, out int imm))
                _a.StoreImm64(Regs, reg * 8, imm);
            else
            {
                Ld(temp, Rax);
                _a.Store64(Regs, reg * 8, Rax);
            }
        }

        /// <summary>An out-of-line exit to the interpreter that first stores the writes deferred so far.</summary>
        private void AddSlowStub(int label, ulong pc, int completed, CodeExit kind)
        {
            _slowStubs.Add((label, pc, completed, kind, _stubWrites.Count, _pending.Count));
            _stubWrites.AddRange(_pending);
        }

        /// <summary>
        /// Marks the SetRegs to defer (see <see cref="_deferred"/>), in one backward sweep, and keeps
        /// each one's value alive until the write that overwrites it (slow paths before it store it).
        /// A value read from the register file at its use (an inline GetReg) is never deferred.
        /// </summary>
        private void FindDeferredWrites(Span<IrInst> code)
        {
            ScratchArray.Ensure(ref _deferred, code.Length);
            Array.Clear(_deferred, 0, code.Length);
            int regs = _f.GuestRegisterCount;
            ScratchArray.Ensure(ref _nextWrite, regs);
            Array.Fill(_nextWrite, -1, 0, regs);
            FindLabelKills(code);
            // clean[r]: from here on, r is written before anything reads it or could leave (not even a slow path)
            var clean = ScratchArray.Ensure(ref _cleanScratch, regs);
            Array.Clear(clean, 0, regs);
            for (int k = code.Length - 1; k >= 0; k--)
            {
                ref var i = ref code[k];
                switch (i.Op)
                {
                    // A write still pending at a label, jump or branch is dead if every block it flows into
                    // overwrites the register before it reads it or could leave (see FindLabelKills): it is
                    // dropped there (slow paths before it still store it).
                    case IrOp.Label or IrOp.Jump:
                        for (int r = 0; r < regs; r++)
                        {
                            clean[r] = _labelKills[(int)i.Imm * regs + r];
                            _nextWrite[r] = clean[r] ? k : -1;
                        }
                        break;
                    case IrOp.Branch:
                        for (int r = 0; r < regs; r++)
                        {
                            clean[r] &= _labelKills[(int)i.Imm * regs + r];
                            _nextWrite[r] = clean[r] ? k : -1;
                        }
                        break;
                    case IrOp.SetReg:
                    {
                        int r = (int)i.Imm;
                        if (IsCached(r, out _))
                            break;   // a register move, stored at the exits
                        int next = _nextWrite[r];
                        if (next >= 0 && !(_inline[i.A] && code[_def[i.A]].Op == IrOp.GetReg))
                        {
                            _deferred[k] = true;
                            if (!_inline[i.A] && _lastUse[i.A] < next)
                                _lastUse[i.A] = next;
                        }
                        _nextWrite[r] = k;
                        clean[r] = true;
                        break;
                    }
                    case IrOp.GetReg:
                        _nextWrite[(int)i.Imm] = -1;
                        clean[(int)i.Imm] = false;
                        break;
                    case IrOp.Retire:
                        break;
                    case IrOp.Load or IrOp.Store or IrOp.CompareAndSwap:
                        Array.Clear(clean, 0, regs);
                        break;   // their slow paths store what is pending
                    case IrOp.DivS or IrOp.DivU or IrOp.RemS or IrOp.RemU:
                        if (i.IsExitingDivision)
                            Array.Clear(clean, 0, regs);
                        break;   // pure, or an exiting division: its exit is a slow stub too
                    default:
                        if (!i.IsPure)
                        {
                            Array.Fill(_nextWrite, -1, 0, regs);   // exits, helper calls
                            Array.Clear(clean, 0, regs);
                        }
                        break;
                }
            }
        }

        /// <summary>Per label and guest register: the block the label starts writes the register before anything reads it or could leave.</summary>
        private bool[] _labelKills = [];

        /// <summary>
        /// Fills <see cref="_labelKills"/>: from each label forward, the registers set before any read of them and before
        /// anything that could leave the function (a load's or store's slow path, a helper, an exit, the budget check) or
        /// the block's end. Such a register's value at the label is never seen, so a write pending there is dead.
        /// </summary>
        private void FindLabelKills(Span<IrInst> code)
        {
            int regs = _f.GuestRegisterCount;
            int size = _f.LabelCount * regs;
            ScratchArray.Ensure(ref _labelKills, size);
            Array.Clear(_labelKills, 0, size);
            Passes.DeadRegisterWrites.FindLabelKills(code, regs, _labelKills, ScratchArray.Ensure(ref _readScratch, regs));
        }

        private bool[] _readScratch = [], _cleanScratch = [];

        /// <summary>True if the jump's label is the next instruction (labels are only bound, so nothing lies between).</summary>
        private bool FallsInto(in IrInst jump)
        {
            var code = _f.Code;
            int k = _emitting + 1;
            while (k < code.Length && code[k].Op == IrOp.Label)
            {
                if (code[k].Imm == jump.Imm)
                    return true;
                k++;
            }
            return false;
        }

        private static Cc CcOf(IrCondition cond) => cond switch
        {
            IrCondition.Eq => Cc.E,
            IrCondition.Ne => Cc.NE,
            IrCondition.LtS => Cc.L,
            IrCondition.GeS => Cc.GE,
            IrCondition.LtU => Cc.B,
            _ => Cc.AE,
        };

        /// <summary>True (and the register) if <paramref name="temp"/> lives in a host register.</summary>
        private bool InReg(int temp, out Reg r)
        {
            r = _coalesced[temp];
            if (r != Rsp)
                return true;
            if (!_inline[temp] && _reg[temp] >= 0)
            {
                r = _tempRegs[_reg[temp]];
                return true;
            }
            if (_inline[temp] && _f.Code[_def[temp]].Op == IrOp.GetReg && IsCached((int)_f.Code[_def[temp]].Imm, out r))
                return true;   // read in place: nothing writes it before the temp's last use
            r = Rax;
            return false;
        }

        /// <summary>True (and the value) if <paramref name="temp"/> is a constant that a sign-extended 32-bit immediate gives (an I32 one always does).</summary>
        private bool IsImm32(int temp, out int imm)
        {
            imm = 0;
            if (!_inline[temp])
                return false;
            ref var d = ref _f.Code[_def[temp]];
            if (d.Op != IrOp.Const || (d.Type == IrType.I64 && d.Imm != (int)d.Imm))
                return false;
            imm = (int)d.Imm;
            return true;
        }

        /// <summary>The register a result is computed in: its own, or rax (then stored) if it has none.</summary>
        private Reg Home(int temp) => InReg(temp, out var r) ? r : Rax;

        /// <summary>Moves <paramref name="temp"/> into <paramref name="r"/> unless it is there.</summary>
        private void LdTo(int temp, Reg r)
        {
            if (!(InReg(temp, out var at) && at == r))
                Ld(temp, r);
        }

        /// <summary>cmp a, b (the width of a), from where they are.</summary>
        private void CompareOperands(int ta, int tb)
        {
            bool w = W64(ta);
            if (!InReg(ta, out var ra))
            {
                Ld(ta, Rax);
                ra = Rax;
            }
            if (IsImm32(tb, out int imm))
            {
                if (imm == 0)
                    _a.Test(ra, ra, w);   // the same flags as cmp 0 for every condition here
                else
                    _a.AluRI(Alu.Cmp, ra, imm, w);
            }
            else if (InReg(tb, out var rb))
            {
                _a.AluRR(Alu.Cmp, ra, rb, w);
            }
            else
            {
                Ld(tb, Rcx);
                _a.AluRR(Alu.Cmp, ra, Rcx, w);
            }
        }

        /// <summary>
        /// The common ops computed straight into the result's register (two-address: the first
        /// operand is moved there unless it is there already, the second is an immediate or a
        /// register): false for the rest, which go through rax.
        /// </summary>
        private bool EmitInPlace(in IrInst i)
        {
            var a = _a;
            bool w = i.Type == IrType.I64;
            Reg d = Home(i.Dst);
            switch (i.Op)
            {
                case IrOp.Add when _scale[_emitting] != 0:
                {
                    if (!InReg(i.A, out var ra))
                    {
                        Ld(i.A, Rax);
                        ra = Rax;
                    }
                    if (!InReg(i.B, out var rx))
                    {
                        Ld(i.B, Rcx);
                        rx = Rcx;
                    }
                    a.LeaScaled(d, ra, rx, _scale[_emitting], w);
                    break;
                }
                case IrOp.Add or IrOp.Sub or IrOp.And or IrOp.Or or IrOp.Xor:
                {
                    var op = i.Op switch { IrOp.Add => Alu.Add, IrOp.Sub => Alu.Sub, IrOp.And => Alu.And, IrOp.Or => Alu.Or, _ => Alu.Xor };
                    if (w && i.Op == IrOp.And && _inline[i.B] && _f.Code[_def[i.B]].Op == IrOp.Const && _f.Code[_def[i.B]].Imm == 0xFFFF_FFFF)
                    {
                        // mov r32, r32 zero-extends (as a 32-bit load of a guest register from the register file)
                        if (!InReg(i.A, out var src))
                        {
                            if (_inline[i.A] && _f.Code[_def[i.A]].Op == IrOp.GetReg)
                            {
                                a.LoadSized(d, Regs, (int)_f.Code[_def[i.A]].Imm * 8, 4, false);
                                break;
                            }
                            Ld(i.A, d);
                            src = d;
                        }
                        a.MovRR(d, src, w64: false);
                        break;
                    }
                    int x = i.A, y = i.B;
                    if (InReg(y, out var rb) && rb == d && x != y)
                    {
                        if (i.Op == IrOp.Sub)
                            d = Rax;   // the result took B's register: compute aside
                        else
                            (x, y) = (y, x);   // (commutative: d op= A)
                    }
                    LdTo(x, d);
                    if (IsImm32(y, out int imm))
                        a.AluRI(op, d, imm, w);
                    else if (InReg(y, out rb))
                        a.AluRR(op, d, rb, w);
                    else
                    {
                        Ld(y, Rcx);
                        a.AluRR(op, d, Rcx, w);
                    }
                    break;
                }
                case IrOp.Shl or IrOp.ShrU or IrOp.ShrS when IsImm32(i.B, out int count):
                    LdTo(i.A, d);
                    count &= w ? 63 : 31;
                    if (count != 0)
                        a.ShiftImm(i.Op == IrOp.Shl ? 4 : i.Op == IrOp.ShrU ? 5 : 7, d, count, w);
                    break;
                case IrOp.ExtendU or IrOp.ExtendS or IrOp.Wrap:
                {
                    if (!InReg(i.A, out var src))
                    {
                        Ld(i.A, d);
                        src = d;
                    }
                    if (i.Op == IrOp.ExtendU)
                    {
                        if (src != d || !ZeroExtended(i.A))
                            a.MovRR(d, src, w64: false);
                    }
                    else if (i.Op == IrOp.ExtendS)
                        a.Movsxd(d, src);
                    else if (src != d)
                        a.MovRR(d, src);
                    break;
                }
                case IrOp.GetReg:
                    LoadGuest(d, (int)i.Imm);
                    break;
                default:
                    return false;
            }
            if (d != Home(i.Dst) || !InReg(i.Dst, out _))
                St(i.Dst, d);
            return true;
        }

        /// <summary>Computes a pure op into rax.</summary>
        private void EmitValue(in IrInst i)
        {
            var a = _a;
            bool w = i.Type == IrType.I64;
            switch (i.Op)
            {
                case IrOp.GetReg: LoadGuest(Rax, (int)i.Imm); break;
                case IrOp.Add: Binary(in i, Alu.Add); break;
                case IrOp.Sub: Binary(in i, Alu.Sub); break;
                case IrOp.And: Binary(in i, Alu.And); break;
                case IrOp.Or: Binary(in i, Alu.Or); break;
                case IrOp.Xor: Binary(in i, Alu.Xor); break;
                case IrOp.Mul:
                    Ld(i.A, Rax);
                    Ld(i.B, Rcx);
                    a.Imul(Rax, Rcx, w);
                    break;
                case IrOp.Shl: Shift(in i, 4); break;
                case IrOp.ShrU: Shift(in i, 5); break;
                case IrOp.ShrS: Shift(in i, 7); break;
                case IrOp.RotL: Shift(in i, 0); break;
                case IrOp.RotR: Shift(in i, 1); break;
                case IrOp.Clz:
                    // bsr gives 63 - clz (31 - clz); for 0, 127 (63) ^ 63 (31) = 64 (32)
                    Ld(i.A, Rcx);
                    a.BitScan(true, Rax, Rcx, w);
                    a.MovImm(Rdx, w ? 127 : 63);
                    a.Cmov(Cc.E, Rax, Rdx);
                    a.AluRI(Alu.Xor, Rax, w ? 63 : 31, false);
                    break;
                case IrOp.Ctz:
                    Ld(i.A, Rcx);
                    a.BitScan(false, Rax, Rcx, w);
                    a.MovImm(Rdx, w ? 64 : 32);
                    a.Cmov(Cc.E, Rax, Rdx);
                    break;
                case IrOp.Popcnt:
                    if (!System.Runtime.Intrinsics.X86.Popcnt.IsSupported)
                        throw new NotSupportedException("x64 backend: popcnt on a host without POPCNT");
                    Ld(i.A, Rcx);
                    a.Popcnt(Rax, Rcx, w);
                    break;
                case IrOp.ByteSwap:
                    Ld(i.A, Rax);
                    a.Bswap(Rax, w);
                    break;
                case IrOp.Parity:
                    Ld(i.A, Rax);
                    a.TestByte(Rax);
                    a.SetccZx(Cc.P, Rax);
                    break;
                case IrOp.AddOverflow:
                case IrOp.SubOverflow:
                    Ld(i.A, Rax);
                    Ld(i.B, Rcx);
                    a.AluRR(i.Op == IrOp.AddOverflow ? Alu.Add : Alu.Sub, Rax, Rcx, w);
                    a.SetccZx(Cc.O, Rax);
                    break;
                case IrOp.MulHighS:
                case IrOp.MulHighU:
                case IrOp.MulHighSU:
                    MulHigh(in i);
                    break;
                case IrOp.DivS:
                case IrOp.DivU:
                case IrOp.RemS:
                case IrOp.RemU:
                    Divide(in i);
                    break;
                case IrOp.Compare:
                    Ld(i.A, Rax);
                    Ld(i.B, Rcx);
                    a.AluRR(Alu.Cmp, Rax, Rcx, W64(i.A));
                    a.SetccZx(CcOf(i.Cond), Rax);
                    break;
                case IrOp.Select:
                    Ld(i.B, Rax);
                    Ld(i.C, Rcx);
                    Ld(i.A, Rdx);
                    a.Test(Rdx, Rdx, W64(i.A));
                    a.Cmov(Cc.E, Rax, Rcx);
                    break;
                case IrOp.Wrap:
                    Ld(i.A, Rax);
                    break;
                case IrOp.ExtendS:
                    Ld(i.A, Rax);
                    a.Movsxd(Rax, Rax);
                    break;
                case IrOp.ExtendU:
                    Ld(i.A, Rax);
                    a.MovRR(Rax, Rax, w64: false);
                    break;
                default:
                    throw new NotSupportedException($"x64 backend: value of {i.Op}");
            }
        }

        private void Binary(in IrInst i, Alu op)
        {
            bool w = i.Type == IrType.I64;
            Ld(i.A, Rax);
            if (_inline[i.B] && _f.Code[_def[i.B]].Op == IrOp.Const && _f.Code[_def[i.B]].Imm == (int)_f.Code[_def[i.B]].Imm)
            {
                _a.AluRI(op, Rax, (int)_f.Code[_def[i.B]].Imm, w);
                return;
            }
            Ld(i.B, Rcx);
            _a.AluRR(op, Rax, Rcx, w);
        }

        private void Shift(in IrInst i, int ext)
        {
            // x86 shifts take the count modulo the operand width, as the IR does.
            Ld(i.A, Rax);
            Ld(i.B, Rcx);
            _a.ShiftCl(ext, Rax, i.Type == IrType.I64);
        }

        private void MulHigh(in IrInst i)
        {
            var a = _a;
            if (i.Type == IrType.I32)
            {
                Ld(i.A, Rax);
                if (i.Op == IrOp.MulHighU) a.MovRR(Rax, Rax, w64: false); else a.Movsxd(Rax, Rax);
                Ld(i.B, Rcx);
                if (i.Op == IrOp.MulHighS) a.Movsxd(Rcx, Rcx); else a.MovRR(Rcx, Rcx, w64: false);
                a.Imul(Rax, Rcx, true);
                a.ShiftImm(7, Rax, 32, true);   // the low 32 bits of the result are the same either way
                return;
            }
            Ld(i.A, Rax);
            Ld(i.B, Rcx);
            if (i.Op == IrOp.MulHighSU)
            {
                // unsigned high product, minus b if a is negative
                a.MovRR(Rdx, Rax);
                a.ShiftImm(7, Rdx, 63, true);      // sar rdx, 63
                a.AluRR(Alu.And, Rdx, Rcx, true);  // b if a < 0
                a.Push(Rdx);                       // (no stack slot is touched until the pop)
                a.Group3(4, Rcx, true);            // mul rcx: rdx:rax = rax * rcx
                a.Pop(Rcx);
                a.AluRR(Alu.Sub, Rdx, Rcx, true);
            }
            else
            {
                a.Group3(i.Op == IrOp.MulHighS ? 5 : 4, Rcx, true);
            }
            a.MovRR(Rax, Rdx);
        }

        /// <summary>Total division (RISC-V results for /0 and MIN/-1) around x86's faulting divide.</summary>
        private void Divide(in IrInst i)
        {
            var a = _a;
            bool w = i.Type == IrType.I64;
            bool rem = i.Op is IrOp.RemS or IrOp.RemU;
            bool signed = i.Op is IrOp.DivS or IrOp.RemS;
            int zero = a.NewLabel(), done = a.NewLabel();
            Ld(i.A, Rax);
            Ld(i.B, Rcx);
            if (i.Division == IrDivision.Exit)
            {
                // /0 and MIN / -1 leave for the interpreter, which raises the guest's exception
                int exit = a.NewLabel();
                AddSlowStub(exit, i.GuestPc, i.Completed, CodeExit.Interpret);
                a.Test(Rcx, Rcx, w);
                a.Jcc(Cc.E, exit);
                if (signed)
                {
                    int fine = a.NewLabel();
                    a.AluRI(Alu.Cmp, Rcx, -1, w);
                    a.Jcc(Cc.NE, fine);
                    a.MovImm(Rdx, w ? long.MinValue : 0x8000_0000L);
                    a.AluRR(Alu.Cmp, Rax, Rdx, w);
                    a.Jcc(Cc.E, exit);
                    a.Bind(fine);
                }
            }
            a.Test(Rcx, Rcx, w);
            a.Jcc(Cc.E, zero);
            if (signed)
            {
                int normal = a.NewLabel();
                a.AluRI(Alu.Cmp, Rcx, -1, w);
                a.Jcc(Cc.NE, normal);
                if (rem)
                    a.AluRR(Alu.Xor, Rax, Rax, false);   // x % -1 = 0
                else
                    a.Group3(3, Rax, w);                 // x / -1 = -x (MIN stays MIN)
                a.Jmp(done);
                a.Bind(normal);
                a.SignExtendAcc(w);
                a.Group3(7, Rcx, w);                     // idiv
            }
            else
            {
                a.AluRR(Alu.Xor, Rdx, Rdx, false);
                a.Group3(6, Rcx, w);                     // div
            }
            if (rem)
                a.MovRR(Rax, Rdx);
            a.Jmp(done);
            a.Bind(zero);
            if (!rem)
                a.MovImm(Rax, -1);                       // x / 0 = all ones; x % 0 = x (rax already)
            a.Bind(done);
        }

        /// <summary>
        /// Calls the guest's native helper entry (<see cref="GuestCodeAbi.HelperCall"/>) with the
        /// arguments in the exit context; the five fixed registers and r11 (a temp's) are caller-saved, so
        /// they are pushed around it, with 8 bytes of padding (the frame leaves rsp 8 below a 16-byte boundary).
        /// A 0 result leaves with a stop at the pc the helper wrote.
        /// </summary>
        private void EmitHelperCall(in IrInst i)
        {
            var a = _a;
            if (i.A >= 0) { Ld(i.A, Rax); a.Store64(Ctx, ExitContext.HelperA, Rax); }
            if (i.B >= 0) { Ld(i.B, Rax); a.Store64(Ctx, ExitContext.HelperB, Rax); }
            a.MovImm(Rax, i.Imm);
            a.Store64(Ctx, ExitContext.HelperImm, Rax);
            a.MovImm(Rax, i.Helper);
            a.Store64(Ctx, ExitContext.HelperIndex, Rax);
            a.MovImm(Rax, (long)i.GuestPc);
            a.Store64(Ctx, ExitContext.HelperPc, Rax);
            a.MovRR(Rax, Count);
            if (i.Completed != 0)
                a.AluRI(Alu.Add, Rax, i.Completed, true);
            a.Store64(Ctx, ExitContext.HelperRetired, Rax);
            StoreCached();
            CallHelperEntry();
            LoadCached();   // the helper may have written any register (and on failure the exit stores them back unchanged)
            int ok = a.NewLabel();
            a.Test(Rax, Rax, false);
            a.Jcc(Cc.NE, ok);
            a.Load64(Rax, Ctx, ExitContext.ExitPc);
            ExitWith(CodeExit.Stop, i.Completed);
            a.Bind(ok);
        }

        /// <summary>
        /// <see cref="IrOp.PageCopy"/> and <see cref="IrOp.PageFill"/>: a call of their meaning
        /// (<see cref="PageBulk"/>) with the operands in the exit context's helper slots, as a helper
        /// call's; they touch no guest register, so the cached ones stay where they are.
        /// </summary>
        private void EmitPageBulk(in IrInst i)
        {
            var a = _a;
            Ld(i.A, Rax); a.Store64(Ctx, ExitContext.HelperA, Rax);
            Ld(i.B, Rax); a.Store64(Ctx, ExitContext.HelperB, Rax);
            Ld(i.C, Rax); a.Store64(Ctx, ExitContext.HelperImm, Rax);
            a.MovImm(Rax, i.Size);
            a.Store64(Ctx, ExitContext.HelperIndex, Rax);
            a.MovImm(Rax, PageBulk.Pack(_abi.Tlb));
            a.Store64(Ctx, ExitContext.HelperPc, Rax);
            a.Store64(Ctx, ExitContext.HelperRetired, Tlb);
            CallHelperEntry(i.Op == IrOp.PageCopy ? PageBulk.CopyFromCode : PageBulk.FillFromCode);
            St(i.Dst, Rax);
        }

        /// <summary>Calls <see cref="GuestCodeAbi.HelperCall"/> (its arguments are in the exit context); the result in eax.</summary>
        private void CallHelperEntry() => CallHelperEntry(_abi.HelperCall);

        /// <summary>Calls the native function <paramref name="target"/>(ctx), saving what it may clobber; the result in rax.</summary>
        private void CallHelperEntry(nint target)
        {
            var a = _a;
            // six pushes and 8 bytes of padding keep the call 16-byte aligned
            a.Push(Ctx); a.Push(Regs); a.Push(Tlb); a.Push(Count); a.Push(R10); a.Push(R11);
            a.AdjustRsp(-8);
            a.MovImm(Rax, target);
            a.CallReg(Rax);
            a.AdjustRsp(8);
            a.Pop(R11); a.Pop(R10); a.Pop(Count); a.Pop(Tlb); a.Pop(Regs); a.Pop(Ctx);
        }

        /// <summary>
        /// va = A + Imm (A's own register when Imm is 0, else rax); exits to the slow path unless the
        /// TLB tag matches; leaves the entry's addend in rcx (the host address is rcx + va) and
        /// returns va's register. rdx is free afterwards.
        /// </summary>
        private Reg EmitTlbProbe(in IrInst i, int tagOffset)
        {
            var a = _a;
            int retry = a.NewLabel();
            a.Bind(retry);
            Reg va;
            if (InReg(i.A, out var ra) && i.Imm == 0)
            {
                va = ra;
            }
            else if (InReg(i.A, out ra) && i.Imm == (int)i.Imm)
            {
                a.Lea(Rax, ra, (int)i.Imm);
                va = Rax;
            }
            else
            {
                va = Rax;
                Ld(i.A, Rax);
                if (i.Imm == (int)i.Imm)
                {
                    if (i.Imm != 0)
                        a.AluRI(Alu.Add, Rax, (int)i.Imm, true);
                }
                else
                {
                    a.MovImm(Rcx, i.Imm);
                    a.AluRR(Alu.Add, Rax, Rcx, true);
                }
            }
            // ((va >> PageBits) & IndexMask) << EntryShift, as (va >> (PageBits - EntryShift)) & (IndexMask << EntryShift)
            // (with BMI2 a rotate into rdx: the bits it brings round to the top are masked off)
            if (_bmi2)
            {
                a.Rorx(Rdx, va, _abi.Tlb.PageBits - _abi.Tlb.EntryShift);
            }
            else
            {
                a.MovRR(Rdx, va);
                a.ShiftImm(5, Rdx, _abi.Tlb.PageBits - _abi.Tlb.EntryShift, true);
            }
            a.AluRI(Alu.And, Rdx, (int)(_abi.Tlb.IndexMask << _abi.Tlb.EntryShift), false);
            // One compare: page tag, and (for sizes > 1) natural alignment or no page crossing.
            long probeOffset = _abi.Tlb.ProbeOffset(i.Size, i.Op == IrOp.CompareAndSwap);
            if (probeOffset != 0)
                a.Lea(Rcx, va, (int)probeOffset);
            else
                a.MovRR(Rcx, va);
            a.AluRI(Alu.And, Rcx, (int)_abi.Tlb.ProbeMask(i.Size, i.Op == IrOp.CompareAndSwap), true);
            a.CmpRMIndexed(Rcx, Tlb, Rdx, tagOffset);   // [tlb + index]: no add on the way to the addend
            int slow = a.NewLabel();
            AddSlowStub(slow, i.GuestPc, i.Completed, CodeExit.Slow);
            if (_abi.TlbFillHelper >= 0)
            {
                // a miss first asks the helper to refill the entry (no exit), then probes again
                int fill = a.NewLabel();
                _fillStubs.Add((fill, retry, slow, va, GuestCodeAbi.TlbFillKind(i.Size, i.Op != IrOp.Load, i.Op == IrOp.CompareAndSwap)));
                a.Jcc(Cc.NE, fill);
            }
            else
            {
                a.Jcc(Cc.NE, slow);
            }
            a.Load64Indexed(Rcx, Tlb, Rdx, _abi.Tlb.AddendOffset);
            return va;
        }

        private void EmitLoad(in IrInst i)
        {
            Reg va = EmitTlbProbe(in i, _abi.Tlb.ReadTagOffset);
            Reg d = i.HasDst ? Home(i.Dst) : Rax;
            _a.LoadSizedIndexed(d, Rcx, va, i.Size, i.Signed);
            if (i.HasDst && d == Rax)
                St(i.Dst, Rax);
        }

        private void EmitStore(in IrInst i)
        {
            Reg va = EmitTlbProbe(in i, _abi.Tlb.WriteTagOffset);
            if (!InReg(i.B, out var value))
            {
                Ld(i.B, Rdx);
                value = Rdx;
            }
            _a.StoreSizedIndexed(Rcx, va, value, i.Size);
        }

        /// <summary>Through the write tag (a page stores may reach directly is RAM, not code); lock cmpxchg; the old value zero-extended.</summary>
        private void EmitCompareAndSwap(in IrInst i)
        {
            Reg va = EmitTlbProbe(in i, _abi.Tlb.WriteTagOffset);
            _a.AluRR(Alu.Add, Rcx, va, true);
            Ld(i.B, Rax);
            Ld(i.C, Rdx);
            _a.LockCmpxchg(Rcx, 0, Rdx, i.Size);
            _a.ZeroExtend(Rax, i.Size);
            St(i.Dst, Rax);
        }
    }
}
