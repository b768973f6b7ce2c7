using System.Runtime.CompilerServices;
using Wemu.Memory;

namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart
{
    internal enum Access { Read = 0, Write = 1, Execute = 2 }

    /// <summary>The entries filled (<see cref="Translate"/>) since the last <see cref="FlushTlb"/>: a flush visits those.</summary>
    private readonly TlbFillList _tlbFilled = new(MmuContexts * TlbSize);

    /// <summary>Invalidates every TLB entry (satp writes, sfence.vma, MXR/PMP changes).</summary>
    public void FlushTlb()
    {
        _tlbFilled.Invalidate(Tlb);
        NoteTlbFlush();
    }

    /// <summary>Every entry invalid, listed or not (a new hart's native block holds garbage).</summary>
    private void WipeTlb()
    {
        TlbEntry* t = Tlb;
        for (int i = 0; i < MmuContexts * TlbSize; i++)
            t[i].TagRead = t[i].TagWrite = t[i].TagExec = TlbEntry.Invalid;
        _tlbFilled.Clear();
        NoteTlbFlush();
    }

    /// <summary>
    /// sfence.vma with an address (Priv. spec 4.2.1): drops the translations of that one page in every
    /// MMU context. The TLB caches only leaf translations, one 4 KiB granule per entry, so this is
    /// exact. Linux issues thousands of these while booting (one per changed PTE); a full flush for
    /// each cost page walks and the JIT's whole jump cache.
    /// </summary>
    public void FlushTlbPage(ulong va)
    {
        ulong page = va >> 12;
        int index = (int)(page & TlbMask);
        for (int c = 0; c < MmuContexts; c++)
        {
            ref TlbEntry e = ref Tlb[(c << TlbBits) | index];
            e.TagRead = TlbEntry.Invalid;
            e.TagWrite = TlbEntry.Invalid;
            e.TagExec = TlbEntry.Invalid;
        }
        // An engine may hold a translation of a pc in this page (the JIT's jump cache): let it go.
        NoteTlbPageFlush(page);
    }

    private bool TranslationOn
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Satp >> 60) != 0;
    }

    /// <summary>The MMU context for loads and stores (MPRV applies, Priv. spec 3.1.6.3).</summary>
    internal int DataMmuContext
    {
        // (inlined: the interpreter reads it whenever it starts, ~500 K times a boot, and in the page a call ends
        // the jiterpreter's trace)
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int eff = Priv;
            if (eff == PrivMachine && (Mstatus & RvStatus.Mprv) != 0)
                eff = (int)((Mstatus >> RvStatus.MppShift) & 3);
            if (eff == PrivMachine || !TranslationOn)
                return MmuPhysical;
            if (eff == PrivUser)
                return MmuUser;
            return (Mstatus & RvStatus.Sum) != 0 ? MmuSupervisorSum : MmuSupervisor;
        }
    }

    /// <summary>The MMU context for instruction fetch (MPRV does not apply).</summary>
    internal int FetchMmuContext
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Priv == PrivMachine || !TranslationOn ? MmuPhysical : Priv == PrivUser ? MmuUser : MmuSupervisor;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal TlbEntry* TlbFor(int context) => Tlb + (context << TlbBits);

    private static int PageFaultCause(Access access) => access switch
    {
        Access.Read => RvException.LoadPageFault,
        Access.Write => RvException.StorePageFault,
        _ => RvException.InstructionPageFault,
    };

    private static int AccessFaultCause(Access access) => access switch
    {
        Access.Read => RvException.LoadAccessFault,
        Access.Write => RvException.StoreAccessFault,
        _ => RvException.InstructionAccessFault,
    };

    /// <summary>
    /// Translates a virtual address and fills the TLB entry for its page. Returns false with the
    /// exception recorded on a page or access fault. Sv39/Sv48 walk per Priv. spec 4.3.2, with
    /// hardware A/D updates.
    /// </summary>
    internal bool Translate(ulong va, Access access, int context, out ulong pa)
    {
        pa = 0;
        ulong vpage = va & ~0xFFFUL;
        ulong ppage;
        bool r, w, x;
        if (context == MmuPhysical)
        {
            ppage = vpage;
            r = w = x = true;
        }
        else
        {
            int levels = (Satp >> 60) == 9 ? 4 : 3;
            int vaBits = 12 + 9 * levels;
            if ((ulong)((long)(va << (64 - vaBits)) >> (64 - vaBits)) != va)
                return Fault(PageFaultCause(access), va);
            ulong table = (Satp & ((1UL << 44) - 1)) << 12;
            ulong pte = 0, pteAddr = 0;
            int level = levels - 1;
            byte* ptePtr = null;
            for (; ; level--)
            {
                pteAddr = table + (((va >> (12 + 9 * level)) & 0x1FF) << 3);
                if (!_bus.TryGetRam(pteAddr, 8, out ptePtr))
                    return Fault(AccessFaultCause(access), va);
                pte = *(ulong*)ptePtr;
                if ((pte & 1) == 0 || (pte & 6) == 4 || (pte >> 54) != 0)
                    return Fault(PageFaultCause(access), va);
                if ((pte & 0xA) != 0)
                    break;   // leaf
                if (level == 0 || (pte & 0xD0) != 0)   // non-leaf with D/A/U set is reserved
                    return Fault(PageFaultCause(access), va);
                table = ((pte >> 10) & ((1UL << 44) - 1)) << 12;
            }
            ulong ppn = (pte >> 10) & ((1UL << 44) - 1);
            if (level > 0 && (ppn & ((1UL << (9 * level)) - 1)) != 0)
                return Fault(PageFaultCause(access), va);   // misaligned superpage
            bool user = (pte & 0x10) != 0;
            bool mxr = (Mstatus & RvStatus.Mxr) != 0;
            r = (pte & 2) != 0 || (mxr && (pte & 8) != 0);
            w = (pte & 4) != 0;
            x = (pte & 8) != 0;
            switch (context)
            {
                case MmuUser:
                    if (!user) r = w = x = false;
                    break;
                case MmuSupervisor:
                    if (user) r = w = x = false;
                    break;
                default:   // S with SUM: data may touch U pages, never execute them
                    if (user) x = false;
                    break;
            }
            bool allowed = access switch { Access.Read => r, Access.Write => w, _ => x };
            if (!allowed)
                return Fault(PageFaultCause(access), va);
            ulong newPte = pte | 0x40 | (access == Access.Write ? 0x80UL : 0);
            if (newPte != pte)
            {
                *(ulong*)ptePtr = newPte;
                pte = newPte;
            }
            if ((pte & 0x80) == 0)
                w = false;   // first store must come back here to set D
            ulong pageMask = (1UL << (12 + 9 * level)) - 1;
            ppage = ((ppn << 12) & ~pageMask) | (vpage & pageMask);
        }

        pa = ppage | (va & 0xFFF);
        int index = (context << TlbBits) | (int)((va >> 12) & TlbMask);
        _tlbFilled.Add(index);
        TlbEntry* e = Tlb + index;
        e->PhysPage = ppage;
        if (_bus.TryGetRam(ppage, 0x1000, out byte* host))
        {
            e->Addend = (long)host - (long)vpage;
            e->TagRead = r ? vpage : TlbEntry.Invalid;
            e->TagWrite = w ? vpage | (_bus.IsCodePage(ppage) ? TlbEntry.CodeFlag : 0) : TlbEntry.Invalid;
            e->TagExec = x ? vpage : TlbEntry.Invalid;
        }
        else
        {
            // (never taken by a fast path: the flag keeps the tag from matching; should a probe ever
            // be wrong, the access lands in a guard page, not at host address = guest address)
            e->Addend = (long)GuardPage.Address - (long)vpage;
            e->TagRead = r ? vpage | TlbEntry.IoFlag : TlbEntry.Invalid;
            e->TagWrite = w ? vpage | TlbEntry.IoFlag : TlbEntry.Invalid;
            e->TagExec = TlbEntry.Invalid;
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IoHit(ulong tag, ulong va) => tag == ((va & ~0xFFFUL) | TlbEntry.IoFlag);

    /// <summary>
    /// A store to a RAM page that holds translated code: tell the bus (which drops the blocks and
    /// unmarks the page), then let this entry store straight to RAM again.
    /// </summary>
    private bool CodeHit(TlbEntry* e, ulong va)
    {
        if (e->TagWrite != ((va & ~0xFFFUL) | TlbEntry.CodeFlag))
            return false;
        _bus.NotifyWrite(e->PhysPage, 0x1000);
        e->TagWrite = va & ~0xFFFUL;
        return true;
    }

    /// <summary>
    /// Called when a translator starts using <paramref name="physPage"/> as code: every TLB entry
    /// that lets stores reach that page directly is downgraded so stores take the slow path.
    /// </summary>
    public void ProtectCodePage(ulong physPage) => _tlbFilled.ProtectCodePage(Tlb, physPage);

    /// <summary>
    /// Translates <paramref name="pc"/> for execution without raising anything: the host address of
    /// its page and the physical page, or false (fault or not RAM; the interpreter then takes it).
    /// </summary>
    internal bool TryTranslateFetch(ulong pc, out byte* pageHost, out ulong physPage)
    {
        int context = FetchMmuContext;
        TlbEntry* e = TlbFor(context) + ((pc >> 12) & TlbMask);
        if (e->TagExec != (pc & ~0xFFFUL))
        {
            int cause = ExceptionCause;
            ulong value = ExceptionValue;
            bool ok = Translate(pc, Access.Execute, context, out _);
            ExceptionCause = cause;
            ExceptionValue = value;
            if (!ok || e->TagExec != (pc & ~0xFFFUL))
            {
                pageHost = null;
                physPage = 0;
                return false;
            }
        }
        pageHost = (byte*)(e->Addend + (long)(pc & ~0xFFFUL));
        physPage = e->PhysPage;
        return true;
    }

    /// <summary>Slow-path load: page-crossing, TLB miss or MMIO. Returns false with an exception recorded.</summary>
    internal bool LoadSlow(ulong va, int size, out ulong value)
    {
        value = 0;
        if ((va & 0xFFF) + (ulong)size > 0x1000)
        {
            for (int i = 0; i < size; i++)
            {
                if (!LoadSlow(va + (ulong)i, 1, out ulong b))
                    return false;
                value |= b << (8 * i);
            }
            return true;
        }
        int context = DataMmuContext;
        TlbEntry* e = TlbFor(context) + ((va >> 12) & TlbMask);
        ulong pa;
        if (e->TagRead == (va & ~0xFFFUL))
        {
            value = ReadHost((byte*)(e->Addend + (long)va), size);
            return true;
        }
        if (IoHit(e->TagRead, va))
            pa = e->PhysPage | (va & 0xFFF);
        else if (!Translate(va, Access.Read, context, out pa))
            return false;
        if (e->TagRead == (va & ~0xFFFUL))
        {
            value = ReadHost((byte*)(e->Addend + (long)va), size);
            return true;
        }
        MmioAccessed = true;
        MmioAccesses++;
        if (!_bus.ReadMmio(pa, size, out value))
            return Fault(RvException.LoadAccessFault, va);
        return true;
    }

    /// <summary>Slow-path store. Returns false with an exception recorded.</summary>
    internal bool StoreSlow(ulong va, int size, ulong value)
    {
        if ((va & 0xFFF) + (ulong)size > 0x1000)
        {
            // Check both pages before writing anything, so a fault leaves memory unchanged. Priv.
            // spec 3.1.16: tval is the address of the portion that faulted, and the second
            // portion starts at the page boundary (as for loads, and as QEMU reports it).
            if (!ProbeWrite(va) || !ProbeWrite((va + (ulong)size - 1) & ~0xFFFUL))
                return false;
            for (int i = 0; i < size; i++)
                if (!StoreSlow(va + (ulong)i, 1, value >> (8 * i)))
                    return false;
            return true;
        }
        int context = DataMmuContext;
        TlbEntry* e = TlbFor(context) + ((va >> 12) & TlbMask);
        ulong pa;
        if (e->TagWrite == (va & ~0xFFFUL) || CodeHit(e, va))
        {
            WriteHost((byte*)(e->Addend + (long)va), size, value);
            return true;
        }
        if (IoHit(e->TagWrite, va))
            pa = e->PhysPage | (va & 0xFFF);
        else if (!Translate(va, Access.Write, context, out pa))
            return false;
        if (e->TagWrite == (va & ~0xFFFUL) || CodeHit(e, va))
        {
            WriteHost((byte*)(e->Addend + (long)va), size, value);
            return true;
        }
        MmioAccessed = true;
        MmioAccesses++;
        if (!_bus.WriteMmio(pa, size, value))
            return Fault(RvException.StoreAccessFault, va);
        return true;
    }

    private bool ProbeWrite(ulong va)
    {
        int context = DataMmuContext;
        TlbEntry* e = TlbFor(context) + ((va >> 12) & TlbMask);
        if ((e->TagWrite & ~TlbEntry.CodeFlag) == (va & ~0xFFFUL) || IoHit(e->TagWrite, va))
            return true;
        return Translate(va, Access.Write, context, out _);
    }

    /// <summary>Host pointer for an aligned read-modify-write (AMO) of RAM, or null for MMIO.</summary>
    internal bool TranslateForAmo(ulong va, int size, out byte* host, out ulong pa)
    {
        host = null;
        pa = 0;
        if ((va & (ulong)(size - 1)) != 0)
            return Fault(RvException.StoreMisaligned, va);
        int context = DataMmuContext;
        TlbEntry* e = TlbFor(context) + ((va >> 12) & TlbMask);
        CodeHit(e, va);
        if (e->TagWrite != (va & ~0xFFFUL) || e->TagRead != (va & ~0xFFFUL))
        {
            if (!Translate(va, Access.Write, context, out pa))
                return false;
            if (e->TagRead != (va & ~0xFFFUL) && e->TagWrite == (va & ~0xFFFUL))
            {
                // Writable but not readable cannot happen (W without R is reserved); be safe anyway.
                return Fault(RvException.StorePageFault, va);
            }
            CodeHit(e, va);
        }
        if (e->TagWrite == (va & ~0xFFFUL))
        {
            host = (byte*)(e->Addend + (long)va);
            return true;
        }
        pa = e->PhysPage | (va & 0xFFF);
        return Fault(RvException.StoreAccessFault, va);   // AMOs to MMIO are not supported
    }

    /// <summary>
    /// Fetch slow path: translates the page holding <paramref name="pc"/> for execution and returns
    /// a host pointer to its start (so the engine can fetch from it directly), or null with an
    /// exception recorded.
    /// </summary>
    internal byte* FetchPage(ulong pc)
    {
        int context = FetchMmuContext;
        TlbEntry* e = TlbFor(context) + ((pc >> 12) & TlbMask);
        if (e->TagExec != (pc & ~0xFFFUL))
        {
            if (!Translate(pc, Access.Execute, context, out _))
                return null;
            if (e->TagExec != (pc & ~0xFFFUL))
            {
                Fault(RvException.InstructionAccessFault, pc);
                return null;
            }
        }
        return (byte*)(e->Addend + (long)(pc & ~0xFFFUL));
    }

    /// <summary>The interpreter's fetch page after its fetch slow path: guest page base and host pointer.</summary>
    internal ulong FetchBase;
    internal byte* FetchHost;


    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadHost(byte* p, int size) => size switch
    {
        1 => *p,
        2 => *(ushort*)p,
        4 => *(uint*)p,
        _ => *(ulong*)p,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteHost(byte* p, int size, ulong value)
    {
        switch (size)
        {
            case 1: *p = (byte)value; break;
            case 2: *(ushort*)p = (ushort)value; break;
            case 4: *(uint*)p = (uint)value; break;
            default: *(ulong*)p = value; break;
        }
    }

    /// <summary>Reads guest virtual memory as the hart would (for debuggers and tests); false on fault.</summary>
    public bool TryReadVirtual(ulong va, int size, out ulong value) => LoadSlow(va, size, out value);
}
