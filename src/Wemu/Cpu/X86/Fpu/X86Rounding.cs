using System.Numerics;
using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// The rounding core shared by the x87 and SSE code: rounds an exact
/// (sign, 128-bit significand with sticky bit, exponent) to p significant
/// bits with a given exponent range, as SDM vol. 1, 4.8.4 ("Rounding") and
/// 4.9.1.5/4.9.1.6 (underflow, overflow) describe for masked responses.
/// </summary>
/// <remarks>
/// Exception bits are those of both the FSW and MXCSR (bits 0-5: IE DE ZE OE
/// UE PE). x86 detects tininess after rounding (the same choice Berkeley
/// SoftFloat makes for its 8086 specialisation; checked against the host CPU
/// by the tests); with underflow masked, UE is raised only when the tiny
/// result is also inexact. x87 precision control keeps the extended exponent
/// range: a denormal result is rounded at the same absolute bit position as
/// the smallest normal of that precision would be.
/// </remarks>
internal static class X86Rounding
{
    public const int IE = 1;
    public const int DE = 2;
    public const int ZE = 4;
    public const int OE = 8;
    public const int UE = 16;
    public const int PE = 32;

    /// <summary>x87 RC / MXCSR.RC encoding (SDM vol. 1, table 4-8) to <see cref="RoundingMode"/>.</summary>
    public static RoundingMode FromRc(int rc) => rc switch
    {
        0 => RoundingMode.NearestEven,
        1 => RoundingMode.Down,
        2 => RoundingMode.Up,
        _ => RoundingMode.TowardZero,
    };

    /// <summary>
    /// Rounds (-1)^negative * sig * 2^exp (sig non-zero; bit 0 may be a
    /// sticky bit, callers keep at least p + 2 significant bits above it) to
    /// p bits with normal exponents in [emin, emax]. Returns the kept
    /// significand k (value = k * 2^(biased - ...)): <paramref name="exponent"/>
    /// receives the unbiased exponent of bit p-1 of k, which is emin for a
    /// denormal or zero result (k &lt; 2^(p-1)), or int.MaxValue on overflow
    /// to infinity. <paramref name="roundedUp"/> tells whether the magnitude
    /// was increased (x87 C1).
    /// </summary>
    public static ulong Round(bool negative, int exp, UInt128 sig, int p, int emin, int emax, RoundingMode rm,
        ref int flags, out int exponent, out bool roundedUp)
    {
        int lz = (int)UInt128.LeadingZeroCount(sig);
        sig <<= lz;
        int e = exp + 127 - lz; // exponent of the leading bit

        int shift = Math.Max(e, emin) - e + 128 - p;
        ulong kept = Cut(sig, shift, negative, rm, out bool inexact, out bool increment);
        bool tiny = e < emin;
        if (tiny && e == emin - 1)
        {
            // Tininess after rounding: rounding to p bits with an unbounded
            // exponent range would carry into 2^emin.
            ulong unbounded = Cut(sig, 128 - p, negative, rm, out _, out bool inc);
            if (inc && unbounded == MaxSignificand(p))
                tiny = false;
        }

        roundedUp = increment;
        if (inexact)
            flags |= tiny ? PE | UE : PE;
        int q = Math.Max(e, emin) + 1 - p; // exponent of bit 0 of kept
        if (increment)
        {
            kept++;
            if (p == 64 ? kept == 0 : kept == 1UL << p)
            {
                kept = 1UL << (p - 1);
                q++;
            }
        }

        bool normal = p == 64 ? (kept & 0x8000_0000_0000_0000) != 0 : kept >= 1UL << (p - 1);
        exponent = normal ? q + p - 1 : emin;
        if (exponent > emax)
            return Overflow(negative, p, emax, rm, ref flags, out exponent, out roundedUp);
        return kept;
    }

    /// <summary>Masked overflow response (SDM vol. 1, table 4-10): infinity or the largest finite number.</summary>
    public static ulong Overflow(bool negative, int p, int emax, RoundingMode rm, ref int flags, out int exponent, out bool roundedUp)
    {
        flags |= OE | PE;
        bool toInfinity = rm switch
        {
            RoundingMode.TowardZero => false,
            RoundingMode.Down => negative,
            RoundingMode.Up => !negative,
            _ => true,
        };
        roundedUp = toInfinity;
        exponent = toInfinity ? int.MaxValue : emax;
        return toInfinity ? 0 : MaxSignificand(p);
    }

    /// <summary>Keeps sig &gt;&gt; shift and decides the increment (shift &gt;= 64).</summary>
    private static ulong Cut(UInt128 sig, int shift, bool negative, RoundingMode rm, out bool inexact, out bool increment)
    {
        ulong kept;
        bool round;
        bool sticky;
        if (shift <= 127)
        {
            kept = (ulong)(sig >> shift);
            round = ((sig >> (shift - 1)) & 1) != 0;
            sticky = (sig & ((UInt128.One << (shift - 1)) - 1)) != 0;
        }
        else if (shift == 128)
        {
            kept = 0;
            round = (sig >> 127) != 0;
            sticky = (sig << 1) != 0;
        }
        else
        {
            kept = 0;
            round = false;
            sticky = true;
        }

        inexact = round || sticky;
        increment = rm switch
        {
            RoundingMode.TowardZero => false,
            RoundingMode.Down => negative && inexact,
            RoundingMode.Up => !negative && inexact,
            _ => round && (sticky || (kept & 1) != 0),
        };
        return kept;
    }

    /// <summary>Shifts right, ORing the bits shifted out into bit 0.</summary>
    public static UInt128 ShiftRightJam(UInt128 x, int n) =>
        n <= 0 ? x : n < 128 ? (x >> n) | ((x << (128 - n)) != 0 ? UInt128.One : UInt128.Zero) : x != 0 ? UInt128.One : UInt128.Zero;

    /// <summary>Packs a <see cref="Round"/> result as binary32 (d = false, p = 24) or binary64 (d = true, p = 53).</summary>
    public static ulong PackBinary(bool negative, int exponent, ulong kept, bool d)
    {
        int p = d ? 53 : 24;
        ulong sign = negative ? (d ? 0x8000_0000_0000_0000UL : 0x8000_0000UL) : 0;
        if (exponent == int.MaxValue)
            return sign | (d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL);
        if (kept < 1UL << (p - 1))
            return sign | kept;
        ulong biased = (ulong)(exponent + (d ? 1023 : 127));
        return sign | (biased << (p - 1)) | (kept & ((1UL << (p - 1)) - 1));
    }

    /// <summary>2^p - 1 (all p bits set), also for p = 64.</summary>
    public static ulong MaxSignificand(int p) => p == 64 ? ulong.MaxValue : (1UL << p) - 1;

    /// <summary>Leading-zero count helper for 64-bit values.</summary>
    public static int Lzc(ulong x) => BitOperations.LeadingZeroCount(x);
}
