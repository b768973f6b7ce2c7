using Wemu.Cpu.Float;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// MXCSR bits (SDM vol. 1, 10.2.3, figure 10-3). The SSE operations take the
/// register by reference: they read DAZ, FTZ, RC and OR the exception flags
/// they raise into bits 0-5 (masked responses only; when
/// <see cref="Unmasked"/> is non-zero after an instruction the CPU raises #XM
/// or #UD per CR4.OSXMMEXCPT and must not write the destination, SDM vol. 1,
/// 11.5.1).
/// </summary>
public static class Mxcsr
{
    /// <summary>IE: invalid operation.</summary>
    public const uint Invalid = 0x0001;

    /// <summary>DE: denormal operand.</summary>
    public const uint Denormal = 0x0002;

    /// <summary>ZE: divide by zero.</summary>
    public const uint ZeroDivide = 0x0004;

    /// <summary>OE: overflow.</summary>
    public const uint Overflow = 0x0008;

    /// <summary>UE: underflow.</summary>
    public const uint Underflow = 0x0010;

    /// <summary>PE: precision.</summary>
    public const uint Precision = 0x0020;

    /// <summary>DAZ: denormal source operands are read as zeros of the same sign (no DE).</summary>
    public const uint DenormalsAreZeros = 0x0040;

    /// <summary>The exception masks IM DM ZM OM UM PM (bits 7-12).</summary>
    public const uint Masks = 0x1F80;

    /// <summary>FTZ: tiny results are flushed to zero (with UE and PE) when underflow is masked.</summary>
    public const uint FlushToZero = 0x8000;

    /// <summary>The power-up / LDMXCSR default: all masked, round to nearest.</summary>
    public const uint Default = 0x1F80;

    /// <summary>RC (bits 13-14) as a rounding mode (SDM vol. 1, table 4-8).</summary>
    public static RoundingMode Rounding(uint mxcsr) => X86Rounding.FromRc((int)(mxcsr >> 13) & 3);

    /// <summary>The raised exception flags whose mask bit is clear.</summary>
    public static uint Unmasked(uint mxcsr) => mxcsr & 0x3F & ~(mxcsr >> 7);
}
