namespace Wemu.Cpu.X86;

/// <summary>
/// Exception and interrupt delivery in IA-32e mode (SDM vol. 3, 6.14: 64-bit IDT gates, IST, stack
/// switch through the TSS), double and triple faults (6.15, interrupt 8), IRET, far transfers and
/// segment loads (SDM vol. 3, 5.8 and vol. 2: IRET, RET far, MOV Sreg).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    internal enum InterruptKind
    {
        /// <summary>A fault or abort: the pushed RIP is the faulting instruction's.</summary>
        Exception,

        /// <summary>INT n / INT3 / INTO: gate DPL is checked, the pushed RIP is the next instruction's.</summary>
        Software,

        /// <summary>INT1 (ICEBP): like a software interrupt without the DPL check.</summary>
        Icebp,

        /// <summary>Hardware interrupt or NMI at an instruction boundary.</summary>
        External,
    }

    /// <summary>Exceptions during the delivery of one (0 = none, 1 = delivering, 2 = delivering #DF).</summary>
    private int _deliveryDepth;

    /// <summary>Exceptions delivered so far (-d stats).</summary>
    public ulong ExceptionsDelivered { get; private set; }

    public ulong InterruptsDelivered { get; private set; }

    /// <summary>Receives one line per exception an instruction raises (debugging: WEMU_TRACE_EXCEPTIONS=1).</summary>
    public Action<string>? ExceptionTrace { get; set; }

    /// <summary>The vector and error code of the last exception an instruction raised (diagnostics and tests).</summary>
    public (int Vector, uint ErrorCode) LastException { get; internal set; } = (-1, 0);

    /// <summary>A fault raised by an instruction: delivered with RIP at that instruction.</summary>
    private void DeliverException(int vector, uint errorCode, bool hasErrorCode)
    {
        ExceptionsDelivered++;
        LastException = (vector, errorCode);
        ExceptionTrace?.Invoke($"exception {vector} error {errorCode:x} rip {Pc:x} cpl {Cpl} cr2 {Cr2:x} rsp {Gpr[Rsp]:x}");
        DeliverInterrupt(vector, errorCode, hasErrorCode, vector == VectorBp || vector == VectorOf ? InterruptKind.Software : InterruptKind.Exception);
    }

    private void SoftwareInterrupt(int vector, InterruptKind kind)
    {
        Pc = _ip; // INT n pushes the address of the next instruction
        DeliverInterrupt(vector, 0, false, kind);
        _ip = Pc;
    }

    /// <summary>Delivers an interrupt or exception through the IDT (SDM vol. 3, 6.14.1-6.14.5).</summary>
    internal void DeliverInterrupt(int vector, uint errorCode, bool hasErrorCode, InterruptKind kind)
    {
        if (kind == InterruptKind.External)
            InterruptsDelivered++;
        // state to restore if the delivery itself faults (the #DF is delivered from the original context)
        ulong savedRip = Pc, savedRsp = Gpr[Rsp], savedFlags = Rflags;
        var savedCc = CcOp;
        ulong savedDst = CcDst, savedSrc = CcSrc, savedSrc2 = CcSrc2;
        var savedCs = Segments[Cs];
        var savedSs = Segments[Ss];
        int savedCpl = Cpl;
        _deliveryDepth++;
        try
        {
            DeliverThroughGate(vector, errorCode, hasErrorCode, kind);
            _deliveryDepth = 0;
        }
        catch (X86Exception e)
        {
            Pc = savedRip;
            Gpr[Rsp] = savedRsp;
            Rflags = savedFlags;
            CcOp = savedCc;
            CcDst = savedDst;
            CcSrc = savedSrc;
            CcSrc2 = savedSrc2;
            Segments[Cs] = savedCs;
            Segments[Ss] = savedSs;
            Cpl = savedCpl;
            UpdateMode();
            if (_deliveryDepth >= 2 || vector == VectorDf)
            {
                // a fault while delivering #DF: triple fault, the processor shuts down (SDM vol. 3, 6.15)
                _deliveryDepth = 0;
                ShutdownRequested = true;
                IsHalted = true;
                return;
            }
            // benign first exceptions (#DB, NMI, #BP...) let the second be delivered on its own (table 6-5)
            bool contributoryOrPf = vector == VectorDe || (vector >= VectorTs && vector <= VectorPf);
            if (!contributoryOrPf || (vector != VectorPf && e.Vector == VectorPf))
            {
                _deliveryDepth = 0;
                DeliverInterrupt(e.Vector, e.ErrorCode, e.HasErrorCode, InterruptKind.Exception);
                return;
            }
            DeliverInterrupt(VectorDf, 0, true, InterruptKind.Exception);
        }
    }

    private void DeliverThroughGate(int vector, uint errorCode, bool hasErrorCode, InterruptKind kind)
    {
        uint ext = kind == InterruptKind.External || kind == InterruptKind.Exception ? 1u : 0u;
        uint idtError = (uint)(vector << 3) | 2 | ext;
        if ((ulong)vector * 16 + 15 > IdtLimit)
            Fault(VectorGp, idtError);
        ulong gateLow = ReadSystem64(IdtBase + (ulong)vector * 16);
        ulong gateHigh = ReadSystem64(IdtBase + (ulong)vector * 16 + 8);
        int type = (int)(gateLow >> 40) & 0x1F;
        if (type != 0x0E && type != 0x0F) // 64-bit interrupt or trap gate
            Fault(VectorGp, idtError);
        int gateDpl = (int)(gateLow >> 45) & 3;
        if (kind == InterruptKind.Software && gateDpl < Cpl)
            Fault(VectorGp, idtError);
        if ((gateLow & (1UL << 47)) == 0)
            Fault(VectorNp, idtError);
        ushort selector = (ushort)(gateLow >> 16);
        ulong target = (gateLow & 0xFFFF) | ((gateLow >> 32) & 0xFFFF0000) | (gateHigh << 32);
        int ist = (int)(gateLow >> 32) & 7;
        if ((selector & 0xFFFC) == 0)
            Fault(VectorGp, ext);
        ulong desc = ReadDescriptor(selector, ext);
        var cs = X86Segment.FromDescriptor(selector, desc);
        if ((cs.Attributes & 0x18) != 0x18 || !cs.Long || cs.Dpl > Cpl)
            Fault(VectorGp, (uint)(selector & 0xFFFC) | ext);
        if (!cs.Present)
            Fault(VectorNp, (uint)(selector & 0xFFFC) | ext);
        int newCpl = (cs.Attributes & 4) != 0 ? Cpl : cs.Dpl; // conforming code keeps CPL
        ulong oldRsp = Gpr[Rsp];
        ushort oldSs = Segments[Ss].Selector;
        ulong rsp;
        if (ist != 0)
            rsp = ReadTss64(0x24 + (ist - 1) * 8);
        else if (newCpl < Cpl)
            rsp = ReadTss64(4 + newCpl * 8);
        else
            rsp = oldRsp;
        rsp &= ~0xFUL; // the frame is 16-byte aligned (6.14.2)
        ulong flags = MaterializedFlags();
        ulong oldCs = Segments[Cs].Selector;
        ulong returnRip = Pc;
        int frame = hasErrorCode ? 6 : 5;
        ulong newRsp = rsp - (ulong)frame * 8;
        // the pushes use the new privilege level's view of memory
        int savedContext = MmuContext;
        Cpl = newCpl;
        UpdateMode();
        try
        {
            ProbeWrite(newRsp, frame * 8);
        }
        catch (X86Exception)
        {
            Cpl = (int)(oldCs & 3);
            UpdateMode();
            throw;
        }
        _ = savedContext;
        ulong p = rsp;
        Write64(p -= 8, oldSs);
        Write64(p -= 8, oldRsp);
        Write64(p -= 8, flags);
        Write64(p -= 8, oldCs);
        Write64(p -= 8, returnRip);
        if (hasErrorCode)
            Write64(p -= 8, errorCode);
        Gpr[Rsp] = newRsp;
        if (newCpl != (int)(oldCs & 3))
            Segments[Ss] = new X86Segment { Selector = (ushort)newCpl, Attributes = 0 }; // null SS with RPL = new CPL
        cs.Selector = (ushort)((selector & 0xFFFC) | newCpl);
        Segments[Cs] = cs;
        MaterializeFlags();
        Rflags &= ~(FlagTf | FlagNt | FlagRf | FlagVm);
        if (type == 0x0E)
            Rflags &= ~FlagIf; // interrupt gates clear IF, trap gates keep it
        Pc = target;
        IsHalted = false;
    }

    private ulong ReadTss64(int offset)
    {
        if ((Tr.Attributes & 0x80) == 0 || (ulong)offset + 7 > Tr.Limit)
            Fault(VectorTs, (uint)(Tr.Selector & 0xFFFC));
        return ReadSystem64(Tr.Base + (ulong)offset);
    }

    /// <summary>A supervisor-privilege read of a system structure (GDT, IDT, TSS), whatever the CPL.</summary>
    private ulong ReadSystem64(ulong va)
    {
        int saved = MmuContext;
        if (saved == MmuUser)
            MmuContext = MmuSupervisor;
        try
        {
            return Read64(va);
        }
        finally
        {
            MmuContext = saved;
        }
    }

    private void WriteSystem64(ulong va, ulong value)
    {
        int saved = MmuContext;
        if (saved == MmuUser)
            MmuContext = MmuSupervisor;
        try
        {
            Write64(va, value);
        }
        finally
        {
            MmuContext = saved;
        }
    }

    /// <summary>The 8-byte descriptor <paramref name="selector"/> names in the GDT or LDT; #GP(selector) beyond the limit.</summary>
    private ulong ReadDescriptor(ushort selector, uint ext = 0)
    {
        ulong offset = (ulong)(selector & 0xFFF8);
        bool ldt = (selector & 4) != 0;
        ulong tableBase = ldt ? Ldtr.Base : GdtBase;
        ulong limit = ldt ? Ldtr.Limit : GdtLimit;
        if ((ldt && (Ldtr.Attributes & 0x80) == 0) || offset + 7 > limit)
            Fault(VectorGp, (uint)(selector & 0xFFFC) | ext);
        return ReadSystem64(tableBase + offset);
    }

    private ulong DescriptorAddress(ushort selector) => ((selector & 4) != 0 ? Ldtr.Base : GdtBase) + (ulong)(selector & 0xFFF8);

    /// <summary>MOV/POP to DS, ES, SS, FS, GS in 64-bit mode (SDM vol. 2B, MOV: protected-mode checks).</summary>
    internal void LoadSegment(int seg, ushort selector)
    {
        if ((selector & 0xFFFC) == 0)
        {
            if (seg == Ss && (Cpl == 3 || (selector & 3) != Cpl))
                Fault(VectorGp, 0);
            // a null selector: unusable segment; FS/GS keep no base (Intel behaviour)
            Segments[seg] = new X86Segment { Selector = selector, Attributes = 0 };
            return;
        }
        ulong desc = ReadDescriptor(selector);
        var s = X86Segment.FromDescriptor(selector, desc);
        int rpl = selector & 3;
        bool isCode = (s.Attributes & 0x08) != 0;
        if ((s.Attributes & 0x10) == 0)
            Fault(VectorGp, (uint)(selector & 0xFFFC));
        if (seg == Ss)
        {
            if (isCode || (s.Attributes & 2) == 0 || rpl != Cpl || s.Dpl != Cpl)
                Fault(VectorGp, (uint)(selector & 0xFFFC));
            if (!s.Present)
                Fault(VectorSs, (uint)(selector & 0xFFFC));
        }
        else
        {
            if (isCode && (s.Attributes & 2) == 0)
                Fault(VectorGp, (uint)(selector & 0xFFFC)); // execute-only code
            bool conformingCode = isCode && (s.Attributes & 4) != 0;
            if (!conformingCode && s.Dpl < Math.Max(Cpl, rpl))
                Fault(VectorGp, (uint)(selector & 0xFFFC));
            if (!s.Present)
                Fault(VectorNp, (uint)(selector & 0xFFFC));
        }
        if ((desc & (1UL << 40)) == 0)
            WriteSystem64(DescriptorAddress(selector), desc | (1UL << 40)); // set the accessed bit
        if (seg == Fs || seg == Gs)
            s.Base &= 0xFFFF_FFFF;
        Segments[seg] = s;
    }

    /// <summary>Loads CS for a far transfer to <paramref name="selector"/> at privilege <paramref name="cpl"/>.</summary>
    private void LoadCodeSegment(ushort selector, int newCpl)
    {
        if ((selector & 0xFFFC) == 0)
            Fault(VectorGp, 0);
        ulong desc = ReadDescriptor(selector);
        var s = X86Segment.FromDescriptor(selector, desc);
        if ((s.Attributes & 0x18) != 0x18)
            Fault(VectorGp, (uint)(selector & 0xFFFC));
        bool conforming = (s.Attributes & 4) != 0;
        if (conforming ? s.Dpl > newCpl : s.Dpl != newCpl)
            Fault(VectorGp, (uint)(selector & 0xFFFC));
        if (!s.Present)
            Fault(VectorNp, (uint)(selector & 0xFFFC));
        if (!s.Long)
            Fault(VectorGp, (uint)(selector & 0xFFFC)); // compatibility mode (32-bit code) is not implemented
        s.Selector = (ushort)((selector & 0xFFFC) | newCpl);
        Segments[Cs] = s;
        if (Cpl != newCpl)
        {
            Cpl = newCpl;
            UpdateMode();
        }
    }

    /// <summary>IRET/IRETQ in IA-32e mode (SDM vol. 2A, IRET: IA-32e-MODE case).</summary>
    private void InterruptReturn(int size)
    {
        int s = size == Word ? Word : size == Dword ? Dword : Qword;
        ulong step = s == Qword ? 8UL : s == Dword ? 4UL : 2UL;
        ulong sp = Gpr[Rsp];
        ulong rip = Read(sp, s), csSel = Read(sp + step, s), flags = Read(sp + 2 * step, s);
        ulong newRsp = Read(sp + 3 * step, s), ssSel = Read(sp + 4 * step, s);
        int newCpl = (int)(csSel & 3);
        if (newCpl < Cpl)
            Fault(VectorGp, (uint)(csSel & 0xFFFC));
        int oldCpl = Cpl;
        LoadCodeSegment((ushort)csSel, newCpl);
        // flags: IOPL only at CPL 0, IF only when CPL <= IOPL (checked at the old CPL)
        ulong mask = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagTf | FlagDf | FlagOf | FlagNt | FlagRf | FlagAc | FlagId;
        if (oldCpl == 0)
            mask |= FlagIopl | FlagVif | FlagVip;
        if (oldCpl <= (int)((Rflags >> 12) & 3))
            mask |= FlagIf;
        if (s == Word)
            mask &= 0xFFFF;
        WriteFlags(flags, mask);
        // 64-bit mode always pops SS:RSP
        if ((ssSel & 0xFFFC) == 0 && newCpl != 3)
            Segments[Ss] = new X86Segment { Selector = (ushort)ssSel, Attributes = 0 };
        else
        {
            int saved = Cpl;
            LoadSegment(Ss, (ushort)ssSel);
            _ = saved;
        }
        Gpr[Rsp] = s == Qword ? newRsp : s == Dword ? newRsp & 0xFFFF_FFFF : (Gpr[Rsp] & ~0xFFFFUL) | (newRsp & 0xFFFF);
        if (newCpl > oldCpl)
            NullifyDataSegments();
        _ip = s == Qword ? rip : rip & 0xFFFF_FFFF;
        _checkInterrupts = true;
        _deliveryDepth = 0;
    }

    /// <summary>On a return to an outer level, data segments the new CPL may not use become null (SDM vol. 2A, RET).</summary>
    private void NullifyDataSegments()
    {
        for (int seg = Es; seg <= Gs; seg++)
        {
            if (seg == Cs || seg == Ss)
                continue;
            ref var s = ref Segments[seg];
            bool conformingCode = (s.Attributes & 0x1C) == 0x1C;
            if ((s.Selector & 0xFFFC) != 0 && !conformingCode && s.Dpl < Cpl)
                s = new X86Segment { Selector = 0, Base = seg >= Fs ? s.Base : 0, Attributes = 0 };
        }
    }

    /// <summary>RET far (RETF, with REX.W LRETQ): Linux reloads CS with <c>lretq</c> after loading its GDT.</summary>
    private void FarReturn(ushort release)
    {
        int s = _opSize;
        ulong step = s == Qword ? 8UL : s == Dword ? 4UL : 2UL;
        ulong sp = Gpr[Rsp];
        ulong rip = Read(sp, s), csSel = Read(sp + step, s) & 0xFFFF;
        int newCpl = (int)(csSel & 3);
        if (newCpl < Cpl)
            Fault(VectorGp, (uint)(csSel & 0xFFFC));
        if (newCpl == Cpl)
        {
            LoadCodeSegment((ushort)csSel, newCpl);
            Gpr[Rsp] = sp + 2 * step + release;
        }
        else
        {
            ulong newRsp = Read(sp + 2 * step + release, s), ssSel = Read(sp + 3 * step + release, s);
            LoadCodeSegment((ushort)csSel, newCpl);
            LoadSegment(Ss, (ushort)ssSel);
            Gpr[Rsp] = newRsp + release;
            NullifyDataSegments();
        }
        _ip = s == Qword ? rip : rip & 0xFFFF_FFFF;
    }

    /// <summary>CALL far m16:32/m16:64 to a code segment at the same privilege (no call gates).</summary>
    private void FarCall(int size)
    {
        int s = size;
        ulong offset = Read(_ea, s);
        ushort sel = Read16(_ea + (s == Qword ? 8UL : s == Dword ? 4UL : 2UL));
        ulong oldCs = Segments[Cs].Selector;
        ulong ret = _ip;
        ulong step = s == Qword ? 8UL : s == Dword ? 4UL : 2UL;
        ProbeWrite(Gpr[Rsp] - 2 * step, (int)(2 * step));
        LoadCodeSegment(sel, Cpl);
        ulong rsp = Gpr[Rsp] - step;
        Write(rsp, s, oldCs);
        rsp -= step;
        Write(rsp, s, ret);
        Gpr[Rsp] = rsp;
        _ip = offset;
    }

    private void FarJump(int size)
    {
        int s = size;
        ulong offset = Read(_ea, s);
        ushort sel = Read16(_ea + (s == Qword ? 8UL : s == Dword ? 4UL : 2UL));
        LoadCodeSegment(sel, Cpl);
        _ip = offset;
    }
}
