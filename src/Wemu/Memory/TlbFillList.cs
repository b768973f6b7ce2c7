namespace Wemu.Memory;

/// <summary>
/// The entries of a soft TLB filled since they were last dropped, each listed once, so a flush (and marking a page as
/// code) visits those rather than every entry: guests flush whole TLBs often (Linux at context switches and satp/CR3
/// writes), and a scan of tens of thousands of entries each time cost ~1 % natively and far more under the page's
/// interpreter. Entries not listed hold no valid tag. Used by <see cref="Cpu.RiscV.RiscVHart"/> and
/// <see cref="Cpu.X86.X86Cpu"/> (two lists there: global and non-global entries).
/// </summary>
public sealed class TlbFillList(int entries)
{
    private readonly int[] _indices = new int[entries];
    private readonly bool[] _listed = new bool[entries];

    /// <summary>How many entries are listed.</summary>
    public int Count { get; private set; }

    /// <summary>The index of the <paramref name="k"/>-th listed entry.</summary>
    public int this[int k] => _indices[k];

    /// <summary>Lists entry <paramref name="index"/> (it is being filled) unless it is listed already.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Add(int index)
    {
        if (!_listed[index])
        {
            _listed[index] = true;
            _indices[Count++] = index;
        }
    }

    /// <summary>Forgets every listed entry (its caller dropped them, or keeps what it chose to).</summary>
    public void Clear()
    {
        for (int k = 0; k < Count; k++)
            _listed[_indices[k]] = false;
        Count = 0;
    }

    /// <summary>Drops every listed entry's translations from <paramref name="tlb"/>, then forgets them.</summary>
    public unsafe void Invalidate(TlbEntry* tlb)
    {
        for (int k = 0; k < Count; k++)
        {
            int i = _indices[k];
            _listed[i] = false;
            tlb[i].TagRead = tlb[i].TagWrite = tlb[i].TagExec = TlbEntry.Invalid;
        }
        Count = 0;
    }

    /// <summary><see cref="TlbEntry.ProtectCodePage"/> for the listed entries (no other entry can map a page).</summary>
    public unsafe void ProtectCodePage(TlbEntry* tlb, ulong physPage)
    {
        for (int k = 0; k < Count; k++)
        {
            ref TlbEntry e = ref tlb[_indices[k]];
            if (e.PhysPage == physPage && (e.TagWrite & 0xFFF) == 0)
                e.TagWrite |= TlbEntry.CodeFlag;
        }
    }
}
