using Wemu.Memory;

namespace Wemu.Cpu.X86;

/// <summary>
/// The CPU's side of compiled code (<see cref="X86JitEngine"/>): what a translation depends on, the
/// fetch translation the engine uses without raising anything, and the slow paths and helpers
/// compiled code calls (<see cref="X86JitHelpers"/>), which turn a guest exception into a pending
/// one that <see cref="DeliverPendingException"/> then delivers at the instruction.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>The mode bits code decodes by: CS.L and CS.D (only 64-bit code is translated).</summary>
    internal const ulong Mode64 = 0x2000;

    /// <summary>Mode bit: SSE instructions fault now (CR0.EM or CR0.TS set, or CR4.OSFXSR clear): compiled code leaves them to the interpreter.</summary>
    internal const ulong ModeNoSse = 1;

    /// <summary>A guest exception a slow path or helper caught (-1: none), for <see cref="DeliverPendingException"/>.</summary>
    private int _pendingVector = -1;
    private uint _pendingErrorCode;
    private bool _pendingHasErrorCode;

    internal ulong CodeMode => (ulong)(uint)(Segments[Cs].Attributes & 0x6000)
        | ((Cr0 & (Cr0Em | Cr0Ts)) != 0 || (Cr4 & Cr4Osfxsr) == 0 ? ModeNoSse : 0);

    /// <summary>The soft TLB of the current MMU context.</summary>
    internal TlbEntry* DataTlb => Tlb + (MmuContext << TlbBits);

    /// <summary>
    /// Translates <paramref name="pc"/> for execution without raising anything: the host address of
    /// its page and the physical page, or false (a fault, or not RAM: the interpreter then takes it).
    /// </summary>
    /// <summary>True if the fetch TLB holds a global translation of <paramref name="pc"/>'s page to <paramref name="physicalPc"/>'s, with CR4.PGE (so CR3 writes keep it).</summary>
    internal bool IsGlobalFetch(ulong pc, ulong physicalPc)
    {
        if ((Cr4 & Cr4Pge) == 0)
            return false;
        int index = ((MmuContext + MmuContexts) << TlbBits) | (int)((pc >> 12) & TlbMask);
        ref TlbEntry e = ref Tlb[index];
        return _tlbGlobal[index] && e.TagExec == (pc & ~0xFFFUL) && e.PhysPage == (physicalPc & ~0xFFFUL);
    }

    internal bool TryTranslateFetch(ulong pc, out byte* pageHost, out ulong physPage)
    {
        ref TlbEntry e = ref Tlb[((MmuContext + MmuContexts) << TlbBits) | (int)((pc >> 12) & TlbMask)];
        ulong tag = pc & ~0xFFFUL;
        if (e.TagExec != tag)
        {
            ulong cr2 = Cr2;
            try
            {
                Translate(pc, Access.Execute, MmuContext);
            }
            catch (X86Exception)
            {
            }
            Cr2 = cr2;
        }
        if (e.TagExec != tag)
        {
            pageHost = null;
            physPage = 0;
            return false;
        }
        pageHost = (byte*)(e.Addend + (long)tag);
        physPage = e.PhysPage;
        return true;
    }

    /// <summary>
    /// Compiled code's TLB miss (<see cref="Wemu.Jit.GuestCodeAbi.TlbFillHelper"/>): walks the page tables for
    /// the access (setting accessed and dirty bits as the access would) without raising anything, and
    /// returns true if the inline probe of that access now hits, so the code retries it. False (a
    /// fault, a device, a store to a code page, a page-crossing access): the code leaves for the slow
    /// path, where the interpreter does the access.
    /// </summary>
    internal bool JitFillTlb(ulong va, long kind)
    {
        int size = (int)(kind & 0xFF);
        bool write = (kind & Wemu.Jit.GuestCodeAbi.TlbFillWrite) != 0, atomic = (kind & Wemu.Jit.GuestCodeAbi.TlbFillAtomic) != 0;
        ulong cr2 = Cr2;
        try
        {
            Translate(va, write ? Access.Write : Access.Read, MmuContext);
        }
        catch (X86Exception)
        {
            Cr2 = cr2;
            return false;
        }
        var layout = X86JitHelpers.TlbLayout;
        ref TlbEntry e = ref DataTlb[(int)((va >> layout.PageBits) & (ulong)layout.IndexMask)];
        ulong probe = (va + (ulong)layout.ProbeOffset(size, atomic)) & (ulong)layout.ProbeMask(size, atomic);
        return probe == (write ? e.TagWrite : e.TagRead);
    }

    internal void ProtectCodePage(ulong physPage) => TlbEntry.ProtectCodePage(Tlb, TlbEntries, physPage);

    /// <summary>After the engine's interpreter ran the instruction at <paramref name="from"/>: true if it went
    /// on to a following instruction with nothing for the machine loop to see (no interrupt to look at).</summary>
    internal bool WentOnQuietly(ulong from) =>
        Pc - from - 1 < 15 && !_checkInterrupts && !InterruptShadow && !IsHalted && !ShutdownRequested;

    /// <summary>Compiled code runs at <paramref name="pc"/> with <paramref name="retired"/> instructions
    /// retired before it: where a slow path's fault or a device's clock looks.</summary>
    private void At(ulong pc, ulong retired)
    {
        Pc = pc;
        InstRetInFlight = retired;
    }

    private bool Pend(X86Exception e)
    {
        _pendingVector = e.Vector;
        _pendingErrorCode = e.ErrorCode;
        _pendingHasErrorCode = e.HasErrorCode;
        return false;
    }

    internal bool JitLoad(ulong va, int bytes, ulong pc, ulong retired, out ulong value)
    {
        At(pc, retired);
        try
        {
            value = ReadSlow(va, bytes);
            return true;
        }
        catch (X86Exception e)
        {
            value = 0;
            return Pend(e);
        }
    }

    /// <summary>A pending "exception" that runs the instruction in the interpreter instead (a store into code).</summary>
    private const int PendingInterpret = 256;

    internal bool JitStore(ulong va, int bytes, ulong value, ulong pc, ulong retired)
    {
        At(pc, retired);
        try
        {
            // A store into translated code: compiled code may not go on (its next instructions may be
            // the ones written). Nothing of the instruction is done yet (stores come before register
            // writes), so the interpreter runs all of it, and the engine then finds fresh code.
            if (_bus.IsCodePage(PhysicalPage(va, Access.Write))
                || (((va & 0xFFF) + (ulong)bytes) > 0x1000 && _bus.IsCodePage(PhysicalPage(va + (ulong)bytes - 1, Access.Write))))
            {
                _pendingVector = PendingInterpret;
                return false;
            }
            WriteSlow(va, bytes, value);
            return true;
        }
        catch (X86Exception e)
        {
            return Pend(e);
        }
    }

    /// <summary>
    /// Runs the instruction at <paramref name="pc"/> through the decoding interpreter for compiled code
    /// (which counts it when it goes on). False when it did not go on to <paramref name="next"/>: a
    /// guest exception (pending now) or a REP instruction that stopped between chunks (counted here,
    /// <see cref="CpuCore.Pc"/> where it goes on).
    /// </summary>
    internal bool JitExecute(ulong pc, ulong next, ulong retired, long plan = 0)
    {
        At(pc, retired);
        InstructionStart = pc;
        long codeWrites = CodePagesWritten;
        try
        {
            switch (plan >> X86JitHelpers.PlanKindShift)
            {
                case X86JitHelpers.PlanString:
                    // decoded at translation: the prefixes' state as ExecuteOne leaves it, then the operation
                    _ip = next;
                    _rex = 0;
                    _lockPrefix = false;
                    _opSize = (int)(plan >> 8) & 0xF;
                    _opSizePrefix = _opSize == Word;
                    _addrSize = (int)(plan >> 12) & 0xF;
                    _repPrefix = (int)(plan >> 16) & 0xFF;
                    _segment = (int)((plan >> 24) & 0xF) - 1;
                    StringInstruction((int)(plan & 0xFF));
                    break;
                case X86JitHelpers.PlanRdtsc:
                    _ip = next;
                    Rdtsc();
                    break;
                default:
                    BeginFetch();
                    ExecuteOne();
                    break;
            }
        }
        catch (X86Exception e)
        {
            return Pend(e);
        }
        // (after a store into translated code, compiled code may not go on: the engine finds fresh code)
        if (_ip == next && CodePagesWritten == codeWrites)
            return true;
        Pc = _ip;
        InstRet++;
        return false;
    }

    /// <summary>Delivers the exception a slow path or helper caught (or runs the instruction a store into code left), at <see cref="CpuCore.Pc"/> (the faulting instruction).</summary>
    internal void DeliverPendingException()
    {
        if (_pendingVector < 0)
            return;
        int vector = _pendingVector;
        _pendingVector = -1;
        if (vector == PendingInterpret)
        {
            Run(1);
            return;
        }
        InterruptShadow = false;
        DeliverException(vector, _pendingErrorCode, _pendingHasErrorCode);
    }
}
