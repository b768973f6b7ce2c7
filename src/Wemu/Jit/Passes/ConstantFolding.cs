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
    public static void Run(IrFunction f)
    {
        int n = f.TempCount;
        var isConst = new bool[n];
        var value = new long[n];
        var alias = new int[n];
        // bits each temp may have set, within its type's width (I32: the low 32)
        var bits = new ulong[n];
        for (int t = 0; t < n; t++)
        {
            alias[t] = t;
            bits[t] = ~0UL;
        }

        // where each temp defined by a compare is defined (-1: not a compare)
        var compareAt = new int[n];
        Array.Fill(compareAt, -1);

        // the pure ops seen since the last label, by what they compute
        var seen = new Dictionary<(IrOp, IrType, IrCondition, IrDivision, int, int, int, long), int>();
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
    private static bool Repeated(ref IrInst i, Dictionary<(IrOp, IrType, IrCondition, IrDivision, int, int, int, long), int> seen, int[] alias)
    {
        int a = i.A, b = i.B;
        if (i.Op is IrOp.Add or IrOp.Mul or IrOp.And or IrOp.Or or IrOp.Xor && b >= 0 && b < a)
            (a, b) = (b, a);
        var key = (i.Op, i.Type, i.Op == IrOp.Compare ? i.Cond : default, i.Division, a, b, i.C, i.Imm);
        if (seen.TryGetValue(key, out int earlier))
        {
            Forward(ref i, earlier, alias);
            return true;
        }
        seen[key] = i.Dst;
        return false;
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
