namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// Packing, unpacking and NaN rules of the x87 extended format shared by the
/// X87* operation classes.
/// </summary>
internal static class X87Encoding
{
    public const int Emin = -16382;
    public const int Emax = 16383;

    /// <summary>Splits a finite value into value = sig * 2^exp (sig = 0 for zeros); a pseudo-denormal reads as exponent 1.</summary>
    public static void Unpack(Float80 x, out ulong sig, out int exp)
    {
        sig = x.Significand;
        exp = Math.Max(x.BiasedExponent, 1) - Float80.Bias - 63;
    }

    /// <summary>Packs the result of <see cref="X86Rounding.Round"/> for precision p into the extended format.</summary>
    public static Float80 Pack(bool negative, int exponent, ulong kept, int p)
    {
        ushort sign = negative ? (ushort)0x8000 : (ushort)0;
        if (exponent == int.MaxValue)
            return new Float80((ushort)(sign | 0x7FFF), Float80.IntegerBit);
        ulong sig = p == 64 ? kept : kept << (64 - p);
        if ((sig & Float80.IntegerBit) == 0)
            return new Float80(sign, sig);
        return new Float80((ushort)(sign | (exponent + Float80.Bias)), sig);
    }

    /// <summary>
    /// Rounds (-1)^negative * sig * 2^exp (sig non-zero) under the control
    /// word's precision and rounding control, ORs the exceptions into the
    /// status word and sets C1 when rounded up (SDM vol. 1, 8.1.3.1).
    /// </summary>
    public static Float80 RoundPack(bool negative, int exp, UInt128 sig, X87Control control, ref X87Status status)
    {
        int flags = 0;
        int p = control.PrecisionBits;
        ulong kept = X86Rounding.Round(negative, exp, sig, p, Emin, Emax, control.Rounding, ref flags, out int exponent, out bool up);
        status.Raise(flags);
        if (up)
            status.SetConditions(X87Status.C1, X87Status.C1);
        return Pack(negative, exponent, kept, p);
    }

    /// <summary>The NaN with its quiet bit set.</summary>
    public static Float80 Quiet(Float80 x) => new(x.SignExponent, x.Significand | Float80.QuietBit);

    public static Float80 Invalid(ref X87Status status)
    {
        status.Raise(X86Rounding.IE);
        return Float80.Indefinite;
    }

    /// <summary>
    /// The invalid-operand and NaN rules of a two-operand arithmetic
    /// instruction: an unsupported encoding gives IE and the indefinite (SDM
    /// vol. 1, 8.2.2); NaN operands give the NaN SDM vol. 1, table 4-7 picks
    /// for the x87 FPU (a QNaN over an SNaN, else the larger significand),
    /// quieted, with IE if either signals. Returns false when neither applies.
    /// </summary>
    public static bool SpecialOperands(Float80 a, Float80 b, ref X87Status status, out Float80 result)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            result = Invalid(ref status);
            return true;
        }

        bool nanA = a.IsNaN;
        bool nanB = b.IsNaN;
        if (!nanA && !nanB)
        {
            result = default;
            return false;
        }

        if (a.IsSignalingNaN || b.IsSignalingNaN)
            status.Raise(X86Rounding.IE);
        if (nanA && nanB)
            result = Quiet(PickNaN(a, b));
        else
            result = Quiet(nanA ? a : b);
        return true;
    }

    private static Float80 PickNaN(Float80 a, Float80 b)
    {
        bool qa = (a.Significand & Float80.QuietBit) != 0;
        bool qb = (b.Significand & Float80.QuietBit) != 0;
        if (qa != qb)
            return qa ? a : b;
        ulong ma = a.Significand & ~Float80.QuietBit;
        ulong mb = b.Significand & ~Float80.QuietBit;
        if (ma != mb)
            return ma > mb ? a : b;
        return b.Sign ? a : b;
    }

    /// <summary>The same rules for one operand.</summary>
    public static bool SpecialOperand(Float80 a, ref X87Status status, out Float80 result)
    {
        if (a.IsUnsupported)
        {
            result = Invalid(ref status);
            return true;
        }

        if (a.IsNaN)
        {
            if (a.IsSignalingNaN)
                status.Raise(X86Rounding.IE);
            result = Quiet(a);
            return true;
        }

        result = default;
        return false;
    }

    public static Float80 Zero(bool negative) => new(negative ? (ushort)0x8000 : (ushort)0, 0);

    public static Float80 Infinity(bool negative) => new((ushort)(negative ? 0xFFFF : 0x7FFF), Float80.IntegerBit);
}
