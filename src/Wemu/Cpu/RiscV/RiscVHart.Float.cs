using Wemu.Memory;

namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart
{
    /// <summary>
    /// F and D instructions (Unpriv. chapters 11 and 12). Illegal when mstatus.FS is Off.
    /// Single-precision values are NaN-boxed in the 64-bit f registers.
    /// </summary>
    internal bool ExecFloat(uint inst, RvOp op, TlbEntry* dtlb)
    {
        if ((Mstatus & RvStatus.Fs) == 0)
            return Fault(RvException.IllegalInstruction, inst);
        int rd = (int)((inst >> 7) & 31);
        int rs1 = (int)((inst >> 15) & 31);
        int rs2 = (int)((inst >> 20) & 31);
        switch (op)
        {
            case RvOp.Flw:
            case RvOp.Fld:
            {
                ulong va = X[rs1] + (ulong)(long)((int)inst >> 20);
                int size = op == RvOp.Flw ? 4 : 8;
                if (!LoadSlow(va, size, out ulong v))
                    return false;
                F[rd] = size == 4 ? v | 0xFFFFFFFF_00000000UL : v;
                MarkFloatDirty();
                return true;
            }
            case RvOp.Fsw:
            case RvOp.Fsd:
            {
                ulong va = X[rs1] + (ulong)(long)(((int)(inst & 0xFE000000) >> 20) | (int)((inst >> 7) & 0x1F));
                return StoreSlow(va, op == RvOp.Fsw ? 4 : 8, F[rs2]);
            }
            case RvOp.FmvXD: X[rd] = F[rs1]; X[0] = 0; return true;
            case RvOp.FmvXW: X[rd] = (ulong)(long)(int)F[rs1]; X[0] = 0; return true;
            case RvOp.FmvDX: F[rd] = X[rs1]; MarkFloatDirty(); return true;
            case RvOp.FmvWX: F[rd] = X[rs1] | 0xFFFFFFFF_00000000UL; MarkFloatDirty(); return true;
            default:
                return ExecFloatArithmetic(inst, op, rd, rs1, rs2);
        }
    }
}
