using System.Runtime.InteropServices;

namespace Wemu.Memory;

/// <summary>
/// One soft-TLB entry, QEMU style: a tag per access kind holds the virtual page if that access is
/// allowed straight to RAM (host address = <see cref="Addend"/> + virtual address). A tag with the
/// <see cref="IoFlag"/> bit set never matches the fast path but keeps the translation (in
/// <see cref="PhysPage"/>) for MMIO pages, so device accesses skip the page walk.
/// <para>
/// Generated code compares a tag with <c>va &amp; (~0xFFF | (size - 1))</c>: one compare for the page
/// and natural alignment. So the flags live in bits that mask can never produce (bits 10 and 11;
/// the mask keeps at most bits 0-3), and a misaligned access can never equal a flagged tag
/// (<see cref="Jit.TlbTagLayout"/> checks this for every backend). An I/O entry's
/// <see cref="Addend"/> points at <see cref="GuardPage"/>, never at guest-chosen host memory.
/// </para>
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct TlbEntry
{
    public const ulong Invalid = ulong.MaxValue;
    public const ulong IoFlag = 1UL << 11;
    /// <summary>On <see cref="TagWrite"/>: the RAM page holds translated code, so stores take the
    /// slow path, which tells the translator before writing (QEMU's TLB_NOTDIRTY).</summary>
    public const ulong CodeFlag = 1UL << 10;

    /// <summary>Every flag bit a tag may carry (what <see cref="Jit.TlbTagLayout.Check"/> validates).</summary>
    public const ulong FlagBits = IoFlag | CodeFlag;

    /// <summary>log2 of the entry's size: generated code indexes the TLB with a shift.</summary>
    public static readonly int SizeShift = ShiftOfSize();

    /// <summary>Where the fields generated code reads sit in an entry (what the backends' ABIs are made of).</summary>
    public static readonly int TagReadOffset = OffsetOf(0), TagWriteOffset = OffsetOf(1), TagExecOffset = OffsetOf(2), AddendOffset = OffsetOf(3);

    /// <summary>
    /// A translator or decoded-instruction cache started using <paramref name="physPage"/> as code:
    /// every entry of <paramref name="entries"/> that lets stores reach that page directly is
    /// downgraded (<see cref="CodeFlag"/>), so stores take the slow path, which reports them to the bus.
    /// </summary>
    public static unsafe void ProtectCodePage(TlbEntry* entries, int count, ulong physPage)
    {
        for (int i = 0; i < count; i++)
        {
            ulong tag = entries[i].TagWrite;
            if (entries[i].PhysPage == physPage && (tag & 0xFFF) == 0)
                entries[i].TagWrite = tag | CodeFlag;
        }
    }

    private static unsafe int ShiftOfSize()
    {
        int size = sizeof(TlbEntry);
        if (!System.Numerics.BitOperations.IsPow2(size))
            throw new InvalidOperationException($"a TLB entry is {size} bytes: generated code needs a power of two");
        return System.Numerics.BitOperations.Log2((uint)size);
    }

    private static unsafe int OffsetOf(int field)
    {
        TlbEntry e = default;
        byte* at = field switch { 0 => (byte*)&e.TagRead, 1 => (byte*)&e.TagWrite, 2 => (byte*)&e.TagExec, _ => (byte*)&e.Addend };
        return (int)(at - (byte*)&e);
    }

    public ulong TagRead;
    public ulong TagWrite;
    public ulong TagExec;
    public long Addend;
    public ulong PhysPage;
    private ulong _pad0, _pad1, _pad2;
}
