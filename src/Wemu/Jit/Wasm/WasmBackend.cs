using Wemu.Jit.Ir;
using static Wemu.Jit.Wasm.WasmOp;

namespace Wemu.Jit.Wasm;

/// <summary>
/// Compiles an <see cref="IrFunction"/> to a WebAssembly module exporting one function
/// <c>f(ctx: i32, count: i32) -> i32</c> (<see cref="ExitContext"/> at <c>ctx</c>; returns the
/// instructions retired, <c>count</c> included). The module imports the host's memory as
/// <c>m.h</c> (guest registers, TLB and guest RAM are all linear memory) and, when chaining, its
/// function table as <c>m.t</c>.
/// <para>
/// Guest registers live in wasm locals (loaded at entry, stored at the one shared exit). Control
/// flow: the IR's labels cut the code into segments laid out in order inside nested blocks in a
/// loop; a forward jump is a <c>br</c> to the end of the block before its target, a backward jump
/// goes round the loop through a <c>br_table</c> on a label local. Loads and stores probe the soft
/// TLB inline (one compare covers page, permission and alignment); everything IL does with a call
/// (slow paths, helpers) is an exit with <see cref="CodeExit.Slow"/>, whose instruction the host
/// interprets: generated wasm cannot call the host. A chained exit (<see cref="CodeExit.Chain"/>)
/// looks the next pc up in the jump cache and, if its function is there and the budget allows,
/// tail-calls it through the function table without returning to the host.
/// </para>
/// </summary>
public static class WasmBackend
{
    private const int ArgCtx = 0, ArgCount = 1;
    private const int FuncMain = 0, FuncMulHighU = 1;

    /// <summary>
    /// Or-ed into a region's exit kind (inside the region only) where it stops at an instruction it does not run (a
    /// helper call, an untranslated instruction): with <see cref="ExitContext.ColdCode"/> set, that code is tail-called at
    /// the instruction with the count complemented (<c>~count</c>), and tries it before leaving for the host.
    /// </summary>
    private const int ColdFlag = 4;

    /// <summary>Compiles <paramref name="f"/> (after <see cref="Passes.IrPipeline"/>) to module bytes.</summary>
    public static byte[] Compile(IrFunction f, GuestCodeAbi abi, bool chain = true)
    {
        var body = new Emitter(f, abi, chain).Emit();
        return Module(chain, (body, 0), (MulHighUBody(), 1));
    }

    /// <summary>
    /// A module of <paramref name="functions"/> (each a body and its type: 0 = (i32, i32) -> i32, 1 = (i64, i64) -> i64)
    /// importing the host's memory as <c>m.h</c> and, with <paramref name="table"/>, its function table as <c>m.t</c>;
    /// the first function is exported as <c>f</c>. (The RISC-V interpreter in wasm is built with it too.)
    /// </summary>
    internal static byte[] Module(bool table, params (WasmWriter Body, int Type)[] functions)
    {
        var m = new WasmWriter(functions.Sum(f => f.Body.Length) + 128);
        m.Bytes([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]);
        var s = new WasmWriter();

        s.U32(2);
        s.Bytes([FuncType, 2, TypeI32, TypeI32, 1, TypeI32]);
        s.Bytes([FuncType, 2, TypeI64, TypeI64, 1, TypeI64]);
        m.Section(1, s);

        // imports: m.h memory (min 1 page, no max), m.t function table
        s.Clear();
        s.U32(table ? 2u : 1u);
        s.Name("m"); s.Name("h"); s.Byte(0x02); s.Byte(0x00); s.U32(1);
        if (table)
        {
            s.Name("m"); s.Name("t"); s.Byte(0x01); s.Byte(TypeFuncRef); s.Byte(0x00); s.U32(0);
        }
        m.Section(2, s);

        s.Clear();
        s.U32((uint)functions.Length);
        foreach (var (_, type) in functions)
            s.U32((uint)type);
        m.Section(3, s);

        s.Clear();
        s.U32(1); s.Name("f"); s.Byte(0x00); s.U32(FuncMain);
        m.Section(7, s);

        s.Clear();
        s.U32((uint)functions.Length);
        foreach (var (body, _) in functions)
        {
            s.U32((uint)body.Length);
            s.Bytes(body.Written);
        }
        m.Section(10, s);
        return m.ToArray();
    }

    /// <summary>
    /// Pushes the high 64 bits of the 128-bit product of i64 locals <paramref name="a"/> and <paramref name="b"/> (each
    /// signed if <paramref name="signedA"/>, <paramref name="signedB"/>; a signed b needs a signed a) through
    /// <see cref="MulHighUBody"/> (function 1 of the module): signed x signed is hu - (a &lt; 0 ? b : 0) - (b &lt; 0 ? a : 0);
    /// signed x unsigned, hu - (a &lt; 0 ? b : 0).
    /// </summary>
    internal static void MulHigh64(WasmWriter w, int a, int b, bool signedA, bool signedB)
    {
        void Get(int l) { w.Byte(LocalGet); w.U32((uint)l); }
        void Correct(int negative, int other)
        {
            Get(negative); w.Byte(I64Const); w.S64(63); w.Byte(I64ShrS); Get(other); w.Byte(I64And); w.Byte(I64Sub);
        }
        Get(a); Get(b);
        w.Byte(Call); w.U32(FuncMulHighU);
        if (signedA)
            Correct(a, b);
        if (signedB)
            Correct(b, a);
    }

    /// <summary>The high 64 bits of the unsigned 128-bit product, from 32-bit halves (wasm has no wide multiply).</summary>
    internal static WasmWriter MulHighUBody()
    {
        var w = new WasmWriter();
        // params a=0, b=1; locals: 2 = ll, 3 = lh, 4 = hl, 5 = hh (i64)
        w.U32(1); w.U32(4); w.Byte(TypeI64);
        void Half(int p, bool high) { w.Byte(LocalGet); w.U32((uint)p); if (high) { w.Byte(I64Const); w.S64(32); w.Byte(I64ShrU); } else { w.Byte(I64Const); w.S64(0xFFFF_FFFF); w.Byte(I64And); } }
        void Product(int dst, bool aHigh, bool bHigh) { Half(0, aHigh); Half(1, bHigh); w.Byte(I64Mul); w.Byte(LocalSet); w.U32((uint)dst); }
        void Get(int l) { w.Byte(LocalGet); w.U32((uint)l); }
        void Shr32() { w.Byte(I64Const); w.S64(32); w.Byte(I64ShrU); }
        void Low32() { w.Byte(I64Const); w.S64(0xFFFF_FFFF); w.Byte(I64And); }
        Product(2, false, false);
        Product(3, false, true);
        Product(4, true, false);
        Product(5, true, true);
        // hh + (lh >> 32) + (hl >> 32) + (((ll >> 32) + (lh & M) + (hl & M)) >> 32)
        Get(5);
        Get(3); Shr32(); w.Byte(I64Add);
        Get(4); Shr32(); w.Byte(I64Add);
        Get(2); Shr32();
        Get(3); Low32(); w.Byte(I64Add);
        Get(4); Low32(); w.Byte(I64Add);
        Shr32();
        w.Byte(I64Add);
        w.Byte(End);
        return w;
    }

    private sealed class Emitter
    {
        private readonly IrFunction _f;
        private readonly GuestCodeAbi _abi;
        private readonly bool _chain;
        private readonly WasmWriter _w = new(1024);
        private readonly List<byte> _localTypes = [];
        private readonly int[] _regs;
        private readonly int[] _usedRegs;
        private readonly int[] _writtenRegs;
        private readonly int[] _segmentOf;   // label -> segment
        private readonly int _segments;
        private int _segment;                // segment being emitted
        private int _nest;                   // structured blocks opened inside the current segment
        private readonly int _regsBase, _tlb, _budget, _exitPc, _exitKind, _va, _entry, _label, _stamp;

        // Temps, as in the IL backend: a single-use pure temp with nothing in between that could
        // change what it reads is emitted as an expression at its use; others get locals, reused
        // once their last use has passed.
        private readonly int[] _def;
        private readonly bool[] _inline;
        private readonly int[] _temps;
        private readonly List<int>?[] _releaseAt;
        private readonly Stack<int> _free32 = new(), _free64 = new();

        public Emitter(IrFunction f, GuestCodeAbi abi, bool chain)
        {
            TlbTagLayout.Check(abi.Tlb.PageBits, abi.Tlb.TagFlags);   // the one-compare probe relies on it
            _f = f;
            _abi = abi;
            _chain = chain;
            var code = f.Code;
            int nregs = f.GuestRegisterCount;
            var used = new bool[nregs];
            var written = new bool[nregs];
            int n = f.TempCount;
            _def = new int[n];
            var lastUse = new int[n];
            _inline = new bool[n];
            _temps = new int[n];
            Array.Fill(_temps, -1);
            var uses = new int[n];
            // Registers each temp's value reads (bit r; functions with more than 64 registers: all bits).
            var regMask = new ulong[n];
            bool wide = nregs > 64;
            Array.Fill(_def, -1);
            _segmentOf = new int[f.LabelCount];
            int segment = 0;
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                if (i.Op == IrOp.GetReg) used[i.Imm] = true;
                if (i.Op == IrOp.SetReg) used[i.Imm] = written[i.Imm] = true;
                if (i.Op == IrOp.Label) _segmentOf[i.Imm] = ++segment;
                if (i.HasDst) _def[i.Dst] = k;
                if (i.A >= 0) { uses[i.A]++; lastUse[i.A] = k; }
                if (i.B >= 0) { uses[i.B]++; lastUse[i.B] = k; }
                if (i.C >= 0) { uses[i.C]++; lastUse[i.C] = k; }
                if (i.HasDst)
                {
                    ulong m = i.Op == IrOp.GetReg ? (wide ? ulong.MaxValue : 1UL << (int)i.Imm) : 0;
                    if (i.A >= 0) m |= regMask[i.A];
                    if (i.B >= 0) m |= regMask[i.B];
                    if (i.C >= 0) m |= regMask[i.C];
                    regMask[i.Dst] = m;
                }
            }
            _segments = segment + 1;
            for (int t = 0; t < n; t++)
            {
                int d = _def[t];
                if (d < 0 || uses[t] != 1 || !code[d].IsPure)
                    continue;
                bool clean = true;
                for (int k = d + 1; k < lastUse[t] && clean; k++)
                {
                    ref var i = ref code[k];
                    clean = i.Op switch
                    {
                        IrOp.SetReg => (regMask[t] & (wide ? ulong.MaxValue : 1UL << (int)i.Imm)) == 0,
                        IrOp.Label => false,
                        _ => true,
                    };
                }
                _inline[t] = clean;
            }
            var effective = new int[code.Length];
            for (int k = code.Length - 1; k >= 0; k--)
            {
                ref var i = ref code[k];
                effective[k] = i.HasDst && _inline[i.Dst] ? effective[lastUse[i.Dst]] : k;
            }
            _releaseAt = new List<int>?[code.Length];
            var last = new int[n];
            Array.Fill(last, -1);
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                if (i.A >= 0) last[i.A] = Math.Max(last[i.A], effective[k]);
                if (i.B >= 0) last[i.B] = Math.Max(last[i.B], effective[k]);
                if (i.C >= 0) last[i.C] = Math.Max(last[i.C], effective[k]);
            }
            for (int t = 0; t < n; t++)
                if (last[t] >= 0 && !_inline[t])
                    (_releaseAt[last[t]] ??= []).Add(t);

            _regsBase = NewLocal(TypeI32);
            _tlb = NewLocal(TypeI32);
            _budget = NewLocal(TypeI32);
            _exitKind = NewLocal(TypeI32);
            _entry = NewLocal(TypeI32);
            _label = NewLocal(TypeI32);
            _stamp = NewLocal(TypeI32);
            _exitPc = NewLocal(TypeI64);
            _va = NewLocal(TypeI64);
            _regs = new int[nregs];
            var usedList = new List<int>();
            var writtenList = new List<int>();
            for (int r = 0; r < nregs; r++)
            {
                if (!used[r])
                    continue;
                _regs[r] = NewLocal(TypeI64);
                usedList.Add(r);
                if (written[r])
                    writtenList.Add(r);
            }
            _usedRegs = [.. usedList];
            _writtenRegs = [.. writtenList];
        }

        private int NewLocal(byte type)
        {
            _localTypes.Add(type);
            return 2 + _localTypes.Count - 1;
        }

        private void Op(byte op) => _w.Byte(op);

        private void Get(int local) { _w.Byte(LocalGet); _w.U32((uint)local); }

        private void Set(int local) { _w.Byte(LocalSet); _w.U32((uint)local); }

        private void I32(int value) { _w.Byte(I32Const); _w.S64(value); }

        private void I64(long value) { _w.Byte(I64Const); _w.S64(value); }

        private void Mem(byte op, int align, int offset) { _w.Byte(op); _w.U32((uint)align); _w.U32((uint)offset); }

        private void EmitBr(int depth) { _w.Byte(Br); _w.U32((uint)depth); }

        private void BeginIf() { _w.Byte(If); _w.Byte(BlockVoid); _nest++; }

        private void EndBlock() { _w.Byte(End); _nest--; }

        /// <summary>Depth of the shared exit block from the current position.</summary>
        private int ExitDepth => _nest + (_segments - 1 - _segment) + 1;

        public WasmWriter Emit()
        {
            var w = _w;
            Get(ArgCtx); Mem(I32Load, 2, ExitContext.Regs); Set(_regsBase);
            Get(ArgCtx); Mem(I32Load, 2, ExitContext.Tlb); Set(_tlb);
            Get(ArgCtx); Mem(I32Load, 2, ExitContext.Budget); Set(_budget);
            foreach (int r in _usedRegs)
            {
                Get(_regsBase); Mem(I64Load, 3, r * 8); Set(_regs[r]);
            }
            // block $exit; loop $top; block x segments; br_table
            w.Byte(Block); w.Byte(BlockVoid);
            w.Byte(Loop); w.Byte(BlockVoid);
            for (int s = 0; s < _segments; s++)
            {
                w.Byte(Block); w.Byte(BlockVoid);
            }
            Get(_label);
            w.Byte(BrTable);
            w.U32((uint)_segments);
            for (int s = 0; s < _segments; s++)
                w.U32((uint)s);
            w.U32(0);
            w.Byte(End);   // segment 0 starts
            _segment = 0;
            var code = _f.Code;
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                if (i.HasDst && _inline[i.Dst])
                    continue;
                EmitInst(in i);
                if (_releaseAt[k] is { } done)
                    foreach (int t in done)
                        Release(t);
            }
            // Every path ends in an exit; should one not, stop at the entry rather than run off.
            ExitWith(CodeExit.Stop, () => I64((long)_f.EntryPc), 0);
            w.Byte(End);   // loop
            w.Byte(End);   // block $exit

            foreach (int r in _writtenRegs)
            {
                Get(_regsBase); Get(_regs[r]); Mem(I64Store, 3, r * 8);
            }
            if (_chain)
            {
                // Chained exit with budget left: tail-call the next function if the jump cache has it.
                Get(_exitKind); Op(I32Eqz);
                Get(ArgCount); Get(_budget); Op(I32LtS);
                Op(I32And);
                w.Byte(If); w.Byte(BlockVoid);
                Get(ArgCtx); Mem(I32Load, 2, ExitContext.JumpCache);
                // (the slot: ExitContext.JumpCacheIndex)
                Get(_exitPc);
                if (_abi.PcAlignShift != 0)
                {
                    I64(_abi.PcAlignShift); Op(I64ShrU);
                }
                Get(_exitPc); I64(_abi.PcAlignShift + _abi.JumpCacheBits); Op(I64ShrU);
                Op(I64Xor);
                Op(I32WrapI64);
                I32((1 << _abi.JumpCacheBits) - 1); Op(I32And);
                I32(ExitContext.JumpCacheEntryShift); Op(I32Shl); Op(I32Add);
                Set(_entry);
                Get(_entry); Mem(I64Load, 3, ExitContext.EntryPc); Get(_exitPc); Op(I64Eq);
                // (the stamp: the context's, or its global one)
                Get(_entry); Mem(I32Load, 2, ExitContext.EntryStamp); Set(_stamp);
                Get(_stamp); Get(ArgCtx); Mem(I32Load, 2, ExitContext.Stamp); Op(I32Eq);
                Get(_stamp); Get(ArgCtx); Mem(I32Load, 2, ExitContext.GlobalStamp); Op(I32Eq);
                Op(I32Or);
                Op(I32And);
                w.Byte(If); w.Byte(BlockVoid);
                Get(ArgCtx); Get(ArgCount);
                Get(_entry); Mem(I32Load, 2, ExitContext.EntryCode);
                w.Byte(ReturnCallIndirect); w.U32(0); w.U32(0);
                w.Byte(End);
                // Not there: the guest's interpreter in wasm, if it has one, starts at the target.
                TailCallColdCode(complementCount: false);
                w.Byte(End);
                // An instruction the region does not run: the interpreter in wasm starts at it, with ~count (no arrival
                // to count there: at a hot pc it would chain straight back here).
                Get(_exitKind); I32(ColdFlag); Op(I32And);
                w.Byte(If); w.Byte(BlockVoid);
                TailCallColdCode(complementCount: true);
                w.Byte(End);
            }
            Get(ArgCtx); Get(_exitKind); I32(3); Op(I32And); Mem(I32Store, 2, ExitContext.ExitKind);
            Get(ArgCtx); Get(_exitPc); Mem(I64Store, 3, ExitContext.ExitPc);
            Get(ArgCount);
            w.Byte(End);

            // Prefix the locals (runs of one type).
            var full = new WasmWriter(w.Length + 64);
            var runs = new List<(int Count, byte Type)>();
            foreach (byte t in _localTypes)
            {
                if (runs.Count > 0 && runs[^1].Type == t)
                    runs[^1] = (runs[^1].Count + 1, t);
                else
                    runs.Add((1, t));
            }
            full.U32((uint)runs.Count);
            foreach (var (count, type) in runs)
            {
                full.U32((uint)count);
                full.Byte(type);
            }
            full.Bytes(w.Written);
            return full;
        }

        /// <summary>
        /// If the guest has an interpreter in wasm (<see cref="ExitContext.ColdCode"/>), tail-calls it at the exit pc with
        /// the count (with <paramref name="complementCount"/>, ~count: no arrival counted there).
        /// </summary>
        private void TailCallColdCode(bool complementCount)
        {
            var w = _w;
            Get(ArgCtx); Mem(I32Load, 2, ExitContext.ColdCode); Set(_stamp);
            Get(_stamp);
            w.Byte(If); w.Byte(BlockVoid);
            Get(ArgCtx); Get(_exitPc); Mem(I64Store, 3, ExitContext.ExitPc);
            Get(ArgCtx); Get(ArgCount);
            if (complementCount)
            {
                I32(-1); Op(I32Xor);
            }
            Get(_stamp);
            w.Byte(ReturnCallIndirect); w.U32(0); w.U32(0);
            w.Byte(End);
        }

        /// <summary>
        /// Leaves through the shared exit: kind, pc from <paramref name="pushPc"/>, count + <paramref name="completed"/>.
        /// With <paramref name="cold"/> (an instruction the region does not run), the guest's interpreter in wasm, if it has
        /// one, is tried at the pc first (<see cref="ColdFlag"/>).
        /// </summary>
        private void ExitWith(CodeExit kind, Action pushPc, int completed, bool cold = false)
        {
            pushPc();
            Set(_exitPc);
            I32((int)kind | (cold ? ColdFlag : 0));
            Set(_exitKind);
            if (completed != 0)
            {
                Get(ArgCount); I32(completed); Op(I32Add); Set(ArgCount);
            }
            EmitBr(ExitDepth);
        }

        private void Release(int temp)
        {
            int local = _temps[temp];
            if (local < 0)
                return;
            (_f.TypeOf(temp) == IrType.I32 ? _free32 : _free64).Push(local);
        }

        private int Scratch(IrType type)
        {
            var free = type == IrType.I32 ? _free32 : _free64;
            return free.Count > 0 ? free.Pop() : NewLocal(type == IrType.I32 ? TypeI32 : TypeI64);
        }

        private void FreeScratch(IrType type, int local) => (type == IrType.I32 ? _free32 : _free64).Push(local);

        private void Ld(int temp)
        {
            if (_inline[temp])
                EmitValue(in _f.Code[_def[temp]]);
            else
                Get(_temps[temp]);
        }

        private void St(int temp)
        {
            int local = _temps[temp];
            if (local < 0)
            {
                var type = _f.TypeOf(temp);
                local = Scratch(type);
                _temps[temp] = local;
            }
            Set(local);
        }

        private void JumpTo(int label)
        {
            int target = _segmentOf[label];
            if (target > _segment)
            {
                EmitBr(_nest + target - _segment - 1);
            }
            else
            {
                I32(target);
                Set(_label);
                EmitBr(_nest + (_segments - 1 - _segment));
            }
        }

        private void EmitInst(in IrInst i)
        {
            switch (i.Op)
            {
                case IrOp.Nop:
                    break;
                case IrOp.SetReg:
                    Ld(i.A);
                    Set(_regs[i.Imm]);
                    break;
                case IrOp.Load: EmitLoad(in i); break;
                case IrOp.Store: EmitStore(in i); break;
                case IrOp.CompareAndSwap: EmitCompareAndSwap(in i); break;
                case IrOp.PageCopy or IrOp.PageFill: EmitPageBulk(in i); break;
                case IrOp.DivS or IrOp.DivU or IrOp.RemS or IrOp.RemU when i.IsExitingDivision:
                    EmitValue(in i);
                    St(i.Dst);
                    break;
                case IrOp.Call:
                {
                    // Helpers (atomics, F/D) run in the guest's interpreter in wasm if it has one (which leaves for the
                    // host where it cannot run them), else in the host's.
                    long pc = (long)i.GuestPc;
                    ExitWith(CodeExit.Slow, () => I64(pc), i.Completed, cold: true);
                    break;
                }
                case IrOp.Label:
                    _w.Byte(End);
                    _segment = _segmentOf[i.Imm];
                    break;
                case IrOp.Jump:
                    JumpTo((int)i.Imm);
                    break;
                case IrOp.Branch:
                {
                    int target = _segmentOf[i.Imm];
                    Ld(i.A);
                    Ld(i.B);
                    Op(CompareOp(i.Cond, _f.TypeOf(i.A)));
                    if (target > _segment)
                    {
                        _w.Byte(BrIf);
                        _w.U32((uint)(_nest + target - _segment - 1));
                    }
                    else
                    {
                        BeginIf();
                        JumpTo((int)i.Imm);
                        EndBlock();
                    }
                    break;
                }
                case IrOp.Retire:
                    Get(ArgCount); I32((int)i.Imm); Op(I32Add); Set(ArgCount);
                    break;
                case IrOp.ExitIfBudget:
                {
                    long pc = i.Imm;
                    Get(ArgCount); Get(_budget); Op(I32GeS);
                    BeginIf();
                    ExitWith(CodeExit.Chain, () => I64(pc), 0);
                    EndBlock();
                    break;
                }
                case IrOp.Exit:
                {
                    int a = i.A;
                    long pc = i.Imm;
                    ExitWith(i.Kind, a >= 0 ? () => Ld(a) : () => I64(pc), i.Completed, cold: i.Kind == CodeExit.Interpret && a < 0);
                    break;
                }
                default:
                    if (!i.IsPure)
                        throw new NotSupportedException($"WebAssembly backend: {i.Op}");
                    EmitValue(in i);
                    St(i.Dst);
                    break;
            }
        }

        private static byte CompareOp(IrCondition cond, IrType operands)
        {
            byte op = cond switch
            {
                IrCondition.Eq => I64Eq,
                IrCondition.Ne => I64Ne,
                IrCondition.LtS => I64LtS,
                IrCondition.GeS => I64GeS,
                IrCondition.LtU => I64LtU,
                _ => I64GeU,
            };
            return CompareFor(operands == IrType.I32 ? IrTypeWidth.W32 : IrTypeWidth.W64, op);
        }

        private static IrTypeWidth Width(IrType t) => t == IrType.I32 ? IrTypeWidth.W32 : IrTypeWidth.W64;

        /// <summary>Pushes the value of a pure op.</summary>
        private void EmitValue(in IrInst i)
        {
            var wd = Width(i.Type);
            switch (i.Op)
            {
                case IrOp.Const:
                    if (i.Type == IrType.I32) I32((int)i.Imm); else I64(i.Imm);
                    break;
                case IrOp.GetReg: Get(_regs[i.Imm]); break;
                case IrOp.Add: Binary(i, ArithFor(wd, I64Add)); break;
                case IrOp.Sub: Binary(i, ArithFor(wd, I64Sub)); break;
                case IrOp.Mul: Binary(i, ArithFor(wd, I64Mul)); break;
                case IrOp.And: Binary(i, ArithFor(wd, I64And)); break;
                case IrOp.Or: Binary(i, ArithFor(wd, I64Or)); break;
                case IrOp.Xor: Binary(i, ArithFor(wd, I64Xor)); break;
                case IrOp.Shl: Shift(i, ArithFor(wd, I64Shl)); break;
                case IrOp.ShrS: Shift(i, ArithFor(wd, I64ShrS)); break;
                case IrOp.ShrU: Shift(i, ArithFor(wd, I64ShrU)); break;
                case IrOp.RotL: Shift(i, ArithFor(wd, I64Rotl)); break;
                case IrOp.RotR: Shift(i, ArithFor(wd, I64Rotr)); break;
                case IrOp.Clz: Ld(i.A); Op(ArithFor(wd, I64Clz)); break;
                case IrOp.Ctz: Ld(i.A); Op(ArithFor(wd, I64Ctz)); break;
                case IrOp.Popcnt: Ld(i.A); Op(ArithFor(wd, I64Popcnt)); break;
                case IrOp.ByteSwap: ByteSwap(in i); break;
                case IrOp.Parity:
                    // popcnt(a & 0xFF) & 1 ^ 1
                    Ld(i.A); Const(i.Type, 0xFF); Op(ArithFor(wd, I64And)); Op(ArithFor(wd, I64Popcnt));
                    Const(i.Type, 1); Op(ArithFor(wd, I64And)); Const(i.Type, 1); Op(ArithFor(wd, I64Xor));
                    break;
                case IrOp.AddOverflow:
                case IrOp.SubOverflow:
                    Overflow(in i);
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
                    Ld(i.A);
                    Ld(i.B);
                    Op(CompareOp(i.Cond, _f.TypeOf(i.A)));
                    if (i.Type == IrType.I64)
                        Op(I64ExtendI32U);
                    break;
                case IrOp.Select:
                    Ld(i.B);
                    Ld(i.C);
                    Ld(i.A);
                    if (_f.TypeOf(i.A) == IrType.I64)
                    {
                        I64(0);
                        Op(I64Ne);
                    }
                    Op(Select);
                    break;
                case IrOp.Wrap: Ld(i.A); Op(I32WrapI64); break;
                case IrOp.ExtendS: Ld(i.A); Op(I64ExtendI32S); break;
                case IrOp.ExtendU: Ld(i.A); Op(I64ExtendI32U); break;
                default:
                    throw new NotSupportedException($"WebAssembly backend: value of {i.Op}");
            }
        }

        private void Binary(in IrInst i, byte op)
        {
            Ld(i.A);
            Ld(i.B);
            Op(op);
        }

        private void Shift(in IrInst i, byte op)
        {
            // wasm shifts take the count modulo the width, as the IR does; the count's type must match.
            Ld(i.A);
            Ld(i.B);
            var bt = _f.TypeOf(i.B);
            if (i.Type == IrType.I64 && bt == IrType.I32) Op(I64ExtendI32U);
            if (i.Type == IrType.I32 && bt == IrType.I64) Op(I32WrapI64);
            Op(op);
        }

        private void MulHigh(in IrInst i)
        {
            if (i.Type == IrType.I32)
            {
                Ld(i.A);
                Op(i.Op == IrOp.MulHighU ? I64ExtendI32U : I64ExtendI32S);
                Ld(i.B);
                Op(i.Op == IrOp.MulHighS ? I64ExtendI32S : I64ExtendI32U);
                Op(I64Mul);
                I64(32);
                Op(I64ShrS);   // the low 32 bits of the result are the same either way
                Op(I32WrapI64);
                return;
            }
            if (i.Op == IrOp.MulHighU)
            {
                Ld(i.A);
                Ld(i.B);
                _w.Byte(Call); _w.U32(FuncMulHighU);
                return;
            }
            int a = Scratch(IrType.I64), b = Scratch(IrType.I64);
            Ld(i.A); Set(a);
            Ld(i.B); Set(b);
            MulHigh64(_w, a, b, signedA: true, signedB: i.Op == IrOp.MulHighS);
            FreeScratch(IrType.I64, a);
            FreeScratch(IrType.I64, b);
        }

        /// <summary>A constant of the IR type.</summary>
        private void Const(IrType type, long v)
        {
            if (type == IrType.I32) I32((int)v); else I64(v);
        }

        /// <summary>Swaps adjacent bytes, then 16-bit halves (64: then 32-bit halves, as a rotate), one masked shift pair each.</summary>
        private void ByteSwap(in IrInst i)
        {
            var type = i.Type;
            var wd = Width(type);
            int x = Scratch(type);
            Ld(i.A); Set(x);
            void SwapPairs(int bits, long mask)
            {
                Get(x); Const(type, mask); Op(ArithFor(wd, I64And)); Const(type, bits); Op(ArithFor(wd, I64Shl));
                Get(x); Const(type, bits); Op(ArithFor(wd, I64ShrU)); Const(type, mask); Op(ArithFor(wd, I64And));
                Op(ArithFor(wd, I64Or));
                Set(x);
            }
            SwapPairs(8, type == IrType.I32 ? 0x00FF00FF : 0x00FF00FF00FF00FF);
            if (type == IrType.I64)
                SwapPairs(16, 0x0000FFFF0000FFFF);
            Get(x); Const(type, type == IrType.I32 ? 16 : 32); Op(ArithFor(wd, I64Rotl));
            FreeScratch(type, x);
        }

        /// <summary>Signed overflow of a + b: ((a ^ r) &amp; (b ^ r)) &lt; 0; of a - b: ((a ^ b) &amp; (a ^ r)) &lt; 0; as 0 or 1.</summary>
        private void Overflow(in IrInst i)
        {
            var wd = Width(i.Type);
            int a = Scratch(i.Type), b = Scratch(i.Type), r = Scratch(i.Type);
            Ld(i.A); Set(a);
            Ld(i.B); Set(b);
            Get(a); Get(b); Op(ArithFor(wd, i.Op == IrOp.AddOverflow ? I64Add : I64Sub)); Set(r);
            if (i.Op == IrOp.AddOverflow)
            {
                Get(a); Get(r); Op(ArithFor(wd, I64Xor));
                Get(b); Get(r); Op(ArithFor(wd, I64Xor));
            }
            else
            {
                Get(a); Get(b); Op(ArithFor(wd, I64Xor));
                Get(a); Get(r); Op(ArithFor(wd, I64Xor));
            }
            Op(ArithFor(wd, I64And));
            Const(i.Type, i.Type == IrType.I32 ? 31 : 63); Op(ArithFor(wd, I64ShrU));
            FreeScratch(i.Type, a);
            FreeScratch(i.Type, b);
            FreeScratch(i.Type, r);
        }

        /// <summary>Division around wasm's trapping divide: RISC-V's results for /0 and MIN/-1, or (<see cref="IrDivision.Exit"/>) an interpret exit there.</summary>
        private void Divide(in IrInst i)
        {
            bool w32 = i.Type == IrType.I32;
            var wd = Width(i.Type);
            byte resultType = w32 ? TypeI32 : TypeI64;
            int a = Scratch(i.Type), b = Scratch(i.Type);
            Ld(i.A); Set(a);
            Ld(i.B); Set(b);
            void Const(long v) { if (w32) I32((int)v); else I64(v); }
            if (i.Division == IrDivision.Exit)
            {
                // b == 0, or (signed) a == MIN && b == -1: leave for the interpreter (the guest's exception)
                Get(b); Op(CompareFor(wd, I64Eqz));
                if (i.Op is IrOp.DivS or IrOp.RemS)
                {
                    Get(a); Const(w32 ? int.MinValue : long.MinValue); Op(CompareFor(wd, I64Eq));
                    Get(b); Const(-1); Op(CompareFor(wd, I64Eq));
                    Op(I32And);
                    Op(I32Or);
                }
                BeginIf();
                ulong pc = i.GuestPc;
                ExitWith(CodeExit.Interpret, () => I64((long)pc), i.Completed);
                EndBlock();
            }
            // if (b == 0) { /0 result } else { ... }
            Get(b); Op(CompareFor(wd, I64Eqz));
            _w.Byte(If); _w.Byte(resultType);
            if (i.Op is IrOp.DivS or IrOp.DivU) Const(-1); else Get(a);
            _w.Byte(Else);
            if (i.Op == IrOp.DivS)
            {
                // MIN / -1 traps in wasm: -1 divides as negation (which wraps MIN to MIN)
                Get(b); Const(-1); Op(CompareFor(wd, I64Eq));
                _w.Byte(If); _w.Byte(resultType);
                Const(0); Get(a); Op(ArithFor(wd, I64Sub));
                _w.Byte(Else);
                Get(a); Get(b); Op(ArithFor(wd, I64DivS));
                _w.Byte(End);
            }
            else
            {
                Get(a); Get(b);
                Op(ArithFor(wd, i.Op switch { IrOp.DivU => I64DivU, IrOp.RemS => I64RemS, _ => I64RemU }));
            }
            _w.Byte(End);
            FreeScratch(i.Type, a);
            FreeScratch(i.Type, b);
        }

        /// <summary>entry = the TLB entry of the address in local <paramref name="va"/>; pushes its tag at <paramref name="tagOffset"/>.</summary>
        private void LoadTag(int va, int tagOffset)
        {
            Get(_tlb);
            Get(va); I64(_abi.Tlb.PageBits); Op(I64ShrU); Op(I32WrapI64);
            I32((int)_abi.Tlb.IndexMask); Op(I32And);
            I32(_abi.Tlb.EntryShift); Op(I32Shl);
            Op(I32Add);
            _w.Byte(LocalTee); _w.U32((uint)_entry);
            Mem(I64Load, 3, tagOffset);
        }

        /// <summary>va = A + Imm; entry = its TLB entry; exit to the slow path unless the tag matches; leaves the linear-memory address (i32) on the stack.</summary>
        private void EmitTlbProbe(in IrInst i, int tagOffset)
        {
            Ld(i.A);
            if (i.Imm != 0)
            {
                I64(i.Imm);
                Op(I64Add);
            }
            Set(_va);
            LoadTag(_va, tagOffset);
            // One compare: page tag, and (for sizes > 1) natural alignment or no page crossing.
            Get(_va);
            if (_abi.Tlb.ProbeOffset(i.Size, i.Op == IrOp.CompareAndSwap) != 0)
            {
                I64(_abi.Tlb.ProbeOffset(i.Size, i.Op == IrOp.CompareAndSwap)); Op(I64Add);
            }
            I64(_abi.Tlb.ProbeMask(i.Size, i.Op == IrOp.CompareAndSwap)); Op(I64And);
            Op(I64Ne);
            BeginIf();
            ulong pc = i.GuestPc;
            ExitWith(CodeExit.Slow, () => I64((long)pc), i.Completed);
            EndBlock();
            // host = low 32 bits of (addend + va)
            Get(_entry); Mem(I32Load, 2, _abi.Tlb.AddendOffset);
            Get(_va); Op(I32WrapI64);
            Op(I32Add);
        }

        private void EmitLoad(in IrInst i)
        {
            EmitTlbProbe(in i, _abi.Tlb.ReadTagOffset);
            LoadSized(i.Size, i.Signed);
            if (i.HasDst)
                St(i.Dst);
            else
                Op(Drop);
        }

        /// <summary>Through the write tag; load, compare, store if equal (one thread: nothing can come between); the old value.</summary>
        private void EmitCompareAndSwap(in IrInst i)
        {
            EmitTlbProbe(in i, _abi.Tlb.WriteTagOffset);
            int address = Scratch(IrType.I32), old = Scratch(IrType.I64);
            Set(address);
            Get(address);
            LoadSized(i.Size, signed: false);
            Set(old);
            Get(old);
            Ld(i.B);
            if (i.Size < 8)
            {
                I64((1L << (i.Size * 8)) - 1);
                Op(I64And);
            }
            Op(I64Eq);
            BeginIf();
            Get(address);
            Ld(i.C);
            StoreSized(i.Size);
            EndBlock();
            Get(old);
            St(i.Dst);
            FreeScratch(IrType.I32, address);
            FreeScratch(IrType.I64, old);
        }

        /// <summary>
        /// <see cref="IrOp.PageCopy"/> and <see cref="IrOp.PageFill"/> (<see cref="PageBulk"/> is their
        /// meaning): k = the count, cut to the whole elements left in the page(s); 0 unless the TLB's
        /// tags let the pages through; then one <c>memory.copy</c>, or <c>memory.fill</c> for bytes and
        /// zeros (a store loop for other patterns).
        /// </summary>
        private void EmitPageBulk(in IrInst i)
        {
            bool copy = i.Op == IrOp.PageCopy;
            int s = System.Numerics.BitOperations.Log2(i.Size);
            int dst = Scratch(IrType.I64), src = Scratch(IrType.I64), k = Scratch(IrType.I64), room = Scratch(IrType.I64);
            int hd = Scratch(IrType.I32), hs = Scratch(IrType.I32), bytes = Scratch(IrType.I32);
            Ld(i.A); Set(dst);
            Ld(i.B); Set(src);
            Ld(i.C); Set(k);
            long pageMask = (1L << _abi.Tlb.PageBits) - 1;
            void CutToRoom(int va)
            {
                // room = (page - (va & mask)) >> s; k = min(k, room)
                I64(pageMask + 1); Get(va); I64(pageMask); Op(I64And); Op(I64Sub); I64(s); Op(I64ShrU); Set(room);
                Get(k); Get(room); Get(k); Get(room); Op(I64LtU); Op(WasmOp.Select); Set(k);
            }
            // host = addend + va if the tag lets va's page through, else k = 0
            void Translate(int va, int tagOffset, int host)
            {
                LoadTag(va, tagOffset);
                Get(va); I64(~pageMask); Op(I64And);
                Op(I64Ne);
                BeginIf();
                I64(0); Set(k);
                EndBlock();
                Get(_entry); Mem(I32Load, 2, _abi.Tlb.AddendOffset);
                Get(va); Op(I32WrapI64);
                Op(I32Add);
                Set(host);
            }
            CutToRoom(dst);
            if (copy)
                CutToRoom(src);
            Translate(dst, _abi.Tlb.WriteTagOffset, hd);
            if (copy)
                Translate(src, _abi.Tlb.ReadTagOffset, hs);
            Get(k); Op(I32WrapI64); I32(s); Op(I32Shl); Set(bytes);
            if (copy)
            {
                // a forward copy onto its own source (hs < hd < hs + bytes) repeats a pattern: not ours
                Get(hd); Get(hs); Op(I32GtU);
                Get(hd); Get(hs); Get(bytes); Op(I32Add); Op(I32LtU);
                Op(I32And);
                BeginIf();
                I64(0); Set(k);
                I32(0); Set(bytes);
                EndBlock();
            }
            Get(bytes);
            BeginIf();
            if (copy)
            {
                Get(hd); Get(hs); Get(bytes);
                _w.Byte(0xFC); _w.U32(10); _w.Byte(0); _w.Byte(0);   // memory.copy
            }
            else
            {
                // bytes, and zeros of any size: memory.fill; other patterns: a store loop
                if (i.Size > 1)
                {
                    Get(src);
                    if (i.Size < 8) { I64((1L << (8 * i.Size)) - 1); Op(I64And); }
                    Op(I64Eqz);
                    _w.Byte(If); _w.Byte(BlockVoid); _nest++;
                }
                Get(hd); Get(src); Op(I32WrapI64); Get(bytes);
                _w.Byte(0xFC); _w.U32(11); _w.Byte(0);   // memory.fill
                if (i.Size > 1)
                {
                    _w.Byte(Else);
                    _w.Byte(Loop); _w.Byte(BlockVoid); _nest++;
                    Get(hd); Get(src); StoreSized(i.Size);
                    Get(hd); I32(i.Size); Op(I32Add); Set(hd);
                    Get(bytes); I32(i.Size); Op(I32Sub); _w.Byte(LocalTee); _w.U32((uint)bytes);
                    _w.Byte(BrIf); _w.U32(0);
                    EndBlock();
                    EndBlock();
                }
            }
            EndBlock();
            Get(k);
            St(i.Dst);
            FreeScratch(IrType.I64, dst); FreeScratch(IrType.I64, src); FreeScratch(IrType.I64, k); FreeScratch(IrType.I64, room);
            FreeScratch(IrType.I32, hd); FreeScratch(IrType.I32, hs); FreeScratch(IrType.I32, bytes);
        }

        /// <summary>An i64 load of 1, 2, 4 or 8 bytes at the address on the stack.</summary>
        private void LoadSized(int size, bool signed)
        {
            switch (size)
            {
                case 1: Mem(signed ? I64Load8S : I64Load8U, 0, 0); break;
                case 2: Mem(signed ? I64Load16S : I64Load16U, 1, 0); break;
                case 4: Mem(signed ? I64Load32S : I64Load32U, 2, 0); break;
                default: Mem(I64Load, 3, 0); break;
            }
        }

        /// <summary>Stores the low 1, 2, 4 or 8 bytes of the i64 on the stack at the address below it.</summary>
        private void StoreSized(int size)
        {
            switch (size)
            {
                case 1: Mem(I64Store8, 0, 0); break;
                case 2: Mem(I64Store16, 1, 0); break;
                case 4: Mem(I64Store32, 2, 0); break;
                default: Mem(I64Store, 3, 0); break;
            }
        }

        private void EmitStore(in IrInst i)
        {
            EmitTlbProbe(in i, _abi.Tlb.WriteTagOffset);
            Ld(i.B);
            StoreSized(i.Size);
        }
    }
}
