using System.Numerics;
using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// x87 basic arithmetic on extended-precision values (FADD/FSUB/FMUL/FDIV,
/// FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM/FPREM1) with masked exception
/// responses (SDM vol. 1, 8.5 "x87 FPU Floating-Point Exception Conditions").
/// </summary>
/// <remarks>
/// Each operation rounds to the precision (FCW.PC) and direction (FCW.RC) of
/// the control word, ORs IE DE ZE OE UE PE into the status word and sets C1
/// when the result was rounded up (cleared otherwise). When the control word
/// leaves a raised IE, ZE or DE unmasked the caller must not store the result
/// (SDM vol. 1, 8.5.1-8.5.3) and must raise #MF; see <see cref="X87Status.Unmasked"/>.
/// </remarks>
public static class X87Arithmetic
{
    /// <summary>Register-register form of the arithmetic group: ST(0) op b (reverse forms swap the operands).</summary>
    public static Float80 Apply(X87ArithmeticOp op, Float80 st0, Float80 b, X87Control control, ref X87Status status) => op switch
    {
        X87ArithmeticOp.Add => Add(st0, b, control, ref status),
        X87ArithmeticOp.Mul => Mul(st0, b, control, ref status),
        X87ArithmeticOp.Sub => Sub(st0, b, control, ref status),
        X87ArithmeticOp.SubReverse => Sub(b, st0, control, ref status),
        X87ArithmeticOp.Div => Div(st0, b, control, ref status),
        _ => Div(b, st0, control, ref status),
    };

    /// <summary>
    /// FADD/FMUL/FSUB(R)/FDIV(R) with an m32fp (isDouble = false) or m64fp
    /// operand. The operand is widened exactly; an SNaN operand competes
    /// with a NaN in ST(0) by the x87 rule (a QNaN wins) and a denormal
    /// operand raises DE unless ST(0) is a NaN or unsupported or the
    /// operation raises IE or ZE (host-checked). Integer operands (FIADD
    /// ...) convert exactly: use <see cref="X87Convert.FromInt32"/> and
    /// <see cref="Apply"/>.
    /// </summary>
    public static Float80 ApplyMemory(X87ArithmeticOp op, Float80 st0, ulong memory, bool isDouble, X87Control control, ref X87Status status)
    {
        Float80 b = X87Convert.Widen(memory, isDouble, out bool denormal);
        var local = new X87Status((ushort)(status.Word & X87Status.ConditionCodes));
        Float80 r = Apply(op, st0, b, control, ref local);
        int flags = local.Word & X87Status.Exceptions;
        if (denormal && !st0.IsNaN && !st0.IsUnsupported && (flags & (X86Rounding.IE | X86Rounding.ZE)) == 0)
            flags |= X86Rounding.DE;
        status.Raise(flags);
        status.SetConditions(X87Status.ConditionCodes, (ushort)(local.Word & X87Status.ConditionCodes));
        return r;
    }

    /// <summary>FADD: a + b.</summary>
    public static Float80 Add(Float80 a, Float80 b, X87Control control, ref X87Status status) =>
        AddCore(a, b, false, control, ref status);

    /// <summary>FSUB: a - b (FSUBR is Sub(b, a)).</summary>
    public static Float80 Sub(Float80 a, Float80 b, X87Control control, ref X87Status status) =>
        AddCore(a, b, true, control, ref status);

    private static Float80 AddCore(Float80 a, Float80 b, bool subtract, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperands(a, b, ref status, out Float80 special))
            return special;
        bool negA = a.Sign;
        bool negB = b.Sign ^ subtract;
        if (a.IsInfinity || b.IsInfinity)
        {
            if (a.IsDenormal || b.IsDenormal)
                status.Raise(X86Rounding.DE);
            if (a.IsInfinity && b.IsInfinity && negA != negB)
                return X87Encoding.Invalid(ref status);
            return X87Encoding.Infinity(a.IsInfinity ? negA : negB);
        }

        if (a.IsDenormal || b.IsDenormal)
            status.Raise(X86Rounding.DE);
        X87Encoding.Unpack(a, out ulong sigA, out int expA);
        X87Encoding.Unpack(b, out ulong sigB, out int expB);
        RoundingMode rm = control.Rounding;
        if (sigA == 0 && sigB == 0)
            return X87Encoding.Zero(negA == negB ? negA : rm == RoundingMode.Down);
        if (sigA == 0)
            return X87Encoding.RoundPack(negB, expB, sigB, control, ref status);
        if (sigB == 0)
            return X87Encoding.RoundPack(negA, expA, sigA, control, ref status);

        UInt128 ua = (UInt128)sigA << 62;
        UInt128 ub = (UInt128)sigB << 62;
        if (expA < expB || (expA == expB && sigA < sigB))
        {
            (ua, ub) = (ub, ua);
            (expA, expB) = (expB, expA);
            (negA, negB) = (negB, negA);
        }

        ub = X86Rounding.ShiftRightJam(ub, Math.Min(expA - expB, 130));
        UInt128 sum;
        bool negative = negA;
        if (negA == negB)
        {
            sum = ua + ub;
        }
        else if (ua >= ub)
        {
            sum = ua - ub;
        }
        else
        {
            sum = ub - ua;
            negative = negB;
        }

        if (sum == 0)
            return X87Encoding.Zero(rm == RoundingMode.Down);
        return X87Encoding.RoundPack(negative, expA - 62, sum, control, ref status);
    }

    /// <summary>FMUL: a * b.</summary>
    public static Float80 Mul(Float80 a, Float80 b, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperands(a, b, ref status, out Float80 special))
            return special;
        bool negative = a.Sign != b.Sign;
        if (a.IsInfinity || b.IsInfinity)
        {
            if ((a.IsInfinity ? b : a).IsZero)
                return X87Encoding.Invalid(ref status);
            if (a.IsDenormal || b.IsDenormal)
                status.Raise(X86Rounding.DE);
            return X87Encoding.Infinity(negative);
        }

        if (a.IsDenormal || b.IsDenormal)
            status.Raise(X86Rounding.DE);
        if (a.IsZero || b.IsZero)
            return X87Encoding.Zero(negative);
        X87Encoding.Unpack(a, out ulong sigA, out int expA);
        X87Encoding.Unpack(b, out ulong sigB, out int expB);
        return X87Encoding.RoundPack(negative, expA + expB, (UInt128)sigA * sigB, control, ref status);
    }

    /// <summary>FDIV: a / b (FDIVR is Div(b, a)).</summary>
    public static Float80 Div(Float80 a, Float80 b, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperands(a, b, ref status, out Float80 special))
            return special;
        bool negative = a.Sign != b.Sign;
        if (a.IsInfinity)
        {
            if (b.IsInfinity)
                return X87Encoding.Invalid(ref status);
            if (b.IsDenormal)
                status.Raise(X86Rounding.DE);
            return X87Encoding.Infinity(negative);
        }

        if (b.IsInfinity)
        {
            if (a.IsDenormal)
                status.Raise(X86Rounding.DE);
            return X87Encoding.Zero(negative);
        }

        if (b.IsZero)
        {
            if (a.IsZero)
                return X87Encoding.Invalid(ref status);
            status.Raise(X86Rounding.ZE);
            return X87Encoding.Infinity(negative);
        }

        if (a.IsDenormal || b.IsDenormal)
            status.Raise(X86Rounding.DE);
        if (a.IsZero)
            return X87Encoding.Zero(negative);
        X87Encoding.Unpack(a, out ulong sigA, out int expA);
        X87Encoding.Unpack(b, out ulong sigB, out int expB);
        int la = BitOperations.LeadingZeroCount(sigA);
        int lb = BitOperations.LeadingZeroCount(sigB);
        sigA <<= la;
        expA -= la;
        sigB <<= lb;
        expB -= lb;
        // Two steps of long division give a 126/127-bit quotient; the final
        // remainder is the sticky bit.
        UInt128 n = (UInt128)sigA << 63;
        UInt128 q1 = n / sigB;
        UInt128 r1 = n - q1 * sigB;
        UInt128 n2 = r1 << 64;
        UInt128 q2 = n2 / sigB;
        UInt128 r2 = n2 - q2 * sigB;
        UInt128 q = (q1 << 64) | q2 | (r2 != 0 ? UInt128.One : UInt128.Zero);
        return X87Encoding.RoundPack(negative, expA - 63 - 64 - expB, q, control, ref status);
    }

    /// <summary>FSQRT.</summary>
    public static Float80 Sqrt(Float80 a, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperand(a, ref status, out Float80 special))
            return special;
        if (a.IsZero)
            return a;
        if (a.Sign)
            return X87Encoding.Invalid(ref status);
        if (a.IsInfinity)
            return a;
        if (a.IsDenormal)
            status.Raise(X86Rounding.DE);
        X87Encoding.Unpack(a, out ulong sig, out int exp);
        int lz = BitOperations.LeadingZeroCount(sig);
        sig <<= lz;
        exp -= lz;
        int s = (exp & 1) == 0 ? 64 : 63;
        UInt128 n = (UInt128)sig << s;
        ulong root = Float.SoftFloat.IntegerSqrt(n, out UInt128 rem);
        // rem > root means the exact root is above root + 1/2 (never exactly halfway).
        UInt128 r = ((UInt128)root << 2) | (rem > root ? 3u : rem != 0 ? 1u : 0u);
        return X87Encoding.RoundPack(false, ((exp - s) >> 1) - 2, r, control, ref status);
    }

    /// <summary>
    /// FRNDINT: rounds to an integral value in the RC direction (precision
    /// control does not apply); PE when inexact, C1 when rounded up.
    /// </summary>
    public static Float80 RoundToInteger(Float80 a, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperand(a, ref status, out Float80 special))
            return special;
        if (a.IsInfinity || a.IsZero)
            return a;
        if (a.IsDenormal)
            status.Raise(X86Rounding.DE);
        X87Encoding.Unpack(a, out ulong sig, out int exp);
        if (exp >= 0)
            return a;
        bool negative = a.Sign;
        ulong integer = RoundToIntegerCore(sig, exp, negative, control.Rounding, out bool inexact, out bool up);
        if (inexact)
            status.Raise(X86Rounding.PE);
        if (up)
            status.SetConditions(X87Status.C1, X87Status.C1);
        if (integer == 0)
            return X87Encoding.Zero(negative);
        int lz = BitOperations.LeadingZeroCount(integer);
        return new Float80((ushort)((negative ? 0x8000 : 0) | (63 - lz + Float80.Bias)), integer << lz);
    }

    /// <summary>
    /// FSCALE: a * 2^trunc(b) (SDM vol. 2, FSCALE, table "FSCALE Results").
    /// The scaled value is rounded to 64 bits by FCW.RC (precision control
    /// does not apply); b = -inf gives a signed zero (IE for an infinite a),
    /// b = +inf an infinity (IE for a zero a).
    /// </summary>
    public static Float80 Scale(Float80 a, Float80 b, X87Control control, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperands(a, b, ref status, out Float80 special))
            return special;
        if (b.IsInfinity)
        {
            if (a.IsDenormal)
                status.Raise(X86Rounding.DE);
            if (b.Sign)
                return a.IsInfinity ? X87Encoding.Invalid(ref status) : X87Encoding.Zero(a.Sign);
            return a.IsZero ? X87Encoding.Invalid(ref status) : X87Encoding.Infinity(a.Sign);
        }

        if (a.IsDenormal || b.IsDenormal)
            status.Raise(X86Rounding.DE);
        if (a.IsZero || a.IsInfinity)
            return a;
        // trunc(b), clamped: anything beyond +-2^16 over- or underflows alike.
        X87Encoding.Unpack(b, out ulong sigB, out int expB);
        int n;
        if (b.IsZero || expB <= -64)
            n = 0;
        else if (expB >= -47)
            n = 1 << 17;
        else
            n = (int)Math.Min(sigB >> -expB, 1UL << 17);
        if (b.Sign)
            n = -n;
        X87Encoding.Unpack(a, out ulong sigA, out int expA);
        var full = new X87Control((ushort)(control.Word | 0x300));
        return X87Encoding.RoundPack(a.Sign, expA + n, sigA, full, ref status);
    }

    /// <summary>
    /// FXTRACT: returns the significand (a with exponent 0, the new ST(0))
    /// and in <paramref name="exponent"/> the unbiased exponent as a value
    /// (pushed below it). A zero gives ZE and exponent -infinity; an
    /// infinity gives exponent +infinity; a NaN or invalid operand gives that
    /// NaN (or the indefinite) in both.
    /// </summary>
    public static Float80 Extract(Float80 a, out Float80 exponent, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        if (X87Encoding.SpecialOperand(a, ref status, out Float80 special))
        {
            exponent = special;
            return special;
        }

        if (a.IsZero)
        {
            status.Raise(X86Rounding.ZE);
            exponent = X87Encoding.Infinity(true);
            return a;
        }

        if (a.IsInfinity)
        {
            exponent = X87Encoding.Infinity(false);
            return a;
        }

        if (a.IsDenormal)
            status.Raise(X86Rounding.DE);
        X87Encoding.Unpack(a, out ulong sig, out int exp);
        int lz = BitOperations.LeadingZeroCount(sig);
        exponent = X87Convert.FromInt32(exp + 63 - lz);
        return new Float80((ushort)((a.Sign ? 0x8000 : 0) | Float80.Bias), sig << lz);
    }

    /// <summary>
    /// FPREM (ieee = false: truncated quotient) and FPREM1 (ieee = true:
    /// quotient rounded to nearest even). SDM vol. 2, FPREM: when the
    /// exponent difference is below 64 the exact remainder is returned with
    /// C2 = 0 and the low quotient bits in C0 (q2), C3 (q1), C1 (q0);
    /// otherwise a partial remainder is computed with C2 = 1, reducing the
    /// exponent difference by 32 + (difference mod 32) bits (AMD APM vol. 5,
    /// FPREM; the same choice QEMU makes, checked against the host).
    /// </summary>
    public static Float80 PartialRemainder(Float80 a, Float80 b, bool ieee, ref X87Status status)
    {
        status.SetConditions(X87Status.ConditionCodes, 0);
        if (X87Encoding.SpecialOperands(a, b, ref status, out Float80 special))
            return special;
        if (a.IsInfinity || b.IsZero)
            return X87Encoding.Invalid(ref status);
        if (a.IsDenormal || b.IsDenormal)
            status.Raise(X86Rounding.DE);
        if (b.IsInfinity || a.IsZero)
            return Canonical(a);

        X87Encoding.Unpack(a, out ulong sigA, out int ea);
        X87Encoding.Unpack(b, out ulong sigB, out int eb);
        int la = BitOperations.LeadingZeroCount(sigA);
        int lb = BitOperations.LeadingZeroCount(sigB);
        sigA <<= la;
        ea -= la;
        sigB <<= lb;
        eb -= lb;
        int d = ea - eb;
        bool negative = a.Sign;
        var exact = new X87Control(0x037F);
        if (d >= 64)
        {
            int n = 32 + (d % 32);
            UInt128 dividend = (UInt128)sigA << n;
            ulong partial = (ulong)(dividend % sigB);
            status.SetConditions(X87Status.C2, X87Status.C2);
            if (partial == 0)
                return X87Encoding.Zero(negative);
            return X87Encoding.RoundPack(negative, ea - n, partial, exact, ref status);
        }

        if (d < -1)
            return Canonical(a);
        UInt128 x;
        UInt128 y;
        int scale;
        if (d >= 0)
        {
            x = (UInt128)sigA << d;
            y = sigB;
            scale = eb;
        }
        else
        {
            x = sigA;
            y = (UInt128)sigB << 1;
            scale = ea;
        }

        UInt128 q = x / y;
        UInt128 r = x - q * y;
        if (ieee && (r << 1 > y || (r << 1 == y && (q & 1) != 0)))
        {
            q++;
            r = y - r;
            negative = !negative;
        }

        ushort cc = 0;
        if ((q & 4) != 0)
            cc |= X87Status.C0;
        if ((q & 2) != 0)
            cc |= X87Status.C3;
        if ((q & 1) != 0)
            cc |= X87Status.C1;
        status.SetConditions(X87Status.ConditionCodes, cc);
        if (r == 0)
            return X87Encoding.Zero(a.Sign);
        return X87Encoding.RoundPack(negative, scale, r, exact, ref status);
    }

    /// <summary>A pseudo-denormal passed through as a result is stored with exponent 1 (the value it stands for).</summary>
    private static Float80 Canonical(Float80 a) =>
        a.BiasedExponent == 0 && (a.Significand & Float80.IntegerBit) != 0 ? new Float80((ushort)(a.SignExponent | 1), a.Significand) : a;

    /// <summary>
    /// Rounds sig * 2^exp (exp &lt; 0) to an integer magnitude; the result
    /// fits in 64 bits because sig does.
    /// </summary>
    internal static ulong RoundToIntegerCore(ulong sig, int exp, bool negative, RoundingMode rm, out bool inexact, out bool up)
    {
        int shift = -exp;
        ulong integer;
        bool round;
        bool sticky;
        if (shift < 64)
        {
            integer = sig >> shift;
            round = ((sig >> (shift - 1)) & 1) != 0;
            sticky = (sig & ((1UL << (shift - 1)) - 1)) != 0;
        }
        else if (shift == 64)
        {
            integer = 0;
            round = (sig >> 63) != 0;
            sticky = (sig << 1) != 0;
        }
        else
        {
            integer = 0;
            round = false;
            sticky = sig != 0;
        }

        inexact = round || sticky;
        up = rm switch
        {
            RoundingMode.TowardZero => false,
            RoundingMode.Down => negative && inexact,
            RoundingMode.Up => !negative && inexact,
            _ => round && (sticky || (integer & 1) != 0),
        };
        // integer + 1 cannot wrap: sig >> shift for shift >= 1 is below 2^63.
        return up ? integer + 1 : integer;
    }
}
