namespace Wemu.Cpu.Float;

/// <summary>
/// Accrued IEEE 754 exception flags, at the bit positions of the RISC-V
/// <c>fflags</c> CSR (unprivileged spec 11.2: NV DZ OF UF NX).
/// </summary>
[Flags]
public enum FloatFlags : byte
{
    None = 0,

    /// <summary>NX: the rounded result differs from the exact result.</summary>
    Inexact = 1,

    /// <summary>UF: the result is tiny (detected after rounding) and inexact.</summary>
    Underflow = 2,

    /// <summary>OF: the rounded result would exceed the largest finite number.</summary>
    Overflow = 4,

    /// <summary>DZ: a finite non-zero number was divided by zero.</summary>
    DivideByZero = 8,

    /// <summary>NV: invalid operation (signaling NaN input, inf - inf, 0 * inf, ...).</summary>
    Invalid = 16,
}
