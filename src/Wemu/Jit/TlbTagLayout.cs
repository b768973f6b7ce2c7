namespace Wemu.Jit;

/// <summary>
/// The contract between a guest's soft-TLB tags and the backends' inline probes. Every backend
/// (x86-64, IL, WebAssembly) checks a load or store with one compare:
/// <c>tag == (va &amp; (~pageMask | (size - 1)))</c>, the page and natural alignment at once. A tag
/// may carry flag bits that keep it from matching (an I/O page, a page holding compiled code),
/// but only in bits that mask can never produce: were a flag in the alignment bits, a misaligned
/// access whose low bits equal the flag would match and take the fast path with that entry's
/// host delta (the bug behind SECURITY.md's first finding). <see cref="Check"/> runs before a
/// backend compiles anything for an ABI, so a layout that breaks this never runs.
/// </summary>
public static class TlbTagLayout
{
    /// <summary>The widest access a probe may check (16 bytes: SSE-sized, for guests that have it).</summary>
    public const int MaxAccessSize = 16;

    /// <summary>Throws unless <paramref name="flagBits"/> lie in the page-offset bits above every alignment bit.</summary>
    public static void Check(int pageBits, ulong flagBits)
    {
        ulong offsetBits = (1UL << pageBits) - 1;
        const ulong alignmentBits = MaxAccessSize - 1;
        if (flagBits == 0)
            return;
        if ((flagBits & ~offsetBits) != 0)
            throw new InvalidOperationException($"TLB flag bits 0x{flagBits:x} reach into the page number ({pageBits}-bit pages): a flagged tag could equal another page's");
        if ((flagBits & alignmentBits) != 0)
            throw new InvalidOperationException($"TLB flag bits 0x{flagBits:x} overlap the alignment bits 0x{alignmentBits:x} the inline probe compares: a misaligned access could match a flagged tag");
    }
}
