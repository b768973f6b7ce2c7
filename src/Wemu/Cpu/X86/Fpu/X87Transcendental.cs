namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// x87 transcendental instructions: F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN,
/// FCOS, FSINCOS, FPTAN. Vendors differ in the last bit here; these are
/// computed in 128-bit arithmetic (<see cref="X87Wide"/>) with series
/// (expm1 Taylor series, log via 2*atanh((m-1)/(m+1)), atan via argument
/// reduction to [0, tan(pi/8)] and its Taylor series, sin/cos Taylor series
/// after reduction by the 66-bit pi the x87 uses, SDM vol. 1, 8.3.8) and
/// rounded once to 64 bits by FCW.RC (precision control does not apply).
/// Results are within one ulp of the host CPU (tests); special operands
/// (zeros, infinities, NaNs, domain errors) follow the SDM tables exactly.
/// </summary>
/// <remarks>
/// FSIN/FCOS/FSINCOS/FPTAN with |x| &gt;= 2^63 set C2 and leave the operand
/// unchanged (SDM vol. 2, FSIN): the caller must then keep ST(0) (and not push
/// for FSINCOS/FPTAN). Arguments are reduced against the 66-bit pi in 128-bit
/// arithmetic: exact up to about 2^60 (the tests' range); near 2^62 results
/// differed from the host by a few ulps. The series are truncated, not
/// directed, so a result exactly halfway in the last place after truncation
/// could round the other way (seen only for atan of a denormal quotient).
/// </remarks>
public static class X87Transcendental
{
    private static readonly X87Wide s_one = X87Wide.FromInt(1);
    private static readonly X87Wide s_two = X87Wide.FromInt(2);
    private static readonly X87Wide s_ln2 = ComputeLn2();
    private static readonly X87Wide s_pi = ComputePi();

    /// <summary>pi/2 with pi rounded to 66 bits (0x3.243F6A8885A308D3), the x87's internal approximation.</summary>
    private static readonly X87Wide s_halfPi66 = new(false, 62, ((UInt128)3 << 64) | 0x243F_6A88_85A3_08D3UL);

    private static X87Wide ComputeLn2() => Atanh(s_one / X87Wide.FromInt(3)).Scale(1);

    private static X87Wide ComputePi() => AtanSeries(s_one / (s_one + Sqrt2())).Scale(3); // atan(tan(pi/8)) * 8

    private static X87Wide Sqrt2()
    {
        // Newton on the 128-bit value, from the binary64 estimate.
        var x = new X87Wide(false, 127, (UInt128)(ulong)(Math.Sqrt(2) * (1UL << 62)) << 1).Scale(-63);
        for (int i = 0; i < 4; i++)
            x = (x + s_two / x).Scale(-1);
        return x;
    }

    /// <summary>atanh(t) = t + t^3/3 + t^5/5 + ... for |t| &lt;= 1/3.</summary>
    private static X87Wide Atanh(X87Wide t)
    {
        X87Wide t2 = t * t;
        X87Wide power = t;
        X87Wide sum = t;
        for (int k = 1; k < 90; k++)
        {
            power *= t2;
            if (power.IsZero || power.Exp < sum.Exp - 130)
                break;
            sum += power / X87Wide.FromInt(2 * k + 1);
        }

        return sum;
    }

    /// <summary>atan(z) = z - z^3/3 + z^5/5 - ... for 0 &lt;= z &lt;= tan(pi/8).</summary>
    private static X87Wide AtanSeries(X87Wide z)
    {
        X87Wide z2 = z * z;
        X87Wide power = z;
        X87Wide sum = z;
        for (int k = 1; k < 200; k++)
        {
            power *= z2;
            if (power.IsZero || power.Exp < sum.Exp - 130)
                break;
            X87Wide term = power / X87Wide.FromInt(2 * k + 1);
            sum = (k & 1) != 0 ? sum - term : sum + term;
        }

        return sum;
    }

    /// <summary>atan(z) for z &gt;= 0.</summary>
    private static X87Wide Atan(X87Wide z)
    {
        bool invert = X87Wide.CompareMagnitude(z, s_one) > 0;
        if (invert)
            z = s_one / z;
        // tan(pi/8) = sqrt(2) - 1 ~ 0.4142: above it use atan(z) = pi/4 - atan((1-z)/(1+z)).
        X87Wide r;
        if (X87Wide.CompareMagnitude(z, new X87Wide(false, 63, 0x6A09_E667_F3BC_C908UL)) > 0)
            r = s_pi.Scale(-2) - AtanSeries((s_one - z) / (s_one + z));
        else
            r = AtanSeries(z);
        return invert ? s_pi.Scale(-1) - r : r;
    }

    /// <summary>ln(x) for x &gt; 0 as e*ln2 + 2*atanh((m-1)/(m+1)) with m in [sqrt(2)/2, sqrt(2)).</summary>
    private static X87Wide Log2(X87Wide x)
    {
        // x = Sig * 2^(Exp-127): m = Sig * 2^-127 in [1, 2).
        int e = x.Exp;
        var m = new X87Wide(false, 0, x.Sig);
        if (x.Sig > ((UInt128)0xB504F333F9DE6484UL << 64))
        {
            m = m.Scale(-1);
            e++;
        }

        X87Wide ln = Atanh((m - s_one) / (m + s_one)).Scale(1);
        return X87Wide.FromInt(e) + ln / s_ln2;
    }

    private static X87Wide Expm1(X87Wide y)
    {
        X87Wide term = y;
        X87Wide sum = y;
        for (int n = 2; n < 60; n++)
        {
            term = term * y / X87Wide.FromInt(n);
            if (term.IsZero || term.Exp < sum.Exp - 130)
                break;
            sum += term;
        }

        return sum;
    }

    private static void SinCos(X87Wide r, out X87Wide sin, out X87Wide cos)
    {
        X87Wide r2 = r * r;
        X87Wide term = r;
        sin = r;
        for (int n = 1; n < 40; n++)
        {
            term = term * r2 / X87Wide.FromInt((2 * n) * (2 * n + 1));
            if (term.IsZero || term.Exp < sin.Exp - 130)
                break;
            sin = (n & 1) != 0 ? sin - term : sin + term;
        }

        term = s_one;
        cos = s_one;
        for (int n = 1; n < 40; n++)
        {
            term = term * r2 / X87Wide.FromInt((2 * n - 1) * (2 * n));
            if (term.IsZero || term.Exp < -130)
                break;
            cos = (n & 1) != 0 ? cos - term : cos + term;
        }
    }

    /// <summary>
    /// F2XM1: 2^x - 1 for -1 &lt;= x &lt;= 1 (outside that range the SDM
    /// leaves the result undefined; it is computed all the same).
    /// </summary>
    public static Float80 TwoToXMinus1(Float80 x, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperand(x, ref status, out Float80 special))
            return special;
        if (x.IsZero)
            return x;
        if (x.IsInfinity)
            return x.Sign ? new Float80(0xBFFF, Float80.IntegerBit) : x;
        if (x.IsDenormal)
            status.Raise(X86Rounding.DE);
        return Expm1(X87Wide.From(x) * s_ln2).ToFloat80(control, ref status);
    }

    /// <summary>FYL2X: y * log2(x) (x = ST(0), y = ST(1); the result replaces ST(1) and pops).</summary>
    public static Float80 YLog2X(Float80 x, Float80 y, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperands(x, y, ref status, out Float80 special))
            return special;
        // IE and ZE take precedence over DE (host-checked).
        if (x.Sign && !x.IsZero)
            return X87Encoding.Invalid(ref status);
        if (x.IsZero)
        {
            // log2(0) = -inf: times 0 is invalid, else -inf * y.
            if (y.IsZero)
                return X87Encoding.Invalid(ref status);
            if (!y.IsInfinity)
                status.Raise(X86Rounding.ZE);
            return X87Encoding.Infinity(!y.Sign);
        }

        if (x.IsInfinity && y.IsZero)
            return X87Encoding.Invalid(ref status);
        if (x.IsDenormal || y.IsDenormal)
            status.Raise(X86Rounding.DE);
        if (x.IsInfinity)
            return X87Encoding.Infinity(y.Sign);
        X87Wide log = Log2(X87Wide.From(x));
        if (log.IsZero)
        {
            // x = 1: log2 is +0 exactly.
            return y.IsInfinity ? X87Encoding.Invalid(ref status) : X87Encoding.Zero(y.Sign);
        }

        if (y.IsInfinity)
            return X87Encoding.Infinity(y.Sign != log.Negative);
        if (y.IsZero)
            return X87Encoding.Zero(y.Sign != log.Negative);
        return (log * X87Wide.From(y)).ToFloat80(control, ref status);
    }

    /// <summary>FYL2XP1: y * log2(x + 1) for |x| &lt; 1 - sqrt(2)/2 (x = ST(0), y = ST(1)).</summary>
    public static Float80 YLog2XPlus1(Float80 x, Float80 y, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperands(x, y, ref status, out Float80 special))
            return special;
        // log2(1 + x) is +inf for x = +inf and undefined for x = -inf; IE
        // takes precedence over DE (host-checked).
        if ((x.IsInfinity && (x.Sign || y.IsZero)) || (x.IsZero && y.IsInfinity))
            return X87Encoding.Invalid(ref status);
        if (x.IsDenormal || y.IsDenormal)
            status.Raise(X86Rounding.DE);
        if (x.IsInfinity)
            return X87Encoding.Infinity(y.Sign);
        if (x.IsZero || y.IsZero)
            return X87Encoding.Zero(x.Sign != y.Sign);
        if (y.IsInfinity)
            return X87Encoding.Infinity(x.Sign != y.Sign);
        X87Wide wx = X87Wide.From(x);
        X87Wide ln = Atanh(wx / (s_two + wx)).Scale(1);
        return (ln / s_ln2 * X87Wide.From(y)).ToFloat80(control, ref status);
    }

    /// <summary>FPATAN: atan2(y, x) (x = ST(0), y = ST(1)), SDM vol. 2 table "FPATAN Results".</summary>
    public static Float80 ArcTangent(Float80 x, Float80 y, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperands(y, x, ref status, out Float80 special))
            return special;
        if (x.IsDenormal || y.IsDenormal)
            status.Raise(X86Rounding.DE);
        X87Wide result;
        bool exact = false;
        if (y.IsZero)
        {
            if (!x.Sign)
                return y;
            result = s_pi;
        }
        else if (x.IsZero)
        {
            result = s_pi.Scale(-1);
        }
        else if (y.IsInfinity)
        {
            result = x.IsInfinity ? (x.Sign ? s_pi * X87Wide.FromInt(3) : s_pi).Scale(-2) : s_pi.Scale(-1);
        }
        else if (x.IsInfinity)
        {
            if (!x.Sign)
                return X87Encoding.Zero(y.Sign);
            result = s_pi;
        }
        else
        {
            X87Wide wy = X87Wide.From(y).Abs();
            X87Wide wx = X87Wide.From(x);
            X87Wide a = Atan(wy / wx.Abs());
            result = x.Sign ? s_pi - a : a;
        }

        if (y.Sign)
            result = result.Negate();
        return result.ToFloat80(control, ref status, !exact);
    }

    /// <summary>
    /// Reduces x by multiples of pi/2 (66-bit pi); returns false (C2 = 1,
    /// operand unchanged) when |x| &gt;= 2^63.
    /// </summary>
    private static bool Reduce(Float80 x, ref X87Status status, out X87Wide r, out int quadrant)
    {
        if (x.BiasedExponent >= Float80.Bias + 63)
        {
            status.SetConditions(X87Status.C2, X87Status.C2);
            r = default;
            quadrant = 0;
            return false;
        }

        status.SetConditions(X87Status.C2, 0);
        X87Wide w = X87Wide.From(x);
        long k = (w / s_halfPi66).RoundToInteger();
        r = w - X87Wide.FromInt(k) * s_halfPi66;
        quadrant = (int)(k & 3);
        return true;
    }

    /// <summary>FSIN (C2 = 1 and no result when |x| &gt;= 2^63; the caller keeps ST(0)).</summary>
    public static Float80 Sin(Float80 x, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (!TrigSpecial(x, ref status, out Float80 special))
            return special;
        if (!Reduce(x, ref status, out X87Wide r, out int q))
            return x;
        SinCos(r, out X87Wide s, out X87Wide c);
        X87Wide v = (q & 1) == 0 ? s : c;
        if (q >= 2)
            v = v.Negate();
        return v.ToFloat80(control, ref status);
    }

    /// <summary>FCOS.</summary>
    public static Float80 Cos(Float80 x, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (!TrigSpecial(x, ref status, out Float80 special))
            return x.IsZero ? Float80.One : special;
        if (!Reduce(x, ref status, out X87Wide r, out int q))
            return x;
        SinCos(r, out X87Wide s, out X87Wide c);
        X87Wide v = (q & 1) == 0 ? c : s;
        if (q == 1 || q == 2)
            v = v.Negate();
        return v.ToFloat80(control, ref status);
    }

    /// <summary>FSINCOS: returns the cosine (new ST(0)) and the sine (ST(1)).</summary>
    public static Float80 SinCos(Float80 x, out Float80 sin, X87Control control, ref X87Status status)
    {
        var s1 = status;
        sin = Sin(x, control, ref s1);
        var cos = Cos(x, control, ref status);
        status.Raise(s1.Word & X87Status.Exceptions);
        return cos;
    }

    /// <summary>FPTAN: returns tan(x) (ST(0) replaced, then 1.0 is pushed).</summary>
    public static Float80 Tan(Float80 x, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (!TrigSpecial(x, ref status, out Float80 special))
            return special;
        if (!Reduce(x, ref status, out X87Wide r, out int q))
            return x;
        SinCos(r, out X87Wide s, out X87Wide c);
        X87Wide t = (q & 1) == 0 ? s / c : (c / s).Negate();
        return t.ToFloat80(control, ref status);
    }

    /// <summary>NaN, invalid, infinity (IE, indefinite) and zero (returned exactly) operands; false when handled.</summary>
    private static bool TrigSpecial(Float80 x, ref X87Status status, out Float80 result)
    {
        if (X87Encoding.SpecialOperand(x, ref status, out result))
            return false;
        if (x.IsInfinity)
        {
            result = X87Encoding.Invalid(ref status);
            return false;
        }

        if (x.IsZero)
        {
            status.SetConditions(X87Status.C2, 0);
            result = x;
            return false;
        }

        if (x.IsDenormal)
            status.Raise(X86Rounding.DE);
        return true;
    }
}
