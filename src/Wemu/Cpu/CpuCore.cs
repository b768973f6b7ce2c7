using Wemu.Memory;

namespace Wemu.Cpu;

/// <summary>
/// What every guest CPU shares with the engines that run it (<see cref="Jit.JitEngine{TCpu, TFrontEnd}"/>
/// and the interpreters): the pc, the retired-instruction count, the register file in native memory
/// (generated code addresses it directly), the bus, and the soft-TLB generation that tells an engine
/// its cached translations of virtual pcs may be stale. The rest is the guest's own architectural
/// state, in the derived class. Plain fields, no virtual members: interpreters read them in their
/// hot loops.
/// </summary>
public abstract unsafe class CpuCore
{
    protected CpuCore(PhysicalBus bus, ulong* registers)
    {
        Bus = bus;
        Registers = registers;
    }

    public PhysicalBus Bus { get; }

    /// <summary>The integer register file (8 bytes a register), as <see cref="Jit.Ir.IrOp.GetReg"/> numbers it.</summary>
    internal readonly ulong* Registers;

    internal ulong Pc;

    internal ulong InstRet;

    /// <summary>Instructions compiled code has retired but not yet added to <see cref="InstRet"/> (set before its slow paths).</summary>
    internal ulong InstRetInFlight;

    public ulong InstructionsRetired => InstRet + InstRetInFlight;

    /// <summary>Set by slow paths that touched a device: the engine leaves its loop so interrupts are seen.</summary>
    internal bool MmioAccessed;

    /// <summary>Counts device accesses by slow paths (unlike <see cref="MmioAccessed"/>, engines do not clear it).</summary>
    internal uint MmioAccesses;

    /// <summary>Set by a profiling interpreter that stopped at a hot branch target (<see cref="Jit.HotTable"/>).</summary>
    internal bool HotExit;

    /// <summary>Bumped on every TLB flush that may affect code an engine cached (a full flush, or a page
    /// flush of a page in <see cref="CachedCodePages"/>); engines holding translations compare it.
    /// 64 bits, so it never comes back to a value an engine saw (a guest can flush 2^32 times in minutes).</summary>
    internal ulong TlbGeneration;

    /// <summary>
    /// Bumped (with <see cref="TlbGeneration"/>) on every flush that may drop a global translation: all but the
    /// flushes of non-global entries alone (<see cref="NoteLocalTlbFlush"/>, x86's CR3 write with CR4.PGE), which
    /// leave code on global pages where it was. Engines keep what they cached for such code across those.
    /// </summary>
    internal ulong GlobalTlbGeneration;

    /// <summary>
    /// A 64-bit Bloom filter of the virtual pages engines cached translations for since the last
    /// <see cref="TlbGeneration"/> change (<see cref="NoteCachedCodePage"/>): a page flush bumps the
    /// generation only if it may hit one of them.
    /// </summary>
    internal ulong CachedCodePages;

    /// <summary>The same for the global pages among them, since the last <see cref="GlobalTlbGeneration"/> change.</summary>
    internal ulong GlobalCachedCodePages;

    internal void NoteCachedCodePage(ulong va, bool global = false)
    {
        CachedCodePages |= CodePageBit(va >> 12);
        if (global)
            GlobalCachedCodePages |= CodePageBit(va >> 12);
    }

    /// <summary>A flush of virtual page <paramref name="page"/>: engines must drop what they cached for it, if they may have.</summary>
    protected void NoteTlbPageFlush(ulong page)
    {
        if ((GlobalCachedCodePages & CodePageBit(page)) != 0)
            NoteTlbFlush();
        else if ((CachedCodePages & CodePageBit(page)) != 0)
            NoteLocalTlbFlush();
    }

    /// <summary>A full TLB flush: every translation engines cached is stale.</summary>
    protected void NoteTlbFlush()
    {
        TlbGeneration++;
        GlobalTlbGeneration++;
        CachedCodePages = GlobalCachedCodePages = 0;
    }

    /// <summary>
    /// A flush of every non-global translation: what engines cached for code on global pages stays valid, the rest
    /// is stale.
    /// </summary>
    protected void NoteLocalTlbFlush()
    {
        TlbGeneration++;
        CachedCodePages = GlobalCachedCodePages;
    }

    private static ulong CodePageBit(ulong page) => 1UL << (int)((page * 0x9E3779B97F4A7C15UL) >> 58);
}
