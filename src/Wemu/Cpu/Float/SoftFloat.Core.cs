using System.Numerics;
using System.Runtime.CompilerServices;

namespace Wemu.Cpu.Float;

// The exact software path shared by both formats. `d` selects binary64
// (p = 53, emin = -1022) or binary32 (p = 24, emin = -126); bit patterns of
// either format travel in a ulong. IEEE 754-2019 3.3 (format parameters),
// 4.3 (rounding), 7 (exceptions).
public static partial class SoftFloat
{
    private static ulong SignBit(bool d) => d ? 0x8000_0000_0000_0000 : 0x8000_0000;

    private static ulong DefaultNaN(bool d) => d ? CanonicalNaN64 : CanonicalNaN32;

    private static ulong Infinity(bool d, bool negative) =>
        (d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL) | (negative ? SignBit(d) : 0);

    private static ulong Zero(bool d, bool negative) => negative ? SignBit(d) : 0;

    private static bool IsNegative(ulong x, bool d) => (x & SignBit(d)) != 0;

    private static ulong Magnitude(ulong x, bool d) => x & (SignBit(d) - 1);

    private static bool IsNaN(ulong x, bool d) =>
        Magnitude(x, d) > (d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL);

    private static bool IsInfinity(ulong x, bool d) =>
        Magnitude(x, d) == (d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL);

    /// <summary>A NaN whose quiet bit (the top fraction bit) is clear.</summary>
    private static bool IsSignalingNaN(ulong x, bool d) =>
        IsNaN(x, d) && (x & (d ? 0x0008_0000_0000_0000UL : 0x0040_0000UL)) == 0;

    /// <summary>Splits a finite encoding into value = sig * 2^exp (sig = 0 for zeros).</summary>
    private static void Unpack(ulong x, bool d, out ulong sig, out int exp)
    {
        if (d)
        {
            ulong frac = x & 0x000F_FFFF_FFFF_FFFF;
            int biased = (int)(x >> 52) & 0x7FF;
            sig = biased == 0 ? frac : frac | 0x0010_0000_0000_0000;
            exp = biased == 0 ? -1074 : biased - 1075;
        }
        else
        {
            ulong frac = x & 0x007F_FFFF;
            int biased = (int)(x >> 23) & 0xFF;
            sig = biased == 0 ? frac : frac | 0x0080_0000;
            exp = biased == 0 ? -149 : biased - 150;
        }
    }

    /// <summary>Shifts right, ORing every bit shifted out into bit 0 (the sticky bit).</summary>
    private static ulong ShiftRightJam(ulong x, int n) =>
        n == 0 ? x : n < 64 ? (x >> n) | (x << (64 - n) != 0 ? 1UL : 0) : x != 0 ? 1UL : 0;

    private static UInt128 ShiftRightJam(UInt128 x, int n) =>
        n == 0 ? x : n < 128 ? (x >> n) | (x << (128 - n) != 0 ? UInt128.One : UInt128.Zero) : x != 0 ? UInt128.One : UInt128.Zero;

    /// <summary>
    /// Whether to add one unit in the last kept place. <paramref name="rest"/>
    /// holds the discarded bits left-aligned (bit 63 is the round bit) and is
    /// non-zero.
    /// </summary>
    private static bool RoundsUp(bool negative, RoundingMode rm, ulong kept, ulong rest) => rm switch
    {
        RoundingMode.TowardZero => false,
        RoundingMode.Down => negative,
        RoundingMode.Up => !negative,
        RoundingMode.NearestMaxMagnitude => rest >= 0x8000_0000_0000_0000,
        _ => rest > 0x8000_0000_0000_0000 || (rest == 0x8000_0000_0000_0000 && (kept & 1) != 0),
    };

    /// <summary>IEEE 754-2019 7.4: the overflow result depends on the rounding direction.</summary>
    private static ulong OverflowResult(bool negative, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        flags |= FloatFlags.Overflow | FloatFlags.Inexact;
        bool toInfinity = rm switch
        {
            RoundingMode.TowardZero => false,
            RoundingMode.Down => negative,
            RoundingMode.Up => !negative,
            _ => true,
        };
        ulong magnitude = toInfinity
            ? (d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL)
            : (d ? 0x7FEF_FFFF_FFFF_FFFFUL : 0x7F7F_FFFFUL);
        return magnitude | (negative ? SignBit(d) : 0);
    }

    /// <summary>
    /// Rounds (-1)^negative * sig * 2^exp to the format and packs it. Bit 0 of
    /// <paramref name="sig"/> may be a sticky bit standing for non-zero bits
    /// below it; callers keep at least p + 2 significant bits above it.
    /// </summary>
    private static ulong RoundPack(bool negative, int exp, ulong sig, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        if (sig == 0)
            return Zero(d, negative);

        int p = d ? 53 : 24;
        int emin = d ? -1022 : -126;
        int emax = d ? 1023 : 127;
        int lz = BitOperations.LeadingZeroCount(sig);
        sig <<= lz;
        int e = exp - lz + 63; // unbiased exponent of the leading bit
        int shift = 64 - p;
        bool tiny = false;
        if (e < emin)
        {
            // RISC-V (spec 11.4) detects tininess after rounding: the value
            // is tiny unless rounding it to p bits with an unbounded exponent
            // range carries it up to 2^emin.
            tiny = true;
            if (e == emin - 1 && sig >> shift == (1UL << p) - 1)
            {
                ulong fullRest = sig << (64 - shift);
                tiny = fullRest == 0 || !RoundsUp(negative, rm, sig >> shift, fullRest);
            }

            shift += emin - e;
            if (shift > 65)
                shift = 65;
        }

        ulong kept;
        ulong rest;
        if (shift < 64)
        {
            kept = sig >> shift;
            rest = sig << (64 - shift);
        }
        else if (shift == 64)
        {
            kept = 0;
            rest = sig;
        }
        else
        {
            kept = 0;
            rest = 1; // non-zero, below one half
        }

        if (rest != 0)
        {
            flags |= tiny ? FloatFlags.Inexact | FloatFlags.Underflow : FloatFlags.Inexact;
            if (RoundsUp(negative, rm, kept, rest))
                kept++;
        }

        ulong bits;
        if (e < emin)
        {
            // Subnormal; a carry into bit p-1 packs as the smallest normal.
            bits = kept;
        }
        else
        {
            if (e > emax)
                return OverflowResult(negative, d, rm, ref flags);

            // kept has its leading bit at p-1 (or a carry at p): adding it
            // to (biased exponent - 1) puts that bit into the exponent field.
            bits = ((ulong)(e + emax - 1) << (p - 1)) + kept;
            if (bits >> (p - 1) >= (d ? 0x7FFUL : 0xFFUL))
                return OverflowResult(negative, d, rm, ref flags);
        }

        return bits | (negative ? SignBit(d) : 0);
    }

    /// <summary>Rounds a 128-bit significand: value = sig * 2^exp.</summary>
    private static ulong RoundPack(bool negative, int exp, UInt128 sig, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        ulong high = (ulong)(sig >> 64);
        if (high == 0)
            return RoundPack(negative, exp, (ulong)sig, d, rm, ref flags);
        int lz = BitOperations.LeadingZeroCount(high);
        sig <<= lz;
        ulong low = (ulong)sig;
        return RoundPack(negative, exp - lz + 64, (ulong)(sig >> 64) | (low != 0 ? 1UL : 0), d, rm, ref flags);
    }

    /// <summary>NaN result of an arithmetic operation: canonical, NV if any input signals.</summary>
    private static ulong NaNResult(ulong a, ulong b, bool d, ref FloatFlags flags)
    {
        if (IsSignalingNaN(a, d) || IsSignalingNaN(b, d))
            flags |= FloatFlags.Invalid;
        return DefaultNaN(d);
    }

    private static ulong InvalidResult(bool d, ref FloatFlags flags)
    {
        flags |= FloatFlags.Invalid;
        return DefaultNaN(d);
    }

    /// <summary>Exact-zero result of adding values of opposite sign (IEEE 754-2019 6.3).</summary>
    private static ulong CancelledZero(bool d, RoundingMode rm) => Zero(d, rm == RoundingMode.Down);

    internal static ulong AddSlow(ulong a, ulong b, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        if (IsNaN(a, d) || IsNaN(b, d))
            return NaNResult(a, b, d, ref flags);
        bool negA = IsNegative(a, d);
        bool negB = IsNegative(b, d);
        if (IsInfinity(a, d))
            return IsInfinity(b, d) && negA != negB ? InvalidResult(d, ref flags) : a;
        if (IsInfinity(b, d))
            return b;

        Unpack(a, d, out ulong sigA, out int expA);
        Unpack(b, d, out ulong sigB, out int expB);
        if (sigA == 0)
            return sigB != 0 ? b : negA == negB ? a : CancelledZero(d, rm);
        if (sigB == 0)
            return a;

        // Leading bits at 61: room for the carry of an addition.
        int la = BitOperations.LeadingZeroCount(sigA) - 2;
        int lb = BitOperations.LeadingZeroCount(sigB) - 2;
        sigA <<= la;
        expA -= la;
        sigB <<= lb;
        expB -= lb;
        if (expA < expB)
        {
            (sigA, sigB) = (sigB, sigA);
            (expA, expB) = (expB, expA);
            (negA, negB) = (negB, negA);
        }

        sigB = ShiftRightJam(sigB, Math.Min(expA - expB, 64));
        ulong sig;
        bool negative = negA;
        if (negA == negB)
        {
            sig = sigA + sigB;
        }
        else if (sigA >= sigB)
        {
            sig = sigA - sigB;
            if (sig == 0)
                return CancelledZero(d, rm);
        }
        else
        {
            sig = sigB - sigA;
            negative = negB;
        }

        return RoundPack(negative, expA, sig, d, rm, ref flags);
    }

    internal static ulong MulSlow(ulong a, ulong b, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        if (IsNaN(a, d) || IsNaN(b, d))
            return NaNResult(a, b, d, ref flags);
        bool negative = IsNegative(a, d) != IsNegative(b, d);
        Unpack(a, d, out ulong sigA, out int expA);
        Unpack(b, d, out ulong sigB, out int expB);
        bool infA = IsInfinity(a, d);
        bool infB = IsInfinity(b, d);
        if (infA || infB)
            return (infA ? Magnitude(b, d) : Magnitude(a, d)) == 0 ? InvalidResult(d, ref flags) : Infinity(d, negative);
        if (sigA == 0 || sigB == 0)
            return Zero(d, negative);

        ulong high = Math.BigMul(sigA, sigB, out ulong low);
        return RoundPack(negative, expA + expB, new UInt128(high, low), d, rm, ref flags);
    }

    internal static ulong DivSlow(ulong a, ulong b, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        if (IsNaN(a, d) || IsNaN(b, d))
            return NaNResult(a, b, d, ref flags);
        bool negative = IsNegative(a, d) != IsNegative(b, d);
        bool infA = IsInfinity(a, d);
        bool infB = IsInfinity(b, d);
        if (infA)
            return infB ? InvalidResult(d, ref flags) : Infinity(d, negative);
        if (infB)
            return Zero(d, negative);
        Unpack(a, d, out ulong sigA, out int expA);
        Unpack(b, d, out ulong sigB, out int expB);
        if (sigB == 0)
        {
            if (sigA == 0)
                return InvalidResult(d, ref flags);
            flags |= FloatFlags.DivideByZero;
            return Infinity(d, negative);
        }

        if (sigA == 0)
            return Zero(d, negative);

        // Dividend leading bit at 126, divisor at 63: the quotient has 63 or
        // 64 significant bits and the remainder becomes the sticky bit.
        int la = BitOperations.LeadingZeroCount(sigA) - 1;
        int lb = BitOperations.LeadingZeroCount(sigB);
        sigA <<= la;
        sigB <<= lb;
        UInt128 dividend = new(sigA, 0);
        UInt128 quotient = dividend / sigB;
        bool exact = dividend - quotient * sigB == 0;
        ulong sig = (ulong)quotient | (exact ? 0UL : 1UL);
        return RoundPack(negative, expA - la - 64 - (expB - lb), sig, d, rm, ref flags);
    }

    internal static ulong SqrtSlow(ulong a, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        if (IsNaN(a, d))
            return NaNResult(a, a, d, ref flags);
        Unpack(a, d, out ulong sig, out int exp);
        if (sig == 0)
            return a; // sqrt(+-0) = +-0
        if (IsNegative(a, d))
            return InvalidResult(d, ref flags);
        if (IsInfinity(a, d))
            return a;

        // value = n * 2^(exp - s) with an even exponent and n's leading bit
        // at 127 or 126, so the integer root has 64 significant bits.
        int s = 64 + BitOperations.LeadingZeroCount(sig);
        if (((exp - s) & 1) != 0)
            s--;
        UInt128 n = (UInt128)sig << s;
        ulong root = IntegerSqrt(n, out UInt128 remainder);
        return RoundPack(false, (exp - s) / 2, root | (remainder == 0 ? 0UL : 1UL), d, rm, ref flags);
    }

    /// <summary>floor(sqrt(n)) for n with its leading bit at 126 or 127, and n - root² (the x87 square root uses it too).</summary>
    internal static ulong IntegerSqrt(UInt128 n, out UInt128 remainder)
    {
        // A double estimate is within 2^12 of the root; one Newton step
        // brings it within one, then the root is corrected exactly.
        double estimate = Math.Sqrt((double)n);
        ulong r = estimate >= 18446744073709551615.0 ? ulong.MaxValue : (ulong)estimate;
        UInt128 next = ((UInt128)r + n / r) >> 1;
        r = next > ulong.MaxValue ? ulong.MaxValue : (ulong)next;
        while ((UInt128)r * r > n)
            r--;
        while (r != ulong.MaxValue && (UInt128)(r + 1) * (r + 1) <= n)
            r++;
        remainder = n - (UInt128)r * r;
        return r;
    }

    internal static ulong MulAddSlow(ulong a, ulong b, ulong c, bool d, RoundingMode rm, ref FloatFlags flags)
    {
        bool infA = IsInfinity(a, d);
        bool infB = IsInfinity(b, d);
        bool invalidProduct = (infA && Magnitude(b, d) == 0) || (infB && Magnitude(a, d) == 0);
        if (IsNaN(a, d) || IsNaN(b, d) || IsNaN(c, d))
        {
            // Spec 11.6: inf * 0 raises NV even when the addend is a quiet NaN.
            if (invalidProduct || IsSignalingNaN(c, d))
                flags |= FloatFlags.Invalid;
            return NaNResult(a, b, d, ref flags);
        }

        if (invalidProduct)
            return InvalidResult(d, ref flags);
        bool negP = IsNegative(a, d) != IsNegative(b, d);
        bool negC = IsNegative(c, d);
        if (infA || infB)
            return IsInfinity(c, d) && negC != negP ? InvalidResult(d, ref flags) : Infinity(d, negP);
        if (IsInfinity(c, d))
            return c;

        Unpack(a, d, out ulong sigA, out int expA);
        Unpack(b, d, out ulong sigB, out int expB);
        Unpack(c, d, out ulong sigC, out int expC);
        if (sigA == 0 || sigB == 0)
        {
            // Exact zero product: the sum is c, or a signed zero (IEEE 754-2019 6.3).
            if (sigC != 0)
                return c;
            return negP == negC ? c : CancelledZero(d, rm);
        }

        UInt128 product = (UInt128)sigA * sigB;
        int expP = expA + expB;
        if (sigC == 0)
            return RoundPack(negP, expP, product, d, rm, ref flags);

        // Exact sum on 128 bits, leading bits at 125 before alignment.
        UInt128 addend = sigC;
        int lp = (int)UInt128.LeadingZeroCount(product) - 2;
        int lc = (int)UInt128.LeadingZeroCount(addend) - 2;
        product <<= lp;
        expP -= lp;
        addend <<= lc;
        expC -= lc;
        bool negative = negP;
        if (expP < expC)
        {
            (product, addend) = (addend, product);
            (expP, expC) = (expC, expP);
            (negP, negC) = (negC, negP);
            negative = negP;
        }

        addend = ShiftRightJam(addend, Math.Min(expP - expC, 128));
        UInt128 sum;
        if (negP == negC)
        {
            sum = product + addend;
        }
        else if (product >= addend)
        {
            sum = product - addend;
            if (sum == 0)
                return CancelledZero(d, rm);
        }
        else
        {
            sum = addend - product;
            negative = negC;
        }

        return RoundPack(negative, expP, sum, d, rm, ref flags);
    }
}
