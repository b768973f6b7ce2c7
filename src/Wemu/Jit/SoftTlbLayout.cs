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
    /// Misaligned accesses within a page go straight to RAM (x86); without it only naturally aligned
    /// ones do (RISC-V takes misaligned ones to its slow path). Either way the probe's one compare
    /// keeps page-crossing accesses out: with it, the page of the access's last byte must be the
    /// entry's (an entry holds only the page its index names, so the first byte's page is that one too).
    /// </summary>
    public bool Misaligned { get; init; }

    /// <summary>What the probe adds to the address before masking it with <see cref="ProbeMask"/>: the last byte's offset when <see cref="Misaligned"/>.</summary>
    public long ProbeOffset(int size, bool natural = false) => Misaligned && !natural ? size - 1 : 0;

    /// <summary>The mask that leaves the page (and, without <see cref="Misaligned"/> or for a <paramref name="natural"/>ly aligned access such as an atomic one, the alignment bits of a <paramref name="size"/>-byte access) for the tag compare.</summary>
    public long ProbeMask(int size, bool natural = false) => ~((1L << PageBits) - 1) | (Misaligned && !natural ? 0 : (long)(uint)(size - 1));

    /// <summary>
    /// The layout of a table of 2^<paramref name="indexBits"/> <see cref="TlbEntry"/> structs, read
    /// from the struct itself: the one definition every guest's TLB and every backend's probe use.
    /// </summary>
    public static SoftTlbLayout OfTlbEntries(int indexBits) =>
        new(TlbEntry.SizeShift, (1L << indexBits) - 1, TlbEntry.TagReadOffset, TlbEntry.TagWriteOffset, TlbEntry.AddendOffset, TlbEntry.FlagBits);
}
