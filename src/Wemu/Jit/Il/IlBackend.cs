using System.Reflection;
using System.Reflection.Emit;
using Wemu.Jit.Ir;

namespace Wemu.Jit.Il;

/// <summary>
/// Compiles an <see cref="IrFunction"/> to IL in a <see cref="DynamicMethod"/> (CoreCLR turns it
/// into native code; in the browser the interpreter runs it and the jiterpreter turns hot parts
/// into WebAssembly). Guest registers live in IL locals for the whole function: loaded at entry,
/// written back at every exit and around helper calls. Loads and stores test the soft TLB inline
/// (one compare covers page, permission and alignment) and call the guest's slow path otherwise;
/// slow paths and exits are emitted out of line after the body.
/// </summary>
public static unsafe class IlBackend
{
    private const int ArgState = 0, ArgRegs = 1, ArgTlb = 2, ArgBudget = 3;

    private static readonly MethodInfo s_mulHighS = Method(nameof(IrEvaluator.MulHighS));
    private static readonly MethodInfo s_mulHighU = Method(nameof(IrEvaluator.MulHighU));
    private static readonly MethodInfo s_mulHighSU = Method(nameof(IrEvaluator.MulHighSU));
    private static readonly MethodInfo s_mulHighS32 = Method(nameof(IrEvaluator.MulHighS32));
    private static readonly MethodInfo s_mulHighU32 = Method(nameof(IrEvaluator.MulHighU32));
    private static readonly MethodInfo s_mulHighSU32 = Method(nameof(IrEvaluator.MulHighSU32));
    private static readonly MethodInfo s_divS = Method(nameof(IrEvaluator.DivS));
    private static readonly MethodInfo s_divU = Method(nameof(IrEvaluator.DivU));
    private static readonly MethodInfo s_remS = Method(nameof(IrEvaluator.RemS));
    private static readonly MethodInfo s_remU = Method(nameof(IrEvaluator.RemU));
    private static readonly MethodInfo s_divS32 = Method(nameof(IrEvaluator.DivS32));
    private static readonly MethodInfo s_divU32 = Method(nameof(IrEvaluator.DivU32));
    private static readonly MethodInfo s_remS32 = Method(nameof(IrEvaluator.RemS32));
    private static readonly MethodInfo s_remU32 = Method(nameof(IrEvaluator.RemU32));

    /// <summary>Rotates, bit counts, byte swap and flag helpers: the reference's own methods (64-bit, 32-bit).</summary>
    private static readonly Dictionary<IrOp, (MethodInfo W64, MethodInfo W32)> s_bitOps = new()
    {
        [IrOp.RotL] = (Method(nameof(IrEvaluator.RotL)), Method(nameof(IrEvaluator.RotL32))),
        [IrOp.RotR] = (Method(nameof(IrEvaluator.RotR)), Method(nameof(IrEvaluator.RotR32))),
        [IrOp.Clz] = (Method(nameof(IrEvaluator.Clz)), Method(nameof(IrEvaluator.Clz32))),
        [IrOp.Ctz] = (Method(nameof(IrEvaluator.Ctz)), Method(nameof(IrEvaluator.Ctz32))),
        [IrOp.Popcnt] = (Method(nameof(IrEvaluator.Popcnt)), Method(nameof(IrEvaluator.Popcnt32))),
        [IrOp.ByteSwap] = (Method(nameof(IrEvaluator.ByteSwap)), Method(nameof(IrEvaluator.ByteSwap32))),
        [IrOp.Parity] = (Method(nameof(IrEvaluator.Parity)), Method(nameof(IrEvaluator.Parity32))),
        [IrOp.AddOverflow] = (Method(nameof(IrEvaluator.AddOverflow)), Method(nameof(IrEvaluator.AddOverflow32))),
        [IrOp.SubOverflow] = (Method(nameof(IrEvaluator.SubOverflow)), Method(nameof(IrEvaluator.SubOverflow32))),
    };

    private static MethodInfo Method(string name) =>
        typeof(IrEvaluator).GetMethod(name, BindingFlags.Public | BindingFlags.Static)
        ?? throw new MissingMethodException(nameof(IrEvaluator), name);

    /// <summary>Compiles <paramref name="f"/>; <paramref name="ilSize"/> is the IL byte count (cache accounting).</summary>
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("IL is compiled at run time (DynamicMethod): a JIT runtime, not an ahead-of-time build.")]
    public static JitCode<TState> Compile<TState>(IrFunction f, IlGuestAbi abi, out int ilSize)
    {
        var method = new DynamicMethod(
            $"guest_{f.EntryPc:x}",
            typeof(long),
            [typeof(TState), typeof(ulong*), typeof(byte*), typeof(long)],
            typeof(IlBackend).Module,
            skipVisibility: true);
        var il = method.GetILGenerator(256 + f.Count * 24);
        new Emitter(f, abi, il).Emit();
        ilSize = il.ILOffset;
        return (JitCode<TState>)method.CreateDelegate(typeof(JitCode<TState>));
    }

    private sealed class Emitter
    {
        private readonly IrFunction _f;
        private readonly IlGuestAbi _abi;
        private readonly ILGenerator _il;
        private readonly LocalBuilder?[] _regs;
        private readonly int[] _usedRegs;
        private readonly int[] _writtenRegs;
        private readonly Label[] _labels;
        private readonly LocalBuilder _count;
        private readonly LocalBuilder _va;
        private readonly LocalBuilder _entry;
        private readonly LocalBuilder _slowValue;
        private readonly LocalBuilder _exitPc;
        private readonly LocalBuilder _exitAdd;
        private readonly Label _exit;
        private readonly Label _trap;
        /// <summary>The trap path after its register stores: a helper stored the registers before its call
        /// and may have changed them (x86's interpreted instructions), so they are not stored again.</summary>
        private readonly Label _trapStored;
        private bool _trapUsed;

        // Temps: a temp used once, by a later op, with nothing in between that could change what
        // it reads, is emitted as an expression at its use (IL stack, no local); the others get
        // locals, reused once their last use has passed.
        private readonly int[] _def;
        private readonly int[] _lastUse;
        private readonly bool[] _inline;
        private readonly LocalBuilder?[] _temps;
        private readonly List<int>?[] _releaseAt;
        private readonly Stack<LocalBuilder> _free32 = new();
        private readonly Stack<LocalBuilder> _free64 = new();

        public Emitter(IrFunction f, IlGuestAbi abi, ILGenerator il)
        {
            TlbTagLayout.Check(abi.Tlb.PageBits, abi.Tlb.TagFlags);   // the one-compare probe relies on it
            _f = f;
            _abi = abi;
            _il = il;
            int nregs = f.GuestRegisterCount;
            var used = new bool[nregs];
            var written = new bool[nregs];
            var code = f.Code;
            int n = f.TempCount;
            _def = new int[n];
            _lastUse = new int[n];
            _inline = new bool[n];
            _temps = new LocalBuilder?[n];
            var uses = new int[n];
            var regMask = new uint[n];
            Array.Fill(_def, -1);
            for (int k = 0; k < code.Length; k++)
            {
                ref var i = ref code[k];
                if (i.Op == IrOp.GetReg) used[i.Imm] = true;
                if (i.Op == IrOp.SetReg) used[i.Imm] = written[i.Imm] = true;
                if (i.HasDst) _def[i.Dst] = k;
                if (i.A >= 0) { uses[i.A]++; _lastUse[i.A] = k; }
                if (i.B >= 0) { uses[i.B]++; _lastUse[i.B] = k; }
                if (i.C >= 0) { uses[i.C]++; _lastUse[i.C] = k; }
                if (i.HasDst)
                {
                    uint m = i.Op == IrOp.GetReg ? 1u << (int)(i.Imm & 31) : 0;
                    if (i.A >= 0) m |= regMask[i.A];
                    if (i.B >= 0) m |= regMask[i.B];
                    if (i.C >= 0) m |= regMask[i.C];
                    regMask[i.Dst] = m;
                }
            }
            for (int t = 0; t < n; t++)
            {
                int d = _def[t];
                if (d < 0 || uses[t] != 1 || !code[d].IsPure || code[d].Op == IrOp.Select)
                    continue;
                bool clean = true;
                for (int k = d + 1; k < _lastUse[t] && clean; k++)
                {
                    ref var i = ref code[k];
                    clean = i.Op switch
                    {
                        IrOp.SetReg => (regMask[t] & (1u << (int)(i.Imm & 31))) == 0 || nregs > 32,
                        IrOp.Call => regMask[t] == 0,
                        IrOp.Label => false,
                        _ => true,
                    };
                }
                _inline[t] = clean && nregs <= 32;
            }
            // A temp's local is free after its last use, where a use inside an inlined expression
            // happens where that expression is emitted (the use of the inlined temp).
            var effective = new int[code.Length];
            for (int k = code.Length - 1; k >= 0; k--)
            {
                ref var i = ref code[k];
                effective[k] = i.HasDst && _inline[i.Dst] ? effective[_lastUse[i.Dst]] : k;
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
            _regs = new LocalBuilder?[nregs];
            var usedList = new List<int>();
            var writtenList = new List<int>();
            for (int r = 0; r < nregs; r++)
            {
                if (!used[r])
                    continue;
                _regs[r] = il.DeclareLocal(typeof(long));
                usedList.Add(r);
                if (written[r])
                    writtenList.Add(r);
            }
            _usedRegs = [.. usedList];
            _writtenRegs = [.. writtenList];
            _labels = new Label[f.LabelCount];
            for (int k = 0; k < _labels.Length; k++)
                _labels[k] = il.DefineLabel();
            _count = il.DeclareLocal(typeof(long));
            _va = il.DeclareLocal(typeof(long));
            _entry = il.DeclareLocal(typeof(nint));
            _slowValue = il.DeclareLocal(typeof(ulong));
            _exitPc = il.DeclareLocal(typeof(long));
            _exitAdd = il.DeclareLocal(typeof(long));
            _exit = il.DefineLabel();
            _trap = il.DefineLabel();
            _trapStored = il.DefineLabel();
        }

        public void Emit()
        {
            // A negative budget only asks the runtime to compile the method (prepared off the
            // machine's thread): return before touching any state.
            var start = _il.DefineLabel();
            _il.Emit(OpCodes.Ldarg, ArgBudget);
            _il.Emit(OpCodes.Ldc_I4_0);
            _il.Emit(OpCodes.Conv_I8);
            _il.Emit(OpCodes.Bge, start);
            _il.Emit(OpCodes.Ldc_I8, 0L);
            _il.Emit(OpCodes.Ret);
            _il.MarkLabel(start);
            LoadRegisters();
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
            // Every path ends in an exit; should one not, stop at the entry rather than run off the method.
            ExitTo(() => _il.Emit(OpCodes.Ldc_I8, (long)_f.EntryPc), IlExit.StopBit);

            _il.MarkLabel(_exit);
            StoreRegisters();
            SetPcFromExit();
            ReturnCountPlusExit();
            if (_trapUsed)
            {
                // The failed slow path stored the faulting pc and the instructions retired before
                // it in the state; take the exception it recorded and stop.
                _il.MarkLabel(_trap);
                StoreRegisters();
                _il.MarkLabel(_trapStored);
                _il.Emit(OpCodes.Ldarg, ArgState);
                _il.Emit(OpCodes.Call, _abi.RaiseException);
                _il.Emit(OpCodes.Ldarg, ArgState);
                _il.Emit(OpCodes.Ldfld, _abi.InstructionsInFlightField);
                _il.Emit(OpCodes.Ldc_I8, IlExit.StopBit);
                _il.Emit(OpCodes.Or);
                _il.Emit(OpCodes.Ret);
            }
        }

        /// <summary>A 64-bit constant in the fewest IL bytes (ldc.i4 + conv.i8 when it fits).</summary>
        private void LdcI8(long value)
        {
            if (value == (int)value)
            {
                _il.Emit(OpCodes.Ldc_I4, (int)value);
                _il.Emit(OpCodes.Conv_I8);
            }
            else
            {
                _il.Emit(OpCodes.Ldc_I8, value);
            }
        }

        private void SetPcFromExit()
        {
            _il.Emit(OpCodes.Ldarg, ArgState);
            _il.Emit(OpCodes.Ldloc, _exitPc);
            _il.Emit(OpCodes.Stfld, _abi.PcField);
        }

        private void ReturnCountPlusExit()
        {
            _il.Emit(OpCodes.Ldloc, _count);
            _il.Emit(OpCodes.Ldloc, _exitAdd);
            _il.Emit(OpCodes.Add);
            _il.Emit(OpCodes.Ret);
        }

        /// <summary>Leaves through the shared exit: pc from <paramref name="pushPc"/>, return count + <paramref name="add"/>.</summary>
        private void ExitTo(Action pushPc, long add)
        {
            pushPc();
            _il.Emit(OpCodes.Stloc, _exitPc);
            _il.Emit(OpCodes.Ldc_I8, add);
            _il.Emit(OpCodes.Stloc, _exitAdd);
            _il.Emit(OpCodes.Br, _exit);
        }

        /// <summary>
        /// Pushes the slow-path arguments every slow path and helper takes after its own: the
        /// guest pc of the instruction and the instructions retired before it (the callee stores
        /// both in the guest state, for precise traps and for device clocks).
        /// </summary>
        private void PushPcAndRetired(ulong pc, int completed)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)pc);
            _il.Emit(OpCodes.Ldloc, _count);
            if (completed != 0)
            {
                _il.Emit(OpCodes.Ldc_I4, completed);
                _il.Emit(OpCodes.Conv_I8);
                _il.Emit(OpCodes.Add);
            }
        }

        /// <summary>After a slow path returned false: leave through the shared trap path.</summary>
        private void BranchToTrapIfFailed(bool registersStored = false)
        {
            _trapUsed = true;
            _il.Emit(OpCodes.Brfalse, registersStored ? _trapStored : _trap);
        }

        private void Release(int temp)
        {
            if (_temps[temp] is not { } local)
                return;
            (local.LocalType == typeof(int) ? _free32 : _free64).Push(local);
        }

        private void LoadRegisters()
        {
            foreach (int r in _usedRegs)
            {
                _il.Emit(OpCodes.Ldarg, ArgRegs);
                _il.Emit(OpCodes.Ldc_I4, r * 8);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Ldind_I8);
                _il.Emit(OpCodes.Stloc, _regs[r]!);
            }
        }

        private void StoreRegisters()
        {
            foreach (int r in _writtenRegs)
            {
                _il.Emit(OpCodes.Ldarg, ArgRegs);
                _il.Emit(OpCodes.Ldc_I4, r * 8);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Ldloc, _regs[r]!);
                _il.Emit(OpCodes.Stind_I8);
            }
        }

        /// <summary>Pushes a temp's value: its expression if it is inlined, else its local.</summary>
        private void Ld(int temp)
        {
            if (_inline[temp])
                EmitValue(in _f.Code[_def[temp]]);
            else
                _il.Emit(OpCodes.Ldloc, _temps[temp]!);
        }

        private void St(int temp)
        {
            var local = _temps[temp];
            if (local == null)
            {
                bool is32 = _f.TypeOf(temp) == IrType.I32;
                var free = is32 ? _free32 : _free64;
                local = free.Count > 0 ? free.Pop() : _il.DeclareLocal(is32 ? typeof(int) : typeof(long));
                _temps[temp] = local;
            }
            _il.Emit(OpCodes.Stloc, local);
        }

        private void EmitInst(in IrInst i)
        {
            var il = _il;
            switch (i.Op)
            {
                case IrOp.Nop:
                    break;
                case IrOp.SetReg:
                    Ld(i.A);
                    il.Emit(OpCodes.Stloc, _regs[i.Imm]!);
                    break;
                case IrOp.Select:
                {
                    var otherwise = il.DefineLabel();
                    var done = il.DefineLabel();
                    Ld(i.A);
                    il.Emit(OpCodes.Brfalse, otherwise);
                    Ld(i.B);
                    St(i.Dst);
                    il.Emit(OpCodes.Br, done);
                    il.MarkLabel(otherwise);
                    Ld(i.C);
                    St(i.Dst);
                    il.MarkLabel(done);
                    break;
                }
                case IrOp.Load: EmitLoad(i); break;
                case IrOp.Store: EmitStore(i); break;
                case IrOp.CompareAndSwap: EmitCompareAndSwap(i); break;
                case IrOp.DivS or IrOp.DivU or IrOp.RemS or IrOp.RemU when i.IsExitingDivision:
                    EmitDivisionExit(i);
                    EmitValue(in i);
                    St(i.Dst);
                    break;
                case IrOp.Call: EmitCall(i); break;
                case IrOp.PageCopy or IrOp.PageFill: EmitPageBulk(i); break;
                case IrOp.Label: il.MarkLabel(_labels[i.Imm]); break;
                case IrOp.Jump: il.Emit(OpCodes.Br, _labels[i.Imm]); break;
                case IrOp.Branch:
                    Ld(i.A);
                    Ld(i.B);
                    il.Emit(i.Cond switch
                    {
                        IrCondition.Eq => OpCodes.Beq,
                        IrCondition.Ne => OpCodes.Bne_Un,
                        IrCondition.LtS => OpCodes.Blt,
                        IrCondition.GeS => OpCodes.Bge,
                        IrCondition.LtU => OpCodes.Blt_Un,
                        _ => OpCodes.Bge_Un,
                    }, _labels[i.Imm]);
                    break;
                case IrOp.Retire:
                    il.Emit(OpCodes.Ldloc, _count);
                    il.Emit(OpCodes.Ldc_I8, i.Imm);
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Stloc, _count);
                    break;
                case IrOp.ExitIfBudget:
                {
                    var stay = il.DefineLabel();
                    long pc = i.Imm;
                    il.Emit(OpCodes.Ldloc, _count);
                    il.Emit(OpCodes.Ldarg, ArgBudget);
                    il.Emit(OpCodes.Blt, stay);
                    ExitTo(() => _il.Emit(OpCodes.Ldc_I8, pc), 0);
                    il.MarkLabel(stay);
                    break;
                }
                case IrOp.Exit:
                {
                    long add = (long)(uint)i.Completed | IlExit.BitsFor(i.Kind);
                    if (i.A >= 0)
                    {
                        int a = i.A;
                        ExitTo(() => Ld(a), add);
                    }
                    else
                    {
                        long pc = i.Imm;
                        ExitTo(() => _il.Emit(OpCodes.Ldc_I8, pc), add);
                    }
                    break;
                }
                default:
                    if (!i.IsPure)
                        throw new NotSupportedException($"IL backend: {i.Op}");
                    EmitValue(in i);
                    St(i.Dst);
                    break;
            }
        }

        /// <summary>Pushes the value of a pure op.</summary>
        private void EmitValue(in IrInst i)
        {
            var il = _il;
            switch (i.Op)
            {
                case IrOp.Const:
                    if (i.Type == IrType.I32)
                        il.Emit(OpCodes.Ldc_I4, (int)i.Imm);
                    else
                        LdcI8(i.Imm);
                    break;
                case IrOp.GetReg: il.Emit(OpCodes.Ldloc, _regs[i.Imm]!); break;
                case IrOp.Add: Binary(i, OpCodes.Add); break;
                case IrOp.Sub: Binary(i, OpCodes.Sub); break;
                case IrOp.Mul: Binary(i, OpCodes.Mul); break;
                case IrOp.And: Binary(i, OpCodes.And); break;
                case IrOp.Or: Binary(i, OpCodes.Or); break;
                case IrOp.Xor: Binary(i, OpCodes.Xor); break;
                case IrOp.Shl: Shift(i, OpCodes.Shl); break;
                case IrOp.ShrS: Shift(i, OpCodes.Shr); break;
                case IrOp.ShrU: Shift(i, OpCodes.Shr_Un); break;
                case IrOp.MulHighS: Call2(i, i.Type == IrType.I32 ? s_mulHighS32 : s_mulHighS); break;
                case IrOp.MulHighU: Call2(i, i.Type == IrType.I32 ? s_mulHighU32 : s_mulHighU); break;
                case IrOp.MulHighSU: Call2(i, i.Type == IrType.I32 ? s_mulHighSU32 : s_mulHighSU); break;
                case IrOp.DivS: Call2(i, i.Type == IrType.I32 ? s_divS32 : s_divS); break;
                case IrOp.DivU: Call2(i, i.Type == IrType.I32 ? s_divU32 : s_divU); break;
                case IrOp.RemS: Call2(i, i.Type == IrType.I32 ? s_remS32 : s_remS); break;
                case IrOp.RemU: Call2(i, i.Type == IrType.I32 ? s_remU32 : s_remU); break;
                case IrOp.RotL or IrOp.RotR:
                    // the count as the method's int (modulo the width there)
                    Ld(i.A);
                    Ld(i.B);
                    if (_f.TypeOf(i.B) == IrType.I64 && i.Type == IrType.I32)
                        il.Emit(OpCodes.Conv_I4);
                    else if (_f.TypeOf(i.B) == IrType.I32 && i.Type == IrType.I64)
                        il.Emit(OpCodes.Conv_I8);
                    il.Emit(OpCodes.Call, i.Type == IrType.I32 ? s_bitOps[i.Op].W32 : s_bitOps[i.Op].W64);
                    break;
                case IrOp.Clz or IrOp.Ctz or IrOp.Popcnt or IrOp.ByteSwap or IrOp.Parity:
                    Ld(i.A);
                    il.Emit(OpCodes.Call, i.Type == IrType.I32 ? s_bitOps[i.Op].W32 : s_bitOps[i.Op].W64);
                    break;
                case IrOp.AddOverflow or IrOp.SubOverflow:
                    Call2(i, i.Type == IrType.I32 ? s_bitOps[i.Op].W32 : s_bitOps[i.Op].W64);
                    break;
                case IrOp.Compare:
                    Ld(i.A);
                    Ld(i.B);
                    EmitCompare(i.Cond);
                    if (i.Type == IrType.I64)
                        il.Emit(OpCodes.Conv_U8);
                    break;
                case IrOp.Wrap: Ld(i.A); il.Emit(OpCodes.Conv_I4); break;
                case IrOp.ExtendS: Ld(i.A); il.Emit(OpCodes.Conv_I8); break;
                case IrOp.ExtendU: Ld(i.A); il.Emit(OpCodes.Conv_U8); break;
                default:
                    throw new NotSupportedException($"IL backend: value of {i.Op}");
            }
        }

        private void Binary(in IrInst i, OpCode op)
        {
            Ld(i.A);
            Ld(i.B);
            _il.Emit(op);
        }

        private void Shift(in IrInst i, OpCode op)
        {
            Ld(i.A);
            Ld(i.B);
            if (_f.TypeOf(i.B) == IrType.I64)
                _il.Emit(OpCodes.Conv_I4);
            _il.Emit(OpCodes.Ldc_I4, i.Type == IrType.I32 ? 31 : 63);
            _il.Emit(OpCodes.And);
            _il.Emit(op);
        }

        private void Call2(in IrInst i, MethodInfo m)
        {
            Ld(i.A);
            Ld(i.B);
            _il.Emit(OpCodes.Call, m);
        }

        private void EmitCompare(IrCondition cond)
        {
            var il = _il;
            switch (cond)
            {
                case IrCondition.Eq: il.Emit(OpCodes.Ceq); break;
                case IrCondition.Ne: il.Emit(OpCodes.Ceq); il.Emit(OpCodes.Ldc_I4_0); il.Emit(OpCodes.Ceq); break;
                case IrCondition.LtS: il.Emit(OpCodes.Clt); break;
                case IrCondition.GeS: il.Emit(OpCodes.Clt); il.Emit(OpCodes.Ldc_I4_0); il.Emit(OpCodes.Ceq); break;
                case IrCondition.LtU: il.Emit(OpCodes.Clt_Un); break;
                default: il.Emit(OpCodes.Clt_Un); il.Emit(OpCodes.Ldc_I4_0); il.Emit(OpCodes.Ceq); break;
            }
        }

        /// <summary>va = A + Imm; entry = tlb + index(va); branch to <paramref name="slow"/> unless the tag matches; leaves the host address on the stack.</summary>
        private void EmitTlbProbe(in IrInst i, int tagOffset, Label slow)
        {
            var il = _il;
            Ld(i.A);
            if (i.Imm != 0)
            {
                LdcI8(i.Imm);
                il.Emit(OpCodes.Add);
            }
            il.Emit(OpCodes.Stloc, _va);
            il.Emit(OpCodes.Ldarg, ArgTlb);
            il.Emit(OpCodes.Ldloc, _va);
            il.Emit(OpCodes.Ldc_I4, _abi.Tlb.PageBits);
            il.Emit(OpCodes.Shr_Un);
            il.Emit(OpCodes.Conv_I4);
            il.Emit(OpCodes.Ldc_I4, (int)_abi.Tlb.IndexMask);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Ldc_I4, _abi.Tlb.EntryShift);
            il.Emit(OpCodes.Shl);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, _entry);
            il.Emit(OpCodes.Ldloc, _entry);
            if (tagOffset != 0)
            {
                il.Emit(OpCodes.Ldc_I4, tagOffset);
                il.Emit(OpCodes.Add);
            }
            il.Emit(OpCodes.Ldind_I8);
            // One compare: page tag, and (for sizes > 1) natural alignment or, for a guest whose
            // misaligned accesses are fast, no page crossing; the rest take the slow path.
            il.Emit(OpCodes.Ldloc, _va);
            if (_abi.Tlb.ProbeOffset(i.Size, i.Op == IrOp.CompareAndSwap) != 0)
            {
                il.Emit(OpCodes.Ldc_I8, _abi.Tlb.ProbeOffset(i.Size, i.Op == IrOp.CompareAndSwap));
                il.Emit(OpCodes.Add);
            }
            il.Emit(OpCodes.Ldc_I8, _abi.Tlb.ProbeMask(i.Size, i.Op == IrOp.CompareAndSwap));
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Bne_Un, slow);
            il.Emit(OpCodes.Ldloc, _entry);
            il.Emit(OpCodes.Ldc_I4, _abi.Tlb.AddendOffset);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldind_I8);
            il.Emit(OpCodes.Ldloc, _va);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Conv_I);
        }

        // Loads and stores: fast path inline, slow path right after it (skipped by a branch), so
        // each access is one straight stretch of IL with a shared trap exit.

        private void EmitLoad(in IrInst i)
        {
            var il = _il;
            var slow = il.DefineLabel();
            var done = il.DefineLabel();
            EmitTlbProbe(i, _abi.Tlb.ReadTagOffset, slow);
            switch (i.Size)
            {
                case 1: il.Emit(i.Signed ? OpCodes.Ldind_I1 : OpCodes.Ldind_U1); break;
                case 2: il.Emit(i.Signed ? OpCodes.Ldind_I2 : OpCodes.Ldind_U2); break;
                case 4: il.Emit(i.Signed ? OpCodes.Ldind_I4 : OpCodes.Ldind_U4); break;
                default: il.Emit(OpCodes.Ldind_I8); break;
            }
            if (i.Size < 8)
                il.Emit(i.Signed ? OpCodes.Conv_I8 : OpCodes.Conv_U8);
            il.Emit(OpCodes.Stloc, _slowValue);
            il.Emit(OpCodes.Br, done);

            il.MarkLabel(slow);
            il.Emit(OpCodes.Ldarg, ArgState);
            il.Emit(OpCodes.Ldloc, _va);
            il.Emit(OpCodes.Ldc_I4, (int)i.Size);
            PushPcAndRetired(i.GuestPc, i.Completed);
            il.Emit(OpCodes.Ldloca, _slowValue);
            il.Emit(OpCodes.Call, _abi.LoadSlow);
            BranchToTrapIfFailed();
            if (i.Signed && i.Size < 8)
            {
                il.Emit(OpCodes.Ldloc, _slowValue);
                il.Emit(i.Size switch { 1 => OpCodes.Conv_I1, 2 => OpCodes.Conv_I2, _ => OpCodes.Conv_I4 });
                il.Emit(OpCodes.Conv_I8);
                il.Emit(OpCodes.Stloc, _slowValue);
            }
            il.MarkLabel(done);
            if (i.HasDst)
            {
                il.Emit(OpCodes.Ldloc, _slowValue);
                St(i.Dst);
            }
        }

        private static OpCode StoreOf(int size) => size switch
        {
            1 => OpCodes.Stind_I1,
            2 => OpCodes.Stind_I2,
            4 => OpCodes.Stind_I4,
            _ => OpCodes.Stind_I8,
        };

        private void EmitStore(in IrInst i)
        {
            var il = _il;
            var slow = il.DefineLabel();
            var done = il.DefineLabel();
            EmitTlbProbe(i, _abi.Tlb.WriteTagOffset, slow);
            Ld(i.B);
            il.Emit(StoreOf(i.Size));
            il.Emit(OpCodes.Br, done);
            il.MarkLabel(slow);
            il.Emit(OpCodes.Ldarg, ArgState);
            il.Emit(OpCodes.Ldloc, _va);
            il.Emit(OpCodes.Ldc_I4, (int)i.Size);
            Ld(i.B);
            PushPcAndRetired(i.GuestPc, i.Completed);
            il.Emit(OpCodes.Call, _abi.StoreSlow);
            BranchToTrapIfFailed();
            il.MarkLabel(done);
        }

        /// <summary><see cref="IrDivision.Exit"/>: on /0 or (signed) MIN / -1, leave with the interpret bit at the op's pc.</summary>
        private void EmitDivisionExit(in IrInst i)
        {
            var il = _il;
            var exit = il.DefineLabel();
            var fine = il.DefineLabel();
            bool w32 = i.Type == IrType.I32;
            Ld(i.B);
            il.Emit(OpCodes.Brfalse, exit);
            if (i.Op is IrOp.DivS or IrOp.RemS)
            {
                Ld(i.B);
                if (w32) il.Emit(OpCodes.Ldc_I4_M1); else LdcI8(-1);
                il.Emit(OpCodes.Bne_Un, fine);
                Ld(i.A);
                if (w32) il.Emit(OpCodes.Ldc_I4, int.MinValue); else LdcI8(long.MinValue);
                il.Emit(OpCodes.Bne_Un, fine);
            }
            else
            {
                il.Emit(OpCodes.Br, fine);
            }
            il.MarkLabel(exit);
            long pc = (long)i.GuestPc;
            ExitTo(() => _il.Emit(OpCodes.Ldc_I8, pc), (long)(uint)i.Completed | IlExit.InterpretBit);
            il.MarkLabel(fine);
        }

        /// <summary>
        /// Through the write tag: load, compare, store if equal (the IL backend runs one guest CPU on
        /// one thread); the old value. Anything else leaves with the interpret bit at the op's pc (the
        /// guest's interpreter runs the instruction).
        /// </summary>
        private void EmitCompareAndSwap(in IrInst i)
        {
            var il = _il;
            var slow = il.DefineLabel();
            var keep = il.DefineLabel();
            var done = il.DefineLabel();
            EmitTlbProbe(i, _abi.Tlb.WriteTagOffset, slow);
            il.Emit(OpCodes.Stloc, _entry);   // (the host address: the entry is not needed any more)
            il.Emit(OpCodes.Ldloc, _entry);
            switch (i.Size)
            {
                case 1: il.Emit(OpCodes.Ldind_U1); break;
                case 2: il.Emit(OpCodes.Ldind_U2); break;
                case 4: il.Emit(OpCodes.Ldind_U4); break;
                default: il.Emit(OpCodes.Ldind_I8); break;
            }
            if (i.Size < 8)
                il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Stloc, _slowValue);
            il.Emit(OpCodes.Ldloc, _slowValue);
            Ld(i.B);
            if (i.Size < 8)
            {
                LdcI8((1L << (i.Size * 8)) - 1);
                il.Emit(OpCodes.And);
            }
            il.Emit(OpCodes.Bne_Un, keep);
            il.Emit(OpCodes.Ldloc, _entry);
            Ld(i.C);
            il.Emit(StoreOf(i.Size));
            il.MarkLabel(keep);
            il.Emit(OpCodes.Br, done);
            il.MarkLabel(slow);
            long pc = (long)i.GuestPc;
            ExitTo(() => _il.Emit(OpCodes.Ldc_I8, pc), (long)(uint)i.Completed | IlExit.InterpretBit);
            il.MarkLabel(done);
            il.Emit(OpCodes.Ldloc, _slowValue);
            St(i.Dst);
        }

        private static readonly System.Reflection.MethodInfo PageCopyMethod = typeof(PageBulk).GetMethod(nameof(PageBulk.Copy))!,
            PageFillMethod = typeof(PageBulk).GetMethod(nameof(PageBulk.Fill))!;

        /// <summary><see cref="IrOp.PageCopy"/> and <see cref="IrOp.PageFill"/>: a call of their meaning on the TLB (they touch no guest register).</summary>
        private void EmitPageBulk(in IrInst i)
        {
            var il = _il;
            il.Emit(OpCodes.Ldarg, ArgTlb);
            LdcI8(PageBulk.Pack(_abi.Tlb));
            Ld(i.A);
            Ld(i.B);
            Ld(i.C);
            il.Emit(OpCodes.Ldc_I4, (int)i.Size);
            il.Emit(OpCodes.Call, i.Op == IrOp.PageCopy ? PageCopyMethod : PageFillMethod);
            St(i.Dst);
        }

        private void EmitCall(in IrInst i)
        {
            var il = _il;
            StoreRegisters();
            il.Emit(OpCodes.Ldarg, ArgState);
            if (i.A >= 0) Ld(i.A); else il.Emit(OpCodes.Ldc_I8, 0L);
            if (i.B >= 0) Ld(i.B); else il.Emit(OpCodes.Ldc_I8, 0L);
            il.Emit(OpCodes.Ldc_I8, i.Imm);
            PushPcAndRetired(i.GuestPc, i.Completed);
            il.Emit(OpCodes.Call, _abi.Helpers[i.Helper]);
            BranchToTrapIfFailed(registersStored: true);
            LoadRegisters();
        }
    }
}
