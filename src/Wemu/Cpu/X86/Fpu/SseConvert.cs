using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// SSE/SSE2 conversions and SSE4.1 rounding on one element. The packed forms
/// use the same element functions: CVTDQ2PS = <see cref="Int32ToSingle"/>,
/// CVTPS2DQ/CVTTPS2DQ = <see cref="SingleToInt32"/>, CVTDQ2PD =
/// <see cref="Int32ToDouble"/>, CVTPD2DQ/CVTTPD2DQ =
/// <see cref="DoubleToInt32"/>, CVTPS2PD = <see cref="SingleToDouble"/>,
/// CVTPD2PS = <see cref="DoubleToSingle"/>, ROUNDPS/PD = ROUNDSS/SD.
/// </summary>
public static class SseConvert
{
    /// <summary>The "integer indefinite" for 32-bit destinations (SDM vol. 1, 4.8.3.7).</summary>
    public const int IntegerIndefinite32 = int.MinValue;

    /// <summary>The "integer indefinite" for 64-bit destinations.</summary>
    public const long IntegerIndefinite64 = long.MinValue;

    /// <summary>CVTSI2SS r/m32: rounds by MXCSR.RC (PE when inexact).</summary>
    public static uint Int32ToSingle(int value, ref uint mxcsr) => Int64ToSingle(value, ref mxcsr);

    /// <summary>CVTSI2SS r/m64.</summary>
    public static uint Int64ToSingle(long value, ref uint mxcsr)
    {
        FloatFlags flags = FloatFlags.None;
        uint r = SoftFloat.F32FromInt64(value, Mxcsr.Rounding(mxcsr), ref flags);
        return (uint)SseOperands.Output(r, flags, false, ref mxcsr);
    }

    /// <summary>CVTSI2SD r/m32: exact.</summary>
    public static ulong Int32ToDouble(int value) => SoftFloat.F64FromInt32(value);

    /// <summary>CVTSI2SD r/m64: rounds by MXCSR.RC.</summary>
    public static ulong Int64ToDouble(long value, ref uint mxcsr)
    {
        FloatFlags flags = FloatFlags.None;
        ulong r = SoftFloat.F64FromInt64(value, Mxcsr.Rounding(mxcsr), ref flags);
        return SseOperands.Output(r, flags, true, ref mxcsr);
    }

    /// <summary>CVTSS2SD: exact; an SNaN is quieted with IE, the NaN payload is kept.</summary>
    public static ulong SingleToDouble(uint a, ref uint mxcsr)
    {
        if (SseOperands.IsNaN(a, false))
        {
            if (SseOperands.IsSignalingNaN(a, false))
                mxcsr |= Mxcsr.Invalid;
            return ((ulong)(a & 0x8000_0000) << 32) | 0x7FF8_0000_0000_0000UL | ((ulong)(a & 0x003F_FFFF) << 29);
        }

        a = (uint)SseOperands.Input(a, false, ref mxcsr);
        return BitConverter.DoubleToUInt64Bits(BitConverter.UInt32BitsToSingle(a));
    }

    /// <summary>CVTSD2SS: rounds by MXCSR.RC; a NaN keeps the top of its payload.</summary>
    public static uint DoubleToSingle(ulong a, ref uint mxcsr)
    {
        if (SseOperands.IsNaN(a, true))
        {
            if (SseOperands.IsSignalingNaN(a, true))
                mxcsr |= Mxcsr.Invalid;
            return (uint)(a >> 32 & 0x8000_0000) | 0x7FC0_0000 | (uint)((a >> 29) & 0x003F_FFFF);
        }

        a = SseOperands.Input(a, true, ref mxcsr);
        FloatFlags flags = FloatFlags.None;
        uint r = SoftFloat.F64ToF32(a, Mxcsr.Rounding(mxcsr), ref flags);
        return (uint)SseOperands.Output(r, flags, false, ref mxcsr);
    }

    /// <summary>
    /// CVTSS2SI r32 (truncate = false: MXCSR.RC) / CVTTSS2SI r32 (truncate):
    /// NaN, infinity or out of range gives IE and the integer indefinite.
    /// </summary>
    public static int SingleToInt32(uint a, bool truncate, ref uint mxcsr) => (int)ToInteger(a, false, 32, truncate, ref mxcsr);

    /// <summary>CVTSS2SI / CVTTSS2SI r64.</summary>
    public static long SingleToInt64(uint a, bool truncate, ref uint mxcsr) => ToInteger(a, false, 64, truncate, ref mxcsr);

    /// <summary>CVTSD2SI / CVTTSD2SI r32.</summary>
    public static int DoubleToInt32(ulong a, bool truncate, ref uint mxcsr) => (int)ToInteger(a, true, 32, truncate, ref mxcsr);

    /// <summary>CVTSD2SI / CVTTSD2SI r64.</summary>
    public static long DoubleToInt64(ulong a, bool truncate, ref uint mxcsr) => ToInteger(a, true, 64, truncate, ref mxcsr);

    private static void Unpack(ulong a, bool d, out bool negative, out ulong sig, out int exp)
    {
        negative = (a & SseOperands.SignBit(d)) != 0;
        if (d)
        {
            int biased = (int)(a >> 52) & 0x7FF;
            ulong frac = a & 0x000F_FFFF_FFFF_FFFF;
            sig = biased == 0 ? frac : frac | 0x0010_0000_0000_0000;
            exp = biased == 0 ? -1074 : biased - 1075;
        }
        else
        {
            int biased = (int)(a >> 23) & 0xFF;
            ulong frac = a & 0x7F_FFFF;
            sig = biased == 0 ? frac : frac | 0x80_0000;
            exp = biased == 0 ? -149 : biased - 150;
        }
    }

    private static long ToInteger(ulong a, bool d, int bits, bool truncate, ref uint mxcsr)
    {
        long indefinite = bits == 64 ? long.MinValue : int.MinValue;
        if (SseOperands.IsNaN(a, d) || SseOperands.IsInfinity(a, d))
        {
            mxcsr |= Mxcsr.Invalid;
            return indefinite;
        }

        if ((mxcsr & Mxcsr.DenormalsAreZeros) != 0 && SseOperands.IsDenormal(a, d))
            return 0;
        Unpack(a, d, out bool negative, out ulong sig, out int exp);
        if (sig == 0)
            return 0;
        ulong magnitude;
        bool inexact = false;
        if (exp >= 0)
        {
            if (exp + 64 - System.Numerics.BitOperations.LeadingZeroCount(sig) > 64)
            {
                mxcsr |= Mxcsr.Invalid;
                return indefinite;
            }

            magnitude = sig << exp;
        }
        else
        {
            RoundingMode rm = truncate ? RoundingMode.TowardZero : Mxcsr.Rounding(mxcsr);
            magnitude = X87Arithmetic.RoundToIntegerCore(sig, exp, negative, rm, out inexact, out _);
        }

        ulong limit = 1UL << (bits - 1);
        if (magnitude > (negative ? limit : limit - 1))
        {
            mxcsr |= Mxcsr.Invalid;
            return indefinite;
        }

        if (inexact)
            mxcsr |= Mxcsr.Precision;
        return negative ? (long)(0 - magnitude) : (long)magnitude;
    }

    /// <summary>
    /// ROUNDSS (SSE4.1): rounds to an integral value. imm8 bits 1-0 give the
    /// mode (nearest, down, up, toward zero) unless bit 2 selects MXCSR.RC;
    /// bit 3 suppresses PE. An SNaN is quieted with IE.
    /// </summary>
    public static uint RoundSingle(uint a, int imm8, ref uint mxcsr) => (uint)Round(a, imm8, false, ref mxcsr);

    /// <summary>ROUNDSD (SSE4.1).</summary>
    public static ulong RoundDouble(ulong a, int imm8, ref uint mxcsr) => Round(a, imm8, true, ref mxcsr);

    private static ulong Round(ulong a, int imm8, bool d, ref uint mxcsr)
    {
        if (SseOperands.IsNaN(a, d))
            return SseOperands.PropagateNaN(a, a, d, ref mxcsr);
        if (SseOperands.IsInfinity(a, d))
            return a;
        // ROUNDSS lists no #D: a denormal raises nothing (DAZ still reads it as zero).
        if ((mxcsr & Mxcsr.DenormalsAreZeros) != 0 && SseOperands.IsDenormal(a, d))
            return a & SseOperands.SignBit(d);
        Unpack(a, d, out bool negative, out ulong sig, out int exp);
        if (sig == 0 || exp >= 0)
            return a;
        RoundingMode rm = (imm8 & 4) != 0 ? Mxcsr.Rounding(mxcsr) : X86Rounding.FromRc(imm8 & 3);
        ulong magnitude = X87Arithmetic.RoundToIntegerCore(sig, exp, negative, rm, out bool inexact, out _);
        if (inexact && (imm8 & 8) == 0)
            mxcsr |= Mxcsr.Precision;
        FloatFlags ignored = FloatFlags.None;
        ulong r = d
            ? SoftFloat.F64FromInt64((long)magnitude, RoundingMode.NearestEven, ref ignored)
            : SoftFloat.F32FromInt64((long)magnitude, RoundingMode.NearestEven, ref ignored);
        return r | (negative ? SseOperands.SignBit(d) : 0);
    }
}
