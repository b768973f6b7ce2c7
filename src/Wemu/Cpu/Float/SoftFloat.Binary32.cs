namespace Wemu.Cpu.Float;

// binary32 arithmetic (F extension, unprivileged spec 11.6).
//
// Fast paths compute in host binary64: products and sums of two binary32
// values need at most 48 (product) significant bits, and rounding a
// correctly rounded binary64 +, *, /, sqrt result to binary32 is the
// correctly rounded binary32 result because 53 >= 2 * 24 + 2 (Figueroa, "When
// is double rounding innocuous?", SIGNUM 1995). The exact sign of the
// rounding error then comes from a binary64 residual.
public static partial class SoftFloat
{
    /// <summary>fadd.s: a + b.</summary>
    public static uint Add32(uint a, uint b, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt32BitsToSingle(a);
        double y = BitConverter.UInt32BitsToSingle(b);
        double s = x + y;
        float f = (float)s;
        uint r = BitConverter.SingleToUInt32Bits(f);
        if (AbsExponentIn32(r, 2, 0xFD))
        {
            bool exactAbove;
            if (f != s)
            {
                exactAbove = s > f;
            }
            else
            {
                // TwoSum: the binary64 sum itself may be rounded.
                double bv = s - x;
                double err = (x - (s - bv)) + (y - bv);
                if (err == 0)
                    return r;
                exactAbove = err > 0;
            }

            flags |= FloatFlags.Inexact;
            if (rm == RoundingMode.NearestEven)
                return r;
            if (rm != RoundingMode.NearestMaxMagnitude)
                return (uint)Directed(r, f < 0, exactAbove, rm);
        }

        return (uint)AddSlow(a, b, false, rm, ref flags);
    }

    /// <summary>fsub.s: a - b.</summary>
    public static uint Sub32(uint a, uint b, RoundingMode rm, ref FloatFlags flags) =>
        Add32(a, b ^ 0x8000_0000, rm, ref flags);

    /// <summary>fmul.s: a * b.</summary>
    public static uint Mul32(uint a, uint b, RoundingMode rm, ref FloatFlags flags)
    {
        double p = (double)BitConverter.UInt32BitsToSingle(a) * BitConverter.UInt32BitsToSingle(b); // exact
        float f = (float)p;
        uint r = BitConverter.SingleToUInt32Bits(f);
        if (AbsExponentIn32(r, 2, 0xFD))
        {
            if (f == p)
                return r;
            flags |= FloatFlags.Inexact;
            if (rm == RoundingMode.NearestEven)
                return r;
            if (rm != RoundingMode.NearestMaxMagnitude)
                return (uint)Directed(r, f < 0, p > f, rm);
        }

        return (uint)MulSlow(a, b, false, rm, ref flags);
    }

    /// <summary>fdiv.s: a / b.</summary>
    public static uint Div32(uint a, uint b, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt32BitsToSingle(a);
        double y = BitConverter.UInt32BitsToSingle(b);
        float f = (float)(x / y);
        uint r = BitConverter.SingleToUInt32Bits(f);
        if (AbsExponentIn32(r, 2, 0xFD))
        {
            // f * y is exact in binary64 and x - f*y is a short number, so
            // the remainder is exact.
            double rem = x - (double)f * y;
            if (rem == 0)
                return r;
            flags |= FloatFlags.Inexact;
            // Quotients are never exactly halfway: RMM rounds like RNE.
            if (rm is RoundingMode.NearestEven or RoundingMode.NearestMaxMagnitude)
                return r;
            return (uint)Directed(r, f < 0, (rem > 0) == (y > 0), rm);
        }

        return (uint)DivSlow(a, b, false, rm, ref flags);
    }

    /// <summary>fsqrt.s: sqrt(a).</summary>
    public static uint Sqrt32(uint a, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt32BitsToSingle(a);
        float f = (float)Math.Sqrt(x);
        uint r = BitConverter.SingleToUInt32Bits(f);
        if (AbsExponentIn32(r, 2, 0xFD))
        {
            double rem = x - (double)f * f; // exact
            if (rem == 0)
                return r;
            flags |= FloatFlags.Inexact;
            if (rm is RoundingMode.NearestEven or RoundingMode.NearestMaxMagnitude)
                return r;
            return (uint)Directed(r, false, rem > 0, rm);
        }

        return (uint)SqrtSlow(a, false, rm, ref flags);
    }

    /// <summary>
    /// fmadd.s: a * b + c with a single rounding. fmsub, fnmsub and fnmadd
    /// are this with the sign of c, of a, or of both a and c flipped.
    /// </summary>
    public static uint MulAdd32(uint a, uint b, uint c, RoundingMode rm, ref FloatFlags flags)
    {
        double p = (double)BitConverter.UInt32BitsToSingle(a) * BitConverter.UInt32BitsToSingle(b); // exact
        double z = BitConverter.UInt32BitsToSingle(c);
        double s = p + z;
        double bv = s - p;
        double err = (p - (s - bv)) + (z - bv);
        if (err != 0)
        {
            // Round to odd (sticky in the last binary64 place) so that the
            // second rounding to binary32 is correct (Boldo and Melquiond,
            // "Emulation of FMA and correctly rounded sums: proved algorithms
            // using rounding to odd", IEEE TC 57(4), 2008).
            ulong sb = BitConverter.DoubleToUInt64Bits(s);
            if ((sb & 1) == 0)
                s = BitConverter.UInt64BitsToDouble((err > 0) == (s > 0) ? sb + 1 : sb - 1);
        }

        // Infinite or NaN operands make f non-finite: the range test below
        // sends them to the software path.
        float f = (float)s;
        uint r = BitConverter.SingleToUInt32Bits(f);
        if (AbsExponentIn32(r, 2, 0xFD))
        {
            // s is exact, or odd and so never equal to a binary32 number: in
            // both cases it is on the same side of f as the exact value.
            if (f == s)
                return r;
            flags |= FloatFlags.Inexact;
            if (rm == RoundingMode.NearestEven)
                return r;
            if (rm != RoundingMode.NearestMaxMagnitude)
                return (uint)Directed(r, f < 0, s > f, rm);
        }

        return (uint)MulAddSlow(a, b, c, false, rm, ref flags);
    }
}
