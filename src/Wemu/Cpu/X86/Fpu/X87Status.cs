namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// The x87 status word FSW (SDM vol. 1, 8.1.3, figure 8-4). Operations OR
/// exception flags into it and set the condition codes they define; TOP, SF,
/// ES and B are the caller's (the register stack is not modelled here).
/// </summary>
public struct X87Status
{
    /// <summary>IE: invalid operation.</summary>
    public const ushort Invalid = 0x0001;

    /// <summary>DE: denormal operand.</summary>
    public const ushort Denormal = 0x0002;

    /// <summary>ZE: zero divide.</summary>
    public const ushort ZeroDivide = 0x0004;

    /// <summary>OE: overflow.</summary>
    public const ushort Overflow = 0x0008;

    /// <summary>UE: underflow.</summary>
    public const ushort Underflow = 0x0010;

    /// <summary>PE: precision (inexact).</summary>
    public const ushort Precision = 0x0020;

    /// <summary>SF: stack fault (set by the caller with IE on stack overflow/underflow).</summary>
    public const ushort StackFault = 0x0040;

    /// <summary>ES: error summary, set when an unmasked exception is pending.</summary>
    public const ushort ErrorSummary = 0x0080;

    /// <summary>Condition code C0.</summary>
    public const ushort C0 = 0x0100;

    /// <summary>Condition code C1 (after arithmetic: the result was rounded up).</summary>
    public const ushort C1 = 0x0200;

    /// <summary>Condition code C2.</summary>
    public const ushort C2 = 0x0400;

    /// <summary>Condition code C3.</summary>
    public const ushort C3 = 0x4000;

    /// <summary>All four condition codes.</summary>
    public const ushort ConditionCodes = C0 | C1 | C2 | C3;

    /// <summary>The six exception flags.</summary>
    public const ushort Exceptions = 0x3F;

    /// <summary>Wraps a raw status word.</summary>
    public X87Status(ushort word) => Word = word;

    /// <summary>The raw status word.</summary>
    public ushort Word { get; set; }

    internal void Raise(int exceptions) => Word |= (ushort)exceptions;

    internal void SetConditions(ushort mask, ushort value) => Word = (ushort)((Word & ~mask) | value);

    /// <summary>
    /// The exceptions raised that the control word leaves unmasked: when
    /// non-zero the CPU sets ES and reports #MF at the next waiting x87
    /// instruction. SDM vol. 1, 8.5: with an unmasked IE, ZE or DE the
    /// destination is not written (the integrator must keep the old value);
    /// an unmasked OE/UE stores the result with a re-biased exponent
    /// (not modelled: the masked result is returned).
    /// </summary>
    public readonly int Unmasked(X87Control control) => Word & Exceptions & ~control.ExceptionMasks;
}
