using System.Runtime.Intrinsics;
using Wemu.Cpu.X86.Fpu;

namespace Wemu.Cpu.X86;

/// <summary>
/// MMX and the SSE additions to it (SDM vol. 1, chapter 9; vol. 2: the 0F-map packed-integer opcodes
/// without a mandatory prefix). MMn is the significand of physical x87 register Rn; an MMX instruction
/// raises #UD with CR0.EM, #NM with CR0.TS and #MF for a pending unmasked x87 exception, and when it
/// completes it has made the x87-to-MMX transition (TOP = 0, all tags valid). The operations are the
/// 128-bit ones of <see cref="PackedInteger"/> and <see cref="Ssse3"/> on zero-extended operands; only
/// packs, high unpacks and horizontal operations rearrange the halves first.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>Opcodes of the 0F map that are MMX instructions without a mandatory prefix.</summary>
    private static readonly bool[] s_mmxOpcodes = MmxOpcodes();

    private static bool[] MmxOpcodes()
    {
        var t = new bool[256];
        for (int op = 0x60; op <= 0x7F; op++)
            t[op] = op is not (0x6C or 0x6D or 0x78 or 0x79 or 0x7A or 0x7B or 0x7C or 0x7D);
        for (int op = 0xD1; op <= 0xFE; op++)
            t[op] = op is not (0xD6 or 0xE6 or 0xF0);
        t[0xC4] = t[0xC5] = true;
        return t;
    }

    private ulong Mm(int r) => Fpu.Mmx(r & 7);

    private void SetMm(int r, ulong v) => Fpu.SetMmx(r & 7, v);

    /// <summary>The faults an instruction on MMX registers checks before anything else.</summary>
    private void CheckMmx()
    {
        if ((Cr0 & Cr0Em) != 0)
            FaultNoCode(VectorUd);
        if ((Cr0 & Cr0Ts) != 0)
            FaultNoCode(VectorNm);
        CheckPendingX87Exception();
    }

    /// <summary>The 64-bit source operand: MMn (r/m) or memory (no alignment requirement).</summary>
    private ulong MmxSource() => _mod == 3 ? Mm(_rm) : Read64(_ea);

    private void ExecuteMmx(int op)
    {
        CheckMmx();
        switch (op)
        {
            case 0x6E: // MOVD/MOVQ mm, r/m32/64
                DecodeModRm();
                SetMm(_reg, ReadRm((_rex & 8) != 0 ? Qword : Dword));
                break;
            case 0x7E: // MOVD/MOVQ r/m32/64, mm
                {
                    DecodeModRm();
                    int s = (_rex & 8) != 0 ? Qword : Dword;
                    WriteRm(s, Mm(_reg) & SizeMask[s]);
                    break;
                }
            case 0x6F: // MOVQ mm, mm/m64
                DecodeModRm();
                SetMm(_reg, MmxSource());
                break;
            case 0x7F: case 0xE7: // MOVQ mm/m64, mm; MOVNTQ m64, mm
                DecodeModRm();
                if (_mod == 3)
                {
                    if (op == 0xE7) FaultNoCode(VectorUd);
                    SetMm(_rm, Mm(_reg));
                }
                else
                    Write64(_ea, Mm(_reg));
                break;
            case 0x70: // PSHUFW mm, mm/m64, imm8
                {
                    DecodeModRm(1);
                    ulong s = MmxSource();
                    int imm = Fetch8();
                    ulong r = 0;
                    for (int i = 0; i < 4; i++)
                        r |= ((s >> (16 * ((imm >> (2 * i)) & 3))) & 0xFFFF) << (16 * i);
                    SetMm(_reg, r);
                    break;
                }
            case 0x71: case 0x72: case 0x73: // shift by immediate groups 12-14: PSRLx /2, PSRAx /4, PSLLx /6
                {
                    DecodeModRm(1);
                    int kind = _reg & 7;
                    int shiftKind = kind == 2 ? 0 : kind == 4 ? 1 : kind == 6 ? 2 : -1;
                    if (_mod != 3 || shiftKind < 0 || (op == 0x73 && shiftKind == 1)) FaultNoCode(VectorUd);
                    int imm = Fetch8();
                    SetMm(_rm, PackedShift(Vector128.Create(Mm(_rm), 0UL), op - 0x70, shiftKind, (ulong)imm).GetElement(0));
                    break;
                }
            case 0x77: // EMMS: every tag empty, TOP = 0 (as the host does)
                Fpu.TagWord = 0xFFFF;
                Fpu.Top = 0;
                return;
            case 0xC4: // PINSRW mm, r32/m16, imm8
                {
                    DecodeModRm(1);
                    ulong v = ReadRm(Word);
                    int shift = 16 * (Fetch8() & 3);
                    SetMm(_reg, (Mm(_reg) & ~(0xFFFFUL << shift)) | (v << shift));
                    break;
                }
            case 0xC5: // PEXTRW r32, mm, imm8
                DecodeModRm(1);
                if (_mod != 3) FaultNoCode(VectorUd);
                SetReg(Qword, _reg, (Mm(_rm) >> (16 * (Fetch8() & 3))) & 0xFFFF);
                break;
            case 0xD7: // PMOVMSKB r32, mm
                DecodeModRm();
                if (_mod != 3) FaultNoCode(VectorUd);
                SetReg(Qword, _reg, Vector128.ExtractMostSignificantBits(Vector128.Create(Mm(_rm), 0UL).AsByte()));
                break;
            case 0xF7: // MASKMOVQ mm, mm: byte-masked store to DS:rDI
                DecodeModRm();
                if (_mod != 3) FaultNoCode(VectorUd);
                MaskedStore(Vector128.Create(Mm(_reg), 0UL), Vector128.Create(Mm(_rm), 0UL), 8);
                break;
            default: // the packed-integer operations (60-6B, 74-76, D1-FE)
                {
                    DecodeModRm();
                    ulong s = MmxSource();
                    SetMm(_reg, MmxPackedInteger(op, Mm(_reg), s));
                    break;
                }
        }
        Fpu.EnterMmx();
    }

    /// <summary><see cref="PackedInteger"/> on 64-bit operands.</summary>
    private static ulong MmxPackedInteger(int op, ulong d, ulong s)
    {
        switch (op)
        {
            case 0x63: case 0x67: case 0x6B: // PACKSSWB, PACKUSWB, PACKSSDW: both operands' elements side by side
                return PackedInteger(op, Vector128.Create(d, s), Vector128<ulong>.Zero).GetElement(0);
            case 0x68: case 0x69: case 0x6A: // PUNPCKHBW/WD/DQ: the low interleave of the upper halves
                return PackedInteger(op - 8, Vector128.Create(d >> 32, 0UL), Vector128.Create(s >> 32, 0UL)).GetElement(0);
            default:
                return PackedInteger(op, Vector128.Create(d, 0UL), Vector128.Create(s, 0UL)).GetElement(0);
        }
    }

    /// <summary>MASKMOVQ/MASKMOVDQU: the bytes of <paramref name="data"/> whose mask byte has its top bit set go to DS:rDI.</summary>
    private void MaskedStore(Vector128<ulong> data, Vector128<ulong> mask, int bytes)
    {
        ulong rdi = Gpr[Rdi];
        if (_addrSize == Dword) rdi &= 0xFFFF_FFFF;
        ulong ea = AddSegmentBase(rdi, Ds);
        var d = data.AsByte();
        var m = mask.AsByte();
        for (int i = 0; i < bytes; i++)
            if ((m.GetElement(i) & 0x80) != 0)
                Write8(ea + (ulong)i, d.GetElement(i));
    }

    /// <summary>MOVQ2DQ xmm, mm (F3 0F D6) and MOVDQ2Q mm, xmm (F2 0F D6): register operands only.</summary>
    private void MoveBetweenMmxAndXmm(bool toXmm)
    {
        CheckSse();
        CheckPendingX87Exception();
        DecodeModRm();
        if (_mod != 3) FaultNoCode(VectorUd);
        if (toXmm) SetX(_reg, Vector128.Create(Mm(_rm), 0UL));
        else SetMm(_reg, Xmm[_rm * 2]);
        Fpu.EnterMmx();
    }

    /// <summary>
    /// CVTPI2PS/CVTPI2PD (2A), CVTTPS2PI/CVTTPD2PI (2C), CVTPS2PI/CVTPD2PI (2D) with no prefix (single)
    /// or 66 (double). An MMX register operand makes the MMX transition and checks #MF; CVTPI2Px from
    /// memory does neither (SDM vol. 2A, CVTPI2PS).
    /// </summary>
    private void ConvertWithMmx(int op, bool d)
    {
        CheckSse();
        DecodeModRm();
        bool mmx = op != 0x2A || _mod == 3;
        if (mmx)
            CheckPendingX87Exception();
        // the source operand, then the MMX transition: a memory fault comes before it, an unmasked
        // SIMD exception (#XM) after it (as the host)
        Vector128<ulong> source = op == 0x2A ? Vector128.Create(_mod == 3 ? Mm(_rm) : Read64(_ea), 0UL)
            : d ? ReadXmmSource() : Vector128.Create(_mod == 3 ? Xmm[_rm * 2] : Read64(_ea), 0UL);
        if (mmx)
            Fpu.EnterMmx();
        uint m = Mxcsr & ~0x3Fu;
        if (op == 0x2A)
        {
            ulong s = source.GetElement(0);
            int lo = (int)s, hi = (int)(s >> 32);
            if (d)
            {
                Xmm[_reg * 2] = SseConvert.Int32ToDouble(lo);
                Xmm[_reg * 2 + 1] = SseConvert.Int32ToDouble(hi);
            }
            else
            {
                ulong r = SseConvert.Int32ToSingle(lo, ref m) | ((ulong)SseConvert.Int32ToSingle(hi, ref m) << 32);
                if (CommitMxcsr(m))
                    Xmm[_reg * 2] = r;
            }
        }
        else
        {
            bool truncate = op == 0x2C;
            ulong r;
            if (d)
                r = (uint)SseConvert.DoubleToInt32(source.GetElement(0), truncate, ref m) | ((ulong)(uint)SseConvert.DoubleToInt32(source.GetElement(1), truncate, ref m) << 32);
            else
            {
                ulong s = source.GetElement(0);
                r = (uint)SseConvert.SingleToInt32((uint)s, truncate, ref m) | ((ulong)(uint)SseConvert.SingleToInt32((uint)(s >> 32), truncate, ref m) << 32);
            }
            if (CommitMxcsr(m))
                SetMm(_reg, r);
        }
    }
}
