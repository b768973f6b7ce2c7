namespace Wemu.Cpu.Float;

// binary64 arithmetic (D extension, unprivileged spec 12.4).
//
// Fast paths: the host computes the round-to-nearest-even result r (IEEE
// 754 correctly rounded, SSE2/wasm f64), and an error-free transformation
// gives the exact sign of (exact - r). They are taken only when r and the
// operands are far enough from the subnormal range for the transformation to
// be exact and far enough from overflow for a directed-rounding step to stay
// finite; every other case takes the software path.
public static partial class SoftFloat
{
    /// <summary>fadd.d: a + b.</summary>
    public static ulong Add64(ulong a, ulong b, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        double y = BitConverter.UInt64BitsToDouble(b);
        double s = x + y;
        ulong r = BitConverter.DoubleToUInt64Bits(s);
        if (AbsExponentIn64(r, 2, 0x7FD))
        {
            // TwoSum (Knuth, TAOCP vol. 2, 4.2.2 Theorem B): s + err == x + y exactly.
            double bv = s - x;
            double err = (x - (s - bv)) + (y - bv);
            if (err == 0)
                return r;
            flags |= FloatFlags.Inexact;
            if (rm == RoundingMode.NearestEven)
                return r;
            if (rm != RoundingMode.NearestMaxMagnitude)
                return Directed(r, s < 0, err > 0, rm);
        }

        return AddSlow(a, b, true, rm, ref flags);
    }

    /// <summary>fsub.d: a - b.</summary>
    public static ulong Sub64(ulong a, ulong b, RoundingMode rm, ref FloatFlags flags) =>
        Add64(a, b ^ 0x8000_0000_0000_0000, rm, ref flags);

    /// <summary>fmul.d: a * b.</summary>
    public static ulong Mul64(ulong a, ulong b, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        double y = BitConverter.UInt64BitsToDouble(b);
        double p = x * y;
        ulong r = BitConverter.DoubleToUInt64Bits(p);
        // |p| >= 2^-963: the product error x*y - p is a binary64 number.
        if (AbsExponentIn64(r, 60, 0x7FD))
        {
            double err = Math.FusedMultiplyAdd(x, y, -p);
            if (err == 0)
                return r;
            flags |= FloatFlags.Inexact;
            if (rm == RoundingMode.NearestEven)
                return r;
            if (rm != RoundingMode.NearestMaxMagnitude)
                return Directed(r, p < 0, err > 0, rm);
        }

        return MulSlow(a, b, true, rm, ref flags);
    }

    /// <summary>fdiv.d: a / b.</summary>
    public static ulong Div64(ulong a, ulong b, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        double y = BitConverter.UInt64BitsToDouble(b);
        double q = x / y;
        ulong r = BitConverter.DoubleToUInt64Bits(q);
        // With |x| >= 2^-913 and y, q normal, the remainder x - q*y is a
        // binary64 number, so the FMA computes it exactly.
        if (AbsExponentIn64(r, 2, 0x7FD) && AbsExponentIn64(a, 110, 0x7FE) && AbsExponentIn64(b, 1, 0x7FE))
        {
            double rem = Math.FusedMultiplyAdd(-q, y, x);
            if (rem == 0)
                return r;
            flags |= FloatFlags.Inexact;
            // A binary quotient is never exactly halfway between two
            // numbers, so RMM rounds like RNE.
            if (rm is RoundingMode.NearestEven or RoundingMode.NearestMaxMagnitude)
                return r;
            return Directed(r, q < 0, (rem > 0) == (y > 0), rm);
        }

        return DivSlow(a, b, true, rm, ref flags);
    }

    /// <summary>fsqrt.d: sqrt(a).</summary>
    public static ulong Sqrt64(ulong a, RoundingMode rm, ref FloatFlags flags)
    {
        // Positive a >= 2^-913: the remainder a - r*r is exact.
        if (ExponentIn64(a, 110, 0x7FE))
        {
            double x = BitConverter.UInt64BitsToDouble(a);
            double s = Math.Sqrt(x);
            double rem = Math.FusedMultiplyAdd(-s, s, x);
            ulong r = BitConverter.DoubleToUInt64Bits(s);
            if (rem == 0)
                return r;
            flags |= FloatFlags.Inexact;
            // A square root is never exactly halfway: RMM rounds like RNE.
            if (rm is RoundingMode.NearestEven or RoundingMode.NearestMaxMagnitude)
                return r;
            return Directed(r, false, rem > 0, rm);
        }

        return SqrtSlow(a, true, rm, ref flags);
    }

    /// <summary>
    /// fmadd.d: a * b + c with a single rounding. fmsub, fnmsub and fnmadd
    /// are this with the sign of c, of a, or of both a and c flipped.
    /// </summary>
    public static ulong MulAdd64(ulong a, ulong b, ulong c, RoundingMode rm, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        double y = BitConverter.UInt64BitsToDouble(b);
        double z = BitConverter.UInt64BitsToDouble(c);
        double r1 = Math.FusedMultiplyAdd(x, y, z);
        double u1 = x * y;
        ulong r = BitConverter.DoubleToUInt64Bits(r1);
        if (AbsExponentIn64(r, 60, 0x7FD) && AbsExponentIn64(BitConverter.DoubleToUInt64Bits(u1), 60, 0x7FD)
            && AbsExponentIn64(c, 0, 0x7FD))
        {
            // ErrFma (Boldo and Muller, "Exact and approximated error of the
            // FMA", IEEE TC 60(2), 2011): x*y + z - r1 == gamma + alpha2
            // exactly, so the sign of its rounding is the error's sign.
            double u2 = Math.FusedMultiplyAdd(x, y, -u1);
            double alpha1 = z + u2;
            double t = alpha1 - z;
            double alpha2 = (z - (alpha1 - t)) + (u2 - t);
            double beta1 = u1 + alpha1;
            t = beta1 - u1;
            double beta2 = (u1 - (beta1 - t)) + (alpha1 - t);
            double gamma = (beta1 - r1) + beta2;
            double err = gamma + alpha2;
            if (err == 0)
                return r;
            flags |= FloatFlags.Inexact;
            if (rm == RoundingMode.NearestEven)
                return r;
            if (rm != RoundingMode.NearestMaxMagnitude)
                return Directed(r, r1 < 0, err > 0, rm);
        }

        return MulAddSlow(a, b, c, true, rm, ref flags);
    }
}
