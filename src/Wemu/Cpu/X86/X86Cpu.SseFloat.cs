using System.Runtime.Intrinsics;
using Wemu.Cpu.X86.Fpu;

namespace Wemu.Cpu.X86;

/// <summary>
/// SSE/SSE2/SSE3 floating point on XMM registers (SDM vol. 2: ADDPS ... CVTTSD2SI) on the bit-exact
/// element operations of <c>Cpu/X86/Fpu</c>. Exceptions raised by any element accumulate into MXCSR;
/// when one is unmasked the destination is left unchanged and #XM is raised (#UD without
/// CR4.OSXMMEXCPT), as SDM vol. 1, 11.5.1 says. Scalar forms keep the destination's upper elements.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>pfx: 0 = packed single, 1 = packed double (66), 2 = scalar single (F3), 3 = scalar double (F2).</summary>
    private void ExecuteSseFloat(int op, int pfx)
    {
        switch (op)
        {
            case 0x51: case 0x58: case 0x59: case 0x5C: case 0x5D: case 0x5E: case 0x5F:
                ElementwiseBinary(op, pfx, 0);
                return;
            case 0xC2: // CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, imm8
                ElementwiseBinary(op, pfx, 1);
                return;
            case 0x52: case 0x53: // RSQRTPS/SS, RCPPS/SS: approximations (the results are implementation-specific)
                if (pfx == 1 || pfx == 3) FaultNoCode(VectorUd);
                ElementwiseBinary(op, pfx, 0);
                return;
            case 0x2E: case 0x2F: // UCOMISS/UCOMISD, COMISS/COMISD
                {
                    CheckSse();
                    if (pfx > 1) FaultNoCode(VectorUd);
                    DecodeModRm();
                    bool d = pfx == 1;
                    ulong a = Xmm[_reg * 2], b = _mod == 3 ? Xmm[_rm * 2] : d ? Read64(_ea) : Read32(_ea);
                    uint m = Mxcsr & ~0x3Fu;
                    uint flags = d ? SseCompare.OrderedCompareDouble(a, b, op == 0x2E, ref m) : SseCompare.OrderedCompareSingle((uint)a, (uint)b, op == 0x2E, ref m);
                    if (!CommitMxcsr(m))
                        return;
                    MaterializeFlags();
                    Rflags = (Rflags & ~ArithmeticFlags) | flags;
                    return;
                }
            case 0x2A: // CVTSI2SS/CVTSI2SD xmm, r/m32/64
                {
                    if (pfx < 2)
                    {
                        ConvertWithMmx(op, pfx == 1); // CVTPI2PS/PD
                        return;
                    }
                    CheckSse();
                    DecodeModRm();
                    long v = (_rex & 8) != 0 ? (long)ReadRm(Qword) : (int)ReadRm(Dword);
                    uint m = Mxcsr & ~0x3Fu;
                    if (pfx == 2)
                    {
                        uint r = SseConvert.Int64ToSingle(v, ref m);
                        if (CommitMxcsr(m)) Xmm[_reg * 2] = (Xmm[_reg * 2] & ~0xFFFF_FFFFUL) | r;
                    }
                    else
                    {
                        ulong r = (_rex & 8) != 0 ? SseConvert.Int64ToDouble(v, ref m) : SseConvert.Int32ToDouble((int)v);
                        if (CommitMxcsr(m)) Xmm[_reg * 2] = r;
                    }
                    return;
                }
            case 0x2C: case 0x2D: // CVTTSS2SI/CVTSS2SI, CVTTSD2SI/CVTSD2SI r32/64, xmm/m
                {
                    if (pfx < 2)
                    {
                        ConvertWithMmx(op, pfx == 1); // CVTTPS2PI/CVTTPD2PI, CVTPS2PI/CVTPD2PI
                        return;
                    }
                    CheckSse();
                    DecodeModRm();
                    bool d = pfx == 3, truncate = op == 0x2C, wide = (_rex & 8) != 0;
                    ulong a = _mod == 3 ? Xmm[_rm * 2] : d ? Read64(_ea) : Read32(_ea);
                    uint m = Mxcsr & ~0x3Fu;
                    long r = d ? (wide ? SseConvert.DoubleToInt64(a, truncate, ref m) : SseConvert.DoubleToInt32(a, truncate, ref m))
                               : (wide ? SseConvert.SingleToInt64((uint)a, truncate, ref m) : SseConvert.SingleToInt32((uint)a, truncate, ref m));
                    if (CommitMxcsr(m))
                        SetReg(wide ? Qword : Dword, _reg, (ulong)r);
                    return;
                }
            case 0x5A: // CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS
                {
                    CheckSse();
                    DecodeModRm();
                    uint m = Mxcsr & ~0x3Fu;
                    ulong lo = Xmm[_reg * 2], hi = Xmm[_reg * 2 + 1];
                    switch (pfx)
                    {
                        case 0:
                            {
                                ulong src = _mod == 3 ? Xmm[_rm * 2] : Read64(_ea);
                                lo = SseConvert.SingleToDouble((uint)src, ref m);
                                hi = SseConvert.SingleToDouble((uint)(src >> 32), ref m);
                                break;
                            }
                        case 1:
                            {
                                var s = ReadXmmSource();
                                lo = SseConvert.DoubleToSingle(s.GetElement(0), ref m) | ((ulong)SseConvert.DoubleToSingle(s.GetElement(1), ref m) << 32);
                                hi = 0;
                                break;
                            }
                        case 2:
                            lo = SseConvert.SingleToDouble((uint)(_mod == 3 ? Xmm[_rm * 2] : Read32(_ea)), ref m);
                            break;
                        default:
                            lo = (lo & ~0xFFFF_FFFFUL) | SseConvert.DoubleToSingle(_mod == 3 ? Xmm[_rm * 2] : Read64(_ea), ref m);
                            break;
                    }
                    if (CommitMxcsr(m))
                    {
                        Xmm[_reg * 2] = lo;
                        Xmm[_reg * 2 + 1] = hi;
                    }
                    return;
                }
            case 0x5B: // CVTDQ2PS (none), CVTPS2DQ (66), CVTTPS2DQ (F3)
                {
                    CheckSse();
                    if (pfx == 3) FaultNoCode(VectorUd);
                    DecodeModRm();
                    var s = ReadXmmSource().AsUInt32();
                    uint m = Mxcsr & ~0x3Fu;
                    Span<uint> r = stackalloc uint[4];
                    for (int i = 0; i < 4; i++)
                        r[i] = pfx == 0 ? SseConvert.Int32ToSingle((int)s.GetElement(i), ref m) : (uint)SseConvert.SingleToInt32(s.GetElement(i), pfx == 2, ref m);
                    if (CommitMxcsr(m))
                        SetX(_reg, System.Runtime.Intrinsics.Vector128.Create<uint>(r).AsUInt64());
                    return;
                }
            case 0xE6: // CVTTPD2DQ (66), CVTDQ2PD (F3), CVTPD2DQ (F2)
                {
                    CheckSse();
                    if (pfx == 0) FaultNoCode(VectorUd);
                    DecodeModRm();
                    uint m = Mxcsr & ~0x3Fu;
                    ulong lo, hi;
                    if (pfx == 2)
                    {
                        ulong src = _mod == 3 ? Xmm[_rm * 2] : Read64(_ea);
                        lo = SseConvert.Int32ToDouble((int)src);
                        hi = SseConvert.Int32ToDouble((int)(src >> 32));
                    }
                    else
                    {
                        var s = ReadXmmSource();
                        bool truncate = pfx == 1;
                        lo = (uint)SseConvert.DoubleToInt32(s.GetElement(0), truncate, ref m) | ((ulong)(uint)SseConvert.DoubleToInt32(s.GetElement(1), truncate, ref m) << 32);
                        hi = 0;
                    }
                    if (CommitMxcsr(m))
                    {
                        Xmm[_reg * 2] = lo;
                        Xmm[_reg * 2 + 1] = hi;
                    }
                    return;
                }
            case 0x7C: case 0x7D: case 0xD0: // HADDPD/HADDPS, HSUBPD/HSUBPS, ADDSUBPD/ADDSUBPS (SSE3)
                {
                    CheckSse();
                    RequireSse3();
                    if (pfx != 1 && pfx != 3) FaultNoCode(VectorUd);
                    DecodeModRm();
                    var s = ReadXmmSource();
                    var dv = GetX(_reg);
                    uint m = Mxcsr & ~0x3Fu;
                    ulong lo, hi;
                    if (pfx == 1)
                    {
                        ulong d0 = dv.GetElement(0), d1 = dv.GetElement(1), s0 = s.GetElement(0), s1 = s.GetElement(1);
                        if (op == 0x7C) { lo = SseArithmetic.AddDouble(d0, d1, ref m); hi = SseArithmetic.AddDouble(s0, s1, ref m); }
                        else if (op == 0x7D) { lo = SseArithmetic.SubDouble(d0, d1, ref m); hi = SseArithmetic.SubDouble(s0, s1, ref m); }
                        else { lo = SseArithmetic.SubDouble(d0, s0, ref m); hi = SseArithmetic.AddDouble(d1, s1, ref m); }
                    }
                    else
                    {
                        var d32 = dv.AsUInt32();
                        var s32 = s.AsUInt32();
                        uint r0, r1, r2, r3;
                        if (op == 0xD0)
                        {
                            r0 = SseArithmetic.SubSingle(d32.GetElement(0), s32.GetElement(0), ref m);
                            r1 = SseArithmetic.AddSingle(d32.GetElement(1), s32.GetElement(1), ref m);
                            r2 = SseArithmetic.SubSingle(d32.GetElement(2), s32.GetElement(2), ref m);
                            r3 = SseArithmetic.AddSingle(d32.GetElement(3), s32.GetElement(3), ref m);
                        }
                        else
                        {
                            bool add = op == 0x7C;
                            r0 = add ? SseArithmetic.AddSingle(d32.GetElement(0), d32.GetElement(1), ref m) : SseArithmetic.SubSingle(d32.GetElement(0), d32.GetElement(1), ref m);
                            r1 = add ? SseArithmetic.AddSingle(d32.GetElement(2), d32.GetElement(3), ref m) : SseArithmetic.SubSingle(d32.GetElement(2), d32.GetElement(3), ref m);
                            r2 = add ? SseArithmetic.AddSingle(s32.GetElement(0), s32.GetElement(1), ref m) : SseArithmetic.SubSingle(s32.GetElement(0), s32.GetElement(1), ref m);
                            r3 = add ? SseArithmetic.AddSingle(s32.GetElement(2), s32.GetElement(3), ref m) : SseArithmetic.SubSingle(s32.GetElement(2), s32.GetElement(3), ref m);
                        }
                        lo = r0 | ((ulong)r1 << 32);
                        hi = r2 | ((ulong)r3 << 32);
                    }
                    if (CommitMxcsr(m))
                    {
                        Xmm[_reg * 2] = lo;
                        Xmm[_reg * 2 + 1] = hi;
                    }
                    return;
                }
            case 0xF0: // LDDQU (F2, SSE3): an unaligned load
                CheckSse();
                RequireSse3();
                DecodeModRm();
                if (pfx != 3 || _mod == 3) FaultNoCode(VectorUd);
                SetX(_reg, ReadXmmSource(aligned: false));
                return;
        }
        FaultNoCode(VectorUd);
    }

    /// <summary>Applies MXCSR flags raised by an instruction; false (and #XM/#UD) when one is unmasked.</summary>
    private bool CommitMxcsr(uint after)
    {
        uint raised = after & 0x3F;
        uint unmasked = raised & ~(Mxcsr >> 7) & 0x3F;
        // an unmasked pre-computation exception (IE, DE, ZE) stops the instruction before any result
        // exists, so the post-computation flags (OE, UE, PE) are not reported (SDM vol. 1, 11.5.2)
        if ((unmasked & 0x7) != 0)
            raised &= 0x7;
        Mxcsr |= raised;
        if (unmasked != 0)
            FaultNoCode((Cr4 & Cr4Osxmmexcpt) != 0 ? VectorXm : VectorUd);
        return true;
    }

    /// <summary>Element-wise arithmetic (kind 0) or compares (kind 1) over packed or scalar operands.</summary>
    private void ElementwiseBinary(int op, int pfx, int kind)
    {
        CheckSse();
        DecodeModRm(kind == 1 ? 1 : 0);
        bool d = pfx == 1 || pfx == 3;
        bool scalar = pfx >= 2;
        ulong s0, s1;
        if (!scalar)
        {
            var s = ReadXmmSource();
            s0 = s.GetElement(0);
            s1 = s.GetElement(1);
        }
        else
        {
            s0 = _mod == 3 ? Xmm[_rm * 2] : d ? Read64(_ea) : Read32(_ea);
            s1 = 0;
        }
        int predicate = kind == 1 ? Fetch8() & 7 : 0;
        ulong d0 = Xmm[_reg * 2], d1 = Xmm[_reg * 2 + 1];
        uint m = Mxcsr & ~0x3Fu;
        ulong r0, r1 = d1;
        if (d)
        {
            r0 = DoubleOp(op, d0, s0, predicate, ref m);
            if (!scalar)
                r1 = DoubleOp(op, d1, s1, predicate, ref m);
        }
        else
        {
            uint lo = SingleOp(op, (uint)d0, (uint)s0, predicate, ref m);
            if (scalar)
                r0 = (d0 & ~0xFFFF_FFFFUL) | lo;
            else
            {
                uint hi0 = SingleOp(op, (uint)(d0 >> 32), (uint)(s0 >> 32), predicate, ref m);
                uint lo1 = SingleOp(op, (uint)d1, (uint)s1, predicate, ref m);
                uint hi1 = SingleOp(op, (uint)(d1 >> 32), (uint)(s1 >> 32), predicate, ref m);
                r0 = lo | ((ulong)hi0 << 32);
                r1 = lo1 | ((ulong)hi1 << 32);
            }
        }
        if (CommitMxcsr(m))
        {
            Xmm[_reg * 2] = r0;
            Xmm[_reg * 2 + 1] = r1;
        }
    }

    private static uint SingleOp(int op, uint a, uint b, int predicate, ref uint m) => op switch
    {
        0x51 => SseArithmetic.SqrtSingle(b, ref m),
        0x52 => ApproximateSingle(b, reciprocalSqrt: true),
        0x53 => ApproximateSingle(b, reciprocalSqrt: false),
        0x58 => SseArithmetic.AddSingle(a, b, ref m),
        0x59 => SseArithmetic.MulSingle(a, b, ref m),
        0x5C => SseArithmetic.SubSingle(a, b, ref m),
        0x5D => SseArithmetic.MinSingle(a, b, ref m),
        0x5E => SseArithmetic.DivSingle(a, b, ref m),
        0x5F => SseArithmetic.MaxSingle(a, b, ref m),
        _ => SseCompare.CompareSingle(a, b, predicate, ref m),
    };

    private static ulong DoubleOp(int op, ulong a, ulong b, int predicate, ref uint m) => op switch
    {
        0x51 => SseArithmetic.SqrtDouble(b, ref m),
        0x58 => SseArithmetic.AddDouble(a, b, ref m),
        0x59 => SseArithmetic.MulDouble(a, b, ref m),
        0x5C => SseArithmetic.SubDouble(a, b, ref m),
        0x5D => SseArithmetic.MinDouble(a, b, ref m),
        0x5E => SseArithmetic.DivDouble(a, b, ref m),
        0x5F => SseArithmetic.MaxDouble(a, b, ref m),
        _ => SseCompare.CompareDouble(a, b, predicate, ref m),
    };

    /// <summary>RCPPS/RSQRTPS: the SDM only bounds the relative error (1.5 · 2^-12); vendors differ, so
    /// the exactly rounded value is returned (well inside the bound). Raises no exceptions.</summary>
    private static uint ApproximateSingle(uint a, bool reciprocalSqrt)
    {
        float x = BitConverter.UInt32BitsToSingle(a);
        float r = reciprocalSqrt ? 1f / MathF.Sqrt(x) : 1f / x;
        return BitConverter.SingleToUInt32Bits(r);
    }
}
