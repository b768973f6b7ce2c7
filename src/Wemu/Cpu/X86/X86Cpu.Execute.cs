using System.Numerics;

namespace Wemu.Cpu.X86;

/// <summary>The interpreter's loop and the one-byte opcode map (SDM vol. 2D, table A-2), 64-bit mode.</summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>Set when an interrupt may have become deliverable (IF set, a device write, a new slice).</summary>
    private bool _checkInterrupts = true;

    /// <summary>Interrupts are held off until after the next instruction (STI, MOV SS, POP SS).</summary>
    internal bool InterruptShadow;

    /// <summary>Asks the CPU to look for pending interrupts before its next instruction (devices call this).</summary>
    public void NotifyInterrupt() => _checkInterrupts = true;

    /// <summary>An interrupt may have become deliverable since the CPU last looked (engines that run compiled code ask).</summary>
    public bool InterruptCheckPending => _checkInterrupts;

    /// <summary>Runs up to <paramref name="budget"/> instructions; returns how many ran (a delivered exception counts as one).</summary>
    public long Run(long budget) => Run(budget, null);

    /// <summary>
    /// <see cref="Run(long)"/> as the JIT's profiling interpreter: every block start after the first
    /// instruction counts an arrival in <paramref name="hot"/>, and a hot one ends the run there with
    /// <see cref="CpuCore.HotExit"/> set (the engine then runs its compiled code).
    /// </summary>
    internal long Run(long budget, Jit.HotTable? hot)
    {
        long done = 0;
        Jit.HotTable.Entry* hotEntries = hot != null ? hot.Entries : null;
        int hotThreshold = hot != null ? hot.Threshold : 0;
        _checkInterrupts = true;
        X86Block? previous = null; // the block that ran last (its links find the next one)
        while (done < budget)
        {
            if (IsHalted || ShutdownRequested)
                break;
            try
            {
                while (done < budget)
                {
                    if (_checkInterrupts)
                    {
                        _checkInterrupts = false;
                        if (CheckInterrupts())
                        {
                            done++;
                            previous = null;
                        }
                        if (IsHalted || ShutdownRequested)
                            return done;
                    }
                    if (hotEntries != null && done > 0 && !InterruptShadow && Jit.HotTable.Bump(hotEntries, Pc, hotThreshold, pcShift: 0))
                    {
                        HotExit = true;
                        return done;
                    }
                    InstructionStart = Pc; // a fetch fault while finding the block is this instruction's
                    if (UseBlockCache && !InterruptShadow && NextBlock(previous) is { } block)
                    {
                        previous = block;
                        _blockStart = InstRet;
                        _inBlock = true;
                        ExecuteBlock(block, budget - done);
                        _inBlock = false;
                        done += (long)(InstRet - _blockStart);
                        if (IsHalted)
                            return done;
                        continue;
                    }
                    previous = null;
                    BeginFetch();
                    ExecuteOne();
                    Pc = _ip;
                    InstRet++;
                    done++;
                    if (InterruptShadow)
                    {
                        if (_shadowSetByThis)
                            _shadowSetByThis = false;
                        else
                        {
                            InterruptShadow = false;
                            _checkInterrupts = true;
                        }
                    }
                    if (IsHalted)
                        return done;
                }
            }
            catch (X86Exception e)
            {
                if (_inBlock)
                {
                    _inBlock = false;
                    done += (long)(InstRet - _blockStart);
                }
                Pc = InstructionStart;
                done++;
                previous = null;
                InterruptShadow = false;
                _shadowSetByThis = false;
                DeliverException(e.Vector, e.ErrorCode, e.HasErrorCode);
            }
        }
        return done;
    }

    private bool _shadowSetByThis;

    /// <summary>A block is running (<see cref="ExecuteBlock"/>): what it retired before a fault still counts.</summary>
    private bool _inBlock;
    private ulong _blockStart;

    private void SetInterruptShadow()
    {
        if (!InterruptShadow)
        {
            InterruptShadow = true;
            _shadowSetByThis = true;
        }
    }

    /// <summary>Delivers a pending NMI or maskable interrupt at this instruction boundary; true if one was taken.</summary>
    private bool CheckInterrupts()
    {
        var apic = InterruptController;
        if (apic == null)
            return false;
        if (InterruptShadow)
        {
            _checkInterrupts = true;
            return false;
        }
        if (apic.HasNmi)
        {
            apic.TakeNmi();
            IsHalted = false;
            DeliverInterrupt(VectorNmi, 0, false, InterruptKind.External);
            _checkInterrupts = true;
            return true;
        }
        if ((Rflags & FlagIf) != 0 && apic.HasMaskableInterrupt)
        {
            int vector = apic.AcknowledgeMaskableInterrupt();
            IsHalted = false;
            DeliverInterrupt(vector, 0, false, InterruptKind.External);
            _checkInterrupts = true;
            return true;
        }
        return false;
    }

    /// <summary>True when an interrupt would wake the CPU from HLT now.</summary>
    public bool HasWakeUpInterrupt
    {
        get
        {
            var apic = InterruptController;
            return apic != null && (apic.HasNmi || ((Rflags & FlagIf) != 0 && apic.HasMaskableInterrupt));
        }
    }

    private void ExecuteOne()
    {
        _rex = 0;
        _opSizePrefix = false;
        _addrSize = Qword;
        _segment = -1;
        _repPrefix = 0;
        _lockPrefix = false;
        int b;
        while (true)
        {
            b = Fetch8();
            switch (b)
            {
                case 0x66: _opSizePrefix = true; _rex = 0; continue;
                case 0x67: _addrSize = Dword; _rex = 0; continue;
                case 0x26: case 0x2E: case 0x36: case 0x3E: _rex = 0; continue; // null prefixes in 64-bit mode
                case 0x64: _segment = Fs; _rex = 0; continue;
                case 0x65: _segment = Gs; _rex = 0; continue;
                case 0xF0: _lockPrefix = true; _rex = 0; continue;
                case 0xF2: case 0xF3: _repPrefix = b; _rex = 0; continue;
            }
            if ((b & 0xF0) == 0x40)
            {
                _rex = b; // a REX prefix counts only right before the opcode
                continue;
            }
            break;
        }
        _opSize = (_rex & 8) != 0 ? Qword : _opSizePrefix ? Word : Dword;
        // LOCK: one CPU, every read-modify-write is atomic already; LOCK on a register operand or a
        // non-RMW instruction should raise #UD, which no correct program relies on (not checked yet)
        _ = _lockPrefix;
        if (b == 0x0F)
        {
            ExecuteTwoByte(Fetch8());
            return;
        }
        int size = _opSize;
        switch (b)
        {
            // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz: ADD OR ADC SBB AND SUB XOR CMP
            case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x08: case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15: case 0x18: case 0x19: case 0x1A: case 0x1B: case 0x1C: case 0x1D: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A: case 0x2B: case 0x2C: case 0x2D: case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x38: case 0x39: case 0x3A: case 0x3B: case 0x3C: case 0x3D:
                {
                    int op = b >> 3;
                    switch (b & 7)
                    {
                        case 0: case 1:
                            {
                                int s = (b & 1) == 0 ? Byte : size;
                                DecodeModRm();
                                ulong r = Alu(op, s, op == 7 ? ReadRm(s) : ReadRmw(s), ReadGpr(s));
                                if (op != 7)
                                    WriteRm(s, r);
                                break;
                            }
                        case 2: case 3:
                            {
                                int s = (b & 1) == 0 ? Byte : size;
                                DecodeModRm();
                                ulong r = Alu(op, s, ReadGpr(s), ReadRm(s));
                                if (op != 7)
                                    WriteGpr(s, r);
                                break;
                            }
                        case 4:
                            {
                                ulong r = Alu(op, Byte, Gpr[Rax], Fetch8());
                                if (op != 7)
                                    SetReg(Byte, Rax, r);
                                break;
                            }
                        default:
                            {
                                ulong r = Alu(op, size, GetReg(size, Rax), FetchImmZ(size));
                                if (op != 7)
                                    SetReg(size, Rax, r);
                                break;
                            }
                    }
                    break;
                }
            case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57: // PUSH r
                Push(StackSize, Gpr[(b & 7) | ((_rex & 1) << 3)]);
                break;
            case 0x58: case 0x59: case 0x5A: case 0x5B: case 0x5C: case 0x5D: case 0x5E: case 0x5F: // POP r
                {
                    int s = StackSize;
                    ulong v = Pop(s);
                    SetReg(s, (b & 7) | ((_rex & 1) << 3), v);
                    break;
                }
            case 0x63: // MOVSXD Gv, Ed
                DecodeModRm();
                WriteGpr(size, size == Qword ? (ulong)(long)(int)ReadRm(Dword) : ReadRm(size));
                break;
            case 0x68: // PUSH Iz
                Push(StackSize, FetchImmZ(_opSizePrefix ? Word : Dword));
                break;
            case 0x69: // IMUL Gv, Ev, Iz
                {
                    DecodeModRm(size == Word ? 2 : 4);
                    ulong a = ReadRm(size);
                    WriteGpr(size, Imul2(size, a, FetchImmZ(size)));
                    break;
                }
            case 0x6A: // PUSH Ib
                Push(StackSize, FetchImm8SignExtended());
                break;
            case 0x6B: // IMUL Gv, Ev, Ib
                {
                    DecodeModRm(1);
                    ulong a = ReadRm(size);
                    WriteGpr(size, Imul2(size, a, FetchImm8SignExtended()));
                    break;
                }
            case 0x6C: case 0x6D: case 0x6E: case 0x6F:
                StringInstruction(b);
                break;
            case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77: case 0x78: case 0x79: case 0x7A: case 0x7B: case 0x7C: case 0x7D: case 0x7E: case 0x7F: // Jcc rel8
                {
                    ulong rel = FetchImm8SignExtended();
                    if (Condition(b & 15))
                        _ip += rel;
                    break;
                }
            case 0x80: case 0x81: case 0x83: // group 1
                {
                    int s = b == 0x80 ? Byte : size;
                    DecodeModRm(b == 0x81 ? (s == Word ? 2 : 4) : 1);
                    ulong a = (_reg & 7) == 7 ? ReadRm(s) : ReadRmw(s);
                    ulong imm = b == 0x81 ? FetchImmZ(s) : b == 0x80 ? Fetch8() : FetchImm8SignExtended();
                    ulong r = Alu(_reg & 7, s, a, imm);
                    if ((_reg & 7) != 7)
                        WriteRm(s, r);
                    break;
                }
            case 0x84: case 0x85: // TEST
                {
                    int s = b == 0x84 ? Byte : size;
                    DecodeModRm();
                    Alu(4, s, ReadRm(s), ReadGpr(s));
                    break;
                }
            case 0x86: case 0x87: // XCHG Eb,Gb / Ev,Gv (locked whenever memory is involved)
                {
                    int s = b == 0x86 ? Byte : size;
                    DecodeModRm();
                    ulong a = ReadRmw(s), g = ReadGpr(s);
                    WriteRm(s, g);
                    WriteGpr(s, a);
                    break;
                }
            case 0x88: DecodeModRm(); WriteRm(Byte, ReadGpr(Byte)); break; // MOV Eb, Gb
            case 0x89: DecodeModRm(); WriteRm(size, ReadGpr(size)); break; // MOV Ev, Gv
            case 0x8A: DecodeModRm(); WriteGpr(Byte, ReadRm(Byte)); break; // MOV Gb, Eb
            case 0x8B: DecodeModRm(); WriteGpr(size, ReadRm(size)); break; // MOV Gv, Ev
            case 0x8C: // MOV Ev, Sreg
                {
                    DecodeModRm();
                    int sreg = _reg & 7;
                    if (sreg > Gs)
                        FaultNoCode(VectorUd);
                    ulong sel = Segments[sreg].Selector;
                    if (_mod == 3)
                        SetReg(size == Qword ? Qword : size == Word ? Word : Dword, _rm, sel);
                    else
                        Write16(_ea, (ushort)sel);
                    break;
                }
            case 0x8D: // LEA Gv, M
                {
                    int savedSegment = _segment;
                    _segment = Ds; // no segment base in the address LEA computes
                    DecodeModRm();
                    _segment = savedSegment;
                    if (_mod == 3)
                        FaultNoCode(VectorUd);
                    WriteGpr(size, _ea);
                    break;
                }
            case 0x8E: // MOV Sreg, Ew
                {
                    DecodeModRm();
                    int sreg = _reg & 7;
                    if (sreg == Cs || sreg > Gs)
                        FaultNoCode(VectorUd);
                    LoadSegment(sreg, (ushort)ReadRm(Word));
                    if (sreg == Ss)
                        SetInterruptShadow();
                    break;
                }
            case 0x8F: // POP Ev
                {
                    int s = StackSize;
                    ulong rsp = Gpr[Rsp];
                    ulong v = Read(rsp, s);
                    Gpr[Rsp] = rsp + (s == Word ? 2UL : 8UL); // the address is computed with the incremented RSP
                    try
                    {
                        DecodeModRm();
                        WriteRm(s, v);
                    }
                    catch (X86Exception)
                    {
                        Gpr[Rsp] = rsp;
                        throw;
                    }
                    break;
                }
            case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: // XCHG rAX, r
                {
                    int r = (b & 7) | ((_rex & 1) << 3);
                    if (r == Rax)
                        break; // 90: NOP (PAUSE with F3); XCHG EAX, EAX is a NOP too in 64-bit mode
                    ulong a = GetReg(size, Rax), v = GetReg(size, r);
                    SetReg(size, Rax, v);
                    SetReg(size, r, a);
                    break;
                }
            case 0x98: // CBW / CWDE / CDQE
                if (size == Word) SetReg(Word, Rax, SignExtend(Byte, Gpr[Rax]));
                else if (size == Dword) SetReg(Dword, Rax, SignExtend(Word, Gpr[Rax]));
                else Gpr[Rax] = SignExtend(Dword, Gpr[Rax]);
                break;
            case 0x99: // CWD / CDQ / CQO
                SetReg(size, Rdx, (GetReg(size, Rax) >> (SizeBits[size] - 1) & 1) != 0 ? ulong.MaxValue : 0);
                break;
            case 0x9B: // FWAIT
                X87Wait();
                break;
            case 0x9C: // PUSHF
                Push(StackSize, MaterializedFlags() & 0xFCFFFF); // VM and RF read as 0
                break;
            case 0x9D: // POPF
                {
                    ulong v = Pop(StackSize);
                    PopFlags(v, StackSize);
                    break;
                }
            case 0x9E: // SAHF (LAHF_LM)
                WriteFlags((Gpr[Rax] >> 8) & 0xFF, FlagSf | FlagZf | FlagAf | FlagPf | FlagCf);
                break;
            case 0x9F: // LAHF
                SetReg(Byte, 4, MaterializedFlags() & 0xFF); // AH (register 4 without REX)
                break;
            case 0xA0: case 0xA1: case 0xA2: case 0xA3: // MOV AL/rAX <-> moffs
                {
                    ulong offset = _addrSize == Qword ? Fetch64() : Fetch32();
                    ulong ea = AddSegmentBase(offset, Ds);
                    int s = (b & 1) == 0 ? Byte : size;
                    if (b < 0xA2)
                        SetReg(s, Rax, Read(ea, s));
                    else
                        Write(ea, s, GetReg(s, Rax));
                    break;
                }
            case 0xA4: case 0xA5: case 0xA6: case 0xA7:
            case 0xAA: case 0xAB: case 0xAC: case 0xAD: case 0xAE: case 0xAF:
                StringInstruction(b);
                break;
            case 0xA8: Alu(4, Byte, Gpr[Rax], Fetch8()); break; // TEST AL, Ib
            case 0xA9: Alu(4, size, GetReg(size, Rax), FetchImmZ(size)); break; // TEST rAX, Iz
            case 0xB0: case 0xB1: case 0xB2: case 0xB3: case 0xB4: case 0xB5: case 0xB6: case 0xB7: // MOV r8, Ib
                SetReg(Byte, (b & 7) | ((_rex & 1) << 3), Fetch8());
                break;
            case 0xB8: case 0xB9: case 0xBA: case 0xBB: case 0xBC: case 0xBD: case 0xBE: case 0xBF: // MOV r, Iv (imm64 with REX.W)
                SetReg(size, (b & 7) | ((_rex & 1) << 3), size == Qword ? Fetch64() : size == Word ? Fetch16() : Fetch32());
                break;
            case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3: // group 2
                {
                    int s = (b & 1) == 0 ? Byte : size;
                    DecodeModRm(b <= 0xC1 ? 1 : 0);
                    ulong a = ReadRmw(s);
                    int count = b <= 0xC1 ? Fetch8() : b <= 0xD1 ? 1 : (int)(Gpr[Rcx] & 0xFF);
                    ulong r = Shift(_reg & 7, s, a, count);
                    WriteRm(s, r);
                    break;
                }
            case 0xC2: // RET Iw
                {
                    ushort n = Fetch16();
                    ulong target = Pop(Qword);
                    Gpr[Rsp] += n;
                    _ip = target;
                    break;
                }
            case 0xC3: // RET
                _ip = Pop(Qword);
                break;
            case 0xC6: // MOV Eb, Ib
                DecodeModRm(1);
                if ((_reg & 7) != 0) FaultNoCode(VectorUd);
                WriteRm(Byte, Fetch8());
                break;
            case 0xC7: // MOV Ev, Iz
                DecodeModRm(size == Word ? 2 : 4);
                if ((_reg & 7) != 0) FaultNoCode(VectorUd);
                WriteRm(size, FetchImmZ(size));
                break;
            case 0xC8: // ENTER Iw, Ib
                {
                    ushort alloc = Fetch16();
                    int level = Fetch8() & 31;
                    int s = StackSize;
                    ulong step = s == Word ? 2UL : 8UL;
                    ulong rsp = Gpr[Rsp] - step;
                    Write(rsp, s, Gpr[Rbp]);
                    ulong frame = rsp;
                    ulong rbp = Gpr[Rbp];
                    for (int i = 1; i < level; i++)
                    {
                        rbp -= step;
                        rsp -= step;
                        Write(rsp, s, Read(rbp, s));
                    }
                    if (level > 0)
                    {
                        rsp -= step;
                        Write(rsp, s, frame);
                    }
                    rsp -= alloc;
                    Read8(rsp); // the new stack top must be accessible
                    SetReg(s, Rbp, frame);
                    Gpr[Rsp] = rsp;
                    break;
                }
            case 0xC9: // LEAVE
                {
                    int s = StackSize;
                    ulong rbp = Gpr[Rbp];
                    ulong v = Read(rbp, s);
                    Gpr[Rsp] = rbp + (s == Word ? 2UL : 8UL);
                    SetReg(s, Rbp, v);
                    break;
                }
            case 0xCA: case 0xCB: // RETF (Iw)
                {
                    ushort n = b == 0xCA ? Fetch16() : (ushort)0;
                    FarReturn(n);
                    break;
                }
            case 0xCC: // INT3
                SoftwareInterrupt(VectorBp, InterruptKind.Software);
                break;
            case 0xCD: // INT Ib
                SoftwareInterrupt(Fetch8(), InterruptKind.Software);
                break;
            case 0xCF: // IRET / IRETD / IRETQ
                InterruptReturn(size);
                break;
            case 0xD8: case 0xD9: case 0xDA: case 0xDB: case 0xDC: case 0xDD: case 0xDE: case 0xDF:
                ExecuteX87(b);
                break;
            case 0xD7: // XLAT
                {
                    ulong ea = Gpr[Rbx] + (Gpr[Rax] & 0xFF);
                    if (_addrSize == Dword) ea &= 0xFFFF_FFFF;
                    SetReg(Byte, Rax, Read8(AddSegmentBase(ea, Ds)));
                    break;
                }
            case 0xE0: case 0xE1: case 0xE2: case 0xE3: // LOOPNE, LOOPE, LOOP, JrCXZ
                {
                    ulong rel = FetchImm8SignExtended();
                    int cs = _addrSize;
                    bool take;
                    if (b == 0xE3)
                        take = GetReg(cs, Rcx) == 0;
                    else
                    {
                        ulong c = (GetReg(cs, Rcx) - 1) & SizeMask[cs];
                        SetReg(cs, Rcx, c);
                        take = c != 0 && (b == 0xE2 || ((b == 0xE1) == Condition(4)));
                    }
                    if (take)
                        _ip += rel;
                    break;
                }
            case 0xE4: case 0xE5: case 0xEC: case 0xED: // IN
                {
                    ushort port = b < 0xE8 ? Fetch8() : (ushort)Gpr[Rdx];
                    int s = (b & 1) == 0 ? Byte : size == Word ? Word : Dword;
                    CheckIoPermission(port, s);
                    NoteDeviceAccess();
                    SetReg(s, Rax, ReadPort(port, 1 << s));
                    break;
                }
            case 0xE6: case 0xE7: case 0xEE: case 0xEF: // OUT
                {
                    ushort port = b < 0xE8 ? Fetch8() : (ushort)Gpr[Rdx];
                    int s = (b & 1) == 0 ? Byte : size == Word ? Word : Dword;
                    CheckIoPermission(port, s);
                    NoteDeviceAccess();
                    WritePort(port, 1 << s, (uint)GetReg(s, Rax));
                    _checkInterrupts = true;
                    break;
                }
            case 0xE8: // CALL rel32
                {
                    ulong rel = (ulong)(long)(int)Fetch32();
                    Push64(_ip);
                    _ip += rel;
                    break;
                }
            case 0xE9: // JMP rel32
                {
                    ulong rel = (ulong)(long)(int)Fetch32();
                    _ip += rel;
                    break;
                }
            case 0xEB: // JMP rel8
                {
                    ulong rel = FetchImm8SignExtended();
                    _ip += rel;
                    break;
                }
            case 0xF1: // INT1 (ICEBP)
                SoftwareInterrupt(VectorDb, InterruptKind.Icebp);
                break;
            case 0xF4: // HLT
                if (Cpl != 0) Fault(VectorGp, 0);
                IsHalted = true;
                break;
            case 0xF5: SetFlagBits(CarryFlag ? 0 : FlagCf, FlagCf); break; // CMC
            case 0xF6: case 0xF7: // group 3
                {
                    int s = b == 0xF6 ? Byte : size;
                    DecodeModRm();
                    int op = _reg & 7;
                    if (op <= 1)
                    {
                        if (_ripRelative)
                            _ea += s == Byte ? 1UL : s == Word ? 2UL : 4UL; // the immediate follows the displacement
                        ulong a = ReadRm(s);
                        ulong imm = s == Byte ? Fetch8() : FetchImmZ(s);
                        Alu(4, s, a, imm); // TEST
                    }
                    else if (op == 2)
                        WriteRm(s, ~ReadRmw(s) & SizeMask[s]); // NOT
                    else if (op == 3)
                        WriteRm(s, Neg(s, ReadRmw(s))); // NEG
                    else
                        MulDiv(op, s, ReadRm(s));
                    break;
                }
            case 0xF8: SetFlagBits(0, FlagCf); break; // CLC
            case 0xF9: SetFlagBits(FlagCf, 0); break; // STC
            case 0xFA: // CLI
                CheckIopl();
                Rflags &= ~FlagIf;
                break;
            case 0xFB: // STI
                CheckIopl();
                if ((Rflags & FlagIf) == 0)
                {
                    Rflags |= FlagIf;
                    SetInterruptShadow();
                }
                _checkInterrupts = true;
                break;
            case 0xFC: Rflags &= ~FlagDf; break; // CLD
            case 0xFD: Rflags |= FlagDf; break; // STD
            case 0xFE: // group 4: INC/DEC Eb
                {
                    DecodeModRm();
                    ulong a = ReadRmw(Byte);
                    switch (_reg & 7)
                    {
                        case 0: WriteRm(Byte, Inc(Byte, a)); break;
                        case 1: WriteRm(Byte, Dec(Byte, a)); break;
                        default: FaultNoCode(VectorUd); break;
                    }
                    break;
                }
            case 0xFF: // group 5
                Group5(size);
                break;
            default:
                // 06 07 0E 16 17 1E 1F 27 2F 37 3F 60 61 62 82 9A C4 C5 CE D4 D5 D6 EA: invalid in 64-bit mode
                FaultNoCode(VectorUd);
                break;
        }
    }

    private void Group5(int size)
    {
        DecodeModRm();
        switch (_reg & 7)
        {
            case 0: WriteRm(size, Inc(size, ReadRmw(size))); break;
            case 1: WriteRm(size, Dec(size, ReadRmw(size))); break;
            case 2: // CALL Ev (64-bit operand in 64-bit mode)
                {
                    ulong target = ReadRm(Qword);
                    Push64(_ip);
                    _ip = target;
                    break;
                }
            case 3: // CALLF m16:64
                {
                    if (_mod == 3) FaultNoCode(VectorUd);
                    FarCall(size);
                    break;
                }
            case 4: // JMP Ev
                _ip = ReadRm(Qword);
                break;
            case 5: // JMPF m16:64
                {
                    if (_mod == 3) FaultNoCode(VectorUd);
                    FarJump(size);
                    break;
                }
            case 6: // PUSH Ev
                Push(StackSize, ReadRm(StackSize));
                break;
            default:
                FaultNoCode(VectorUd);
                break;
        }
    }

    private void CheckIopl()
    {
        if (Cpl > (int)((Rflags >> 12) & 3))
            Fault(VectorGp, 0);
    }

    /// <summary>POPF: which flags change depends on CPL and IOPL (SDM vol. 2B, POPF).</summary>
    private void PopFlags(ulong value, int size)
    {
        ulong mask = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagTf | FlagDf | FlagOf | FlagNt | FlagAc | FlagId;
        if (Cpl == 0)
            mask |= FlagIopl | FlagIf;
        else if (Cpl <= (int)((Rflags >> 12) & 3))
            mask |= FlagIf;
        if (size == Word)
            mask &= 0xFFFF;
        bool ifWasClear = (Rflags & FlagIf) == 0;
        WriteFlags(value, mask);
        if (ifWasClear && (Rflags & FlagIf) != 0)
            _checkInterrupts = true;
    }

    private void CheckIoPermission(ushort port, int size)
    {
        if (Cpl > (int)((Rflags >> 12) & 3))
            Fault(VectorGp, 0); // no I/O permission bitmap support: user-mode port access needs IOPL 3
        _ = port;
        _ = size;
    }
}
