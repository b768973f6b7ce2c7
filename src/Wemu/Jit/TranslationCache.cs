using Wemu.Cpu;

namespace Wemu.Jit;

/// <summary>
/// The translation records of an engine: keyed by (physical pc, virtual pc, mode) like QEMU's TB
/// hash, listed per physical 4 KiB page for invalidation, with the count of recent rewrites of
/// each page that held code (self-modifying code is interpreted rather than recompiled forever).
/// </summary>
internal sealed class TranslationCache<TCpu> where TCpu : CpuCore
{
    public const int PageBits = 12;
    public const ulong PageOffsetMask = (1UL << PageBits) - 1;

    /// <summary>Rewrites in a row after which a page is interpreted for a while.</summary>
    private const int MaxPageInvalidations = 32;
    private const int MaxTrackedRewrittenPages = 1 << 14;

    private readonly Dictionary<(ulong Physical, ulong Virtual, ulong Mode), TranslatedBlock<TCpu>> _blocks = [];
    private readonly Dictionary<ulong, List<TranslatedBlock<TCpu>>> _blocksByPage = [];
    /// <summary>Per physical page: rewrites of compiled code in a row (each within the rewrite window
    /// of the previous one), and when the last one happened.</summary>
    private readonly Dictionary<ulong, (int Count, ulong At)> _pageRewrites = [];

    public int Count => _blocks.Count;

    public Dictionary<(ulong Physical, ulong Virtual, ulong Mode), TranslatedBlock<TCpu>>.ValueCollection Blocks => _blocks.Values;

    public TranslatedBlock<TCpu>? Find(ulong physicalPc, ulong virtualPc, ulong mode) =>
        _blocks.GetValueOrDefault((physicalPc, virtualPc, mode));

    public TranslatedBlock<TCpu> Add(ulong virtualPc, ulong physicalPc, ulong mode, bool noCompile)
    {
        var block = new TranslatedBlock<TCpu> { VirtualPc = virtualPc, PhysicalPc = physicalPc, Mode = mode, NoCompile = noCompile };
        Keep(block);
        return block;
    }

    /// <summary>Puts <paramref name="block"/> (back) in the table.</summary>
    public void Keep(TranslatedBlock<TCpu> block)
    {
        _blocks[(block.PhysicalPc, block.VirtualPc, block.Mode)] = block;
        ulong page = block.PhysicalPc >> PageBits;
        if (!_blocksByPage.TryGetValue(page, out var list))
            _blocksByPage[page] = list = [];
        list.Add(block);
    }

    /// <summary>
    /// The guest wrote <paramref name="physPage"/> (a page address) at instruction <paramref name="now"/>:
    /// removes and returns its blocks (null if it had none) and counts the rewrite.
    /// </summary>
    public List<TranslatedBlock<TCpu>>? RemovePage(ulong physPage, ulong now, ulong window)
    {
        if (!_blocksByPage.Remove(physPage >> PageBits, out var list))
            return null;
        foreach (var b in list)
            _blocks.Remove((b.PhysicalPc, b.VirtualPc, b.Mode));
        if (_pageRewrites.Count >= MaxTrackedRewrittenPages)
            _pageRewrites.Clear();   // (a heuristic: forgetting only costs a few extra compiles)
        var last = _pageRewrites.GetValueOrDefault(physPage);
        _pageRewrites[physPage] = (last.Count > 0 && now - last.At < window ? last.Count + 1 : 1, now);
        return list;
    }

    /// <summary>True if <paramref name="physPage"/>'s code keeps being rewritten: interpret it until it has been left alone for <paramref name="window"/> instructions.</summary>
    public bool IsBeingRewritten(ulong physPage, ulong now, ulong window) =>
        _pageRewrites.TryGetValue(physPage, out var rewrites) && rewrites.Count >= MaxPageInvalidations && now - rewrites.At < window;

    public void Clear()
    {
        _blocks.Clear();
        _blocksByPage.Clear();
    }
}
