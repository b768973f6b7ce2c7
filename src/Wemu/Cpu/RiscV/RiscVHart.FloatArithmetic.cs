using Wemu.Cpu.Float;

namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart
{
    /// <summary>
    /// F/D computational instructions (Unpriv. 11.5-11.7, 12.3-12.6) on <see cref="SoftFloat"/>:
    /// bit-exact results and fflags. Single-precision operands are unboxed (an improperly boxed
    /// value reads as the canonical NaN) and results are NaN-boxed.
    /// </summary>
    private bool ExecFloatArithmetic(uint inst, RvOp op, int rd, int rs1, int rs2)
    {
        var flags = FloatFlags.None;
        uint rmField = (inst >> 12) & 7;
        uint rmValue = rmField == 7 ? Frm : rmField;
        bool usesRm = op is not (RvOp.FsgnjS or RvOp.FsgnjnS or RvOp.FsgnjxS or RvOp.FminS or RvOp.FmaxS
            or RvOp.FeqS or RvOp.FltS or RvOp.FleS or RvOp.FclassS
            or RvOp.FsgnjD or RvOp.FsgnjnD or RvOp.FsgnjxD or RvOp.FminD or RvOp.FmaxD
            or RvOp.FeqD or RvOp.FltD or RvOp.FleD or RvOp.FclassD);
        if (usesRm && rmValue > 4)
            return Fault(RvException.IllegalInstruction, inst);   // reserved rounding mode
        var rm = (RoundingMode)rmValue;

        ulong a64 = F[rs1], b64 = F[rs2], c64 = F[(inst >> 27) & 31];
        uint a = SoftFloat.Unbox32(a64), b = SoftFloat.Unbox32(b64), c = SoftFloat.Unbox32(c64);
        ulong xs1 = X[rs1];
        const uint Sign32 = 0x8000_0000;
        const ulong Sign64 = 0x8000_0000_0000_0000;

        switch (op)
        {
            // Single precision
            case RvOp.FaddS: SetS(rd, SoftFloat.Add32(a, b, rm, ref flags)); break;
            case RvOp.FsubS: SetS(rd, SoftFloat.Sub32(a, b, rm, ref flags)); break;
            case RvOp.FmulS: SetS(rd, SoftFloat.Mul32(a, b, rm, ref flags)); break;
            case RvOp.FdivS: SetS(rd, SoftFloat.Div32(a, b, rm, ref flags)); break;
            case RvOp.FsqrtS: SetS(rd, SoftFloat.Sqrt32(a, rm, ref flags)); break;
            case RvOp.FmaddS: SetS(rd, SoftFloat.MulAdd32(a, b, c, rm, ref flags)); break;
            case RvOp.FmsubS: SetS(rd, SoftFloat.MulAdd32(a, b, c ^ Sign32, rm, ref flags)); break;
            case RvOp.FnmsubS: SetS(rd, SoftFloat.MulAdd32(a ^ Sign32, b, c, rm, ref flags)); break;
            case RvOp.FnmaddS: SetS(rd, SoftFloat.MulAdd32(a ^ Sign32, b, c ^ Sign32, rm, ref flags)); break;
            case RvOp.FsgnjS: SetS(rd, (a & ~Sign32) | (b & Sign32)); break;
            case RvOp.FsgnjnS: SetS(rd, (a & ~Sign32) | (~b & Sign32)); break;
            case RvOp.FsgnjxS: SetS(rd, a ^ (b & Sign32)); break;
            case RvOp.FminS: SetS(rd, SoftFloat.Min32(a, b, ref flags)); break;
            case RvOp.FmaxS: SetS(rd, SoftFloat.Max32(a, b, ref flags)); break;
            case RvOp.FeqS: SetX(rd, SoftFloat.Eq32(a, b, ref flags) ? 1UL : 0); break;
            case RvOp.FltS: SetX(rd, SoftFloat.Lt32(a, b, ref flags) ? 1UL : 0); break;
            case RvOp.FleS: SetX(rd, SoftFloat.Le32(a, b, ref flags) ? 1UL : 0); break;
            case RvOp.FclassS: SetX(rd, SoftFloat.Classify32(a)); break;
            case RvOp.FcvtWS: SetX(rd, (ulong)(long)SoftFloat.F32ToInt32(a, rm, ref flags)); break;
            case RvOp.FcvtWuS: SetX(rd, (ulong)(long)(int)SoftFloat.F32ToUInt32(a, rm, ref flags)); break;
            case RvOp.FcvtLS: SetX(rd, (ulong)SoftFloat.F32ToInt64(a, rm, ref flags)); break;
            case RvOp.FcvtLuS: SetX(rd, SoftFloat.F32ToUInt64(a, rm, ref flags)); break;
            case RvOp.FcvtSW: SetS(rd, SoftFloat.F32FromInt32((int)xs1, rm, ref flags)); break;
            case RvOp.FcvtSWu: SetS(rd, SoftFloat.F32FromUInt32((uint)xs1, rm, ref flags)); break;
            case RvOp.FcvtSL: SetS(rd, SoftFloat.F32FromInt64((long)xs1, rm, ref flags)); break;
            case RvOp.FcvtSLu: SetS(rd, SoftFloat.F32FromUInt64(xs1, rm, ref flags)); break;

            // Double precision
            case RvOp.FaddD: SetD(rd, SoftFloat.Add64(a64, b64, rm, ref flags)); break;
            case RvOp.FsubD: SetD(rd, SoftFloat.Sub64(a64, b64, rm, ref flags)); break;
            case RvOp.FmulD: SetD(rd, SoftFloat.Mul64(a64, b64, rm, ref flags)); break;
            case RvOp.FdivD: SetD(rd, SoftFloat.Div64(a64, b64, rm, ref flags)); break;
            case RvOp.FsqrtD: SetD(rd, SoftFloat.Sqrt64(a64, rm, ref flags)); break;
            case RvOp.FmaddD: SetD(rd, SoftFloat.MulAdd64(a64, b64, c64, rm, ref flags)); break;
            case RvOp.FmsubD: SetD(rd, SoftFloat.MulAdd64(a64, b64, c64 ^ Sign64, rm, ref flags)); break;
            case RvOp.FnmsubD: SetD(rd, SoftFloat.MulAdd64(a64 ^ Sign64, b64, c64, rm, ref flags)); break;
            case RvOp.FnmaddD: SetD(rd, SoftFloat.MulAdd64(a64 ^ Sign64, b64, c64 ^ Sign64, rm, ref flags)); break;
            case RvOp.FsgnjD: SetD(rd, (a64 & ~Sign64) | (b64 & Sign64)); break;
            case RvOp.FsgnjnD: SetD(rd, (a64 & ~Sign64) | (~b64 & Sign64)); break;
            case RvOp.FsgnjxD: SetD(rd, a64 ^ (b64 & Sign64)); break;
            case RvOp.FminD: SetD(rd, SoftFloat.Min64(a64, b64, ref flags)); break;
            case RvOp.FmaxD: SetD(rd, SoftFloat.Max64(a64, b64, ref flags)); break;
            case RvOp.FeqD: SetX(rd, SoftFloat.Eq64(a64, b64, ref flags) ? 1UL : 0); break;
            case RvOp.FltD: SetX(rd, SoftFloat.Lt64(a64, b64, ref flags) ? 1UL : 0); break;
            case RvOp.FleD: SetX(rd, SoftFloat.Le64(a64, b64, ref flags) ? 1UL : 0); break;
            case RvOp.FclassD: SetX(rd, SoftFloat.Classify64(a64)); break;
            case RvOp.FcvtWD: SetX(rd, (ulong)(long)SoftFloat.F64ToInt32(a64, rm, ref flags)); break;
            case RvOp.FcvtWuD: SetX(rd, (ulong)(long)(int)SoftFloat.F64ToUInt32(a64, rm, ref flags)); break;
            case RvOp.FcvtLD: SetX(rd, (ulong)SoftFloat.F64ToInt64(a64, rm, ref flags)); break;
            case RvOp.FcvtLuD: SetX(rd, SoftFloat.F64ToUInt64(a64, rm, ref flags)); break;
            case RvOp.FcvtDW: SetD(rd, SoftFloat.F64FromInt32((int)xs1)); break;
            case RvOp.FcvtDWu: SetD(rd, SoftFloat.F64FromUInt32((uint)xs1)); break;
            case RvOp.FcvtDL: SetD(rd, SoftFloat.F64FromInt64((long)xs1, rm, ref flags)); break;
            case RvOp.FcvtDLu: SetD(rd, SoftFloat.F64FromUInt64(xs1, rm, ref flags)); break;
            case RvOp.FcvtSD: SetS(rd, SoftFloat.F64ToF32(a64, rm, ref flags)); break;
            case RvOp.FcvtDS: SetD(rd, SoftFloat.F32ToF64(a, ref flags)); break;
            default:
                return Fault(RvException.IllegalInstruction, inst);
        }
        if (flags != FloatFlags.None)
        {
            Fflags |= (uint)flags;
            MarkFloatDirty();
        }
        return true;
    }

    private void SetS(int rd, uint value)
    {
        F[rd] = SoftFloat.Box32(value);
        MarkFloatDirty();
    }

    private void SetD(int rd, ulong value)
    {
        F[rd] = value;
        MarkFloatDirty();
    }

    private void SetX(int rd, ulong value)
    {
        if (rd != 0)
            X[rd] = value;
    }
}
