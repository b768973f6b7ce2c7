using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// An x87 double extended-precision value (SDM vol. 1, 4.2.2 "Floating-Point
/// Data Types", figure 4-3): sign, 15-bit biased exponent (bias 16383) and a
/// 64-bit significand whose bit 63 is the explicit integer bit J.
/// </summary>
/// <remarks>
/// Encodings (SDM vol. 1, 8.2.2 and table 8-3): exponent 0 with J = 0 is a
/// zero or denormal, with J = 1 a pseudo-denormal (accepted as an operand);
/// a non-zero exponent with J = 0 is an unnormal, pseudo-infinity or
/// pseudo-NaN, which modern processors reject as an invalid operand.
/// </remarks>
public readonly struct Float80 : IEquatable<Float80>
{
    /// <summary>The explicit integer bit J of the significand.</summary>
    public const ulong IntegerBit = 0x8000_0000_0000_0000;

    /// <summary>The quiet bit of a NaN (the top fraction bit).</summary>
    public const ulong QuietBit = 0x4000_0000_0000_0000;

    /// <summary>Exponent bias (SDM vol. 1, table 4-3).</summary>
    public const int Bias = 16383;

    /// <summary>Creates a value from its two raw fields.</summary>
    public Float80(ushort signExponent, ulong significand)
    {
        SignExponent = signExponent;
        Significand = significand;
    }

    /// <summary>Bit 15 the sign, bits 14-0 the biased exponent.</summary>
    public ushort SignExponent { get; }

    /// <summary>The 64-bit significand, bit 63 the explicit integer bit.</summary>
    public ulong Significand { get; }

    /// <summary>The "QNaN floating-point indefinite" (SDM vol. 1, table 8-10 note).</summary>
    public static Float80 Indefinite => new(0xFFFF, 0xC000_0000_0000_0000);

    /// <summary>+0.</summary>
    public static Float80 Zero => default;

    /// <summary>+1.0.</summary>
    public static Float80 One => new(0x3FFF, IntegerBit);

    /// <summary>+infinity.</summary>
    public static Float80 PositiveInfinity => new(0x7FFF, IntegerBit);

    /// <summary>The sign bit.</summary>
    public bool Sign => (SignExponent & 0x8000) != 0;

    /// <summary>The biased exponent field (0 - 0x7FFF).</summary>
    public int BiasedExponent => SignExponent & 0x7FFF;

    /// <summary>A NaN: maximal exponent, J set, non-zero fraction.</summary>
    public bool IsNaN => BiasedExponent == 0x7FFF && (Significand & IntegerBit) != 0 && (Significand << 1) != 0;

    /// <summary>A NaN with the quiet bit clear.</summary>
    public bool IsSignalingNaN => IsNaN && (Significand & QuietBit) == 0;

    /// <summary>An infinity: maximal exponent, significand exactly J.</summary>
    public bool IsInfinity => BiasedExponent == 0x7FFF && Significand == IntegerBit;

    /// <summary>A zero of either sign.</summary>
    public bool IsZero => BiasedExponent == 0 && Significand == 0;

    /// <summary>
    /// A denormal or pseudo-denormal: exponent 0, non-zero significand. Used
    /// as an operand it raises the denormal-operand exception (#D).
    /// </summary>
    public bool IsDenormal => BiasedExponent == 0 && Significand != 0;

    /// <summary>
    /// An unnormal, pseudo-NaN or pseudo-infinity: non-zero exponent with J
    /// clear. SDM vol. 1, 8.2.2: an invalid operand since the 387.
    /// </summary>
    public bool IsUnsupported => BiasedExponent != 0 && (Significand & IntegerBit) == 0;

    /// <summary>Reads the 10-byte little-endian memory format (significand first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float80 Read(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]), BinaryPrimitives.ReadUInt64LittleEndian(bytes));

    /// <summary>Writes the 10-byte little-endian memory format.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, Significand);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[8..], SignExponent);
    }

    /// <summary>The value with its sign flipped (FCHS).</summary>
    public Float80 Negate() => new((ushort)(SignExponent ^ 0x8000), Significand);

    /// <summary>The value with its sign cleared (FABS).</summary>
    public Float80 Abs() => new((ushort)(SignExponent & 0x7FFF), Significand);

    /// <inheritdoc/>
    public bool Equals(Float80 other) => SignExponent == other.SignExponent && Significand == other.Significand;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Float80 other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(SignExponent, Significand);

    /// <summary>Bitwise equality.</summary>
    public static bool operator ==(Float80 left, Float80 right) => left.Equals(right);

    /// <summary>Bitwise inequality.</summary>
    public static bool operator !=(Float80 left, Float80 right) => !left.Equals(right);

    /// <summary>The raw fields in hex, "SEXP:SIGNIFICAND".</summary>
    public override string ToString() => $"{SignExponent:X4}:{Significand:X16}";
}
