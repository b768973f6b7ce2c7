using System.Numerics;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// A 128-bit-significand binary floating-point value for the x87
/// transcendental functions: value = (-1)^Negative * Sig * 2^(Exp - 127),
/// Sig normalized (bit 127 set) or zero. Operations truncate (relative error
/// below 2^-126 each), which leaves some 60 guard bits over the 64-bit result.
/// </summary>
internal readonly struct X87Wide
{
    public readonly bool Negative;
    public readonly int Exp;
    public readonly UInt128 Sig;

    public X87Wide(bool negative, int exp, UInt128 sig)
    {
        if (sig == 0)
        {
            Negative = negative;
            Exp = 0;
            Sig = 0;
            return;
        }

        int lz = (int)UInt128.LeadingZeroCount(sig);
        Negative = negative;
        Exp = exp - lz;
        Sig = sig << lz;
    }

    public bool IsZero => Sig == 0;

    public static X87Wide FromInt(long value) =>
        new(value < 0, 127, value < 0 ? (UInt128)(ulong)(-value) : (UInt128)(ulong)value);

    /// <summary>A finite Float80 (pseudo-denormals and denormals included).</summary>
    public static X87Wide From(Float80 x)
    {
        X87Encoding.Unpack(x, out ulong sig, out int exp);
        // value = sig * 2^exp = (sig << 64) * 2^(exp - 64) => Exp - 127 = exp - 64.
        return new X87Wide(x.Sign, exp + 63, (UInt128)sig << 64);
    }

    public X87Wide Negate() => new(!Negative, Exp, Sig);

    public X87Wide Abs() => new(false, Exp, Sig);

    public X87Wide Scale(int n) => Sig == 0 ? this : new(Negative, Exp + n, Sig);

    public static X87Wide operator +(X87Wide a, X87Wide b)
    {
        if (a.Sig == 0)
            return b;
        if (b.Sig == 0)
            return a;
        if (a.Exp < b.Exp || (a.Exp == b.Exp && a.Sig < b.Sig))
            (a, b) = (b, a);
        int d = a.Exp - b.Exp;
        UInt128 x = a.Sig >> 1;
        UInt128 y = d + 1 >= 128 ? 0 : b.Sig >> (d + 1);
        UInt128 s = a.Negative == b.Negative ? x + y : x - y;
        return new X87Wide(a.Negative, a.Exp + 1, s);
    }

    public static X87Wide operator -(X87Wide a, X87Wide b) => a + b.Negate();

    public static X87Wide operator *(X87Wide a, X87Wide b)
    {
        if (a.Sig == 0 || b.Sig == 0)
            return new X87Wide(a.Negative != b.Negative, 0, 0);
        ulong aH = (ulong)(a.Sig >> 64), aL = (ulong)a.Sig;
        ulong bH = (ulong)(b.Sig >> 64), bL = (ulong)b.Sig;
        UInt128 p0 = (UInt128)aL * bL;
        UInt128 p1 = (UInt128)aH * bL;
        UInt128 p2 = (UInt128)aL * bH;
        UInt128 p3 = (UInt128)aH * bH;
        UInt128 mid = (p0 >> 64) + (ulong)p1 + (ulong)p2;
        UInt128 hi = p3 + (p1 >> 64) + (p2 >> 64) + (mid >> 64);
        // Sig_a * Sig_b = hi * 2^128 + (mid low 64) * 2^64 + ...
        int exp = a.Exp + b.Exp + 1;
        if ((hi >> 127) == 0)
        {
            hi = (hi << 1) | (((ulong)mid >> 63) & 1);
            exp--;
        }

        return new X87Wide(a.Negative != b.Negative, exp, hi);
    }

    public static X87Wide operator /(X87Wide a, X87Wide b)
    {
        if (a.Sig == 0)
            return a;
        UInt128 r = a.Sig >> 1;
        UInt128 d = b.Sig >> 1;
        UInt128 q = 0;
        for (int i = 0; i < 128; i++)
        {
            q <<= 1;
            if (r >= d)
            {
                r -= d;
                q |= 1;
            }

            r <<= 1;
        }

        // q ~ (Sig_a / Sig_b) * 2^127.
        return new X87Wide(a.Negative != b.Negative, a.Exp - b.Exp, q);
    }

    /// <summary>Compares magnitudes.</summary>
    public static int CompareMagnitude(X87Wide a, X87Wide b)
    {
        if (a.Sig == 0 || b.Sig == 0)
            return a.Sig == 0 ? (b.Sig == 0 ? 0 : -1) : 1;
        if (a.Exp != b.Exp)
            return a.Exp < b.Exp ? -1 : 1;
        return a.Sig.CompareTo(b.Sig);
    }

    /// <summary>The nearest integer (ties away; |value| &lt; 2^63).</summary>
    public long RoundToInteger()
    {
        if (Sig == 0 || Exp < -1)
            return 0;
        int shift = 127 - Exp; // bits below the binary point, 65..128
        UInt128 halves = Sig >> (shift - 1); // the value in units of 1/2
        ulong magnitude = (ulong)((halves + 1) >> 1);
        return Negative ? -(long)magnitude : (long)magnitude;
    }

    /// <summary>Rounds to the extended format (64 bits, FCW.RC); the value is treated as inexact.</summary>
    public Float80 ToFloat80(X87Control control, ref X87Status status, bool inexact = true)
    {
        if (Sig == 0)
            return X87Encoding.Zero(Negative);
        var full = new X87Control((ushort)(control.Word | 0x300));
        UInt128 sig = inexact ? (Sig >> 1) | 1 : Sig >> 1;
        return X87Encoding.RoundPack(Negative, Exp - 126, sig, full, ref status);
    }

    public override string ToString() => $"{(Negative ? "-" : "")}{(double)Sig * Math.Pow(2, Exp - 127)}";

    public static int Lzc(ulong x) => BitOperations.LeadingZeroCount(x);
}
