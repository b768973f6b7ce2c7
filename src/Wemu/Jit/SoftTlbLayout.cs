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
}
