using Wemu.Memory;

namespace Wemu.Jit;

/// <summary>
/// A guest's soft TLB as generated code sees it, the part of every backend's ABI that is the same:
/// entries of <c>1 &lt;&lt; EntryShift</c> bytes indexed by <c>(va &gt;&gt; PageBits) &amp; IndexMask</c>, each
/// with a read tag, a write tag and a host-minus-guest address delta at the given offsets; a tag may
/// carry <see cref="TagFlags"/>, which <see cref="TlbTagLayout.Check"/> keeps out of the probe's reach.
/// </summary>
public sealed record SoftTlbLayout(int EntryShift, long IndexMask, int ReadTagOffset, int WriteTagOffset, int AddendOffset, ulong TagFlags)
{
    public int PageBits { get; init; } = 12;

    /// <summary>
    /// The layout of a table of 2^<paramref name="indexBits"/> <see cref="TlbEntry"/> structs, read
    /// from the struct itself: the one definition every guest's TLB and every backend's probe use.
    /// </summary>
    public static SoftTlbLayout OfTlbEntries(int indexBits) =>
        new(TlbEntry.SizeShift, (1L << indexBits) - 1, TlbEntry.TagReadOffset, TlbEntry.TagWriteOffset, TlbEntry.AddendOffset, TlbEntry.FlagBits);
}
