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

    /// <summary>
    /// Names the current address space's translations: a fresh value (never seen before: 64 bits from one counter, a
    /// guest can flush 2^32 times in minutes) on every TLB flush that may affect code an engine cached (a full flush,
    /// or a page flush of a page in <see cref="CachedCodePages"/>); engines holding translations compare it. An
    /// address-space switch that keeps the entered space's translations (<see cref="SwitchTlbSpace"/>, x86 PCIDs)
    /// brings back the value that space had, so what engines cached for it then is good again.
    /// </summary>
    internal ulong TlbGeneration;

    private ulong _tlbGenerations;

    /// <summary>Address spaces left with their translations kept (<see cref="SwitchTlbSpace"/>): their generation and cached-code filter.</summary>
    private readonly Dictionary<int, (ulong Generation, PageFilter CachedPages)> _keptSpaces = [];

    /// <summary>
    /// Bumped (with <see cref="TlbGeneration"/>) on every flush that may drop a global translation: all but the
    /// flushes of non-global entries alone (<see cref="NoteLocalTlbFlush"/>, x86's CR3 write with CR4.PGE), which
    /// leave code on global pages where it was. Engines keep what they cached for such code across those.
    /// </summary>
    internal ulong GlobalTlbGeneration;

    /// <summary>
    /// A Bloom filter of the virtual pages engines cached translations for since the last
    /// <see cref="TlbGeneration"/> change (<see cref="NoteCachedCodePage"/>): a page flush bumps the
    /// generation only if it may hit one of them.
    /// </summary>
    internal PageFilter CachedCodePages;

    /// <summary>The same for the global pages among them, since the last <see cref="GlobalTlbGeneration"/> change.</summary>
    internal PageFilter GlobalCachedCodePages;

    internal void NoteCachedCodePage(ulong va, bool global = false)
    {
        CachedCodePages.Add(va >> 12);
        if (global)
            GlobalCachedCodePages.Add(va >> 12);
    }

    /// <summary>A flush of virtual page <paramref name="page"/>: engines must drop what they cached for it, if they may have.</summary>
    protected void NoteTlbPageFlush(ulong page)
    {
        if (GlobalCachedCodePages.MayContain(page))
            NoteTlbFlush();
        else if (CachedCodePages.MayContain(page))
            NoteLocalTlbFlush();
    }

    /// <summary>A full TLB flush: every translation engines cached is stale.</summary>
    protected void NoteTlbFlush()
    {
        TlbGeneration = ++_tlbGenerations;
        GlobalTlbGeneration++;
        CachedCodePages.Clear();
        GlobalCachedCodePages.Clear();
        _keptSpaces.Clear();
    }

    /// <summary>
    /// A flush of every non-global translation: what engines cached for code on global pages stays valid, the rest
    /// is stale.
    /// </summary>
    protected void NoteLocalTlbFlush()
    {
        TlbGeneration = ++_tlbGenerations;
        CachedCodePages = GlobalCachedCodePages;
    }

    /// <summary>
    /// A switch from address space <paramref name="leaving"/> to <paramref name="entering"/> (x86: a CR3 write with
    /// CR4.PCIDE, the spaces being PCIDs) that leaves the translations of every other space as they were: the left
    /// space's are kept, and with <paramref name="keepEntering"/> (CR3 bit 63) the entered space's too, so the
    /// generation it had when it was left comes back. Without, the entered space starts afresh (a local flush of it).
    /// Global translations are untouched either way. A full flush (<see cref="NoteTlbFlush"/>) forgets every kept space.
    /// </summary>
    protected void SwitchTlbSpace(int leaving, int entering, bool keepEntering)
    {
        if (_keptSpaces.Count >= MaxKeptSpaces && !_keptSpaces.ContainsKey(leaving))
            _keptSpaces.Clear();   // (Linux uses 6 PCIDs a CPU; a guest cycling through all 4096 only loses the reuse)
        _keptSpaces[leaving] = (TlbGeneration, CachedCodePages);
        if (keepEntering && _keptSpaces.TryGetValue(entering, out var kept))
        {
            TlbGeneration = kept.Generation;
            CachedCodePages = kept.CachedPages;
            CachedCodePages.UnionWith(in GlobalCachedCodePages);
        }
        else
            NoteLocalTlbFlush();
    }

    private const int MaxKeptSpaces = 64;

}

/// <summary>
/// A Bloom filter of virtual page numbers, 1,024 bits: one half for each half of the address space (the page's bit
/// 35, a canonical address's sign), so the kernel's pages (x86: global, and hundreds of them) never make a flush of a
/// user page look like one of theirs; within a half one bit a page, by a multiplicative hash.
/// </summary>
internal unsafe struct PageFilter
{
    private const int Words = 16;
    private fixed ulong _words[Words];

    public void Add(ulong page)
    {
        int b = Bit(page);
        _words[b >> 6] |= 1UL << (b & 63);
    }

    public readonly bool MayContain(ulong page)
    {
        int b = Bit(page);
        return (_words[b >> 6] & (1UL << (b & 63))) != 0;
    }

    public void Clear()
    {
        for (int i = 0; i < Words; i++)
            _words[i] = 0;
    }

    public void UnionWith(in PageFilter other)
    {
        for (int i = 0; i < Words; i++)
            _words[i] |= other._words[i];
    }

    private static int Bit(ulong page) => (int)((page * 0x9E3779B97F4A7C15UL) >> 55) | (int)((page >> 35) & 1) << 9;
}
