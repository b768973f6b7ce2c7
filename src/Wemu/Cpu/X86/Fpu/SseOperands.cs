using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// Encoding rules of binary32/binary64 shared by the SSE operation classes:
/// NaN tests, quieting, DAZ/DE on inputs, FTZ and flag mapping on outputs.
/// `d` selects binary64.
/// </summary>
internal static class SseOperands
{
    /// <summary>The "QNaN floating-point indefinite" (SDM vol. 1, table 4-3).</summary>
    public static ulong Indefinite(bool d) => d ? 0xFFF8_0000_0000_0000UL : 0xFFC0_0000UL;

    public static ulong SignBit(bool d) => d ? 0x8000_0000_0000_0000UL : 0x8000_0000UL;

    private static ulong ExpMask(bool d) => d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL;

    public static ulong QuietBit(bool d) => d ? 0x0008_0000_0000_0000UL : 0x0040_0000UL;

    public static bool IsNaN(ulong x, bool d) => (x & ~SignBit(d)) > ExpMask(d);

    public static bool IsSignalingNaN(ulong x, bool d) => IsNaN(x, d) && (x & QuietBit(d)) == 0;

    public static bool IsDenormal(ulong x, bool d) => (x & ExpMask(d)) == 0 && (x & ~SignBit(d)) != 0;

    public static bool IsZero(ulong x, bool d) => (x & ~SignBit(d)) == 0;

    public static bool IsInfinity(ulong x, bool d) => (x & ~SignBit(d)) == ExpMask(d);

    public static ulong Quiet(ulong x, bool d) => x | QuietBit(d);

    /// <summary>
    /// SDM vol. 1, table 4-7 (SSE column): the first source operand's NaN if
    /// it is one, else the second's, quieted; IE if either is signaling.
    /// </summary>
    public static ulong PropagateNaN(ulong a, ulong b, bool d, ref uint mxcsr)
    {
        if (IsSignalingNaN(a, d) || IsSignalingNaN(b, d))
            mxcsr |= Mxcsr.Invalid;
        return Quiet(IsNaN(a, d) ? a : b, d);
    }

    /// <summary>
    /// A source operand as the operation sees it: with DAZ a denormal reads
    /// as a zero of the same sign (SDM vol. 1, 10.2.3.4); without it a
    /// denormal raises DE.
    /// </summary>
    public static ulong Input(ulong x, bool d, ref uint mxcsr)
    {
        // (mxcsr is both the control input and the flag accumulator.)
        if (!IsDenormal(x, d))
            return x;
        if ((mxcsr & Mxcsr.DenormalsAreZeros) != 0)
            return x & SignBit(d);
        mxcsr |= Mxcsr.Denormal;
        return x;
    }

    /// <summary>
    /// Merges the flags of a <see cref="SoftFloat"/> operation into MXCSR and
    /// applies the x86 responses: an invalid result is the negative
    /// indefinite (not RISC-V's canonical NaN), and with FTZ a tiny result is
    /// replaced by a zero of the same sign with UE and PE (SDM vol. 1,
    /// 10.2.3.3).
    /// </summary>
    /// <remarks>
    /// Callers pass a local copy of MXCSR that gathered this operation's DE
    /// (so an IE can cancel it) and merge it into the caller's register.
    /// </remarks>
    public static ulong Output(ulong result, FloatFlags flags, bool d, ref uint mxcsr)
    {
        if ((flags & FloatFlags.Invalid) != 0)
        {
            // IE takes precedence over DE (sqrt of a negative denormal).
            mxcsr = (mxcsr & ~Mxcsr.Denormal) | Mxcsr.Invalid;
            return Indefinite(d);
        }

        if ((flags & FloatFlags.DivideByZero) != 0)
            mxcsr |= Mxcsr.ZeroDivide;
        if ((mxcsr & Mxcsr.FlushToZero) != 0 && (mxcsr & 0x0800) != 0
            && ((flags & FloatFlags.Underflow) != 0 || IsDenormal(result, d)))
        {
            mxcsr |= Mxcsr.Underflow | Mxcsr.Precision;
            return result & SignBit(d);
        }

        if ((flags & FloatFlags.Overflow) != 0)
            mxcsr |= Mxcsr.Overflow;
        if ((flags & FloatFlags.Underflow) != 0)
            mxcsr |= Mxcsr.Underflow;
        if ((flags & FloatFlags.Inexact) != 0)
            mxcsr |= Mxcsr.Precision;
        return result;
    }
}
