namespace Wemu.Cpu.X86;

/// <summary>
/// What the last flag-setting instruction was, for lazy flag evaluation (QEMU's CC_OP): the flags
/// are computed from <c>CcDst</c>/<c>CcSrc</c>/<c>CcSrc2</c> only when read. The low two bits of each
/// value are the operand size (0 = 8, 1 = 16, 2 = 32, 3 = 64 bits).
/// </summary>
internal enum X86CcOp
{
    /// <summary>The arithmetic flags are in RFLAGS itself.</summary>
    Eflags = 0,

    /// <summary>CcDst = result, CcSrc = second operand.</summary>
    Add = 4,

    /// <summary>CcDst = result, CcSrc = second operand, CcSrc2 = carry in.</summary>
    Adc = 8,

    /// <summary>CcDst = result, CcSrc = second operand.</summary>
    Sub = 12,

    /// <summary>CcDst = result, CcSrc = second operand, CcSrc2 = borrow in.</summary>
    Sbb = 16,

    /// <summary>CcDst = result; CF = OF = 0 (AF is architecturally undefined; 0 as QEMU).</summary>
    Logic = 20,

    /// <summary>CcDst = result, CcSrc = the previous CF (INC and DEC keep CF).</summary>
    Inc = 24,
    Dec = 28,

    /// <summary>CcDst = result, CcSrc = the operand shifted by count - 1.</summary>
    Shl = 32,

    /// <summary>CcDst = result, CcSrc = the operand shifted by count - 1 (SHR and SAR).</summary>
    Sar = 36,

    /// <summary>CcDst = low half of the product, CcSrc = non-zero if the product needed the high half (CF = OF).</summary>
    Mul = 40,
}
