namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart
{
    // Placeholder until the soft-float library lands: arithmetic F/D instructions are illegal.
    private bool ExecFloatArithmetic(uint inst, RvOp op, int rd, int rs1, int rs2) =>
        Fault(RvException.IllegalInstruction, inst);
}
