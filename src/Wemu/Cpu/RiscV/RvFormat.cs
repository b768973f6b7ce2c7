namespace Wemu.Cpu.RiscV;

/// <summary>Instruction encoding formats (Unpriv. spec 2.2/2.3), used to extract operands.</summary>
public enum RvFormat : byte
{
    R,
    R4,
    I,
    S,
    B,
    U,
    J,
    /// <summary>CSR access: rd, rs1 or uimm, csr number in imm[11:0].</summary>
    Csr,
    /// <summary>No operands used (ecall, mret, fence, ...).</summary>
    None,
}
