using System.Numerics;
using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// x87 loads and stores that convert: FILD, FIST/FISTP, FISTTP, FLD m32/m64
/// and FST/FSTP m32/m64 (SDM vol. 2 entries of those instructions).
/// </summary>
public static class X87Convert
{
    /// <summary>FILD m16: exact.</summary>
    public static Float80 FromInt16(short value) => FromInt64(value);

    /// <summary>FILD m32: exact.</summary>
    public static Float80 FromInt32(int value) => FromInt64(value);

    /// <summary>FILD m64: exact (64 significand bits).</summary>
    public static Float80 FromInt64(long value)
    {
        if (value == 0)
            return Float80.Zero;
        bool negative = value < 0;
        ulong magnitude = negative ? (ulong)-value : (ulong)value;
        int lz = BitOperations.LeadingZeroCount(magnitude);
        return new Float80((ushort)((negative ? 0x8000 : 0) | (Float80.Bias + 63 - lz)), magnitude << lz);
    }

    /// <summary>FIST m16: rounds by FCW.RC; NaN, infinity, unsupported or out of range gives IE and the integer indefinite 0x8000.</summary>
    public static short ToInt16(Float80 a, X87Control control, ref X87Status status) =>
        (short)ToInteger(a, control.Rounding, 16, ref status);

    /// <summary>FIST m32 (integer indefinite 0x80000000).</summary>
    public static int ToInt32(Float80 a, X87Control control, ref X87Status status) =>
        (int)ToInteger(a, control.Rounding, 32, ref status);

    /// <summary>FISTP m64 (integer indefinite 0x8000000000000000).</summary>
    public static long ToInt64(Float80 a, X87Control control, ref X87Status status) =>
        ToInteger(a, control.Rounding, 64, ref status);

    /// <summary>FISTTP m16: truncates regardless of FCW.RC.</summary>
    public static short TruncateToInt16(Float80 a, ref X87Status status) =>
        (short)ToInteger(a, RoundingMode.TowardZero, 16, ref status);

    /// <summary>FISTTP m32.</summary>
    public static int TruncateToInt32(Float80 a, ref X87Status status) =>
        (int)ToInteger(a, RoundingMode.TowardZero, 32, ref status);

    /// <summary>FISTTP m64.</summary>
    public static long TruncateToInt64(Float80 a, ref X87Status status) =>
        ToInteger(a, RoundingMode.TowardZero, 64, ref status);

    private static long ToInteger(Float80 a, RoundingMode rm, int bits, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        long indefinite = bits == 64 ? long.MinValue : bits == 32 ? int.MinValue : short.MinValue;
        if (a.IsUnsupported || a.IsNaN || a.IsInfinity)
        {
            status.Raise(X86Rounding.IE);
            return indefinite;
        }

        // Stores do not report denormal operands (no #D in the FIST/FISTTP entries).
        if (a.IsZero)
            return 0;
        X87Encoding.Unpack(a, out ulong sig, out int exp);
        bool negative = a.Sign;
        ulong magnitude;
        bool inexact = false;
        bool up = false;
        if (exp >= 0)
        {
            if (exp > 0)
            {
                // sig has J set here (denormals have exp < 0): at least 2^64.
                status.Raise(X86Rounding.IE);
                return indefinite;
            }

            magnitude = sig;
        }
        else
        {
            magnitude = X87Arithmetic.RoundToIntegerCore(sig, exp, negative, rm, out inexact, out up);
        }

        ulong limit = 1UL << (bits - 1); // |min|; max is limit - 1
        if (magnitude > (negative ? limit : limit - 1))
        {
            status.Raise(X86Rounding.IE);
            return indefinite;
        }

        if (inexact)
            status.Raise(X86Rounding.PE);
        if (up)
            status.SetConditions(X87Status.C1, X87Status.C1);
        return negative ? (long)(0 - magnitude) : (long)magnitude;
    }

    /// <summary>FLD m32: exact; an SNaN is quieted with IE, a denormal raises DE.</summary>
    public static Float80 FromSingle(uint value, ref X87Status status)
    {
        bool negative = (value & 0x8000_0000) != 0;
        int biased = (int)(value >> 23) & 0xFF;
        ulong frac = value & 0x7F_FFFF;
        return FromBinary(negative, biased, frac, 0xFF, 127, 23, ref status);
    }

    /// <summary>FLD m64: exact; an SNaN is quieted with IE, a denormal raises DE.</summary>
    public static Float80 FromDouble(ulong value, ref X87Status status)
    {
        bool negative = (value & 0x8000_0000_0000_0000) != 0;
        int biased = (int)(value >> 52) & 0x7FF;
        ulong frac = value & 0x000F_FFFF_FFFF_FFFF;
        return FromBinary(negative, biased, frac, 0x7FF, 1023, 52, ref status);
    }

    private static Float80 FromBinary(bool negative, int biased, ulong frac, int maxBiased, int bias, int fracBits, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        ushort sign = negative ? (ushort)0x8000 : (ushort)0;
        if (biased == maxBiased)
        {
            ulong sig = Float80.IntegerBit | (frac << (63 - fracBits));
            if (frac != 0 && (sig & Float80.QuietBit) == 0)
            {
                status.Raise(X86Rounding.IE);
                sig |= Float80.QuietBit;
            }

            return new Float80((ushort)(sign | 0x7FFF), sig);
        }

        if (biased == 0)
        {
            if (frac == 0)
                return new Float80(sign, 0);
            status.Raise(X86Rounding.DE);
            int lz = BitOperations.LeadingZeroCount(frac);
            // value = frac * 2^(1 - bias - fracBits); normalized: leading bit to 63.
            int e = 1 - bias - fracBits + 63 - lz;
            return new Float80((ushort)(sign | (e + Float80.Bias)), frac << lz);
        }

        return new Float80((ushort)(sign | (biased - bias + Float80.Bias)), Float80.IntegerBit | (frac << (63 - fracBits)));
    }

    /// <summary>
    /// A binary32/binary64 memory operand widened exactly as an arithmetic
    /// instruction sees it: an SNaN stays signaling (the operation decides
    /// which NaN wins and raises IE), a denormal is normalized and reported
    /// through <paramref name="denormal"/> instead of DE.
    /// </summary>
    internal static Float80 Widen(ulong memory, bool isDouble, out bool denormal)
    {
        var scratch = new X87Status();
        Float80 r = isDouble ? FromDouble(memory, ref scratch) : FromSingle((uint)memory, ref scratch);
        denormal = (scratch.Word & X86Rounding.DE) != 0;
        if ((scratch.Word & X86Rounding.IE) != 0)
            r = new Float80(r.SignExponent, r.Significand & ~Float80.QuietBit);
        return r;
    }

    /// <summary>FST m32: rounds to binary32 by FCW.RC (precision control does not apply).</summary>
    public static uint ToSingle(Float80 a, X87Control control, ref X87Status status) =>
        (uint)ToBinary(a, false, control.Rounding, ref status);

    /// <summary>FST m64: rounds to binary64 by FCW.RC.</summary>
    public static ulong ToDouble(Float80 a, X87Control control, ref X87Status status) =>
        ToBinary(a, true, control.Rounding, ref status);

    private static ulong ToBinary(Float80 a, bool d, RoundingMode rm, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        ulong sign = a.Sign ? (d ? 0x8000_0000_0000_0000UL : 0x8000_0000UL) : 0;
        ulong expMask = d ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL;
        if (a.IsUnsupported)
        {
            status.Raise(X86Rounding.IE);
            return d ? 0xFFF8_0000_0000_0000UL : 0xFFC0_0000UL;
        }

        if (a.IsNaN)
        {
            if (a.IsSignalingNaN)
                status.Raise(X86Rounding.IE);
            // The top fraction bits survive; the quiet bit is set.
            ulong frac = (a.Significand << 1) >> (d ? 12 : 41);
            ulong quiet = d ? 0x0008_0000_0000_0000UL : 0x0040_0000UL;
            return sign | expMask | frac | quiet;
        }

        if (a.IsInfinity)
            return sign | expMask;
        // Like FIST, FST does not report a denormal source (a tiny value underflows instead).
        if (a.IsZero)
            return sign;
        X87Encoding.Unpack(a, out ulong sig, out int exp);
        int flags = 0;
        ulong kept = X86Rounding.Round(a.Sign, exp, sig, d ? 53 : 24, d ? -1022 : -126, d ? 1023 : 127, rm,
            ref flags, out int exponent, out bool up);
        status.Raise(flags);
        if (up)
            status.SetConditions(X87Status.C1, X87Status.C1);
        return X86Rounding.PackBinary(a.Sign, exponent, kept, d);
    }
}
