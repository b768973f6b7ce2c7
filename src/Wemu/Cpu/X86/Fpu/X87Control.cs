using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// The x87 control word FCW (SDM vol. 1, 8.1.5, figure 8-6): exception masks
/// (bits 0-5), precision control PC (bits 8-9) and rounding control RC (bits
/// 10-11).
/// </summary>
public readonly struct X87Control
{
    /// <summary>FNINIT's value: all exceptions masked, 64-bit precision, round to nearest.</summary>
    public const ushort Default = 0x037F;

    /// <summary>Wraps a raw control word.</summary>
    public X87Control(ushort word) => Word = word;

    /// <summary>The raw control word.</summary>
    public ushort Word { get; }

    /// <summary>The exception mask bits (IM DM ZM OM UM PM, same positions as the status flags).</summary>
    public int ExceptionMasks => Word & 0x3F;

    /// <summary>
    /// PC (SDM vol. 1, table 8-2): 0 = 24 bits, 2 = 53 bits, 3 = 64 bits; the
    /// reserved value 1 is treated as 64 bits here.
    /// </summary>
    public int PrecisionBits => ((Word >> 8) & 3) switch
    {
        0 => 24,
        2 => 53,
        _ => 64,
    };

    /// <summary>RC (SDM vol. 1, table 4-8): 0 nearest, 1 down, 2 up, 3 toward zero.</summary>
    public RoundingMode Rounding => X86Rounding.FromRc((Word >> 10) & 3);
}
