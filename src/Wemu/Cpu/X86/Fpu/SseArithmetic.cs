using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// SSE/SSE2 arithmetic on one binary32 or binary64 element (ADDSS/ADDPS
/// lanes, ...) with MXCSR semantics: DAZ on inputs, RC, FTZ, and the
/// exception flags ORed into bits 0-5 of <c>mxcsr</c>. Packed forms apply
/// the element operation to each lane and accumulate the flags of all lanes.
/// The IEEE arithmetic itself is <see cref="SoftFloat"/>'s; x86 adds the NaN
/// rules of SDM vol. 1, table 4-7 (the first source operand's NaN, quieted)
/// and the negative indefinite for invalid operations.
/// </summary>
public static class SseArithmetic
{
    /// <summary>ADDSS: a + b (a is the first source / destination operand).</summary>
    public static uint AddSingle(uint a, uint b, ref uint mxcsr) => (uint)Binary(a, b, 0, false, ref mxcsr);

    /// <summary>SUBSS: a - b.</summary>
    public static uint SubSingle(uint a, uint b, ref uint mxcsr) => (uint)Binary(a, b, 1, false, ref mxcsr);

    /// <summary>MULSS: a * b.</summary>
    public static uint MulSingle(uint a, uint b, ref uint mxcsr) => (uint)Binary(a, b, 2, false, ref mxcsr);

    /// <summary>DIVSS: a / b.</summary>
    public static uint DivSingle(uint a, uint b, ref uint mxcsr) => (uint)Binary(a, b, 3, false, ref mxcsr);

    /// <summary>ADDSD: a + b.</summary>
    public static ulong AddDouble(ulong a, ulong b, ref uint mxcsr) => Binary(a, b, 0, true, ref mxcsr);

    /// <summary>SUBSD: a - b.</summary>
    public static ulong SubDouble(ulong a, ulong b, ref uint mxcsr) => Binary(a, b, 1, true, ref mxcsr);

    /// <summary>MULSD: a * b.</summary>
    public static ulong MulDouble(ulong a, ulong b, ref uint mxcsr) => Binary(a, b, 2, true, ref mxcsr);

    /// <summary>DIVSD: a / b.</summary>
    public static ulong DivDouble(ulong a, ulong b, ref uint mxcsr) => Binary(a, b, 3, true, ref mxcsr);

    /// <summary>SQRTSS: sqrt(a).</summary>
    public static uint SqrtSingle(uint a, ref uint mxcsr) => (uint)Sqrt(a, false, ref mxcsr);

    /// <summary>SQRTSD: sqrt(a).</summary>
    public static ulong SqrtDouble(ulong a, ref uint mxcsr) => Sqrt(a, true, ref mxcsr);

    /// <summary>
    /// MINSS: a &lt; b ? a : b. SDM vol. 2, MINSS: if either operand is a NaN
    /// (QNaN too, which raises IE) or both are zeros, the second operand b is
    /// returned unchanged (an SNaN is not quieted; a denormal is read as
    /// zero under DAZ like every other operand).
    /// </summary>
    public static uint MinSingle(uint a, uint b, ref uint mxcsr) => (uint)MinMax(a, b, false, false, ref mxcsr);

    /// <summary>MAXSS: a &gt; b ? a : b, with MINSS's NaN and zero rules.</summary>
    public static uint MaxSingle(uint a, uint b, ref uint mxcsr) => (uint)MinMax(a, b, true, false, ref mxcsr);

    /// <summary>MINSD.</summary>
    public static ulong MinDouble(ulong a, ulong b, ref uint mxcsr) => MinMax(a, b, false, true, ref mxcsr);

    /// <summary>MAXSD.</summary>
    public static ulong MaxDouble(ulong a, ulong b, ref uint mxcsr) => MinMax(a, b, true, true, ref mxcsr);

    private static ulong Binary(ulong a, ulong b, int op, bool d, ref uint mxcsr)
    {
        if (SseOperands.IsNaN(a, d) || SseOperands.IsNaN(b, d))
            return SseOperands.PropagateNaN(a, b, d, ref mxcsr);
        // The operation's own flags start clear so that IE or ZE can
        // suppress its DE (checked against the host); they are merged below.
        uint own = mxcsr & ~0x3Fu;
        a = SseOperands.Input(a, d, ref own);
        b = SseOperands.Input(b, d, ref own);
        if (op == 3 && SseOperands.IsZero(b, d) && !SseOperands.IsZero(a, d) && !SseOperands.IsInfinity(a, d))
        {
            mxcsr |= Mxcsr.ZeroDivide;
            return (SseOperands.SignBit(d) & (a ^ b)) | (d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL);
        }

        RoundingMode rm = Mxcsr.Rounding(mxcsr);
        FloatFlags flags = FloatFlags.None;
        ulong r;
        if (d)
        {
            r = op switch
            {
                0 => SoftFloat.Add64(a, b, rm, ref flags),
                1 => SoftFloat.Sub64(a, b, rm, ref flags),
                2 => SoftFloat.Mul64(a, b, rm, ref flags),
                _ => SoftFloat.Div64(a, b, rm, ref flags),
            };
        }
        else
        {
            r = op switch
            {
                0 => SoftFloat.Add32((uint)a, (uint)b, rm, ref flags),
                1 => SoftFloat.Sub32((uint)a, (uint)b, rm, ref flags),
                2 => SoftFloat.Mul32((uint)a, (uint)b, rm, ref flags),
                _ => SoftFloat.Div32((uint)a, (uint)b, rm, ref flags),
            };
        }

        r = SseOperands.Output(r, flags, d, ref own);
        mxcsr |= own & 0x3F;
        return r;
    }

    private static ulong Sqrt(ulong a, bool d, ref uint mxcsr)
    {
        if (SseOperands.IsNaN(a, d))
            return SseOperands.PropagateNaN(a, a, d, ref mxcsr);
        uint own = mxcsr & ~0x3Fu;
        a = SseOperands.Input(a, d, ref own);
        RoundingMode rm = Mxcsr.Rounding(mxcsr);
        FloatFlags flags = FloatFlags.None;
        ulong r = d ? SoftFloat.Sqrt64(a, rm, ref flags) : SoftFloat.Sqrt32((uint)a, rm, ref flags);
        r = SseOperands.Output(r, flags, d, ref own);
        mxcsr |= own & 0x3F;
        return r;
    }

    private static ulong MinMax(ulong a, ulong b, bool max, bool d, ref uint mxcsr)
    {
        if (SseOperands.IsNaN(a, d) || SseOperands.IsNaN(b, d))
        {
            // The second operand is returned as is, but after DAZ (host-checked).
            mxcsr |= Mxcsr.Invalid;
            return (mxcsr & Mxcsr.DenormalsAreZeros) != 0 && SseOperands.IsDenormal(b, d) ? b & SseOperands.SignBit(d) : b;
        }

        ulong x = SseOperands.Input(a, d, ref mxcsr);
        ulong y = SseOperands.Input(b, d, ref mxcsr);
        if (SseOperands.IsZero(x, d) && SseOperands.IsZero(y, d))
            return y;
        bool less = Less(x, y, d);
        return (max ? Less(y, x, d) : less) ? x : y;
    }

    /// <summary>x &lt; y for non-NaN encodings (zeros of both signs equal).</summary>
    internal static bool Less(ulong x, ulong y, bool d)
    {
        ulong sign = SseOperands.SignBit(d);
        bool nx = (x & sign) != 0;
        bool ny = (y & sign) != 0;
        ulong mx = x & ~sign;
        ulong my = y & ~sign;
        if (mx == 0 && my == 0)
            return false;
        if (nx != ny)
            return nx;
        return nx ? mx > my : mx < my;
    }
}
