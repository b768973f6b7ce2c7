namespace Wemu.Cpu.Float;

// Comparisons, min/max and classification
// (unprivileged spec 11.8 "Single-Precision Floating-Point Compare
// Instructions", 11.6 for fmin/fmax, 11.9 "Classify", 12.6-12.7 for binary64).
public static partial class SoftFloat
{
    /// <summary>feq.d: quiet equality; NV only for a signaling NaN operand.</summary>
    public static bool Eq64(ulong a, ulong b, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        double y = BitConverter.UInt64BitsToDouble(b);
        if (x == y)
            return true;
        if (IsSignalingNaN(a, true) || IsSignalingNaN(b, true))
            flags |= FloatFlags.Invalid;
        return false;
    }

    /// <summary>flt.d: signaling less-than; NV for any NaN operand.</summary>
    public static bool Lt64(ulong a, ulong b, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        double y = BitConverter.UInt64BitsToDouble(b);
        if (x < y)
            return true;
        if (!(x >= y))
            flags |= FloatFlags.Invalid; // unordered
        return false;
    }

    /// <summary>fle.d: signaling less-or-equal; NV for any NaN operand.</summary>
    public static bool Le64(ulong a, ulong b, ref FloatFlags flags)
    {
        double x = BitConverter.UInt64BitsToDouble(a);
        double y = BitConverter.UInt64BitsToDouble(b);
        if (x <= y)
            return true;
        if (!(x > y))
            flags |= FloatFlags.Invalid; // unordered
        return false;
    }

    /// <summary>feq.s: quiet equality; NV only for a signaling NaN operand.</summary>
    public static bool Eq32(uint a, uint b, ref FloatFlags flags)
    {
        if (BitConverter.UInt32BitsToSingle(a) == BitConverter.UInt32BitsToSingle(b))
            return true;
        if (IsSignalingNaN(a, false) || IsSignalingNaN(b, false))
            flags |= FloatFlags.Invalid;
        return false;
    }

    /// <summary>flt.s: signaling less-than; NV for any NaN operand.</summary>
    public static bool Lt32(uint a, uint b, ref FloatFlags flags)
    {
        float x = BitConverter.UInt32BitsToSingle(a);
        float y = BitConverter.UInt32BitsToSingle(b);
        if (x < y)
            return true;
        if (!(x >= y))
            flags |= FloatFlags.Invalid;
        return false;
    }

    /// <summary>fle.s: signaling less-or-equal; NV for any NaN operand.</summary>
    public static bool Le32(uint a, uint b, ref FloatFlags flags)
    {
        float x = BitConverter.UInt32BitsToSingle(a);
        float y = BitConverter.UInt32BitsToSingle(b);
        if (x <= y)
            return true;
        if (!(x > y))
            flags |= FloatFlags.Invalid;
        return false;
    }

    /// <summary>
    /// fmin.d: IEEE 754-2019 minimumNumber as in F spec 2.2 (11.6): -0 &lt; +0,
    /// a single NaN operand yields the other operand, two NaNs the canonical
    /// NaN; NV if either operand is a signaling NaN.
    /// </summary>
    public static ulong Min64(ulong a, ulong b, ref FloatFlags flags) => MinMax(a, b, true, false, ref flags);

    /// <summary>fmax.d: IEEE 754-2019 maximumNumber, see <see cref="Min64"/>.</summary>
    public static ulong Max64(ulong a, ulong b, ref FloatFlags flags) => MinMax(a, b, true, true, ref flags);

    /// <summary>fmin.s: see <see cref="Min64"/>.</summary>
    public static uint Min32(uint a, uint b, ref FloatFlags flags) => (uint)MinMax(a, b, false, false, ref flags);

    /// <summary>fmax.s: see <see cref="Min64"/>.</summary>
    public static uint Max32(uint a, uint b, ref FloatFlags flags) => (uint)MinMax(a, b, false, true, ref flags);

    private static ulong MinMax(ulong a, ulong b, bool d, bool max, ref FloatFlags flags)
    {
        bool nanA = IsNaN(a, d);
        bool nanB = IsNaN(b, d);
        if (nanA || nanB)
        {
            if (IsSignalingNaN(a, d) || IsSignalingNaN(b, d))
                flags |= FloatFlags.Invalid;
            return nanA && nanB ? DefaultNaN(d) : nanA ? b : a;
        }

        // Sign-magnitude to an order-preserving unsigned key: -0 sorts below +0.
        ulong signBit = SignBit(d);
        ulong mask = d ? ulong.MaxValue : 0xFFFF_FFFF;
        ulong keyA = (a & signBit) != 0 ? ~a & mask : a | signBit;
        ulong keyB = (b & signBit) != 0 ? ~b & mask : b | signBit;
        return (keyA < keyB) != max ? a : b;
    }

    /// <summary>fclass.d: the 10-bit class mask of spec 11.9 table "Format of result of FCLASS".</summary>
    public static uint Classify64(ulong a) => Classify(a, true);

    /// <summary>fclass.s: see <see cref="Classify64"/>.</summary>
    public static uint Classify32(uint a) => Classify(a, false);

    private static uint Classify(ulong a, bool d)
    {
        bool negative = IsNegative(a, d);
        if (IsNaN(a, d))
            return IsSignalingNaN(a, d) ? 1u << 8 : 1u << 9;
        int bit;
        if (IsInfinity(a, d))
        {
            bit = 0;
        }
        else
        {
            Unpack(a, d, out ulong sig, out _);
            bool subnormal = d ? (a & 0x7FF0_0000_0000_0000) == 0 : (a & 0x7F80_0000) == 0;
            bit = sig == 0 ? 3 : subnormal ? 2 : 1;
        }

        // Bits 0-3 are -inf, -normal, -subnormal, -0; bits 7-4 the positives mirrored.
        return negative ? 1u << bit : 1u << (7 - bit);
    }
}
