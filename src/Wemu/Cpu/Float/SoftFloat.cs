using System.Runtime.CompilerServices;

namespace Wemu.Cpu.Float;

/// <summary>
/// Exact IEEE 754-2019 binary32/binary64 arithmetic with RISC-V F/D semantics
/// (RISC-V unprivileged spec 20191213, chapters 11 and 12, "F" and "D"
/// extensions; section numbers in this class refer to that version).
/// </summary>
/// <remarks>
/// <para>Values are raw bit patterns: methods suffixed 32 take and return
/// <see cref="uint"/> binary32 encodings, methods suffixed 64 take and return
/// <see cref="ulong"/> binary64 encodings. Every rounding operation takes the
/// resolved rounding mode and ORs the exception flags it raises into
/// <c>flags</c> (as the hardware accrues them into <c>fflags</c>).</para>
/// <para>RISC-V choices: a NaN result is always the canonical NaN (spec 11.3)
/// (payloads are never propagated); tininess is detected after rounding (11.4) and
/// underflow is only signalled when the result is also inexact.</para>
/// <para>Common operations on normal operands are computed with host
/// arithmetic and an error-free transformation that gives the exact sign of
/// the rounding error (so the inexact flag and the directed rounding modes
/// come out exact); everything else (subnormal or near-overflow results,
/// NaN, infinities, zeros, RMM ties) goes through an integer-only software
/// path. No method allocates or throws.</para>
/// </remarks>
public static partial class SoftFloat
{
    /// <summary>The RISC-V canonical binary32 NaN (spec 11.3).</summary>
    public const uint CanonicalNaN32 = 0x7FC0_0000;

    /// <summary>The RISC-V canonical binary64 NaN (spec 12.2).</summary>
    public const ulong CanonicalNaN64 = 0x7FF8_0000_0000_0000;

    private const ulong BoxMask = 0xFFFF_FFFF_0000_0000;

    /// <summary>
    /// NaN-boxes a binary32 value for a 64-bit FP register: the upper 32 bits
    /// are all ones (D spec 12.2 "NaN Boxing of Narrower Values").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Box32(uint value) => BoxMask | value;

    /// <summary>
    /// Reads a binary32 operand from a 64-bit FP register: a value that is not
    /// properly NaN-boxed reads as the canonical NaN (D spec 12.2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Unbox32(ulong register) =>
        (register & BoxMask) == BoxMask ? (uint)register : CanonicalNaN32;

    /// <summary>
    /// True when the biased exponent of a (sign-free) binary64 encoding is in
    /// [lo, hi]; a set sign bit makes the test fail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ExponentIn64(ulong bits, uint lo, uint hi) => (uint)(bits >> 52) - lo <= hi - lo;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool AbsExponentIn64(ulong bits, uint lo, uint hi) => ((uint)(bits >> 52) & 0x7FF) - lo <= hi - lo;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool AbsExponentIn32(uint bits, uint lo, uint hi) => ((bits >> 23) & 0xFF) - lo <= hi - lo;

    /// <summary>
    /// Turns the round-to-nearest-even result <paramref name="r"/> of a fast
    /// path into the result for a directed mode (RTZ/RDN/RUP), given on which
    /// side of <paramref name="r"/> the exact value lies. <paramref name="r"/>
    /// is finite, normal and at least one step away from the subnormal range
    /// and from the largest finite number, so its neighbour is one bit-pattern
    /// step away in magnitude and is still normal.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Directed(ulong r, bool negative, bool exactAbove, RoundingMode rm)
    {
        if (exactAbove)
        {
            if (rm == RoundingMode.Up || (rm == RoundingMode.TowardZero && negative))
                return negative ? r - 1 : r + 1;
        }
        else if (rm == RoundingMode.Down || (rm == RoundingMode.TowardZero && !negative))
        {
            return negative ? r + 1 : r - 1;
        }

        return r;
    }
}
