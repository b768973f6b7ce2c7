using System.Numerics;
using System.Runtime.Intrinsics;
using Wemu.Cpu.X86.Fpu;

namespace Wemu.Cpu.X86;

/// <summary>
/// The three-byte maps 0F 38 and 0F 3A (SDM vol. 2D, tables ): SSSE3 in its MMX (no prefix)
/// and XMM (66) forms, SSE4.1, and SSE4.2's PCMPGTQ and CRC32 (the string compares are in
/// <see cref="CompareStrings"/>). Each needs its CPUID bit (<c>-cpu max</c>); without it, #UD.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private void RequireFeature(uint ecxBit)
    {
        if (!Model.Has1Ecx(ecxBit))
            FaultNoCode(VectorUd);
    }

    /// <summary>Which mandatory prefix: 0 none, 1 = 66, 2 = F3, 3 = F2 (F2/F3 win over 66).</summary>
    private int MandatoryPrefix => _repPrefix == 0xF3 ? 2 : _repPrefix == 0xF2 ? 3 : _opSizePrefix ? 1 : 0;

    /// <summary>0F 38 xx.</summary>
    private void ExecuteMap0F38()
    {
        int op = Fetch8();
        int pfx = MandatoryPrefix;
        if (_lockPrefix)
            FaultNoCode(VectorUd);
        if (op is 0xF0 or 0xF1)
        {
            if (pfx != 3) FaultNoCode(VectorUd); // MOVBE is not advertised
            Crc32(op);
            return;
        }
        if (op <= 0x0B || op is 0x1C or 0x1D or 0x1E)
        {
            RequireFeature(X86CpuModel.Ssse3);
            if (pfx == 0)
            {
                CheckMmx();
                DecodeModRm();
                ulong s = MmxSource();
                ulong d = Mm(_reg);
                // horizontal operations see both operands as one 128-bit operand
                ulong r = op is >= 0x01 and <= 0x03 or >= 0x05 and <= 0x07
                    ? Ssse3(op, Vector128.Create(d, s), Vector128<ulong>.Zero, 7).GetElement(0)
                    : Ssse3(op, Vector128.Create(d, 0UL), Vector128.Create(s, 0UL), 7).GetElement(0);
                SetMm(_reg, r);
                Fpu.EnterMmx();
                return;
            }
            if (pfx != 1) FaultNoCode(VectorUd);
            CheckSse();
            DecodeModRm();
            var sx = ReadXmmSource();
            SetX(_reg, Ssse3(op, GetX(_reg), sx, 15));
            return;
        }
        if (pfx != 1) FaultNoCode(VectorUd);
        RequireFeature(op == 0x37 ? X86CpuModel.Sse42 : X86CpuModel.Sse41);
        CheckSse();
        DecodeModRm();
        switch (op)
        {
            case 0x10: case 0x14: case 0x15: // PBLENDVB, BLENDVPS, BLENDVPD: by the sign bits of XMM0
                {
                    var s = ReadXmmSource();
                    var d = GetX(_reg);
                    var x0 = GetX(0);
                    Vector128<ulong> mask = op == 0x10 ? Vector128.ShiftRightArithmetic(x0.AsSByte(), 7).AsUInt64()
                        : op == 0x14 ? Vector128.ShiftRightArithmetic(x0.AsInt32(), 31).AsUInt64()
                        : Vector128.ShiftRightArithmetic(x0.AsInt64(), 63).AsUInt64();
                    SetX(_reg, (s & mask) | (d & ~mask));
                    break;
                }
            case 0x17: // PTEST
                {
                    var s = ReadXmmSource();
                    var d = GetX(_reg);
                    ulong f = ((d & s) == Vector128<ulong>.Zero ? FlagZf : 0) | ((~d & s) == Vector128<ulong>.Zero ? FlagCf : 0);
                    MaterializeFlags();
                    Rflags = (Rflags & ~ArithmeticFlags) | f;
                    break;
                }
            case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: // PMOVSXBW, BD, BQ, WD, WQ, DQ
            case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: // PMOVZX
                {
                    int kind = op & 0xF;
                    int from = kind < 3 ? 1 : kind < 5 ? 2 : 4; // source element bytes
                    int to = kind switch { 0 => 2, 1 or 3 => 4, _ => 8 }; // destination element bytes
                    int count = 16 / to;
                    int bytes = count * from;
                    ulong src = _mod == 3 ? Xmm[_rm * 2] : bytes == 8 ? Read64(_ea) : bytes == 4 ? Read32(_ea) : Read16(_ea);
                    bool signed = op < 0x30;
                    Span<byte> r = stackalloc byte[16];
                    int fromBits = from * 8;
                    for (int i = 0; i < count; i++)
                    {
                        ulong e = fromBits == 64 ? src : (src >> (i * fromBits)) & ((1UL << fromBits) - 1);
                        if (signed)
                            e = (ulong)((long)(e << (64 - fromBits)) >> (64 - fromBits));
                        for (int b = 0; b < to; b++)
                            r[i * to + b] = (byte)(e >> (8 * b));
                    }
                    SetX(_reg, Vector128.Create<byte>(r).AsUInt64());
                    break;
                }
            case 0x2A: // MOVNTDQA xmm, m128
                if (_mod == 3) FaultNoCode(VectorUd);
                SetX(_reg, ReadXmmSource());
                break;
            case 0x28: case 0x29: case 0x2B: case 0x37: case 0x38: case 0x39: case 0x3A: case 0x3B: case 0x3C: case 0x3D: case 0x3E: case 0x3F: case 0x40: case 0x41:
                {
                    var s = ReadXmmSource();
                    SetX(_reg, Sse41(op, GetX(_reg), s));
                    break;
                }
            default:
                FaultNoCode(VectorUd);
                break;
        }
    }

    /// <summary>SSSE3 on 128 bits (<paramref name="indexMask"/> 15) or on zero-extended MMX operands (7).</summary>
    private static Vector128<ulong> Ssse3(int op, Vector128<ulong> d, Vector128<ulong> s, int indexMask)
    {
        switch (op)
        {
            case 0x00: // PSHUFB
                {
                    var db = d.AsByte(); var sb = s.AsByte();
                    Span<byte> r = stackalloc byte[16];
                    for (int i = 0; i < 16; i++)
                    {
                        int x = sb.GetElement(i);
                        r[i] = (x & 0x80) != 0 ? (byte)0 : db.GetElement(x & indexMask);
                    }
                    return Vector128.Create<byte>(r).AsUInt64();
                }
            case 0x01: case 0x03: case 0x05: case 0x07: // PHADDW, PHADDSW, PHSUBW, PHSUBSW
                {
                    var dw = d.AsInt16(); var sw = s.AsInt16();
                    Span<short> r = stackalloc short[8];
                    for (int i = 0; i < 8; i++)
                    {
                        var v = i < 4 ? dw : sw;
                        int j = (i & 3) * 2;
                        int x = op <= 0x03 ? v.GetElement(j) + v.GetElement(j + 1) : v.GetElement(j) - v.GetElement(j + 1);
                        r[i] = (op & 2) != 0 ? SatS16(x) : (short)x;
                    }
                    return Vector128.Create<short>(r).AsUInt64();
                }
            case 0x02: case 0x06: // PHADDD, PHSUBD
                {
                    var dd = d.AsInt32(); var sd = s.AsInt32();
                    Span<int> r = stackalloc int[4];
                    for (int i = 0; i < 4; i++)
                    {
                        var v = i < 2 ? dd : sd;
                        int j = (i & 1) * 2;
                        r[i] = op == 0x02 ? v.GetElement(j) + v.GetElement(j + 1) : v.GetElement(j) - v.GetElement(j + 1);
                    }
                    return Vector128.Create<int>(r).AsUInt64();
                }
            case 0x04: // PMADDUBSW: unsigned bytes of the destination times signed bytes of the source
                {
                    var db = d.AsByte(); var sb = s.AsSByte();
                    Span<short> r = stackalloc short[8];
                    for (int i = 0; i < 8; i++)
                        r[i] = SatS16(db.GetElement(2 * i) * sb.GetElement(2 * i) + db.GetElement(2 * i + 1) * sb.GetElement(2 * i + 1));
                    return Vector128.Create<short>(r).AsUInt64();
                }
            case 0x08: // PSIGNB
                return Sign(d.AsSByte(), s.AsSByte()).AsUInt64();
            case 0x09: // PSIGNW
                return Sign(d.AsInt16(), s.AsInt16()).AsUInt64();
            case 0x0A: // PSIGND
                return Sign(d.AsInt32(), s.AsInt32()).AsUInt64();
            case 0x0B: // PMULHRSW
                {
                    var dw = d.AsInt16(); var sw = s.AsInt16();
                    Span<short> r = stackalloc short[8];
                    for (int i = 0; i < 8; i++)
                        r[i] = (short)((((dw.GetElement(i) * sw.GetElement(i)) >> 14) + 1) >> 1);
                    return Vector128.Create<short>(r).AsUInt64();
                }
            case 0x1C: return Vector128.Abs(s.AsSByte()).AsUInt64(); // PABSB
            case 0x1D: return Vector128.Abs(s.AsInt16()).AsUInt64(); // PABSW
            default: return Vector128.Abs(s.AsInt32()).AsUInt64(); // 1E PABSD
        }
    }

    /// <summary>PSIGN: the destination element negated, zeroed or kept as the source element is negative, zero or positive.</summary>
    private static Vector128<T> Sign<T>(Vector128<T> d, Vector128<T> s) where T : unmanaged, INumber<T>
    {
        var negative = Vector128.LessThan(s, Vector128<T>.Zero);
        var zero = Vector128.Equals(s, Vector128<T>.Zero);
        return Vector128.ConditionalSelect(negative, -d, Vector128.AndNot(d, zero));
    }

    /// <summary>SSE4.1 (and SSE4.2's PCMPGTQ) two-operand integer operations of the 66 0F 38 map.</summary>
    private static Vector128<ulong> Sse41(int op, Vector128<ulong> d, Vector128<ulong> s)
    {
        switch (op)
        {
            case 0x28: // PMULDQ
                return Vector128.Create((ulong)((long)(int)d.GetElement(0) * (int)s.GetElement(0)), (ulong)((long)(int)d.GetElement(1) * (int)s.GetElement(1)));
            case 0x29: return Vector128.Equals(d, s); // PCMPEQQ
            case 0x2B: // PACKUSDW
                {
                    var dd = d.AsInt32(); var sd = s.AsInt32();
                    Span<ushort> r = stackalloc ushort[8];
                    for (int i = 0; i < 4; i++) { r[i] = SatU16(dd.GetElement(i)); r[i + 4] = SatU16(sd.GetElement(i)); }
                    return Vector128.Create<ushort>(r).AsUInt64();
                }
            case 0x37: return Vector128.GreaterThan(d.AsInt64(), s.AsInt64()).AsUInt64(); // PCMPGTQ
            case 0x38: return Vector128.Min(d.AsSByte(), s.AsSByte()).AsUInt64(); // PMINSB
            case 0x39: return Vector128.Min(d.AsInt32(), s.AsInt32()).AsUInt64(); // PMINSD
            case 0x3A: return Vector128.Min(d.AsUInt16(), s.AsUInt16()).AsUInt64(); // PMINUW
            case 0x3B: return Vector128.Min(d.AsUInt32(), s.AsUInt32()).AsUInt64(); // PMINUD
            case 0x3C: return Vector128.Max(d.AsSByte(), s.AsSByte()).AsUInt64(); // PMAXSB
            case 0x3D: return Vector128.Max(d.AsInt32(), s.AsInt32()).AsUInt64(); // PMAXSD
            case 0x3E: return Vector128.Max(d.AsUInt16(), s.AsUInt16()).AsUInt64(); // PMAXUW
            case 0x3F: return Vector128.Max(d.AsUInt32(), s.AsUInt32()).AsUInt64(); // PMAXUD
            case 0x40: return (d.AsUInt32() * s.AsUInt32()).AsUInt64(); // PMULLD
            default: // 41 PHMINPOSUW: the smallest word and its (lowest) index
                {
                    var sw = s.AsUInt16();
                    int index = 0;
                    for (int i = 1; i < 8; i++)
                        if (sw.GetElement(i) < sw.GetElement(index))
                            index = i;
                    return Vector128.Create(sw.GetElement(index) | ((ulong)index << 16), 0UL);
                }
        }
    }

    /// <summary>CRC32 r32/64, r/m8/16/32/64 (F2 0F 38 F0/F1): CRC-32C without pre- or post-inversion, as the instruction defines it.</summary>
    private void Crc32(int op)
    {
        RequireFeature(X86CpuModel.Sse42);
        DecodeModRm();
        int size = op == 0xF0 ? Byte : _opSize;
        ulong v = ReadRm(size);
        uint crc = (uint)Gpr[_reg];
        crc = size switch
        {
            Byte => BitOperations.Crc32C(crc, (byte)v),
            Word => BitOperations.Crc32C(crc, (ushort)v),
            Dword => BitOperations.Crc32C(crc, (uint)v),
            _ => BitOperations.Crc32C(crc, v),
        };
        Gpr[_reg] = crc; // a 32-bit result, zero-extended (REX.W only widens the source)
    }

    /// <summary>0F 3A xx: every instruction has an imm8.</summary>
    private void ExecuteMap0F3A()
    {
        int op = Fetch8();
        int pfx = MandatoryPrefix;
        if (_lockPrefix)
            FaultNoCode(VectorUd);
        if (op == 0x0F) // PALIGNR
        {
            RequireFeature(X86CpuModel.Ssse3);
            if (pfx == 0)
            {
                CheckMmx();
                DecodeModRm(1);
                ulong s = MmxSource();
                SetMm(_reg, AlignRight(Vector128.Create(Mm(_reg), 0UL), Vector128.Create(s, 0UL), Fetch8(), 8).GetElement(0));
                Fpu.EnterMmx();
                return;
            }
            if (pfx != 1) FaultNoCode(VectorUd);
            CheckSse();
            DecodeModRm(1);
            var sx = ReadXmmSource();
            SetX(_reg, AlignRight(GetX(_reg), sx, Fetch8(), 16));
            return;
        }
        if (pfx != 1) FaultNoCode(VectorUd);
        RequireFeature(op >= 0x60 ? X86CpuModel.Sse42 : X86CpuModel.Sse41);
        CheckSse();
        DecodeModRm(1);
        switch (op)
        {
            case 0x08: case 0x09: case 0x0A: case 0x0B: // ROUNDPS, ROUNDPD, ROUNDSS, ROUNDSD
                Round(op);
                break;
            case 0x0C: case 0x0D: case 0x0E: // BLENDPS, BLENDPD, PBLENDW
                {
                    var s = ReadXmmSource();
                    int imm = Fetch8();
                    var d = GetX(_reg);
                    Vector128<ulong> mask;
                    if (op == 0x0D)
                        mask = Vector128.Create((imm & 1) != 0 ? ulong.MaxValue : 0, (imm & 2) != 0 ? ulong.MaxValue : 0);
                    else if (op == 0x0C)
                        mask = Vector128.Create((imm & 1) != 0 ? uint.MaxValue : 0, (imm & 2) != 0 ? uint.MaxValue : 0,
                            (imm & 4) != 0 ? uint.MaxValue : 0, (imm & 8) != 0 ? uint.MaxValue : 0).AsUInt64();
                    else
                    {
                        Span<ushort> m = stackalloc ushort[8];
                        for (int i = 0; i < 8; i++) m[i] = (imm >> i & 1) != 0 ? ushort.MaxValue : (ushort)0;
                        mask = Vector128.Create<ushort>(m).AsUInt64();
                    }
                    SetX(_reg, (s & mask) | (d & ~mask));
                    break;
                }
            case 0x14: case 0x15: case 0x16: case 0x17: // PEXTRB, PEXTRW, PEXTRD/PEXTRQ, EXTRACTPS r/m, xmm, imm8
                {
                    int size = op == 0x14 ? Byte : op == 0x15 ? Word : op == 0x16 && (_rex & 8) != 0 ? Qword : Dword;
                    int imm = Fetch8();
                    UInt128 x = ((UInt128)Xmm[_reg * 2 + 1] << 64) | Xmm[_reg * 2];
                    ulong v = (ulong)(x >> ((imm & ((16 >> size) - 1)) * (8 << size))) & SizeMask[size];
                    if (_mod == 3)
                        SetReg(Qword, _rm, v); // a register destination is zero-extended
                    else
                        Write(_ea, size, v);
                    break;
                }
            case 0x20: case 0x22: // PINSRB xmm, r32/m8, imm8; PINSRD/PINSRQ xmm, r/m32/64, imm8
                {
                    int size = op == 0x20 ? Byte : (_rex & 8) != 0 ? Qword : Dword;
                    ulong v = _mod == 3 ? Gpr[_rm] & SizeMask[size] : Read(_ea, size);
                    int imm = Fetch8();
                    int bits = 8 << size;
                    int index = imm & ((16 >> size) - 1);
                    int half = index * bits / 64, shift = index * bits % 64;
                    ulong lane = Xmm[_reg * 2 + half];
                    ulong m = SizeMask[size] << shift;
                    Xmm[_reg * 2 + half] = (lane & ~m) | (v << shift);
                    break;
                }
            case 0x21: // INSERTPS xmm, xmm/m32, imm8
                {
                    ulong s = _mod == 3 ? 0 : Read32(_ea);
                    int imm = Fetch8();
                    if (_mod == 3)
                        s = GetX(_rm).AsUInt32().GetElement(imm >> 6);
                    var d = GetX(_reg).AsUInt32().WithElement((imm >> 4) & 3, (uint)s);
                    for (int i = 0; i < 4; i++)
                        if ((imm >> i & 1) != 0)
                            d = d.WithElement(i, 0u);
                    SetX(_reg, d.AsUInt64());
                    break;
                }
            case 0x40: case 0x41: // DPPS, DPPD
                DotProduct(op == 0x41);
                break;
            case 0x42: // MPSADBW
                {
                    var s = ReadXmmSource().AsByte();
                    int imm = Fetch8();
                    var d = GetX(_reg).AsByte();
                    int src = (imm & 3) * 4, dst = (imm & 4) != 0 ? 4 : 0;
                    Span<ushort> r = stackalloc ushort[8];
                    for (int i = 0; i < 8; i++)
                    {
                        int sum = 0;
                        for (int j = 0; j < 4; j++)
                            sum += Math.Abs(d.GetElement(dst + i + j) - s.GetElement(src + j));
                        r[i] = (ushort)sum;
                    }
                    SetX(_reg, Vector128.Create<ushort>(r).AsUInt64());
                    break;
                }
            case 0x60: case 0x61: case 0x62: case 0x63: // PCMPESTRM, PCMPESTRI, PCMPISTRM, PCMPISTRI
                CompareStrings(op);
                break;
            default:
                FaultNoCode(VectorUd);
                break;
        }
    }

    /// <summary>PALIGNR: the concatenation destination:source shifted right by imm8 bytes, its low half.</summary>
    private static Vector128<ulong> AlignRight(Vector128<ulong> d, Vector128<ulong> s, int imm, int bytes)
    {
        Span<byte> c = stackalloc byte[32];
        Span<byte> r = stackalloc byte[16];
        var db = d.AsByte(); var sb = s.AsByte();
        for (int i = 0; i < bytes; i++)
        {
            c[i] = sb.GetElement(i);
            c[bytes + i] = db.GetElement(i);
        }
        for (int i = 0; i < bytes; i++)
            r[i] = i + imm < 2 * bytes ? c[i + imm] : (byte)0;
        return Vector128.Create<byte>(r).AsUInt64();
    }

    /// <summary>ROUNDPS/PD/SS/SD: imm8 selects the rounding (or MXCSR.RC with bit 2) and bit 3 suppresses PE.</summary>
    private void Round(int op)
    {
        bool d = (op & 1) != 0, scalar = op >= 0x0A;
        ulong s0, s1 = 0;
        if (scalar)
            s0 = _mod == 3 ? Xmm[_rm * 2] : d ? Read64(_ea) : Read32(_ea);
        else
        {
            var s = ReadXmmSource();
            s0 = s.GetElement(0);
            s1 = s.GetElement(1);
        }
        int imm = Fetch8();
        uint m = Mxcsr & ~0x3Fu;
        ulong r0 = Xmm[_reg * 2], r1 = scalar ? Xmm[_reg * 2 + 1] : 0;
        if (d)
        {
            r0 = SseConvert.RoundDouble(s0, imm, ref m);
            if (!scalar) r1 = SseConvert.RoundDouble(s1, imm, ref m);
        }
        else if (scalar)
            r0 = (r0 & ~0xFFFF_FFFFUL) | SseConvert.RoundSingle((uint)s0, imm, ref m);
        else
        {
            r0 = SseConvert.RoundSingle((uint)s0, imm, ref m) | ((ulong)SseConvert.RoundSingle((uint)(s0 >> 32), imm, ref m) << 32);
            r1 = SseConvert.RoundSingle((uint)s1, imm, ref m) | ((ulong)SseConvert.RoundSingle((uint)(s1 >> 32), imm, ref m) << 32);
        }
        if (CommitMxcsr(m))
        {
            Xmm[_reg * 2] = r0;
            Xmm[_reg * 2 + 1] = r1;
        }
    }

    /// <summary>
    /// DPPS/DPPD (SDM vol. 2A): the products imm8[7:4] selects (others +0.0), summed pairwise with
    /// MXCSR rounding at each step; the sum goes to the elements imm8[3:0] selects, +0.0 elsewhere.
    /// The host reports exceptions per stage, as for a packed instruction each: the multiplies, the
    /// first adds, the last add. A stage with an unmasked exception ends the instruction (#XM), and
    /// an unmasked IE, DE or ZE hides that stage's OE, UE and PE but not the earlier stages'.
    /// </summary>
    private void DotProduct(bool d)
    {
        var s = ReadXmmSource();
        int imm = Fetch8();
        var x = GetX(_reg);
        uint m = Mxcsr & ~0x3Fu;
        ulong r0, r1;
        if (d)
        {
            ulong p0 = (imm & 0x10) != 0 ? SseArithmetic.MulDouble(x.GetElement(0), s.GetElement(0), ref m) : 0;
            ulong p1 = (imm & 0x20) != 0 ? SseArithmetic.MulDouble(x.GetElement(1), s.GetElement(1), ref m) : 0;
            CommitMxcsr(m);
            m = Mxcsr & ~0x3Fu;
            ulong sum = SseArithmetic.AddDouble(p0, p1, ref m);
            r0 = (imm & 1) != 0 ? sum : 0;
            r1 = (imm & 2) != 0 ? sum : 0;
        }
        else
        {
            var xs = x.AsUInt32(); var ss = s.AsUInt32();
            Span<uint> p = stackalloc uint[4];
            for (int i = 0; i < 4; i++)
                p[i] = (imm >> (4 + i) & 1) != 0 ? SseArithmetic.MulSingle(xs.GetElement(i), ss.GetElement(i), ref m) : 0;
            CommitMxcsr(m);
            m = Mxcsr & ~0x3Fu;
            uint low = SseArithmetic.AddSingle(p[0], p[1], ref m), high = SseArithmetic.AddSingle(p[2], p[3], ref m);
            CommitMxcsr(m);
            m = Mxcsr & ~0x3Fu;
            ulong sum = SseArithmetic.AddSingle(low, high, ref m);
            r0 = ((imm & 1) != 0 ? sum : 0) | ((imm & 2) != 0 ? sum << 32 : 0);
            r1 = ((imm & 4) != 0 ? sum : 0) | ((imm & 8) != 0 ? sum << 32 : 0);
        }
        CommitMxcsr(m);
        Xmm[_reg * 2] = r0;
        Xmm[_reg * 2 + 1] = r1;
    }
}
