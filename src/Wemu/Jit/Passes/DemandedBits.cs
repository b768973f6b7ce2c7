using System.Numerics;
using Wemu.Jit.Ir;

namespace Wemu.Jit.Passes;

/// <summary>
/// Removes masks whose cleared bits nobody reads: a backward sweep finds the bits of each value
/// that its uses can observe (a sum's low bits need only its operands' low bits, a 4-byte store
/// only the low 32, a 32-bit view only the low half...), and an AND with a constant that keeps all
/// of them is forwarded to its operand. x86's 32-bit operations mask their inputs and their result;
/// between two of them the inner masks go. Relies on temps being defined once, before their uses.
/// </summary>
public static class DemandedBits
{
    public static void Run(IrFunction f)
    {
        int n = f.TempCount;
        var code = f.Code;
        var isConst = new bool[n];
        var value = new long[n];
        foreach (ref var i in code)
        {
            if (i.Op == IrOp.Const)
            {
                isConst[i.Dst] = true;
                value[i.Dst] = i.Imm;
            }
        }
        var demanded = new ulong[n];
        var alias = new int[n];
        for (int t = 0; t < n; t++)
            alias[t] = t;
        bool any = false;
        for (int k = code.Length - 1; k >= 0; k--)
        {
            ref var i = ref code[k];
            ulong d = 0;
            if (i.HasDst)
            {
                d = demanded[i.Dst] & All(i.Type);
                if (i.Op == IrOp.And && Keeps(i.B, d, isConst, value))
                {
                    Forward(ref i, i.A, alias, demanded, d);
                    any = true;
                    continue;
                }
                if (i.Op == IrOp.And && Keeps(i.A, d, isConst, value))
                {
                    Forward(ref i, i.B, alias, demanded, d);
                    any = true;
                    continue;
                }
            }
            ulong low = d == 0 ? 0 : d >= 1UL << 63 ? ~0UL : (1UL << (64 - BitOperations.LeadingZeroCount(d))) - 1;
            int width = i.Type == IrType.I32 ? 32 : 64;
            int count = i.B >= 0 && isConst[i.B] ? (int)(value[i.B] & (width - 1)) : -1;
            switch (i.Op)
            {
                case IrOp.Add or IrOp.Sub or IrOp.Mul:
                    Demand(i.A, low, demanded);
                    Demand(i.B, low, demanded);
                    break;
                case IrOp.And:
                    // a bit a constant clears is not read through the other operand
                    Demand(i.A, i.B >= 0 && isConst[i.B] ? d & (ulong)value[i.B] : d, demanded);
                    Demand(i.B, isConst[i.A] ? d & (ulong)value[i.A] : d, demanded);
                    break;
                case IrOp.Or or IrOp.Xor:
                    Demand(i.A, d, demanded);
                    Demand(i.B, d, demanded);
                    break;
                case IrOp.Shl when count >= 0:
                    Demand(i.A, d >> count, demanded);
                    Demand(i.B, ~0UL, demanded);
                    break;
                case IrOp.ShrU when count >= 0:
                    Demand(i.A, (d << count) & All(i.Type), demanded);
                    Demand(i.B, ~0UL, demanded);
                    break;
                case IrOp.Select:
                    Demand(i.A, ~0UL, demanded);
                    Demand(i.B, d, demanded);
                    Demand(i.C, d, demanded);
                    break;
                case IrOp.Wrap or IrOp.ExtendU:
                    Demand(i.A, d & 0xFFFF_FFFF, demanded);
                    break;
                case IrOp.ExtendS:
                    Demand(i.A, (d & 0xFFFF_FFFF) | (d >> 32 != 0 ? 0x8000_0000UL : 0), demanded);
                    break;
                case IrOp.Store when i.Size < 8:
                    Demand(i.A, ~0UL, demanded);
                    Demand(i.B, (1UL << (8 * i.Size)) - 1, demanded);
                    break;
                default:
                    Demand(i.A, ~0UL, demanded);
                    Demand(i.B, ~0UL, demanded);
                    Demand(i.C, ~0UL, demanded);
                    break;
            }
        }
        if (!any)
            return;
        foreach (ref var i in code)
        {
            if (i.A >= 0) i.A = Resolve(alias, i.A);
            if (i.B >= 0) i.B = Resolve(alias, i.B);
            if (i.C >= 0) i.C = Resolve(alias, i.C);
        }
    }

    private static ulong All(IrType type) => type == IrType.I32 ? 0xFFFF_FFFFUL : ~0UL;

    /// <summary>True if <paramref name="mask"/> is a constant that keeps every bit of <paramref name="d"/>.</summary>
    private static bool Keeps(int mask, ulong d, bool[] isConst, long[] value) =>
        mask >= 0 && isConst[mask] && (d & ~(ulong)value[mask]) == 0;

    private static void Demand(int t, ulong bits, ulong[] demanded)
    {
        if (t >= 0)
            demanded[t] |= bits;
    }

    private static void Forward(ref IrInst i, int to, int[] alias, ulong[] demanded, ulong d)
    {
        alias[i.Dst] = to;
        demanded[to] |= d;
        i = IrInst.Nop;
    }

    private static int Resolve(int[] alias, int t)
    {
        while (alias[t] != t)
            t = alias[t];
        return t;
    }
}
