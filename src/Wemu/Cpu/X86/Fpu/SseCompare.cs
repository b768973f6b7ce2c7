namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// SSE comparisons: CMPSS/CMPPS/CMPSD/CMPPD predicates 0-7 (SDM vol. 2,
/// CMPPS, table "Comparison Predicate for CMPPS and CMPSS") and
/// COMISS/UCOMISS/COMISD/UCOMISD (EFLAGS ZF PF CF).
/// </summary>
public static class SseCompare
{
    /// <summary>
    /// CMPSS predicate imm8 &amp; 7: EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD.
    /// Returns the all-ones mask when true, else 0. LT, LE, NLT and NLE
    /// raise IE on any NaN, the others only on an SNaN.
    /// </summary>
    public static uint CompareSingle(uint a, uint b, int predicate, ref uint mxcsr) =>
        Compare(a, b, predicate, false, ref mxcsr) ? 0xFFFF_FFFF : 0;

    /// <summary>CMPSD (SSE2) predicate imm8 &amp; 7: returns the 64-bit mask.</summary>
    public static ulong CompareDouble(ulong a, ulong b, int predicate, ref uint mxcsr) =>
        Compare(a, b, predicate, true, ref mxcsr) ? ulong.MaxValue : 0;

    /// <summary>
    /// COMISS (quiet = false) / UCOMISS (quiet = true): returns ZF PF CF
    /// (unordered 111, greater 000, less 001, equal 100; OF SF AF are
    /// cleared by the caller). COMISS raises IE on any NaN, UCOMISS on an SNaN.
    /// </summary>
    public static uint OrderedCompareSingle(uint a, uint b, bool quiet, ref uint mxcsr) => Eflags(a, b, quiet, false, ref mxcsr);

    /// <summary>COMISD / UCOMISD.</summary>
    public static uint OrderedCompareDouble(ulong a, ulong b, bool quiet, ref uint mxcsr) => Eflags(a, b, quiet, true, ref mxcsr);

    private static bool Compare(ulong a, ulong b, int predicate, bool d, ref uint mxcsr)
    {
        predicate &= 7;
        bool unordered = SseOperands.IsNaN(a, d) || SseOperands.IsNaN(b, d);
        if (unordered)
        {
            bool signaling = predicate is 1 or 2 or 5 or 6;
            if (signaling || SseOperands.IsSignalingNaN(a, d) || SseOperands.IsSignalingNaN(b, d))
                mxcsr |= Mxcsr.Invalid;
            return predicate is 3 or 4 or 5 or 6;
        }

        a = SseOperands.Input(a, d, ref mxcsr);
        b = SseOperands.Input(b, d, ref mxcsr);
        bool lt = SseArithmetic.Less(a, b, d);
        bool eq = !lt && !SseArithmetic.Less(b, a, d);
        return predicate switch
        {
            0 => eq,
            1 => lt,
            2 => lt || eq,
            3 => false,
            4 => !eq,
            5 => !lt,
            6 => !(lt || eq),
            _ => true,
        };
    }

    private static uint Eflags(ulong a, ulong b, bool quiet, bool d, ref uint mxcsr)
    {
        if (SseOperands.IsNaN(a, d) || SseOperands.IsNaN(b, d))
        {
            if (!quiet || SseOperands.IsSignalingNaN(a, d) || SseOperands.IsSignalingNaN(b, d))
                mxcsr |= Mxcsr.Invalid;
            return X87Compare.ZeroFlag | X87Compare.ParityFlag | X87Compare.CarryFlag;
        }

        a = SseOperands.Input(a, d, ref mxcsr);
        b = SseOperands.Input(b, d, ref mxcsr);
        if (SseArithmetic.Less(a, b, d))
            return X87Compare.CarryFlag;
        if (SseArithmetic.Less(b, a, d))
            return 0;
        return X87Compare.ZeroFlag;
    }
}
