using System.Numerics;
using System.Runtime.CompilerServices;

namespace Wemu.Cpu.X86;

/// <summary>Lazy arithmetic flags (SDM vol. 1, appendix A: which instruction sets which flag).</summary>
public sealed unsafe partial class X86Cpu
{
    // In the register file (compiled code keeps them current at every exit).
    internal ref X86CcOp CcOp => ref *(X86CcOp*)(Gpr + RegCcOp);
    internal ref ulong CcDst => ref Gpr[RegCcDst];
    internal ref ulong CcSrc => ref Gpr[RegCcSrc];
    internal ref ulong CcSrc2 => ref Gpr[RegCcSrc2];

    internal static readonly ulong[] SizeMask = [0xFF, 0xFFFF, 0xFFFF_FFFF, ulong.MaxValue];
    internal static readonly int[] SizeBits = [8, 16, 32, 64];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetCc(X86CcOp op, int size, ulong dst, ulong src)
    {
        CcOp = op + size;
        CcDst = dst;
        CcSrc = src;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetCc(X86CcOp op, int size, ulong dst, ulong src, ulong src2)
    {
        CcOp = op + size;
        CcDst = dst;
        CcSrc = src;
        CcSrc2 = src2;
    }

    private static bool Parity(ulong v) => (BitOperations.PopCount((uint)(v & 0xFF)) & 1) == 0;

    /// <summary>The six arithmetic flags of the last flag-setting instruction.</summary>
    internal ulong ComputeArithmeticFlags()
    {
        var op = CcOp;
        if (op == X86CcOp.Eflags)
            return Rflags & ArithmeticFlags;
        int size = (int)op & 3;
        ulong mask = SizeMask[size];
        int signShift = SizeBits[size] - 1;
        ulong dst = CcDst & mask, src = CcSrc & mask;
        ulong flags = 0;
        if (dst == 0) flags |= FlagZf;
        if (((dst >> signShift) & 1) != 0) flags |= FlagSf;
        if (Parity(dst)) flags |= FlagPf;
        ulong src1;
        switch ((X86CcOp)((int)op & ~3))
        {
            case X86CcOp.Add:
                src1 = (dst - src) & mask;
                if (dst < src1) flags |= FlagCf;
                if ((((src1 ^ src ^ mask) & (src1 ^ dst)) >> signShift & 1) != 0) flags |= FlagOf;
                flags |= (dst ^ src1 ^ src) & FlagAf;
                break;
            case X86CcOp.Adc:
                src1 = (dst - src - CcSrc2) & mask;
                if (CcSrc2 != 0 ? dst <= src1 : dst < src1) flags |= FlagCf;
                if ((((src1 ^ src ^ mask) & (src1 ^ dst)) >> signShift & 1) != 0) flags |= FlagOf;
                flags |= (dst ^ src1 ^ src) & FlagAf;
                break;
            case X86CcOp.Sub:
                src1 = (dst + src) & mask;
                if (src1 < src) flags |= FlagCf;
                if ((((src1 ^ src) & (src1 ^ dst)) >> signShift & 1) != 0) flags |= FlagOf;
                flags |= (dst ^ src1 ^ src) & FlagAf;
                break;
            case X86CcOp.Sbb:
                src1 = (dst + src + CcSrc2) & mask;
                if (CcSrc2 != 0 ? src1 <= src : src1 < src) flags |= FlagCf;
                if ((((src1 ^ src) & (src1 ^ dst)) >> signShift & 1) != 0) flags |= FlagOf;
                flags |= (dst ^ src1 ^ src) & FlagAf;
                break;
            case X86CcOp.Logic:
                break;
            case X86CcOp.Inc:
                flags |= CcSrc & FlagCf;
                if (dst == (1UL << signShift)) flags |= FlagOf;
                flags |= (dst ^ (dst - 1)) & FlagAf;
                break;
            case X86CcOp.Dec:
                flags |= CcSrc & FlagCf;
                if (dst == (1UL << signShift) - 1) flags |= FlagOf;
                flags |= (dst ^ (dst + 1)) & FlagAf;
                break;
            case X86CcOp.Shl:
                if (((src >> signShift) & 1) != 0) flags |= FlagCf;
                if ((((src >> signShift) ^ (dst >> signShift)) & 1) != 0) flags |= FlagOf;
                break;
            case X86CcOp.Sar:
                flags |= src & 1;
                if ((((src ^ dst) >> signShift) & 1) != 0) flags |= FlagOf;
                break;
            case X86CcOp.Mul:
                if (CcSrc != 0) flags |= FlagCf | FlagOf;
                break;
        }
        return flags;
    }

    /// <summary>RFLAGS with the arithmetic flags computed.</summary>
    internal ulong MaterializedFlags() => (Rflags & ~ArithmeticFlags) | ComputeArithmeticFlags() | 2;

    /// <summary>Makes RFLAGS hold the arithmetic flags (before an instruction that changes only some of them).</summary>
    internal void MaterializeFlags()
    {
        if (CcOp != X86CcOp.Eflags)
        {
            Rflags = (Rflags & ~ArithmeticFlags) | ComputeArithmeticFlags();
            CcOp = X86CcOp.Eflags;
        }
    }

    internal bool CarryFlag
    {
        get
        {
            switch (CcOp)
            {
                case X86CcOp.Eflags: return (Rflags & FlagCf) != 0;
                case X86CcOp.Logic: case X86CcOp.Logic + 1: case X86CcOp.Logic + 2: case X86CcOp.Logic + 3: return false;
                case X86CcOp.Sub + 3: return CcDst + CcSrc < CcSrc;
                case X86CcOp.Sub + 2: return (uint)(CcDst + CcSrc) < (uint)CcSrc;
                default: return (ComputeArithmeticFlags() & FlagCf) != 0;
            }
        }
    }

    /// <summary>Writes the flags <paramref name="mask"/> allows (POPF, IRET, SYSRET, SAHF...).</summary>
    internal void WriteFlags(ulong value, ulong mask)
    {
        MaterializeFlags();
        Rflags = ((Rflags & ~mask) | (value & mask)) & 0x3F7FD5 | 2;
    }

    /// <summary><see cref="Condition"/> with E and NE (ZF: the result is zero, whatever set it) inline.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ConditionInline(int cc)
    {
        var op = CcOp;
        if ((cc >> 1) == 2 && op != X86CcOp.Eflags)
            return ((CcDst & SizeMask[(int)op & 3]) == 0) ^ ((cc & 1) != 0);
        return Condition(cc);
    }

    /// <summary>Evaluates condition code <paramref name="cc"/> (SDM vol. 1, appendix B: O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G).</summary>
    internal bool Condition(int cc)
    {
        bool result;
        var op = CcOp;
        int kind = cc >> 1;
        if (op >= X86CcOp.Logic && op <= X86CcOp.Logic + 3 && kind != 5)
        {
            int size = (int)op & 3;
            ulong dst = CcDst & SizeMask[size];
            bool zf = dst == 0, sf = ((dst >> (SizeBits[size] - 1)) & 1) != 0;
            result = kind switch
            {
                0 => false, // O
                1 => false, // B
                2 => zf,
                3 => zf, // BE = CF|ZF
                4 => sf,
                6 => sf, // L = SF != OF
                _ => zf || sf, // LE
            };
        }
        else if (op >= X86CcOp.Sub && op <= X86CcOp.Sub + 3 && kind != 0 && kind != 5)
        {
            // CMP/SUB: compare the original operands directly
            int size = (int)op & 3;
            ulong mask = SizeMask[size];
            ulong src = CcSrc & mask, src1 = (CcDst + CcSrc) & mask;
            int shift = 64 - SizeBits[size];
            long s1 = (long)(src1 << shift), s2 = (long)(src << shift);
            result = kind switch
            {
                1 => src1 < src,
                2 => src1 == src,
                3 => src1 <= src,
                4 => (((CcDst & mask) >> (SizeBits[size] - 1)) & 1) != 0,
                6 => s1 < s2,
                _ => s1 <= s2,
            };
        }
        else
        {
            ulong f = ComputeArithmeticFlags();
            result = kind switch
            {
                0 => (f & FlagOf) != 0,
                1 => (f & FlagCf) != 0,
                2 => (f & FlagZf) != 0,
                3 => (f & (FlagCf | FlagZf)) != 0,
                4 => (f & FlagSf) != 0,
                5 => (f & FlagPf) != 0,
                6 => ((f & FlagSf) != 0) != ((f & FlagOf) != 0),
                _ => (f & FlagZf) != 0 || ((f & FlagSf) != 0) != ((f & FlagOf) != 0),
            };
        }
        return result ^ ((cc & 1) != 0);
    }
}
