namespace Wemu.Jit;

/// <summary>
/// What <see cref="Ir.IrOp.PageCopy"/> and <see cref="Ir.IrOp.PageFill"/> do, on a soft TLB of the
/// given layout: the IL backend calls these, the other backends generate the same steps. An
/// operation moves whole elements only, never past the end of a page on either side, and only
/// where the TLB lets the access straight through to RAM (a flagged tag, I/O or code, never
/// matches); what it cannot do it leaves undone and says so by its count, for the guest's slow path.
/// </summary>
public static unsafe class PageBulk
{
    /// <summary>Whole elements of 2^<paramref name="sizeLog2"/> bytes from <paramref name="va"/> to the end of its page.</summary>
    public static ulong Room(ulong va, int sizeLog2, int pageBits) =>
        ((1UL << pageBits) - (va & ((1UL << pageBits) - 1))) >> sizeLog2;

    /// <summary>The host address of <paramref name="va"/> if the entry's tag at <paramref name="tagOffset"/> lets an access of its page straight through, else null.</summary>
    private static byte* HostAddress(byte* tlb, long layout, ulong va, int tagOffset)
    {
        int pageBits = PageBits(layout);
        byte* entry = tlb + (((long)(va >> pageBits) & IndexMask(layout)) << EntryShift(layout));
        if (*(ulong*)(entry + tagOffset) != (va & ~((1UL << pageBits) - 1)))
            return null;
        return (byte*)(*(long*)(entry + AddendOffset(layout)) + (long)va);
    }

    /// <summary>
    /// A soft TLB's layout in one number, for generated code to pass: the index mask's bit count
    /// (bits 0-7), the entry shift (8-15), the page bits (16-23), the read tag's, write tag's and
    /// addend's offsets (24-31, 32-39, 40-47).
    /// </summary>
    public static long Pack(SoftTlbLayout l)
    {
        int indexBits = System.Numerics.BitOperations.PopCount((ulong)l.IndexMask);
        if (l.IndexMask != (1L << indexBits) - 1 || l.ReadTagOffset > 255 || l.WriteTagOffset > 255 || l.AddendOffset > 255)
            throw new ArgumentException("a TLB layout PageBulk cannot describe", nameof(l));
        return (long)((ulong)(uint)indexBits | (ulong)(uint)l.EntryShift << 8 | (ulong)(uint)l.PageBits << 16
            | (ulong)(uint)l.ReadTagOffset << 24 | (ulong)(uint)l.WriteTagOffset << 32 | (ulong)(uint)l.AddendOffset << 40);
    }

    private static long IndexMask(long layout) => (1L << (int)(layout & 0xFF)) - 1;
    private static int EntryShift(long layout) => (int)(layout >> 8) & 0xFF;
    private static int PageBits(long layout) => (int)(layout >> 16) & 0xFF;
    private static int ReadTag(long layout) => (int)(layout >> 24) & 0xFF;
    private static int WriteTag(long layout) => (int)(layout >> 32) & 0xFF;
    private static int AddendOffset(long layout) => (int)(layout >> 40) & 0xFF;

    /// <summary>
    /// The x86-64 backend's calls: <c>long f(byte* ctx)</c> with the operands in the exit context's
    /// helper slots (A: destination, B: source or value, Imm: count, Index: size, Pc: the packed
    /// layout, Retired: the TLB).
    /// </summary>
    public static readonly nint CopyFromCode = (nint)(delegate* unmanaged<byte*, long>)&CopyEntry, FillFromCode = (nint)(delegate* unmanaged<byte*, long>)&FillEntry;

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static long CopyEntry(byte* ctx) =>
        (long)Copy(*(byte**)(ctx + ExitContext.HelperRetired), *(long*)(ctx + ExitContext.HelperPc), *(ulong*)(ctx + ExitContext.HelperA),
            *(ulong*)(ctx + ExitContext.HelperB), *(ulong*)(ctx + ExitContext.HelperImm), (int)*(long*)(ctx + ExitContext.HelperIndex));

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static long FillEntry(byte* ctx) =>
        (long)Fill(*(byte**)(ctx + ExitContext.HelperRetired), *(long*)(ctx + ExitContext.HelperPc), *(ulong*)(ctx + ExitContext.HelperA),
            *(ulong*)(ctx + ExitContext.HelperB), *(ulong*)(ctx + ExitContext.HelperImm), (int)*(long*)(ctx + ExitContext.HelperIndex));

    /// <summary><see cref="Ir.IrOp.PageCopy"/>: elements copied from <paramref name="src"/> to <paramref name="dst"/> (<paramref name="layout"/>: <see cref="Pack"/>).</summary>
    public static ulong Copy(byte* tlb, long layout, ulong dst, ulong src, ulong count, int size)
    {
        int s = System.Numerics.BitOperations.Log2((uint)size);
        ulong k = Math.Min(count, Math.Min(Room(dst, s, PageBits(layout)), Room(src, s, PageBits(layout))));
        if (k == 0)
            return 0;
        byte* d = HostAddress(tlb, layout, dst, WriteTag(layout)), p = HostAddress(tlb, layout, src, ReadTag(layout));
        ulong bytes = k << s;
        if (d == null || p == null || (d > p && d < p + bytes))
            return 0;
        Buffer.MemoryCopy(p, d, bytes, bytes);
        return k;
    }

    /// <summary><see cref="Ir.IrOp.PageFill"/>: elements of <paramref name="value"/> stored at <paramref name="dst"/> onwards.</summary>
    public static ulong Fill(byte* tlb, long layout, ulong dst, ulong value, ulong count, int size)
    {
        int s = System.Numerics.BitOperations.Log2((uint)size);
        ulong k = Math.Min(count, Room(dst, s, PageBits(layout)));
        if (k == 0)
            return 0;
        byte* d = HostAddress(tlb, layout, dst, WriteTag(layout));
        if (d == null)
            return 0;
        switch (size)
        {
            case 1: new Span<byte>(d, (int)k).Fill((byte)value); break;
            case 2: new Span<ushort>(d, (int)k).Fill((ushort)value); break;
            case 4: new Span<uint>(d, (int)k).Fill((uint)value); break;
            default: new Span<ulong>(d, (int)k).Fill(value); break;
        }
        return k;
    }
}
