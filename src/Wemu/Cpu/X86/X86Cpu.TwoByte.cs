using System.Numerics;

namespace Wemu.Cpu.X86;

/// <summary>The two-byte opcode map 0F xx (SDM vol. 2D, table A-3): integer and system instructions; SSE goes to <see cref="ExecuteSse"/>.</summary>
public sealed unsafe partial class X86Cpu
{
    private void ExecuteTwoByte(int op)
    {
        int size = _opSize;
        switch (op)
        {
            case 0x00: Group6(); break;
            case 0x01: Group7(); break;
            case 0x02: case 0x03: // LAR, LSL
                LoadAccessRightsOrLimit(op == 0x03, size);
                break;
            case 0x05: Syscall(); break;
            case 0x06: // CLTS
                RequireCpl0();
                Cr0 &= ~Cr0Ts;
                NoteTlbFlush(); // translated code depends on whether SSE faults (X86Cpu.CodeMode)
                break;
            case 0x07: Sysret(); break;
            case 0x08: case 0x09: RequireCpl0(); break; // INVD, WBINVD: no caches to write back
            case 0x0B: FaultNoCode(VectorUd); break; // UD2
            case 0x0D: DecodeModRm(); break; // PREFETCH/PREFETCHW (3DNow! prefetch: a hint)
            case 0x18: case 0x19: case 0x1A: case 0x1B: case 0x1C: case 0x1D: case 0x1E: case 0x1F:
                DecodeModRm(); // hint NOPs: PREFETCHh, NOP Ev, ENDBR64 (F3 0F 1E FA)
                break;
            case 0x20: case 0x22: MoveControlRegister(op == 0x22); break;
            case 0x21: case 0x23: MoveDebugRegister(op == 0x23); break;
            case 0x30: WriteMsr(); break;
            case 0x31: // RDTSC
                Rdtsc();
                break;
            case 0x32: ReadMsr(); break;
            case 0x33: Fault(VectorGp, 0); break; // RDPMC: no performance counters
            case 0x34: case 0x35: FaultNoCode(VectorUd); break; // SYSENTER/SYSEXIT are invalid in long mode on AMD
            case 0x38: ExecuteMap0F38(); break; // SSSE3, SSE4.1, SSE4.2
            case 0x3A: ExecuteMap0F3A(); break;
            case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47: case 0x48: case 0x49: case 0x4A: case 0x4B: case 0x4C: case 0x4D: case 0x4E: case 0x4F: // CMOVcc Gv, Ev (the source is read even when the condition is false)
                {
                    DecodeModRm();
                    ulong v = ReadRm(size);
                    if (Condition(op & 15))
                        WriteGpr(size, v);
                    else if (size == Dword)
                        WriteGpr(size, ReadGpr(size)); // a 32-bit CMOV zeroes the upper half either way
                    break;
                }
            case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8A: case 0x8B: case 0x8C: case 0x8D: case 0x8E: case 0x8F: // Jcc rel32
                {
                    ulong rel = (ulong)(long)(int)Fetch32();
                    if (Condition(op & 15))
                        _ip += rel;
                    break;
                }
            case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: case 0x98: case 0x99: case 0x9A: case 0x9B: case 0x9C: case 0x9D: case 0x9E: case 0x9F: // SETcc Eb
                DecodeModRm();
                WriteRm(Byte, Condition(op & 15) ? 1UL : 0);
                break;
            case 0xA0: Push(StackSize, Segments[Fs].Selector); break; // PUSH FS
            case 0xA1: LoadSegment(Fs, (ushort)Pop(StackSize)); break; // POP FS
            case 0xA8: Push(StackSize, Segments[Gs].Selector); break; // PUSH GS
            case 0xA9: LoadSegment(Gs, (ushort)Pop(StackSize)); break; // POP GS
            case 0xA2: Cpuid(); break;
            case 0xA3: case 0xAB: case 0xB3: case 0xBB: // BT, BTS, BTR, BTC Ev, Gv
                BitTest(op == 0xA3 ? 0 : op == 0xAB ? 1 : op == 0xB3 ? 2 : 3, size, fromRegister: true);
                break;
            case 0xBA: // group 8: BT/BTS/BTR/BTC Ev, Ib
                {
                    DecodeModRm(1);
                    int which = _reg & 7;
                    if (which < 4)
                        FaultNoCode(VectorUd);
                    BitTestImmediate(which - 4, size);
                    break;
                }
            case 0xA4: case 0xA5: case 0xAC: case 0xAD: // SHLD, SHRD
                {
                    bool imm = (op & 1) == 0;
                    DecodeModRm(imm ? 1 : 0);
                    ulong a = ReadRmw(size);
                    int count = imm ? Fetch8() : (int)(Gpr[Rcx] & 0xFF);
                    ulong r = DoubleShift(op < 0xA8, size, a, ReadGpr(size), count);
                    WriteRm(size, r);
                    break;
                }
            case 0xAE: Group15(); break;
            case 0xAF: // IMUL Gv, Ev
                DecodeModRm();
                WriteGpr(size, Imul2(size, ReadGpr(size), ReadRm(size)));
                break;
            case 0xB0: case 0xB1: // CMPXCHG Eb,Gb / Ev,Gv
                {
                    int s = op == 0xB0 ? Byte : size;
                    DecodeModRm();
                    ulong dest = ReadRmw(s);
                    ulong acc = GetReg(s, Rax);
                    Alu(7, s, acc, dest);
                    if (acc == dest)
                        WriteRm(s, ReadGpr(s));
                    else
                    {
                        if (_mod != 3)
                            WriteRm(s, dest); // the destination is written back either way (a locked RMW)
                        SetReg(s, Rax, dest);
                    }
                    break;
                }
            case 0xB6: case 0xB7: // MOVZX Gv, Eb/Ew
                DecodeModRm();
                WriteGpr(size, ReadRm(op == 0xB6 ? Byte : Word));
                break;
            case 0xBE: case 0xBF: // MOVSX Gv, Eb/Ew
                DecodeModRm();
                WriteGpr(size, SignExtend(op == 0xBE ? Byte : Word, ReadRm(op == 0xBE ? Byte : Word)) & SizeMask[size]);
                break;
            case 0xB8: // POPCNT (F3) on -cpu max
                {
                    if (_repPrefix != 0xF3 || !Model.Has1Ecx(X86CpuModel.Popcnt))
                        FaultNoCode(VectorUd);
                    DecodeModRm();
                    ulong v = ReadRm(size);
                    ulong r = (ulong)BitOperations.PopCount(v);
                    WriteGpr(size, r);
                    SetCc(X86CcOp.Logic, size, r, 0);
                    MaterializeFlags();
                    Rflags = (Rflags & ~ArithmeticFlags) | (v == 0 ? FlagZf : 0);
                    break;
                }
            case 0xBC: case 0xBD: // BSF, BSR (F3 = TZCNT/LZCNT, which run as BSF/BSR without BMI1/ABM)
                {
                    DecodeModRm();
                    if (BitScan(op == 0xBD, size, ReadRm(size), out ulong index))
                        WriteGpr(size, index);
                    break;
                }
            case 0xC0: case 0xC1: // XADD Eb,Gb / Ev,Gv
                {
                    int s = op == 0xC0 ? Byte : size;
                    DecodeModRm();
                    ulong dest = ReadRmw(s), src = ReadGpr(s);
                    ulong sum = Alu(0, s, dest, src);
                    WriteGpr(s, dest);
                    WriteRm(s, sum);
                    break;
                }
            case 0xC3: // MOVNTI My, Gy
                DecodeModRm();
                if (_mod == 3) FaultNoCode(VectorUd);
                WriteRm(size == Qword ? Qword : Dword, ReadGpr(size == Qword ? Qword : Dword));
                break;
            case 0xC7: Group9(size); break;
            case 0xC8: case 0xC9: case 0xCA: case 0xCB: case 0xCC: case 0xCD: case 0xCE: case 0xCF: // BSWAP
                {
                    int r = (op & 7) | ((_rex & 1) << 3);
                    if (size == Qword)
                        Gpr[r] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(Gpr[r]);
                    else if (size == Dword)
                        Gpr[r] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)Gpr[r]);
                    else
                        SetReg(Word, r, 0); // BSWAP of a 16-bit register: undefined, zero as QEMU
                    break;
                }
            default:
                ExecuteSse(op);
                break;
        }
    }

    private void RequireCpl0()
    {
        if (Cpl != 0)
            Fault(VectorGp, 0);
    }

    /// <summary>BT/BTS/BTR/BTC with a register bit offset: on memory, the offset selects any bit relative to the address (SDM vol. 2A, BT).</summary>
    private void BitTest(int kind, int size, bool fromRegister)
    {
        DecodeModRm();
        long offset = (long)SignExtend(size, ReadGpr(size));
        int bits = SizeBits[size];
        if (_mod != 3)
        {
            // the offset joins the address before the address size truncates it
            ulong address = _ea - _eaSegmentBase + (ulong)((offset >> (size == Word ? 4 : size == Dword ? 5 : 6)) * (bits / 8));
            if (_addrSize == Dword)
                address &= 0xFFFF_FFFF;
            _ea = address + _eaSegmentBase;
            offset &= bits - 1;
        }
        else
        {
            offset &= bits - 1;
        }
        ApplyBitOp(kind, size, (int)offset);
        _ = fromRegister;
    }

    private void BitTestImmediate(int kind, int size)
    {
        int offset = Fetch8() & (SizeBits[size] - 1);
        ApplyBitOp(kind, size, offset);
    }

    private void ApplyBitOp(int kind, int size, int bit)
    {
        ulong v = kind == 0 ? ReadRm(size) : ReadRmw(size);
        bool cf = ((v >> bit) & 1) != 0;
        ulong r = kind switch
        {
            1 => v | (1UL << bit),
            2 => v & ~(1UL << bit),
            3 => v ^ (1UL << bit),
            _ => v,
        };
        if (kind != 0)
            WriteRm(size, r);
        SetFlagBits(cf ? FlagCf : 0, FlagCf);
    }

    private void Group6()
    {
        DecodeModRm();
        switch (_reg & 7)
        {
            case 0: WriteSelector(Ldtr.Selector); break; // SLDT
            case 1: WriteSelector(Tr.Selector); break;   // STR
            case 2: // LLDT
                {
                    RequireCpl0();
                    ushort sel = (ushort)ReadRm(Word);
                    if ((sel & 0xFFFC) == 0)
                    {
                        Ldtr = new X86Segment { Selector = sel };
                        break;
                    }
                    if ((sel & 4) != 0) Fault(VectorGp, (uint)(sel & 0xFFFC));
                    ulong low = ReadDescriptor(sel), high = ReadSystem64(GdtBase + (ulong)(sel & 0xFFF8) + 8);
                    var s = X86Segment.FromDescriptor(sel, low);
                    if ((s.Attributes & 0x1F) != 0x02) Fault(VectorGp, (uint)(sel & 0xFFFC));
                    if (!s.Present) Fault(VectorNp, (uint)(sel & 0xFFFC));
                    s.Base |= (high & 0xFFFF_FFFF) << 32;
                    Ldtr = s;
                    break;
                }
            case 3: // LTR
                {
                    RequireCpl0();
                    ushort sel = (ushort)ReadRm(Word);
                    if ((sel & 0xFFFC) == 0 || (sel & 4) != 0) Fault(VectorGp, (uint)(sel & 0xFFFC));
                    ulong low = ReadDescriptor(sel), high = ReadSystem64(GdtBase + (ulong)(sel & 0xFFF8) + 8);
                    var s = X86Segment.FromDescriptor(sel, low);
                    if ((s.Attributes & 0x1F) != 0x09) Fault(VectorGp, (uint)(sel & 0xFFFC)); // available 64-bit TSS
                    if (!s.Present) Fault(VectorNp, (uint)(sel & 0xFFFC));
                    s.Base |= (high & 0xFFFF_FFFF) << 32;
                    WriteSystem64(GdtBase + (ulong)(sel & 0xFFF8), low | (2UL << 40)); // mark busy
                    s.Attributes |= 2;
                    Tr = s;
                    break;
                }
            case 4: case 5: // VERR, VERW
                {
                    ushort sel = (ushort)ReadRm(Word);
                    bool ok = false;
                    if ((sel & 0xFFFC) != 0 && (ulong)(sel & 0xFFF8) + 7 <= ((sel & 4) != 0 ? Ldtr.Limit : (ulong)GdtLimit))
                    {
                        var s = X86Segment.FromDescriptor(sel, ReadDescriptor(sel));
                        bool code = (s.Attributes & 8) != 0;
                        bool conforming = code && (s.Attributes & 4) != 0;
                        ok = (s.Attributes & 0x10) != 0 && (conforming || s.Dpl >= Math.Max(Cpl, sel & 3))
                            && ((_reg & 7) == 4 ? !code || (s.Attributes & 2) != 0 : !code && (s.Attributes & 2) != 0);
                    }
                    SetFlagBits(ok ? FlagZf : 0, FlagZf);
                    break;
                }
            default: FaultNoCode(VectorUd); break;
        }
    }

    private void WriteSelector(ushort selector)
    {
        if (_mod == 3)
            SetReg(_opSize, _rm, selector);
        else
            Write16(_ea, selector);
    }

    private void Group7()
    {
        int modrm = FetchByte(_ip);
        if ((modrm >> 6) == 3)
        {
            _ip++;
            switch (modrm)
            {
                case 0xC8: // MONITOR: no MONITOR/MWAIT in CPUID
                case 0xC9: // MWAIT
                    FaultNoCode(VectorUd);
                    return;
                case 0xD0: // XGETBV: no XSAVE
                    FaultNoCode(VectorUd);
                    return;
                case 0xF8: // SWAPGS
                    RequireCpl0();
                    (Segments[Gs].Base, KernelGsBase) = (KernelGsBase, Segments[Gs].Base);
                    return;
                case 0xF9: // RDTSCP
                    if ((Model.FeaturesExtEdx & (1u << 27)) == 0)
                        FaultNoCode(VectorUd);
                    if ((Cr4 & Cr4Tsd) != 0 && Cpl != 0)
                        Fault(VectorGp, 0);
                    {
                        ulong tsc = ReadTimeStampCounter();
                        Gpr[Rax] = tsc & 0xFFFF_FFFF;
                        Gpr[Rdx] = tsc >> 32;
                        Gpr[Rcx] = TscAux & 0xFFFF_FFFF;
                    }
                    return;
            }
            int regField = (modrm >> 3) & 7;
            if (regField == 4) // SMSW r
            {
                SetReg(_opSize, (modrm & 7) | ((_rex & 1) << 3), Cr0 & SizeMask[_opSize]);
                return;
            }
            if (regField == 6) // LMSW r
            {
                RequireCpl0();
                LoadMachineStatusWord((ushort)GetReg(Word, (modrm & 7) | ((_rex & 1) << 3)));
                return;
            }
            FaultNoCode(VectorUd);
            return;
        }
        DecodeModRm();
        switch (_reg & 7)
        {
            case 0: // SGDT
                Write16(_ea, GdtLimit);
                Write64(_ea + 2, GdtBase);
                break;
            case 1: // SIDT
                Write16(_ea, IdtLimit);
                Write64(_ea + 2, IdtBase);
                break;
            case 2: // LGDT
                RequireCpl0();
                {
                    ushort limit = Read16(_ea);
                    ulong b = Read64(_ea + 2);
                    GdtLimit = limit;
                    GdtBase = b;
                }
                break;
            case 3: // LIDT
                RequireCpl0();
                {
                    ushort limit = Read16(_ea);
                    ulong b = Read64(_ea + 2);
                    IdtLimit = limit;
                    IdtBase = b;
                }
                break;
            case 4: // SMSW m16
                Write16(_ea, (ushort)Cr0);
                break;
            case 6: // LMSW m16
                RequireCpl0();
                LoadMachineStatusWord(Read16(_ea));
                break;
            case 7: // INVLPG
                RequireCpl0();
                FlushTlbPage(_ea);
                break;
            default:
                FaultNoCode(VectorUd);
                break;
        }
    }

    private void LoadMachineStatusWord(ushort value)
    {
        // LMSW changes PE, MP, EM, TS only, and cannot clear PE
        ulong cr0 = (Cr0 & ~0xEUL) | (value & 0xFUL) | (Cr0 & Cr0Pe);
        WriteCr0(cr0);
    }

    private void Group9(int size)
    {
        DecodeModRm();
        int which = _reg & 7;
        if (which == 1 && _mod != 3)
        {
            // CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W; #GP unless 16-byte aligned)
            if (size == Qword)
            {
                if ((_ea & 15) != 0)
                    Fault(VectorGp, 0);
                ulong lo = Read64(_ea), hi = Read64(_ea + 8);
                ProbeWrite(_ea, 16);
                if (lo == Gpr[Rax] && hi == Gpr[Rdx])
                {
                    Write64(_ea, Gpr[Rbx]);
                    Write64(_ea + 8, Gpr[Rcx]);
                    SetFlagBits(FlagZf, FlagZf);
                }
                else
                {
                    Write64(_ea, lo);
                    Write64(_ea + 8, hi);
                    Gpr[Rax] = lo;
                    Gpr[Rdx] = hi;
                    SetFlagBits(0, FlagZf);
                }
            }
            else
            {
                ulong v = Read64(_ea);
                ProbeWrite(_ea, 8);
                ulong expected = (Gpr[Rax] & 0xFFFF_FFFF) | (Gpr[Rdx] << 32);
                if (v == expected)
                {
                    Write64(_ea, (Gpr[Rbx] & 0xFFFF_FFFF) | (Gpr[Rcx] << 32));
                    SetFlagBits(FlagZf, FlagZf);
                }
                else
                {
                    Write64(_ea, v);
                    Gpr[Rax] = v & 0xFFFF_FFFF;
                    Gpr[Rdx] = v >> 32;
                    SetFlagBits(0, FlagZf);
                }
            }
            return;
        }
        FaultNoCode(VectorUd); // RDRAND/RDSEED/RDPID are not advertised
    }

    private void LoadAccessRightsOrLimit(bool limit, int size)
    {
        DecodeModRm();
        ushort sel = (ushort)ReadRm(Word);
        bool ok = false;
        ulong result = 0;
        if ((sel & 0xFFFC) != 0 && (ulong)(sel & 0xFFF8) + 7 <= ((sel & 4) != 0 ? Ldtr.Limit : (ulong)GdtLimit))
        {
            ulong d = ReadDescriptor(sel);
            var s = X86Segment.FromDescriptor(sel, d);
            bool system = (s.Attributes & 0x10) == 0;
            int type = s.Attributes & 0xF;
            bool conforming = !system && (s.Attributes & 0xC) == 0xC;
            bool typeOk = !system || (limit ? type is 2 or 9 or 0xB : type is 2 or 9 or 0xB or 0xC);
            ok = typeOk && (conforming || s.Dpl >= Math.Max(Cpl, sel & 3));
            result = limit ? s.Limit : d >> 32 & 0x00F0FF00;
        }
        SetFlagBits(ok ? FlagZf : 0, FlagZf);
        if (ok)
            WriteGpr(size == Word ? Word : size, result);
    }

    // ---- control and debug registers ----

    private void MoveControlRegister(bool toCr)
    {
        DecodeModRm();
        RequireCpl0();
        int cr = _reg; // REX.R selects CR8
        int gpr = _rm;
        if (!toCr)
        {
            Gpr[gpr] = cr switch
            {
                0 => Cr0,
                2 => Cr2,
                3 => Cr3,
                4 => Cr4,
                8 => Cr8,
                _ => Undefined(),
            };
            return;
        }
        ulong v = Gpr[gpr];
        switch (cr)
        {
            case 0: WriteCr0(v); break;
            case 2: Cr2 = v; break;
            case 3:
                if ((Cr4 & Cr4Pcide) != 0)
                {
                    // bits 11:0 are the PCID, bit 63 (not stored) keeps its translations (SDM 4.10.4.1)
                    bool keep = (long)v < 0;
                    v &= ~(1UL << 63);
                    if ((v & Cr3ReservedHigh) != 0) Fault(VectorGp, 0);
                    int leaving = (int)(Cr3 & 0xFFF);
                    Cr3 = v;
                    SwitchPcid(leaving, (int)(v & 0xFFF), keep);
                    break;
                }
                if ((v & Cr3ReservedHigh) != 0) Fault(VectorGp, 0);
                Cr3 = v;
                FlushTlb(global: false);
                break;
            case 4:
                {
                    ulong supported = Cr4Vme | Cr4Pvi | Cr4Tsd | Cr4De | Cr4Pse | Cr4Pae | Cr4Mce | Cr4Pge | Cr4Pce | Cr4Osfxsr | Cr4Osxmmexcpt
                        | (Model.Has1Ecx(X86CpuModel.Pcid) ? Cr4Pcide : 0);
                    if ((v & ~supported) != 0 || ((Efer & EferLma) != 0 && (v & Cr4Pae) == 0))
                        Fault(VectorGp, 0);
                    // PCIDE may be set only in IA-32e mode with CR3's PCID 0 (SDM vol. 3 2.5; MOV CR vol. 2B)
                    if ((v & ~Cr4 & Cr4Pcide) != 0 && ((Efer & EferLma) == 0 || (Cr3 & 0xFFF) != 0))
                        Fault(VectorGp, 0);
                    Cr4 = v;
                    FlushTlb(global: true);
                    break;
                }
            case 8:
                if ((v & ~0xFUL) != 0) Fault(VectorGp, 0);
                Cr8 = v;
                break;
            default: FaultNoCode(VectorUd); break;
        }
    }

    private ulong Undefined()
    {
        FaultNoCode(VectorUd);
        return 0;
    }

    private void WriteCr0(ulong v)
    {
        if ((v >> 32) != 0 || ((v & Cr0Pg) != 0 && (v & Cr0Pe) == 0) || ((v & Cr0Nw) != 0 && (v & Cr0Cd) == 0))
            Fault(VectorGp, 0);
        if ((Efer & EferLma) != 0 && (v & Cr0Pg) == 0)
            Fault(VectorGp, 0); // leaving long mode is not implemented
        ulong changed = Cr0 ^ v;
        Cr0 = v | Cr0Et;
        if ((changed & (Cr0Pg | Cr0Wp | Cr0Pe)) != 0)
        {
            UpdateMode();
            FlushTlb(global: true);
        }
        if ((changed & (Cr0Em | Cr0Ts)) != 0)
            NoteTlbFlush(); // translated code depends on whether SSE faults (X86Cpu.CodeMode)
    }

    private void MoveDebugRegister(bool toDr)
    {
        DecodeModRm();
        RequireCpl0();
        int dr = _reg;
        if (!toDr)
        {
            Gpr[_rm] = dr switch { 0 => Dr0, 1 => Dr1, 2 => Dr2, 3 => Dr3, 4 or 6 => Dr6, 5 or 7 => Dr7, _ => Undefined() };
            return;
        }
        ulong v = Gpr[_rm];
        switch (dr)
        {
            case 0: Dr0 = v; break;
            case 1: Dr1 = v; break;
            case 2: Dr2 = v; break;
            case 3: Dr3 = v; break;
            case 4: case 6: Dr6 = (v & 0xE00F) | 0xFFFF0FF0; break;
            case 5: case 7: Dr7 = (v & 0xFFFF2FFF) | 0x400; break; // breakpoints are stored, not armed
            default: FaultNoCode(VectorUd); break;
        }
    }

    // ---- CPUID, MSRs, time ----

    private void Cpuid()
    {
        var (a, b, c, d) = Model.Cpuid((uint)Gpr[Rax], (uint)Gpr[Rcx]);
        Gpr[Rax] = a;
        Gpr[Rbx] = b;
        Gpr[Rcx] = c;
        Gpr[Rdx] = d;
    }

    private long _tscOffset;

    /// <summary>RDTSC: EDX:EAX = the time-stamp counter (#GP outside ring 0 with CR4.TSD).</summary>
    internal void Rdtsc()
    {
        if ((Cr4 & Cr4Tsd) != 0 && Cpl != 0)
            Fault(VectorGp, 0);
        ulong tsc = ReadTimeStampCounter();
        Gpr[Rax] = tsc & 0xFFFF_FFFF;
        Gpr[Rdx] = tsc >> 32;
    }

    internal ulong ReadTimeStampCounter() => ReadTsc() + (ulong)_tscOffset;

    private void ReadMsr()
    {
        RequireCpl0();
        if (!TryReadMsr((uint)Gpr[Rcx], out ulong v))
            Fault(VectorGp, 0);
        Gpr[Rax] = v & 0xFFFF_FFFF;
        Gpr[Rdx] = v >> 32;
    }

    private void WriteMsr()
    {
        RequireCpl0();
        ulong v = (Gpr[Rax] & 0xFFFF_FFFF) | (Gpr[Rdx] << 32);
        if (!TryWriteMsr((uint)Gpr[Rcx], v))
            Fault(VectorGp, 0);
    }

    /// <summary>The MSRs Wemu implements (SDM vol. 4); every other one raises #GP, which Linux's rdmsr_safe expects.</summary>
    internal bool TryReadMsr(uint msr, out ulong value)
    {
        switch (msr)
        {
            case 0x10: value = ReadTimeStampCounter(); return true; // IA32_TSC
            // IA32_TSC_ADJUST (SDM 17.17.3): what software added to the TSC by writing either MSR since reset, which is
            // the offset over the machine's clock
            case 0x3B: value = (ulong)_tscOffset; return true;
            case 0x1B: value = ReadApicBase?.Invoke() ?? 0; return ReadApicBase != null; // IA32_APIC_BASE
            case 0x174: value = SysenterCs; return true;
            case 0x175: value = SysenterEsp; return true;
            case 0x176: value = SysenterEip; return true;
            case 0x277: value = Pat; return true;
            case 0xC0000080: value = Efer; return true;
            case 0xC0000081: value = Star; return true;
            case 0xC0000082: value = Lstar; return true;
            case 0xC0000083: value = Cstar; return true;
            case 0xC0000084: value = Sfmask; return true;
            case 0xC0000100: value = Segments[Fs].Base; return true;
            case 0xC0000101: value = Segments[Gs].Base; return true;
            case 0xC0000102: value = KernelGsBase; return true;
            case 0xC0000103: value = TscAux; return true;
            // AMD K8 interrupt-pending message register: Linux's AMD E400/C1E check reads it without a
            // fault handler; zero (no C1E) as QEMU returns
            case 0xC0010055: value = 0; return true;
            default: value = 0; return false;
        }
    }

    internal bool TryWriteMsr(uint msr, ulong v)
    {
        switch (msr)
        {
            case 0x10: _tscOffset = (long)(v - ReadTsc()); return true;
            case 0x3B: _tscOffset = (long)v; return true; // the TSC moves by the change
            case 0x1B:
                if (WriteApicBase == null) return false;
                WriteApicBase(v);
                return true;
            case 0x174: SysenterCs = v & 0xFFFF; return true;
            case 0x175: if (!IsCanonical(v)) return false; SysenterEsp = v; return true;
            case 0x176: if (!IsCanonical(v)) return false; SysenterEip = v; return true;
            case 0x277:
                for (int i = 0; i < 8; i++)
                {
                    ulong t = (v >> (i * 8)) & 0xFF;
                    if (t is 2 or 3 or > 7) return false; // reserved memory types
                }
                Pat = v;
                return true;
            case 0xC0000080: // EFER: SCE, LME, NXE writable; LMA read-only
                {
                    if ((v & ~(EferSce | EferLme | EferLma | EferNxe)) != 0) return false;
                    if (((v ^ Efer) & EferLme) != 0 && (Cr0 & Cr0Pg) != 0) return false;
                    ulong nv = (v & (EferSce | EferLme | EferNxe)) | (Efer & EferLma);
                    bool nxChanged = ((nv ^ Efer) & EferNxe) != 0;
                    Efer = nv;
                    if (nxChanged) FlushTlb(global: true);
                    return true;
                }
            case 0xC0000081: Star = v; return true;
            case 0xC0000082: if (!IsCanonical(v)) return false; Lstar = v; return true;
            case 0xC0000083: if (!IsCanonical(v)) return false; Cstar = v; return true;
            case 0xC0000084: Sfmask = v & 0xFFFF_FFFF; return true;
            case 0xC0000100: if (!IsCanonical(v)) return false; Segments[Fs].Base = v; return true;
            case 0xC0000101: if (!IsCanonical(v)) return false; Segments[Gs].Base = v; return true;
            case 0xC0000102: if (!IsCanonical(v)) return false; KernelGsBase = v; return true;
            case 0xC0000103: TscAux = v & 0xFFFF_FFFF; return true;
            case 0xC0010055: return true;
            default: return false;
        }
    }

    // ---- SYSCALL / SYSRET (SDM vol. 2B) ----

    private void Syscall()
    {
        if ((Efer & EferSce) == 0)
            FaultNoCode(VectorUd);
        Gpr[Rcx] = _ip;
        ulong flags = MaterializedFlags();
        Gpr[11] = flags & ~FlagRf;
        Rflags = (flags & ~Sfmask & ~FlagRf) | 2;
        CcOp = X86CcOp.Eflags;
        ushort cs = (ushort)((Star >> 32) & 0xFFFC);
        Segments[Cs] = new X86Segment { Selector = cs, Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xA09B }; // 64-bit DPL 0 code
        Segments[Ss] = new X86Segment { Selector = (ushort)(cs + 8), Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        Cpl = 0;
        UpdateMode();
        _ip = Lstar;
    }

    private void Sysret()
    {
        if ((Efer & EferSce) == 0)
            FaultNoCode(VectorUd);
        RequireCpl0();
        bool to64 = (_rex & 8) != 0;
        ulong target = to64 ? Gpr[Rcx] : Gpr[Rcx] & 0xFFFF_FFFF;
        if (!IsCanonical(target))
            Fault(VectorGp, 0); // Intel raises #GP at CPL 0 (the SYSRET vulnerability Linux guards against)
        if (!to64)
            Fault(VectorGp, 0); // a return to compatibility mode is not implemented
        ushort baseSel = (ushort)(Star >> 48);
        Segments[Cs] = new X86Segment { Selector = (ushort)((baseSel + 16) | 3), Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xA0FB };
        // SS keeps its selector from STAR; its descriptor cache becomes a flat DPL 3 data segment
        Segments[Ss] = new X86Segment { Selector = (ushort)((baseSel + 8) | 3), Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC0F3 };
        WriteFlags(Gpr[11], 0x3C7FD7);
        Cpl = 3;
        UpdateMode();
        _ip = target;
        _checkInterrupts = true;
    }
}
