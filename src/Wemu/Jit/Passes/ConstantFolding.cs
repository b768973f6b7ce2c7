using Wemu.Jit.Ir;

namespace Wemu.Jit.Passes;

/// <summary>
/// Folds pure ops whose operands are constants, forwards identities (x+0, x|0, x^0, x&lt;&lt;0,
/// x*1, x&amp;-1) to their operand, and turns branches on constants into jumps or nothing.
/// It also tracks the bits each value may have set (loads narrower than 64 bits, masks, compares,
/// shifts by constants...), and forwards a mask that clears none of them (x86's 32-bit results
/// and zero-extensions mask values that are often masked already) to its operand. A branch on a
/// compare's result against zero branches on the compare itself, and a compare's result xor 1 is the
/// negated compare (x86 condition codes come out so).
/// Within a stretch without labels it also gives every repeated pure op (the same op on the same
/// operands, and the same constant) the first one's temp, and folds x^x and x-x to 0 and x&amp;x, x|x
/// to x: an x86 instruction reads its operands afresh, so `xor eax, eax` masks the register twice
/// and xors the two, and address arithmetic repeats.
/// Relies on temps being defined once, before their uses (see <see cref="IrFunction"/>).
/// </summary>
public static class ConstantFolding
{
    // Scratch kept between calls (one compile at a time per thread): the page runs this under Mono's interpreter, where
    // fresh arrays and a Dictionary keyed by an eight-field tuple (generic hashing and equality per field) cost ~0.16 ms
    // a region, two thirds of all the passes' time.
    [ThreadStatic]
    private static bool[]? t_isConst;
    [ThreadStatic]
    private static long[]? t_value;
    [ThreadStatic]
    private static int[]? t_alias, t_compareAt;
    [ThreadStatic]
    private static ulong[]? t_bits;
    [ThreadStatic]
    private static SeenTable? t_seen;

    public static void Run(IrFunction f)
    {
        int n = f.TempCount;
        var isConst = ScratchArray.Ensure(ref t_isConst!, n);
        var value = ScratchArray.Ensure(ref t_value!, n);
        var alias = ScratchArray.Ensure(ref t_alias!, n);
        // bits each temp may have set, within its type's width (I32: the low 32)
        var bits = ScratchArray.Ensure(ref t_bits!, n);
        Array.Clear(isConst, 0, n);
        for (int t = 0; t < n; t++)
        {
            alias[t] = t;
            bits[t] = ~0UL;
        }

        // where each temp defined by a compare is defined (-1: not a compare)
        var compareAt = ScratchArray.Ensure(ref t_compareAt!, n);
        Array.Fill(compareAt, -1, 0, n);

        // the pure ops seen since the last label, by what they compute
        var seen = t_seen ??= new SeenTable();
        seen.Clear();
        var code = f.Code;
        for (int k = 0; k < code.Length; k++)
        {
            ref var i = ref code[k];
            if (i.A >= 0) i.A = alias[i.A];
            if (i.B >= 0) i.B = alias[i.B];
            if (i.C >= 0) i.C = alias[i.C];

            if (i.Op == IrOp.Label)
            {
                seen.Clear();   // a value from before a label need not have been computed on every path to it
                continue;
            }
            if (i.Op == IrOp.Const)
            {
                if (Repeated(ref i, seen, alias))
                    continue;
                isConst[i.Dst] = true;
                value[i.Dst] = i.Imm;
                bits[i.Dst] = i.Type == IrType.I32 ? (uint)i.Imm : (ulong)i.Imm;
                continue;
            }
            if (i.HasDst)
                bits[i.Dst] = PossibleBits(in i, bits, isConst, value);
            if (i.Op == IrOp.Branch && i.Cond is IrCondition.Eq or IrCondition.Ne && isConst[i.B] && value[i.B] == 0 && compareAt[i.A] >= 0)
            {
                // branch on (a cond b) != 0 (== 0): on a cond b (its negation)
                ref var c = ref code[compareAt[i.A]];
                i.Cond = i.Cond == IrCondition.Ne ? c.Cond : Negate(c.Cond);
                i.A = c.A;
                i.B = c.B;
            }
            if (i.Op == IrOp.Branch && isConst[i.A] && isConst[i.B])
            {
                i.Op = IrEvaluator.Compare(i.Cond, value[i.A], value[i.B]) ? IrOp.Jump : IrOp.Nop;
                i.A = i.B = IrInst.NoTemp;
                continue;
            }
            if (i.Op == IrOp.Select && i.A >= 0 && isConst[i.A])
            {
                Forward(ref i, value[i.A] != 0 ? i.B : i.C, alias);
                continue;
            }
            if (!i.IsPure || i.Op == IrOp.GetReg)
                continue;

            bool aConst = i.A >= 0 && isConst[i.A];
            bool bConst = i.B < 0 || isConst[i.B];
            bool cConst = i.C < 0 || isConst[i.C];
            if (aConst && bConst && cConst)
            {
                long a = value[i.A];
                long b = i.B >= 0 ? value[i.B] : 0;
                long c = i.C >= 0 ? value[i.C] : 0;
                if (f.TypeOf(i.A) == IrType.I32)
                {
                    a = (int)a;
                    b = (int)b;
                }
                long r = IrEvaluator.Evaluate(i.Op, i.Type, i.Cond, a, b, c);
                i.Op = IrOp.Const;
                i.Imm = r;
                i.A = i.B = i.C = IrInst.NoTemp;
                isConst[i.Dst] = true;
                value[i.Dst] = r;
                bits[i.Dst] = i.Type == IrType.I32 ? (uint)r : (ulong)r;
                continue;
            }
            if (i.Op == IrOp.Compare)
            {
                compareAt[i.Dst] = k;
                continue;
            }
            if (i.Op == IrOp.Xor && isConst[i.B] && value[i.B] == 1 && compareAt[i.A] >= 0)
            {
                // (a cond b) ^ 1: a !cond b
                ref var c = ref code[compareAt[i.A]];
                i.Op = IrOp.Compare;
                i.Cond = Negate(c.Cond);
                i.A = c.A;
                i.B = c.B;
                compareAt[i.Dst] = k;
                continue;
            }
            // (a constant's bits are its value: those tracked for a folded one are only a bound)
            if (i.Op == IrOp.And && isConst[i.B] && (bits[i.A] & ~(ulong)value[i.B]) == 0)
                Forward(ref i, i.A, alias);
            else if (i.Op == IrOp.And && aConst && (bits[i.B] & ~(ulong)value[i.A]) == 0)
                Forward(ref i, i.B, alias);
            else if (i.B >= 0 && isConst[i.B] && IsRightIdentity(i.Op, value[i.B], i.Type))
                Forward(ref i, i.A, alias);
            else if (aConst && i.B >= 0 && IsLeftIdentity(i.Op, value[i.A], i.Type))
                Forward(ref i, i.B, alias);
            else if (i.A >= 0 && i.A == i.B && i.Op is IrOp.And or IrOp.Or)
                Forward(ref i, i.A, alias);
            else if (i.A >= 0 && i.A == i.B && i.Op is IrOp.Xor or IrOp.Sub)
            {
                i.Op = IrOp.Const;
                i.Imm = 0;
                i.A = i.B = i.C = IrInst.NoTemp;
                if (!Repeated(ref i, seen, alias))
                {
                    isConst[i.Dst] = true;
                    value[i.Dst] = 0;
                    bits[i.Dst] = 0;
                }
            }
            else if (i.Op is not (IrOp.DivS or IrOp.DivU or IrOp.RemS or IrOp.RemU))
                Repeated(ref i, seen, alias);
        }
    }

    /// <summary>
    /// True (and <paramref name="i"/> forwarded to it) if a pure op computing the same has been seen since
    /// the last label; else records <paramref name="i"/>. Commutative ops are keyed with their operands in order.
    /// </summary>
    private static bool Repeated(ref IrInst i, SeenTable seen, int[] alias)
    {
        int a = i.A, b = i.B;
        if (i.Op is IrOp.Add or IrOp.Mul or IrOp.And or IrOp.Or or IrOp.Xor && b >= 0 && b < a)
            (a, b) = (b, a);
        // op, type, condition (compares only) and division in one word
        int kind = (int)i.Op | (int)i.Type << 8 | (int)(i.Op == IrOp.Compare ? i.Cond : default) << 16 | (int)i.Division << 24;
        int earlier = seen.FindOrAdd(kind, a, b, i.C, i.Imm, i.Dst);
        if (earlier >= 0)
        {
            Forward(ref i, earlier, alias);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The pure ops seen since the last label: an open-addressed table of (kind, a, b, c, imm) to the temp that computed
    /// it, emptied in O(1) by a generation count (a slot belongs to the table only while its generation is the current one).
    /// It grows when half full, so a probe always ends at an empty slot.
    /// </summary>
    internal sealed class SeenTable
    {
        private int[] _kind = new int[256], _a = new int[256], _b = new int[256], _c = new int[256], _temp = new int[256];
        private long[] _imm = new long[256];
        private uint[] _generation = new uint[256];
        private uint _current = 1;
        private int _count;

        public void Clear()
        {
            _count = 0;
            if (++_current == 0)
            {
                Array.Clear(_generation);   // (after 2^32 clears: no slot may look current)
                _current = 1;
            }
        }

        /// <summary>The temp recorded for the key, or -1 after recording <paramref name="temp"/> for it.</summary>
        public int FindOrAdd(int kind, int a, int b, int c, long imm, int temp)
        {
            int mask = _kind.Length - 1;
            for (int slot = Hash(kind, a, b, c, imm) & mask; ; slot = (slot + 1) & mask)
            {
                if (_generation[slot] != _current)
                {
                    if (2 * (_count + 1) > _kind.Length)
                    {
                        Grow();
                        return FindOrAdd(kind, a, b, c, imm, temp);
                    }
                    _generation[slot] = _current;
                    _kind[slot] = kind; _a[slot] = a; _b[slot] = b; _c[slot] = c; _imm[slot] = imm; _temp[slot] = temp;
                    _count++;
                    return -1;
                }
                if (_kind[slot] == kind && _a[slot] == a && _b[slot] == b && _c[slot] == c && _imm[slot] == imm)
                    return _temp[slot];
            }
        }

        private static int Hash(int kind, int a, int b, int c, long imm)
        {
            ulong h = (ulong)imm * 0x9E37_79B9_7F4A_7C15UL;
            h ^= ((ulong)(uint)kind << 32 | (uint)a) * 0xC2B2_AE3D_27D4_EB4FUL;
            h ^= ((ulong)(uint)b << 32 | (uint)c) * 0x1656_67B1_9E37_79F9UL;
            return (int)(h >> 32 ^ h);
        }

        private void Grow()
        {
            int[] kind = _kind, a = _a, b = _b, c = _c, temp = _temp;
            long[] imm = _imm;
            uint[] generation = _generation;
            uint current = _current;
            int size = kind.Length * 2;
            _kind = new int[size]; _a = new int[size]; _b = new int[size]; _c = new int[size]; _temp = new int[size];
            _imm = new long[size];
            _generation = new uint[size];
            _current = 1;
            _count = 0;
            for (int k = 0; k < kind.Length; k++)
            {
                if (generation[k] == current)
                    FindOrAdd(kind[k], a[k], b[k], c[k], imm[k], temp[k]);
            }
        }
    }

    private static IrCondition Negate(IrCondition cond) => cond switch
    {
        IrCondition.Eq => IrCondition.Ne,
        IrCondition.Ne => IrCondition.Eq,
        IrCondition.LtS => IrCondition.GeS,
        IrCondition.GeS => IrCondition.LtS,
        IrCondition.LtU => IrCondition.GeU,
        _ => IrCondition.LtU,
    };

    /// <summary>The bits the result of <paramref name="i"/> may have set (all, where nothing is known).</summary>
    private static ulong PossibleBits(in IrInst i, ulong[] bits, bool[] isConst, long[] value)
    {
        ulong all = i.Type == IrType.I32 ? 0xFFFF_FFFFUL : ~0UL;
        int width = i.Type == IrType.I32 ? 32 : 64;
        ulong a = i.A >= 0 ? bits[i.A] : all, b = i.B >= 0 ? bits[i.B] : all;
        int count = i.B >= 0 && isConst[i.B] ? (int)(value[i.B] & (width - 1)) : -1;
        ulong r = i.Op switch
        {
            IrOp.Load when !i.Signed && i.Size < 8 => (1UL << (8 * i.Size)) - 1,
            IrOp.CompareAndSwap when i.Size < 8 => (1UL << (8 * i.Size)) - 1,
            IrOp.And => a & b,
            IrOp.Or or IrOp.Xor => a | b,
            IrOp.Select => b | (i.C >= 0 ? bits[i.C] : all),
            IrOp.Add => Below(Math.Min(Width(a | b) + 1, 64)),
            IrOp.Mul => Below(Math.Min(Width(a) + Width(b), 64)),
            IrOp.Shl when count >= 0 => a << count,
            IrOp.ShrU when count >= 0 => a >> count,
            IrOp.ShrS when count >= 0 && (a & (1UL << (width - 1))) == 0 => a >> count,
            IrOp.Compare or IrOp.Parity or IrOp.AddOverflow or IrOp.SubOverflow => 1,
            IrOp.Clz or IrOp.Ctz or IrOp.Popcnt => 127,
            IrOp.Wrap or IrOp.ExtendU => a & 0xFFFF_FFFFUL,
            IrOp.ExtendS when (a & 0x8000_0000UL) == 0 => a,
            _ => all,
        };
        return r & all;
    }

    private static int Width(ulong bits) => 64 - System.Numerics.BitOperations.LeadingZeroCount(bits);

    private static ulong Below(int width) => width >= 64 ? ~0UL : (1UL << width) - 1;

    private static void Forward(ref IrInst i, int to, int[] alias)
    {
        alias[i.Dst] = to;
        i.Op = IrOp.Nop;
        i.A = i.B = i.C = IrInst.NoTemp;
        i.Dst = IrInst.NoTemp;
    }

    private static bool IsRightIdentity(IrOp op, long b, IrType type)
    {
        if (type == IrType.I32)
            b = (int)b;
        return op switch
        {
            IrOp.Add or IrOp.Sub or IrOp.Or or IrOp.Xor => b == 0,
            IrOp.Shl or IrOp.ShrS or IrOp.ShrU => (b & (type == IrType.I32 ? 31 : 63)) == 0,
            IrOp.Mul => b == 1,
            IrOp.And => b == -1,
            _ => false,
        };
    }

    private static bool IsLeftIdentity(IrOp op, long a, IrType type)
    {
        if (type == IrType.I32)
            a = (int)a;
        return op switch
        {
            IrOp.Add or IrOp.Or or IrOp.Xor => a == 0,
            IrOp.Mul => a == 1,
            IrOp.And => a == -1,
            _ => false,
        };
    }
}
