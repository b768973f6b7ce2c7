using System.Numerics;

namespace Wemu.Cpu.Float;

// Conversions (unprivileged spec 11.7 "Single-Precision Floating-Point
// Conversion and Move Instructions" and 12.5 for binary64).
public static partial class SoftFloat
{
    /// <summary>fcvt.d.s: exact; a NaN becomes the canonical NaN (NV if signaling).</summary>
    public static ulong F32ToF64(uint a, ref FloatFlags flags)
    {
        if (IsNaN(a, false))
        {
            if (IsSignalingNaN(a, false))
                flags |= FloatFlags.Invalid;
            return CanonicalNaN64;
        }

        return BitConverter.DoubleToUInt64Bits(BitConverter.UInt32BitsToSingle(a));
    }

    /// <summary>fcvt.s.d: rounds a binary64 value to binary32.</summary>
    public static uint F64ToF32(ulong a, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        float f = (float)x;
        uint r = BitConverter.SingleToUInt32Bits(f);
        if (AbsExponentIn32(r, 2, 0xFD))
        {
            if (f == x)
                return r;
            flags |= FloatFlags.Inexact;
            if (rm == RoundingMode.NearestEven)
                return r;
            if (rm != RoundingMode.NearestMaxMagnitude)
                return (uint)Directed(r, f < 0, x > f, rm);
        }

        return F64ToF32Slow(a, rm, ref flags);
    }

    internal static uint F64ToF32Slow(ulong a, RoundingMode rm, ref FloatFlags flags)
    {
        if (IsNaN(a, true))
        {
            if (IsSignalingNaN(a, true))
                flags |= FloatFlags.Invalid;
            return CanonicalNaN32;
        }

        bool negative = IsNegative(a, true);
        if (IsInfinity(a, true))
            return (uint)Infinity(false, negative);
        Unpack(a, true, out ulong sig, out int exp);
        return (uint)RoundPack(negative, exp, sig, false, rm, ref flags);
    }

    // Float to integer (spec 11.7 table "Domains of float-to-integer
    // conversions"): NaN gives the largest positive integer, out-of-range
    // values saturate, both raise NV only; an inexact in-range result raises
    // NX. A binary32 source is widened exactly to binary64 first.

    /// <summary>fcvt.w.d. The 32-bit result is sign-extended by the caller into the 64-bit register.</summary>
    public static int F64ToInt32(ulong a, RoundingMode rm, ref FloatFlags flags) => (int)ToInteger(a, rm, true, 32, ref flags);

    /// <summary>fcvt.wu.d. The 32-bit result is sign-extended (from bit 31) by the caller into the 64-bit register.</summary>
    public static uint F64ToUInt32(ulong a, RoundingMode rm, ref FloatFlags flags) => (uint)ToInteger(a, rm, false, 32, ref flags);

    /// <summary>fcvt.l.d.</summary>
    public static long F64ToInt64(ulong a, RoundingMode rm, ref FloatFlags flags) => (long)ToInteger(a, rm, true, 64, ref flags);

    /// <summary>fcvt.lu.d.</summary>
    public static ulong F64ToUInt64(ulong a, RoundingMode rm, ref FloatFlags flags) => ToInteger(a, rm, false, 64, ref flags);

    /// <summary>fcvt.w.s. The 32-bit result is sign-extended by the caller into the 64-bit register.</summary>
    public static int F32ToInt32(uint a, RoundingMode rm, ref FloatFlags flags) => (int)ToInteger(Widen(a), rm, true, 32, ref flags);

    /// <summary>fcvt.wu.s. The 32-bit result is sign-extended (from bit 31) by the caller into the 64-bit register.</summary>
    public static uint F32ToUInt32(uint a, RoundingMode rm, ref FloatFlags flags) => (uint)ToInteger(Widen(a), rm, false, 32, ref flags);

    /// <summary>fcvt.l.s.</summary>
    public static long F32ToInt64(uint a, RoundingMode rm, ref FloatFlags flags) => (long)ToInteger(Widen(a), rm, true, 64, ref flags);

    /// <summary>fcvt.lu.s.</summary>
    public static ulong F32ToUInt64(uint a, RoundingMode rm, ref FloatFlags flags) => ToInteger(Widen(a), rm, false, 64, ref flags);

    /// <summary>Exact binary32 to binary64 widening that keeps NaNs NaN (their kind does not matter here).</summary>
    private static ulong Widen(uint a) => BitConverter.DoubleToUInt64Bits(BitConverter.UInt32BitsToSingle(a));

    private static ulong ToInteger(ulong a, RoundingMode rm, bool signed, int bits, ref FloatFlags flags)
    {
        ulong maxPositive = signed ? (1UL << (bits - 1)) - 1 : bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong minNegative = signed ? 0UL - (1UL << (bits - 1)) : 0; // as a two's complement pattern
        bool negative = IsNegative(a, true);
        bool inRange;
        ulong result;
        bool inexact;
        if (AbsExponentIn64(a, 0, 1023 + 51))
        {
            // |x| < 2^52: the host rounds to an integral binary64 exactly.
            double x = BitConverter.UInt64BitsToDouble(a);
            double t = rm switch
            {
                RoundingMode.TowardZero => Math.Truncate(x),
                RoundingMode.Down => Math.Floor(x),
                RoundingMode.Up => Math.Ceiling(x),
                RoundingMode.NearestMaxMagnitude => Math.Round(x, MidpointRounding.AwayFromZero),
                _ => Math.Round(x, MidpointRounding.ToEven),
            };
            long i = (long)t;
            inexact = t != x;
            result = (ulong)i;
            inRange = signed
                ? bits == 64 || (i >= -(1L << (bits - 1)) && i <= (long)maxPositive)
                : i >= 0 && (ulong)i <= maxPositive;
        }
        else if (IsNaN(a, true))
        {
            flags |= FloatFlags.Invalid;
            return maxPositive;
        }
        else
        {
            // |x| >= 2^52 or infinite: an integer already, compared by magnitude.
            inexact = false;
            Unpack(a, true, out ulong sig, out int exp);
            bool tooBig = IsInfinity(a, true) || exp > BitOperations.LeadingZeroCount(sig);
            ulong magnitude = tooBig ? 0 : sig << exp;
            inRange = !tooBig && (negative
                ? (signed ? magnitude <= 1UL << (bits - 1) : magnitude == 0)
                : magnitude <= maxPositive);
            result = negative ? 0 - magnitude : magnitude;
        }

        if (!inRange)
        {
            flags |= FloatFlags.Invalid;
            return negative ? minNegative : maxPositive;
        }

        if (inexact)
            flags |= FloatFlags.Inexact;
        return result;
    }

    /// <summary>fcvt.d.w: exact.</summary>
    public static ulong F64FromInt32(int value) => BitConverter.DoubleToUInt64Bits(value);

    /// <summary>fcvt.d.wu: exact.</summary>
    public static ulong F64FromUInt32(uint value) => BitConverter.DoubleToUInt64Bits(value);

    /// <summary>fcvt.d.l.</summary>
    public static ulong F64FromInt64(long value, RoundingMode rm, ref FloatFlags flags)
    {
        if (value >= -(1L << 53) && value <= 1L << 53)
            return BitConverter.DoubleToUInt64Bits(value); // exact
        return RoundPack(value < 0, 0, value < 0 ? 0 - (ulong)value : (ulong)value, true, rm, ref flags);
    }

    /// <summary>fcvt.d.lu.</summary>
    public static ulong F64FromUInt64(ulong value, RoundingMode rm, ref FloatFlags flags)
    {
        if (value <= 1UL << 53)
            return BitConverter.DoubleToUInt64Bits((long)value);
        return RoundPack(false, 0, value, true, rm, ref flags);
    }

    /// <summary>fcvt.s.w.</summary>
    public static uint F32FromInt32(int value, RoundingMode rm, ref FloatFlags flags) => F32FromInt64(value, rm, ref flags);

    /// <summary>fcvt.s.wu.</summary>
    public static uint F32FromUInt32(uint value, RoundingMode rm, ref FloatFlags flags) => F32FromInt64(value, rm, ref flags);

    /// <summary>fcvt.s.l.</summary>
    public static uint F32FromInt64(long value, RoundingMode rm, ref FloatFlags flags)
    {
        if (value >= -(1L << 24) && value <= 1L << 24)
            return BitConverter.SingleToUInt32Bits(value); // exact
        return (uint)RoundPack(value < 0, 0, value < 0 ? 0 - (ulong)value : (ulong)value, false, rm, ref flags);
    }

    /// <summary>fcvt.s.lu.</summary>
    public static uint F32FromUInt64(ulong value, RoundingMode rm, ref FloatFlags flags)
    {
        if (value <= 1UL << 24)
            return BitConverter.SingleToUInt32Bits((long)value);
        return (uint)RoundPack(false, 0, value, false, rm, ref flags);
    }
}
