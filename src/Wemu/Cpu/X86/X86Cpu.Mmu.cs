using System.Runtime.CompilerServices;
using Wemu.Memory;

namespace Wemu.Cpu.X86;

/// <summary>
/// Long-mode 4-level paging (SDM vol. 3, 4.5) with a QEMU-style soft TLB, and the data accesses
/// instructions make through it. TLB entries cache one 4 KiB granule of a translation (2 MiB pages
/// fill granule by granule); a tag matches only when the access is allowed straight to RAM.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private const ulong PteP = 1, PteRw = 2, PteUs = 4, PteA = 1 << 5, PteD = 1 << 6, PtePs = 1 << 7, PteG = 1 << 8;
    private const ulong PteNx = 1UL << 63;
    private const ulong PteAddress = 0x000F_FFFF_FFFF_F000;

    /// <summary>Physical address bits (CPUID 0x80000008): 40. Bits 40-51 of an entry are reserved.</summary>
    private const ulong PteReservedHigh = 0x000F_FF00_0000_0000;

    /// <summary>CR3's bits above the 40 physical address bits: reserved (bit 63 is the keep flag of a write with CR4.PCIDE, never stored).</summary>
    private const ulong Cr3ReservedHigh = 0xFFFF_FF00_0000_0000;

    private const uint PfPresent = 1, PfWrite = 2, PfUser = 4, PfReserved = 8, PfFetch = 16;

    internal enum Access { Read = 0, Write = 1, Execute = 2 }

    /// <summary>One byte per TLB entry: set if it caches a global translation (kept across CR3 writes when CR4.PGE).</summary>
    private readonly bool[] _tlbGlobal = new bool[TlbEntries];

    /// <summary>
    /// The entries filled since they were last dropped, non-global and global apart, so a flush visits those rather
    /// than all 24,576 (a context switch drops the non-global ones: <see cref="TlbFillList"/>).
    /// </summary>
    private readonly TlbFillList _tlbFilledLocal = new(TlbEntries), _tlbFilledGlobal = new(TlbEntries);

    /// <summary>The MMU context of data and code accesses at the current CPL.</summary>
    internal int MmuContext;

    private readonly X86Exception _exception = new();

    internal void UpdateMode()
    {
        MmuContext = (Cr0 & Cr0Pg) == 0 ? MmuPhysical : Cpl == 3 ? MmuUser : MmuSupervisor;
        _fetchPage = ulong.MaxValue;
        _fetchFastEnd = 0;
        _checkInterrupts = true; // a running block stops: its next instructions may map elsewhere now
        _linkEpoch++;
    }

    /// <summary>Invalidates the TLB: everything, or all but global entries (a CR3 write with CR4.PGE).</summary>
    internal void FlushTlb(bool global)
    {
        bool keepGlobal = !global && (Cr4 & Cr4Pge) != 0;
        DropTlbEntries(keepGlobal);
        if (keepGlobal)
            NoteLocalTlbFlush();
        else
            NoteTlbFlush();
    }

    /// <summary>
    /// MOV to CR3 with CR4.PCIDE (SDM 4.10.4.1): the entered PCID's non-global translations go unless bit 63 says keep
    /// them, every other PCID's stay. The soft TLB holds one address space, so its non-global entries go either way (a
    /// walk refills them); what engines cached for the entered PCID's code comes back with its generation.
    /// </summary>
    private void SwitchPcid(int leaving, int entering, bool keep)
    {
        DropTlbEntries(keepGlobal: true);
        SwitchTlbSpace(leaving, entering, keep);
    }

    private void DropTlbEntries(bool keepGlobal)
    {
        // Every valid entry was filled (FillTlb) and is listed as what it was filled as: a later fill of its index as
        // the other kind lists it there too, so a global entry a non-global list names is in the global list as well.
        TlbEntry* t = Tlb;
        for (int k = 0; k < _tlbFilledLocal.Count; k++)
        {
            int i = _tlbFilledLocal[k];
            if (keepGlobal && _tlbGlobal[i])
                continue;
            t[i].TagRead = t[i].TagWrite = t[i].TagExec = TlbEntry.Invalid;
            _tlbGlobal[i] = false;
        }
        _tlbFilledLocal.Clear();
        if (!keepGlobal)
        {
            for (int k = 0; k < _tlbFilledGlobal.Count; k++)
                _tlbGlobal[_tlbFilledGlobal[k]] = false;
            _tlbFilledGlobal.Invalidate(t);
            _largeRegions.Clear();
        }
        _fetchPage = ulong.MaxValue;
        _fetchFastEnd = 0;
        _checkInterrupts = true; // a running block stops: its next instructions may map elsewhere now
        _linkEpoch++;
    }

    /// <summary>INVLPG: drops one page's translation in every context, global or not.</summary>
    internal void FlushTlbPage(ulong va)
    {
        int index = (int)((va >> 12) & TlbMask);
        for (int c = 0; c < 2 * MmuContexts; c++)
        {
            ref TlbEntry e = ref Tlb[(c << TlbBits) | index];
            e.TagRead = e.TagWrite = e.TagExec = TlbEntry.Invalid;
        }
        // a 2 MiB page fills granule by granule; INVLPG of any address in it must drop them all (rare: Linux maps its
        // own memory with them, and INVLPGs user pages, which are never in one)
        if (_largeRegions.Count >= MaxLargeRegions || _largeRegions.Contains(va >> 21))
            FlushTlb(global: true);
        NoteTlbPageFlush(va >> 12);
        _fetchPage = ulong.MaxValue;
        _fetchFastEnd = 0;
        _checkInterrupts = true; // a running block stops: its next instructions may map elsewhere now
        _linkEpoch++;
    }

    /// <summary>
    /// The 2 MiB regions (va &gt;&gt; 21) a large page was cached for since the last full flush; past
    /// <see cref="MaxLargeRegions"/> the set stops growing and every INVLPG flushes everything, as if all were.
    /// </summary>
    private readonly HashSet<ulong> _largeRegions = [];
    private const int MaxLargeRegions = 4096;

    internal static bool IsCanonical(ulong va) => (ulong)((long)va >> 47) + 1 <= 1;

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void Fault(int vector, uint errorCode = 0, bool hasErrorCode = true)
    {
        _exception.Vector = vector;
        _exception.ErrorCode = errorCode;
        _exception.HasErrorCode = hasErrorCode;
        throw _exception;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void FaultNoCode(int vector) => Fault(vector, 0, false);

    /// <summary>
    /// Walks the page tables for <paramref name="va"/> (SDM vol. 3, 4.5.4), setting accessed and dirty
    /// bits, and fills the TLB entry. Raises #PF (CR2 = va) or #GP for a non-canonical address.
    /// Returns the physical address.
    /// </summary>
    private ulong Translate(ulong va, Access access, int context)
    {
        if (!IsCanonical(va))
            Fault(VectorGp, 0);
        if (context == MmuPhysical)
        {
            FillTlb(va, va & ~0xFFFUL, context, access, PteRw | PteUs, global: false, dirty: true);
            return va;
        }
        bool user = context == MmuUser;
        bool nxe = (Efer & EferNxe) != 0;
        ulong reserved = PteReservedHigh | (nxe ? 0 : PteNx);
        ulong table = Cr3 & PteAddress;
        ulong rights = PteRw | PteUs;
        bool nx = false;
        ulong entryAddress = 0, entry = 0;
        int level;
        for (level = 3; level >= 0; level--)
        {
            entryAddress = table + ((va >> (12 + 9 * level)) & 511) * 8;
            entry = ReadPhysical64(entryAddress);
            if ((entry & PteP) == 0)
                PageFault(va, access, user, 0);
            bool leafLarge = (entry & PtePs) != 0 && (level == 1 || level == 2);
            ulong levelReserved = reserved
                | (level == 3 ? PtePs : 0)                   // PML4E.PS is reserved
                | (level == 2 && leafLarge ? ~0UL : 0)        // 1 GiB pages: no pdpe1gb
                | (level == 1 && leafLarge ? 0x1FE000UL : 0); // 2 MiB page: bits 13-20 reserved
            if ((entry & levelReserved) != 0)
                PageFault(va, access, user, PfReserved | PfPresent);
            rights &= entry;
            nx |= (entry & PteNx) != 0 && nxe;
            if ((entry & PteA) == 0)
            {
                entry |= PteA;
                WritePhysical64(entryAddress, entry);
            }
            if (leafLarge || level == 0)
                break;
            table = entry & PteAddress;
        }
        // permission checks (SDM vol. 3, 4.6)
        bool denied = access switch
        {
            Access.Write => (user && (rights & (PteRw | PteUs)) != (PteRw | PteUs)) || (!user && (rights & PteRw) == 0 && (Cr0 & Cr0Wp) != 0),
            Access.Execute => nx || (user && (rights & PteUs) == 0),
            _ => user && (rights & PteUs) == 0,
        };
        if (denied)
            PageFault(va, access, user, PfPresent);
        ulong pageBase;
        if (level == 1)
        {
            pageBase = (entry & PteAddress & ~0x1FFFFFUL) + (va & 0x1FF000);
            if (_largeRegions.Count < MaxLargeRegions)
                _largeRegions.Add(va >> 21);
        }
        else
        {
            pageBase = entry & PteAddress;
        }
        bool dirty = (entry & PteD) != 0;
        if (access == Access.Write && !dirty)
        {
            entry |= PteD;
            WritePhysical64(entryAddress, entry);
            dirty = true;
        }
        bool writable = user ? (rights & PteRw) != 0 : (rights & PteRw) != 0 || (Cr0 & Cr0Wp) == 0;
        bool global = (entry & PteG) != 0 && (Cr4 & Cr4Pge) != 0;
        FillTlb(va, pageBase, context, access, (writable ? PteRw : 0) | (nx ? PteNx : 0) | (user ? PteUs : 0), global, dirty);
        return pageBase | (va & 0xFFF);
    }

    private void PageFault(ulong va, Access access, bool user, uint code)
    {
        if (access == Access.Write) code |= PfWrite;
        if (user) code |= PfUser;
        if (access == Access.Execute && (Efer & EferNxe) != 0) code |= PfFetch;
        Cr2 = va;
        Fault(VectorPf, code);
    }

    private void FillTlb(ulong va, ulong pageBase, int context, Access access, ulong rights, bool global, bool dirty)
    {
        // fetches fill the context's instruction array (only its exec tag), loads and stores its data array
        bool fetch = access == Access.Execute;
        int index = ((fetch ? context + MmuContexts : context) << TlbBits) | (int)((va >> 12) & TlbMask);
        ref TlbEntry e = ref Tlb[index];
        ulong tag = va & ~0xFFFUL;
        e.PhysPage = pageBase;
        _tlbGlobal[index] = global;
        (global ? _tlbFilledGlobal : _tlbFilledLocal).Add(index);
        if (_bus.TryGetRam(pageBase, 4096, out byte* host))
        {
            e.Addend = (long)host - (long)tag;
            e.TagRead = tag;
            // a clean page's first store goes through the walk to set its dirty bit
            // stores to a page holding decoded blocks take the slow path (which drops the blocks)
            e.TagWrite = (rights & PteRw) != 0 && dirty ? tag | (_bus.IsCodePage(pageBase) ? TlbEntry.CodeFlag : 0) : TlbEntry.Invalid;
            e.TagExec = (rights & PteNx) == 0 ? tag : TlbEntry.Invalid;
            if (fetch)
                e.TagRead = e.TagWrite = TlbEntry.Invalid;
            else
                e.TagExec = TlbEntry.Invalid;
        }
        else
        {
            e.Addend = (long)GuardPage.Address - (long)tag;
            e.TagRead = tag | TlbEntry.IoFlag;
            e.TagWrite = (rights & PteRw) != 0 && dirty && !fetch ? tag | TlbEntry.IoFlag : TlbEntry.Invalid;
            e.TagExec = TlbEntry.Invalid;
            if (fetch)
                e.TagRead = TlbEntry.Invalid;
        }
    }

    private ulong ReadPhysical64(ulong pa)
    {
        if (_bus.TryGetRam(pa, 8, out byte* p))
            return *(ulong*)p;
        return _bus.ReadMmio(pa, 8, out ulong v) ? v : 0;
    }

    private void WritePhysical64(ulong pa, ulong value)
    {
        if (_bus.TryGetRam(pa, 8, out byte* p))
        {
            *(ulong*)p = value;
            _bus.NotifyWrite(pa, 8);
        }
        else
        {
            _bus.WriteMmio(pa, 8, value);
        }
    }

    /// <summary>Physical page of <paramref name="va"/> for <paramref name="access"/>, from the TLB or a walk.</summary>
    private ulong PhysicalPage(ulong va, Access access)
    {
        int context = access == Access.Execute ? MmuContext + MmuContexts : MmuContext;
        ref TlbEntry e = ref Tlb[(context << TlbBits) | (int)((va >> 12) & TlbMask)];
        ulong tag = va & ~0xFFFUL;
        ulong t = access == Access.Read ? e.TagRead : access == Access.Write ? e.TagWrite : e.TagExec;
        if ((t & ~TlbEntry.FlagBits) == tag && t != TlbEntry.Invalid)
            return e.PhysPage;
        return Translate(va, access, MmuContext) & ~0xFFFUL;
    }

    // ---- data accesses (linear addresses: segment bases are already added) ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte Read8(ulong va)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagRead == (va & ~0xFFFUL))
            return *(byte*)(e.Addend + (long)va);
        return (byte)ReadSlow(va, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort Read16(ulong va)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagRead == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFFE)
            return *(ushort*)(e.Addend + (long)va);
        return (ushort)ReadSlow(va, 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Read32(ulong va)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagRead == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFFC)
            return *(uint*)(e.Addend + (long)va);
        return (uint)ReadSlow(va, 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Read64(ulong va)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagRead == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFF8)
            return *(ulong*)(e.Addend + (long)va);
        return ReadSlow(va, 8);
    }

    /// <summary>A read of 1 &lt;&lt; <paramref name="size"/> bytes: one TLB probe, then the size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Read(ulong va, int size)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagRead == (va & ~0xFFFUL) && (va & 0xFFF) <= (ulong)(0x1000 - (1 << size)))
        {
            byte* p = (byte*)(e.Addend + (long)va);
            return size switch { Byte => *p, Word => *(ushort*)p, Dword => *(uint*)p, _ => *(ulong*)p };
        }
        return ReadSlow(va, 1 << size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write8(ulong va, byte value)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagWrite == (va & ~0xFFFUL))
            *(byte*)(e.Addend + (long)va) = value;
        else
            WriteSlow(va, 1, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write16(ulong va, ushort value)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagWrite == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFFE)
            *(ushort*)(e.Addend + (long)va) = value;
        else
            WriteSlow(va, 2, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write32(ulong va, uint value)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagWrite == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFFC)
            *(uint*)(e.Addend + (long)va) = value;
        else
            WriteSlow(va, 4, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write64(ulong va, ulong value)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagWrite == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFF8)
            *(ulong*)(e.Addend + (long)va) = value;
        else
            WriteSlow(va, 8, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write(ulong va, int size, ulong value)
    {
        ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagWrite == (va & ~0xFFFUL) && (va & 0xFFF) <= (ulong)(0x1000 - (1 << size)))
        {
            byte* p = (byte*)(e.Addend + (long)va);
            switch (size)
            {
                case Byte: *p = (byte)value; break;
                case Word: *(ushort*)p = (ushort)value; break;
                case Dword: *(uint*)p = (uint)value; break;
                default: *(ulong*)p = value; break;
            }
        }
        else
        {
            WriteSlow(va, 1 << size, value);
        }
    }

    /// <summary>Checks that <paramref name="length"/> bytes at <paramref name="va"/> can be written (faults first, then writes: instructions that store several values).</summary>
    internal void ProbeWrite(ulong va, int length)
    {
        PhysicalPage(va, Access.Write);
        if (((va & 0xFFF) + (ulong)length) > 0x1000)
            PhysicalPage(va + (ulong)length - 1, Access.Write);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadSlow(ulong va, int bytes)
    {
        if (((va & 0xFFF) + (ulong)bytes) > 0x1000)
        {
            // page-crossing: both pages must be readable before any byte is used
            PhysicalPage(va, Access.Read);
            PhysicalPage(va + (ulong)bytes - 1, Access.Read);
            ulong v = 0;
            for (int i = 0; i < bytes; i++)
                v |= (ulong)Read8(va + (ulong)i) << (8 * i);
            return v;
        }
        ulong pa = PhysicalPage(va, Access.Read) | (va & 0xFFF);
        if (_bus.TryGetRam(pa, (ulong)bytes, out byte* p))
        {
            return bytes switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
        }
        // MMIO; unassigned physical memory reads as zero on x86 (QEMU's unassigned_mem_read)
        NoteDeviceAccess();
        return _bus.ReadMmio(pa, bytes, out ulong value) ? value : 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(ulong va, int bytes, ulong value)
    {
        if (((va & 0xFFF) + (ulong)bytes) > 0x1000)
        {
            PhysicalPage(va, Access.Write);
            PhysicalPage(va + (ulong)bytes - 1, Access.Write);
            for (int i = 0; i < bytes; i++)
                Write8(va + (ulong)i, (byte)(value >> (8 * i)));
            return;
        }
        ulong pa = PhysicalPage(va, Access.Write) | (va & 0xFFF);
        if (_bus.TryGetRam(pa, (ulong)bytes, out byte* p))
        {
            switch (bytes)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                case 4: *(uint*)p = (uint)value; break;
                default: *(ulong*)p = value; break;
            }
            _bus.NotifyWrite(pa, (ulong)bytes);
            ref TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
            if (e.TagWrite == ((va & ~0xFFFUL) | TlbEntry.CodeFlag) && !_bus.IsCodePage(e.PhysPage))
                e.TagWrite = va & ~0xFFFUL; // the page holds no blocks any more: stores go straight to RAM again
            return;
        }
        NoteDeviceAccess();
        _bus.WriteMmio(pa, bytes, value); // writes to unassigned memory are dropped
    }

    /// <summary>A device (MMIO or an I/O port) is being accessed: engines running compiled code go back to the machine loop.</summary>
    internal void NoteDeviceAccess()
    {
        MmioAccesses++;
        MmioAccessed = true;
    }

    // ---- instruction fetch ----

    private ulong _fetchPage = ulong.MaxValue;
    private byte* _fetchHost;
    // (FetchSlow moves the window to a new page: the rest of the current instruction fetches through it)

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte FetchByte(ulong va)
    {
        if ((va >> 12) == _fetchPage)
            return _fetchHost[va & 0xFFF];
        return FetchSlow(va);
    }

    /// <summary>
    /// An instruction crossing into <paramref name="va"/>'s page: compiled code checks its bytes there with a data load
    /// (the JIT's cross-page guard), and a miss of that load leaves for this interpreter, which only fetches. A read
    /// translation of the page (as compiled code's own TLB refill makes) lets the next check hit.
    /// </summary>
    private void PrimeCrossingRead(ulong va)
    {
        var layout = X86JitHelpers.TlbLayout;
        ref TlbEntry e = ref DataTlb[(int)((va >> layout.PageBits) & (ulong)layout.IndexMask)];
        if (e.TagRead != (va & ~0xFFFUL))
            JitFillTlb(va & ~0xFFFUL, 8);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte FetchSlow(ulong va)
    {
        ulong pa = PhysicalPage(va, Access.Execute) | (va & 0xFFF);
        if (_bus.TryGetRam(pa & ~0xFFFUL, 4096, out byte* page))
        {
            if ((va >> 12) != (InstructionStart >> 12))
                PrimeCrossingRead(va);
            _fetchPage = va >> 12;
            _fetchPhysPage = pa & ~0xFFFUL;
            _fetchHost = page;
            return page[va & 0xFFF];
        }
        return _bus.ReadMmio(pa, 1, out ulong v) ? (byte)v : (byte)0;
    }
}
