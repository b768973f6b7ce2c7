using System.Numerics;
using System.Runtime.Intrinsics;

namespace Wemu.Cpu.X86;

/// <summary>
/// SSE and SSE2 on XMM registers (SDM vol. 2; opcode maps 0F 10-7F, C2-C6, D0-FF with the 66/F3/F2
/// mandatory prefixes): moves, shuffles, packed integer arithmetic and logic, FXSAVE/FXRSTOR and
/// MXCSR. The MMX forms (no prefix on the integer opcodes) are in <see cref="ExecuteMmx"/>.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private const uint MxcsrMask = 0xFFFF; // with DAZ, as QEMU reports (X87State.MxcsrMask)

    private void CheckSse()
    {
        if ((Cr0 & Cr0Em) != 0 || (Cr4 & Cr4Osfxsr) == 0)
            FaultNoCode(VectorUd);
        if ((Cr0 & Cr0Ts) != 0)
            FaultNoCode(VectorNm);
    }

    private Vector128<ulong> GetX(int r) => Vector128.Create(Xmm[r * 2], Xmm[r * 2 + 1]);

    private void SetX(int r, Vector128<ulong> v)
    {
        Xmm[r * 2] = v.GetElement(0);
        Xmm[r * 2 + 1] = v.GetElement(1);
    }

    /// <summary>The 128-bit source operand (XMM or memory); legacy SSE requires 16-byte alignment unless <paramref name="aligned"/> is false.</summary>
    private Vector128<ulong> ReadXmmSource(bool aligned = true)
    {
        if (_mod == 3)
            return GetX(_rm);
        if (aligned && (_ea & 15) != 0)
            Fault(VectorGp, 0);
        ulong lo = Read64(_ea), hi = Read64(_ea + 8);
        return Vector128.Create(lo, hi);
    }

    private void WriteXmmMemory(Vector128<ulong> v, bool aligned)
    {
        if (aligned && (_ea & 15) != 0)
            Fault(VectorGp, 0);
        ProbeWrite(_ea, 16);
        Write64(_ea, v.GetElement(0));
        Write64(_ea + 8, v.GetElement(1));
    }

    private void ExecuteSse(int op)
    {
        int pfx = MandatoryPrefix;
        if (_lockPrefix)
            FaultNoCode(VectorUd); // no MMX or SSE instruction takes LOCK
        if (pfx == 0 && s_mmxOpcodes[op])
        {
            ExecuteMmx(op);
            return;
        }
        switch (op)
        {
            case 0x10: case 0x11: // MOVUPS/MOVUPD/MOVSS/MOVSD
                CheckSse();
                DecodeModRm();
                if (pfx <= 1)
                {
                    if (op == 0x10) SetX(_reg, ReadXmmSource(aligned: false));
                    else if (_mod == 3) SetX(_rm, GetX(_reg));
                    else WriteXmmMemory(GetX(_reg), aligned: false);
                }
                else if (pfx == 2) // MOVSS
                {
                    if (op == 0x10)
                    {
                        if (_mod == 3) Xmm[_reg * 2] = (Xmm[_reg * 2] & ~0xFFFF_FFFFUL) | (Xmm[_rm * 2] & 0xFFFF_FFFF);
                        else { Xmm[_reg * 2] = Read32(_ea); Xmm[_reg * 2 + 1] = 0; }
                    }
                    else if (_mod == 3) Xmm[_rm * 2] = (Xmm[_rm * 2] & ~0xFFFF_FFFFUL) | (Xmm[_reg * 2] & 0xFFFF_FFFF);
                    else Write32(_ea, (uint)Xmm[_reg * 2]);
                }
                else // MOVSD
                {
                    if (op == 0x10)
                    {
                        if (_mod == 3) Xmm[_reg * 2] = Xmm[_rm * 2];
                        else { Xmm[_reg * 2] = Read64(_ea); Xmm[_reg * 2 + 1] = 0; }
                    }
                    else if (_mod == 3) Xmm[_rm * 2] = Xmm[_reg * 2];
                    else Write64(_ea, Xmm[_reg * 2]);
                }
                break;
            case 0x12: case 0x13: // MOVLPS/MOVHLPS/MOVLPD, MOVDDUP (F2), MOVSLDUP (F3)
                CheckSse();
                DecodeModRm();
                if (op == 0x13)
                {
                    if (_mod == 3 || pfx > 1) FaultNoCode(VectorUd);
                    Write64(_ea, Xmm[_reg * 2]);
                }
                else if (pfx == 3) // MOVDDUP
                {
                    RequireSse3();
                    ulong v = _mod == 3 ? Xmm[_rm * 2] : Read64(_ea);
                    Xmm[_reg * 2] = v;
                    Xmm[_reg * 2 + 1] = v;
                }
                else if (pfx == 2) // MOVSLDUP
                {
                    RequireSse3();
                    var s = ReadXmmSource();
                    ulong lo = s.GetElement(0) & 0xFFFF_FFFF, hi = s.GetElement(1) & 0xFFFF_FFFF;
                    SetX(_reg, Vector128.Create(lo | (lo << 32), hi | (hi << 32)));
                }
                else if (_mod == 3)
                {
                    if (pfx == 1) FaultNoCode(VectorUd);
                    Xmm[_reg * 2] = Xmm[_rm * 2 + 1]; // MOVHLPS
                }
                else
                    Xmm[_reg * 2] = Read64(_ea);
                break;
            case 0x14: case 0x15: // UNPCKLPS/UNPCKHPS, UNPCKLPD/UNPCKHPD
                {
                    CheckSse();
                    DecodeModRm();
                    if (pfx > 1) FaultNoCode(VectorUd);
                    var s = ReadXmmSource();
                    var d = GetX(_reg);
                    if (pfx == 1)
                        SetX(_reg, op == 0x14 ? Vector128.Create(d.GetElement(0), s.GetElement(0)) : Vector128.Create(d.GetElement(1), s.GetElement(1)));
                    else
                    {
                        var d32 = d.AsUInt32();
                        var s32 = s.AsUInt32();
                        int o = op == 0x14 ? 0 : 2;
                        SetX(_reg, Vector128.Create(d32.GetElement(o), s32.GetElement(o), d32.GetElement(o + 1), s32.GetElement(o + 1)).AsUInt64());
                    }
                    break;
                }
            case 0x16: case 0x17: // MOVHPS/MOVLHPS/MOVHPD, MOVSHDUP (F3)
                CheckSse();
                DecodeModRm();
                if (op == 0x17)
                {
                    if (_mod == 3 || pfx > 1) FaultNoCode(VectorUd);
                    Write64(_ea, Xmm[_reg * 2 + 1]);
                }
                else if (pfx == 2)
                {
                    RequireSse3();
                    var s = ReadXmmSource();
                    ulong lo = s.GetElement(0) >> 32, hi = s.GetElement(1) >> 32;
                    SetX(_reg, Vector128.Create(lo | (lo << 32), hi | (hi << 32)));
                }
                else if (pfx == 3)
                    FaultNoCode(VectorUd);
                else if (_mod == 3)
                {
                    if (pfx == 1) FaultNoCode(VectorUd);
                    Xmm[_reg * 2 + 1] = Xmm[_rm * 2]; // MOVLHPS
                }
                else
                    Xmm[_reg * 2 + 1] = Read64(_ea);
                break;
            case 0x28: case 0x29: // MOVAPS/MOVAPD
                CheckSse();
                DecodeModRm();
                if (pfx > 1) FaultNoCode(VectorUd);
                if (op == 0x28) SetX(_reg, ReadXmmSource());
                else if (_mod == 3) SetX(_rm, GetX(_reg));
                else WriteXmmMemory(GetX(_reg), aligned: true);
                break;
            case 0x2B: // MOVNTPS/MOVNTPD
                CheckSse();
                DecodeModRm();
                if (_mod == 3 || pfx > 1) FaultNoCode(VectorUd);
                WriteXmmMemory(GetX(_reg), aligned: true);
                break;
            case 0x50: // MOVMSKPS/MOVMSKPD
                {
                    CheckSse();
                    DecodeModRm();
                    if (_mod != 3 || pfx > 1) FaultNoCode(VectorUd);
                    var s = GetX(_rm);
                    ulong m = pfx == 1 ? (s.GetElement(0) >> 63) | ((s.GetElement(1) >> 63) << 1)
                        : (ulong)Vector128.ExtractMostSignificantBits(s.AsUInt32());
                    SetReg(Qword, _reg, m);
                    break;
                }
            case 0x54: case 0x55: case 0x56: case 0x57: // ANDPS/ANDNPS/ORPS/XORPS (and PD)
                {
                    CheckSse();
                    DecodeModRm();
                    if (pfx > 1) FaultNoCode(VectorUd);
                    var s = ReadXmmSource();
                    var d = GetX(_reg);
                    SetX(_reg, op switch
                    {
                        0x54 => d & s,
                        0x55 => ~d & s,
                        0x56 => d | s,
                        _ => d ^ s,
                    });
                    break;
                }
            case 0x6E: // MOVD/MOVQ xmm, r/m32/64
                CheckSse();
                DecodeModRm();
                if (pfx != 1) FaultNoCode(VectorUd);
                {
                    int s = (_rex & 8) != 0 ? Qword : Dword;
                    SetX(_reg, Vector128.Create(ReadRm(s), 0UL));
                }
                break;
            case 0x7E:
                CheckSse();
                DecodeModRm();
                if (pfx == 1) // MOVD/MOVQ r/m32/64, xmm
                {
                    int s = (_rex & 8) != 0 ? Qword : Dword;
                    WriteRm(s, Xmm[_reg * 2] & SizeMask[s]);
                }
                else if (pfx == 2) // MOVQ xmm, xmm/m64
                {
                    ulong v = _mod == 3 ? Xmm[_rm * 2] : Read64(_ea);
                    SetX(_reg, Vector128.Create(v, 0UL));
                }
                else
                    FaultNoCode(VectorUd);
                break;
            case 0x6F: case 0x7F: // MOVDQA (66) / MOVDQU (F3)
                CheckSse();
                DecodeModRm();
                if (pfx != 1 && pfx != 2) FaultNoCode(VectorUd);
                if (op == 0x6F) SetX(_reg, ReadXmmSource(aligned: pfx == 1));
                else if (_mod == 3) SetX(_rm, GetX(_reg));
                else WriteXmmMemory(GetX(_reg), aligned: pfx == 1);
                break;
            case 0xD6: // MOVQ xmm/m64, xmm (66); MOVQ2DQ (F3), MOVDQ2Q (F2)
                if (pfx >= 2)
                {
                    MoveBetweenMmxAndXmm(toXmm: pfx == 2);
                    break;
                }
                CheckSse();
                DecodeModRm();
                if (pfx != 1) FaultNoCode(VectorUd);
                if (_mod == 3) SetX(_rm, Vector128.Create(Xmm[_reg * 2], 0UL));
                else Write64(_ea, Xmm[_reg * 2]);
                break;
            case 0xE7: // MOVNTDQ
                CheckSse();
                DecodeModRm();
                if (pfx != 1 || _mod == 3) FaultNoCode(VectorUd);
                WriteXmmMemory(GetX(_reg), aligned: true);
                break;
            case 0x70: // PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2)
                {
                    CheckSse();
                    DecodeModRm(1);
                    if (pfx == 0) FaultNoCode(VectorUd);
                    var s = ReadXmmSource();
                    int imm = Fetch8();
                    if (pfx == 1)
                    {
                        var s32 = s.AsUInt32();
                        SetX(_reg, Vector128.Create(s32.GetElement(imm & 3), s32.GetElement((imm >> 2) & 3), s32.GetElement((imm >> 4) & 3), s32.GetElement((imm >> 6) & 3)).AsUInt64());
                    }
                    else
                    {
                        var s16 = s.AsUInt16();
                        int o = pfx == 2 ? 4 : 0;
                        Span<ushort> r = stackalloc ushort[8];
                        for (int i = 0; i < 8; i++)
                            r[i] = s16.GetElement(i);
                        for (int i = 0; i < 4; i++)
                            r[o + i] = s16.GetElement(o + ((imm >> (2 * i)) & 3));
                        SetX(_reg, Vector128.Create<ushort>(r).AsUInt64());
                    }
                    break;
                }
            case 0x71: case 0x72: case 0x73: // shift by immediate groups 12-14
                {
                    CheckSse();
                    DecodeModRm(1);
                    if (pfx != 1 || _mod != 3) FaultNoCode(VectorUd);
                    int imm = Fetch8();
                    int kind = _reg & 7;
                    var d = GetX(_rm);
                    Vector128<ulong> r;
                    if (op == 0x73 && (kind == 3 || kind == 7))
                        r = ByteShift(d, kind == 7, imm); // PSRLDQ, PSLLDQ
                    else
                    {
                        int elem = op == 0x71 ? 1 : op == 0x72 ? 2 : 3;
                        int shiftKind = kind == 2 ? 0 : kind == 4 ? 1 : kind == 6 ? 2 : -1; // 0 logical right, 1 arithmetic right, 2 left
                        if (shiftKind < 0 || (op == 0x73 && shiftKind == 1)) FaultNoCode(VectorUd);
                        r = PackedShift(d, elem, shiftKind, (ulong)imm);
                    }
                    SetX(_rm, r);
                    break;
                }
            case 0xC4: // PINSRW xmm, r32/m16, imm8
                {
                    CheckSse();
                    DecodeModRm(1);
                    if (pfx != 1) FaultNoCode(VectorUd);
                    ushort v = (ushort)ReadRm(Word);
                    int i = Fetch8() & 7;
                    var d = GetX(_reg).AsUInt16().WithElement(i, v);
                    SetX(_reg, d.AsUInt64());
                    break;
                }
            case 0xC5: // PEXTRW r32, xmm, imm8
                {
                    CheckSse();
                    DecodeModRm(1);
                    if (pfx != 1 || _mod != 3) FaultNoCode(VectorUd);
                    int i = Fetch8() & 7;
                    SetReg(Qword, _reg, GetX(_rm).AsUInt16().GetElement(i));
                    break;
                }
            case 0xC6: // SHUFPS / SHUFPD
                {
                    CheckSse();
                    DecodeModRm(1);
                    if (pfx > 1) FaultNoCode(VectorUd);
                    var s = ReadXmmSource();
                    int imm = Fetch8();
                    var d = GetX(_reg);
                    if (pfx == 1)
                        SetX(_reg, Vector128.Create(d.GetElement(imm & 1), s.GetElement((imm >> 1) & 1)));
                    else
                    {
                        var d32 = d.AsUInt32();
                        var s32 = s.AsUInt32();
                        SetX(_reg, Vector128.Create(d32.GetElement(imm & 3), d32.GetElement((imm >> 2) & 3), s32.GetElement((imm >> 4) & 3), s32.GetElement((imm >> 6) & 3)).AsUInt64());
                    }
                    break;
                }
            case 0xD7: // PMOVMSKB r32, xmm
                {
                    CheckSse();
                    DecodeModRm();
                    if (pfx != 1 || _mod != 3) FaultNoCode(VectorUd);
                    SetReg(Qword, _reg, Vector128.ExtractMostSignificantBits(GetX(_rm).AsByte()));
                    break;
                }
            case 0xF7: // MASKMOVDQU xmm, xmm: byte-masked store to DS:rDI
                {
                    CheckSse();
                    DecodeModRm();
                    if (pfx != 1 || _mod != 3) FaultNoCode(VectorUd);
                    MaskedStore(GetX(_reg), GetX(_rm), 16);
                    break;
                }
            case >= 0x60 and <= 0x6D:
            case >= 0x74 and <= 0x76:
            case >= 0xD1 and <= 0xD5:
            case >= 0xD8 and <= 0xE5:
            case >= 0xE8 and <= 0xEF:
            case >= 0xF1 and <= 0xF6:
            case >= 0xF8 and <= 0xFE:
                {
                    CheckSse();
                    DecodeModRm();
                    if (pfx != 1) FaultNoCode(VectorUd);
                    var s = ReadXmmSource();
                    SetX(_reg, PackedInteger(op, GetX(_reg), s));
                    break;
                }
            default:
                ExecuteSseFloat(op, pfx);
                break;
        }
    }

    private void RequireSse3()
    {
        if (!Model.Has1Ecx(X86CpuModel.Sse3))
            FaultNoCode(VectorUd);
    }

    private static Vector128<ulong> ByteShift(Vector128<ulong> v, bool left, int count)
    {
        if (count > 15)
            return Vector128<ulong>.Zero;
        UInt128 x = ((UInt128)v.GetElement(1) << 64) | v.GetElement(0);
        x = left ? x << (count * 8) : x >> (count * 8);
        return Vector128.Create((ulong)x, (ulong)(x >> 64));
    }

    /// <summary>PSRL/PSRA/PSLL on elements of 2 (W), 4 (D) or 8 (Q) bytes; counts beyond the element clear it (or fill with the sign).</summary>
    private static Vector128<ulong> PackedShift(Vector128<ulong> v, int elem, int kind, ulong count)
    {
        switch (elem)
        {
            case 1:
                {
                    var w = v.AsUInt16();
                    if (count > 15)
                        return kind == 1 ? Vector128.ShiftRightArithmetic(w.AsInt16(), 15).AsUInt64() : Vector128<ulong>.Zero;
                    int c = (int)count;
                    return (kind == 0 ? Vector128.ShiftRightLogical(w, c) : kind == 1 ? Vector128.ShiftRightArithmetic(w.AsInt16(), c).AsUInt16() : Vector128.ShiftLeft(w, c)).AsUInt64();
                }
            case 2:
                {
                    var d = v.AsUInt32();
                    if (count > 31)
                        return kind == 1 ? Vector128.ShiftRightArithmetic(d.AsInt32(), 31).AsUInt64() : Vector128<ulong>.Zero;
                    int c = (int)count;
                    return (kind == 0 ? Vector128.ShiftRightLogical(d, c) : kind == 1 ? Vector128.ShiftRightArithmetic(d.AsInt32(), c).AsUInt32() : Vector128.ShiftLeft(d, c)).AsUInt64();
                }
            default:
                {
                    if (count > 63)
                        return Vector128<ulong>.Zero;
                    int c = (int)count;
                    return kind == 0 ? Vector128.ShiftRightLogical(v, c) : Vector128.ShiftLeft(v, c);
                }
        }
    }

    private static sbyte SatS8(int v) => (sbyte)Math.Clamp(v, sbyte.MinValue, sbyte.MaxValue);
    private static byte SatU8(int v) => (byte)Math.Clamp(v, 0, 255);
    private static short SatS16(int v) => (short)Math.Clamp(v, short.MinValue, short.MaxValue);
    private static ushort SatU16(int v) => (ushort)Math.Clamp(v, 0, 65535);

    /// <summary>The SSE2 packed-integer operations with a 66 prefix (opcodes 60-6D, 74-76, D1-FE).</summary>
    private static Vector128<ulong> PackedInteger(int op, Vector128<ulong> d, Vector128<ulong> s)
    {
        var db = d.AsByte(); var sb = s.AsByte();
        var dw = d.AsUInt16(); var sw = s.AsUInt16();
        var dd = d.AsUInt32(); var sd = s.AsUInt32();
        switch (op)
        {
            case 0x60: return Interleave(db, sb, 0).AsUInt64(); // PUNPCKLBW
            case 0x61: return Interleave(dw, sw, 0).AsUInt64(); // PUNPCKLWD
            case 0x62: return Interleave(dd, sd, 0).AsUInt64(); // PUNPCKLDQ
            case 0x63: // PACKSSWB
                {
                    Span<sbyte> r = stackalloc sbyte[16];
                    for (int i = 0; i < 8; i++) { r[i] = SatS8((short)dw.GetElement(i)); r[i + 8] = SatS8((short)sw.GetElement(i)); }
                    return Vector128.Create<sbyte>(r).AsUInt64();
                }
            case 0x64: return Vector128.GreaterThan(db.AsSByte(), sb.AsSByte()).AsUInt64(); // PCMPGTB
            case 0x65: return Vector128.GreaterThan(dw.AsInt16(), sw.AsInt16()).AsUInt64(); // PCMPGTW
            case 0x66: return Vector128.GreaterThan(dd.AsInt32(), sd.AsInt32()).AsUInt64(); // PCMPGTD
            case 0x67: // PACKUSWB
                {
                    Span<byte> r = stackalloc byte[16];
                    for (int i = 0; i < 8; i++) { r[i] = SatU8((short)dw.GetElement(i)); r[i + 8] = SatU8((short)sw.GetElement(i)); }
                    return Vector128.Create<byte>(r).AsUInt64();
                }
            case 0x68: return Interleave(db, sb, 8).AsUInt64(); // PUNPCKHBW
            case 0x69: return Interleave(dw, sw, 4).AsUInt64(); // PUNPCKHWD
            case 0x6A: return Interleave(dd, sd, 2).AsUInt64(); // PUNPCKHDQ
            case 0x6B: // PACKSSDW
                {
                    Span<short> r = stackalloc short[8];
                    for (int i = 0; i < 4; i++) { r[i] = SatS16((int)dd.GetElement(i)); r[i + 4] = SatS16((int)sd.GetElement(i)); }
                    return Vector128.Create<short>(r).AsUInt64();
                }
            case 0x6C: return Vector128.Create(d.GetElement(0), s.GetElement(0)); // PUNPCKLQDQ
            case 0x6D: return Vector128.Create(d.GetElement(1), s.GetElement(1)); // PUNPCKHQDQ
            case 0x74: return Vector128.Equals(db, sb).AsUInt64(); // PCMPEQB
            case 0x75: return Vector128.Equals(dw, sw).AsUInt64(); // PCMPEQW
            case 0x76: return Vector128.Equals(dd, sd).AsUInt64(); // PCMPEQD
            case 0xD1: return PackedShift(d, 1, 0, s.GetElement(0)); // PSRLW
            case 0xD2: return PackedShift(d, 2, 0, s.GetElement(0)); // PSRLD
            case 0xD3: return PackedShift(d, 3, 0, s.GetElement(0)); // PSRLQ
            case 0xD4: return d + s; // PADDQ
            case 0xD5: return (dw * sw).AsUInt64(); // PMULLW
            case 0xD8: return Saturating(db, sb, false, false).AsUInt64(); // PSUBUSB
            case 0xD9: return SaturatingW(dw, sw, false, false).AsUInt64(); // PSUBUSW
            case 0xDA: return Vector128.Min(db, sb).AsUInt64(); // PMINUB
            case 0xDB: return d & s; // PAND
            case 0xDC: return Saturating(db, sb, true, false).AsUInt64(); // PADDUSB
            case 0xDD: return SaturatingW(dw, sw, true, false).AsUInt64(); // PADDUSW
            case 0xDE: return Vector128.Max(db, sb).AsUInt64(); // PMAXUB
            case 0xDF: return ~d & s; // PANDN
            case 0xE0: return Average(db, sb).AsUInt64(); // PAVGB
            case 0xE1: return PackedShift(d, 1, 1, s.GetElement(0)); // PSRAW
            case 0xE2: return PackedShift(d, 2, 1, s.GetElement(0)); // PSRAD
            case 0xE3: // PAVGW
                {
                    Span<ushort> r = stackalloc ushort[8];
                    for (int i = 0; i < 8; i++) r[i] = (ushort)((dw.GetElement(i) + sw.GetElement(i) + 1) >> 1);
                    return Vector128.Create<ushort>(r).AsUInt64();
                }
            case 0xE4: // PMULHUW
                {
                    Span<ushort> r = stackalloc ushort[8];
                    for (int i = 0; i < 8; i++) r[i] = (ushort)((dw.GetElement(i) * (uint)sw.GetElement(i)) >> 16);
                    return Vector128.Create<ushort>(r).AsUInt64();
                }
            case 0xE5: // PMULHW
                {
                    Span<short> r = stackalloc short[8];
                    for (int i = 0; i < 8; i++) r[i] = (short)(((short)dw.GetElement(i) * (short)sw.GetElement(i)) >> 16);
                    return Vector128.Create<short>(r).AsUInt64();
                }
            case 0xE8: return Saturating(db, sb, false, true).AsUInt64(); // PSUBSB
            case 0xE9: return SaturatingW(dw, sw, false, true).AsUInt64(); // PSUBSW
            case 0xEA: return Vector128.Min(dw.AsInt16(), sw.AsInt16()).AsUInt64(); // PMINSW
            case 0xEB: return d | s; // POR
            case 0xEC: return Saturating(db, sb, true, true).AsUInt64(); // PADDSB
            case 0xED: return SaturatingW(dw, sw, true, true).AsUInt64(); // PADDSW
            case 0xEE: return Vector128.Max(dw.AsInt16(), sw.AsInt16()).AsUInt64(); // PMAXSW
            case 0xEF: return d ^ s; // PXOR
            case 0xF1: return PackedShift(d, 1, 2, s.GetElement(0)); // PSLLW
            case 0xF2: return PackedShift(d, 2, 2, s.GetElement(0)); // PSLLD
            case 0xF3: return PackedShift(d, 3, 2, s.GetElement(0)); // PSLLQ
            case 0xF4: return Vector128.Create((dd.GetElement(0) * (ulong)sd.GetElement(0)), dd.GetElement(2) * (ulong)sd.GetElement(2)); // PMULUDQ
            case 0xF5: // PMADDWD
                {
                    Span<int> r = stackalloc int[4];
                    for (int i = 0; i < 4; i++)
                        r[i] = (int)((short)dw.GetElement(2 * i) * (short)sw.GetElement(2 * i) + (short)dw.GetElement(2 * i + 1) * (short)sw.GetElement(2 * i + 1));
                    return Vector128.Create<int>(r).AsUInt64();
                }
            case 0xF6: // PSADBW
                {
                    ulong lo = 0, hi = 0;
                    for (int i = 0; i < 8; i++) lo += (ulong)Math.Abs(db.GetElement(i) - sb.GetElement(i));
                    for (int i = 8; i < 16; i++) hi += (ulong)Math.Abs(db.GetElement(i) - sb.GetElement(i));
                    return Vector128.Create(lo, hi);
                }
            case 0xF8: return (db - sb).AsUInt64(); // PSUBB
            case 0xF9: return (dw - sw).AsUInt64(); // PSUBW
            case 0xFA: return (dd - sd).AsUInt64(); // PSUBD
            case 0xFB: return d - s; // PSUBQ
            case 0xFC: return (db + sb).AsUInt64(); // PADDB
            case 0xFD: return (dw + sw).AsUInt64(); // PADDW
            default: return (dd + sd).AsUInt64(); // FE PADDD
        }
    }

    private static Vector128<byte> Average(Vector128<byte> a, Vector128<byte> b)
    {
        Span<byte> r = stackalloc byte[16];
        for (int i = 0; i < 16; i++) r[i] = (byte)((a.GetElement(i) + b.GetElement(i) + 1) >> 1);
        return Vector128.Create<byte>(r);
    }

    private static Vector128<T> Interleave<T>(Vector128<T> d, Vector128<T> s, int from) where T : unmanaged
    {
        int n = Vector128<T>.Count;
        Span<T> r = stackalloc T[n];
        for (int i = 0; i < n / 2; i++)
        {
            r[2 * i] = d.GetElement(from + i);
            r[2 * i + 1] = s.GetElement(from + i);
        }
        return Vector128.Create<T>(r);
    }

    private static Vector128<byte> Saturating(Vector128<byte> d, Vector128<byte> s, bool add, bool signed)
    {
        Span<byte> r = stackalloc byte[16];
        for (int i = 0; i < 16; i++)
        {
            if (signed)
            {
                int v = add ? (sbyte)d.GetElement(i) + (sbyte)s.GetElement(i) : (sbyte)d.GetElement(i) - (sbyte)s.GetElement(i);
                r[i] = (byte)SatS8(v);
            }
            else
            {
                int v = add ? d.GetElement(i) + s.GetElement(i) : d.GetElement(i) - s.GetElement(i);
                r[i] = SatU8(v);
            }
        }
        return Vector128.Create<byte>(r);
    }

    private static Vector128<ushort> SaturatingW(Vector128<ushort> d, Vector128<ushort> s, bool add, bool signed)
    {
        Span<ushort> r = stackalloc ushort[8];
        for (int i = 0; i < 8; i++)
        {
            if (signed)
            {
                int v = add ? (short)d.GetElement(i) + (short)s.GetElement(i) : (short)d.GetElement(i) - (short)s.GetElement(i);
                r[i] = (ushort)SatS16(v);
            }
            else
            {
                int v = add ? d.GetElement(i) + s.GetElement(i) : d.GetElement(i) - s.GetElement(i);
                r[i] = SatU16(v);
            }
        }
        return Vector128.Create<ushort>(r);
    }

    /// <summary>Group 15 (0F AE): FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, LFENCE, MFENCE, SFENCE, CLFLUSH.</summary>
    private void Group15()
    {
        DecodeModRm();
        int which = _reg & 7;
        if (_mod == 3)
        {
            if (which >= 5) // LFENCE, MFENCE, SFENCE: one CPU, in order
                return;
            FaultNoCode(VectorUd); // RDFSBASE & co. need CR4.FSGSBASE (not advertised)
        }
        switch (which)
        {
            case 0: FxSave(); break;
            case 1: FxRestore(); break;
            case 2: // LDMXCSR
                {
                    CheckSse();
                    uint v = Read32(_ea);
                    if ((v & ~MxcsrMask) != 0)
                        Fault(VectorGp, 0);
                    Mxcsr = v;
                    break;
                }
            case 3: // STMXCSR
                CheckSse();
                Write32(_ea, Mxcsr);
                break;
            case 7: // CLFLUSH: no caches; the access is still checked
                Read8(_ea);
                break;
            default:
                FaultNoCode(VectorUd); // XSAVE family not advertised
                break;
        }
    }

    /// <summary>FXSAVE64 (SDM vol. 1, table 10-2): 512 bytes, 16-byte aligned; the x87 part from <see cref="Fpu"/>, MXCSR and XMM from the CPU.</summary>
    private void FxSave()
    {
        if ((Cr0 & (Cr0Em | Cr0Ts)) != 0)
            FaultNoCode((Cr0 & Cr0Em) != 0 ? VectorUd : VectorNm);
        if ((_ea & 15) != 0)
            Fault(VectorGp, 0);
        ProbeWrite(_ea, 416);
        Span<byte> area = stackalloc byte[Wemu.Cpu.X86.Fpu.X87State.FxSaveSize];
        Fpu.Mxcsr = Mxcsr;
        Fpu.FxSave(area);
        for (int i = 0; i < 16; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(area[(160 + i * 16)..], Xmm[i * 2]);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(area[(168 + i * 16)..], Xmm[i * 2 + 1]);
        }
        for (int i = 0; i < 416; i += 8) // bytes 416-511 are left to software
            Write64(_ea + (ulong)i, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(area[i..]));
    }

    private void FxRestore()
    {
        if ((Cr0 & (Cr0Em | Cr0Ts)) != 0)
            FaultNoCode((Cr0 & Cr0Em) != 0 ? VectorUd : VectorNm);
        if ((_ea & 15) != 0)
            Fault(VectorGp, 0);
        Span<byte> area = stackalloc byte[Wemu.Cpu.X86.Fpu.X87State.FxSaveSize];
        for (int i = 0; i < 416; i += 8)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(area[i..], Read64(_ea + (ulong)i));
        if (!Fpu.FxRestore(area))
            Fault(VectorGp, 0);
        Mxcsr = Fpu.Mxcsr;
        for (int i = 0; i < 16; i++)
        {
            Xmm[i * 2] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(area[(160 + i * 16)..]);
            Xmm[i * 2 + 1] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(area[(168 + i * 16)..]);
        }
    }
}
