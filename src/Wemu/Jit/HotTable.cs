using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wemu.Jit;

/// <summary>
/// Execution counts of branch targets, for tiering. The interpreter bumps the entry of every
/// taken branch or jump target and leaves when one reaches the threshold, so the JIT can compile
/// it (and from then on run the compiled code there). Two-way set-associative with the most recent
/// way first, keyed by virtual pc: a collision only costs a count, never correctness. Indexed by the
/// pc without its always-zero alignment bits (<see cref="PcShift"/>). Native memory, so an
/// interpreter loop reads it through a pointer without bounds checks.
/// </summary>
public sealed unsafe class HotTable : IDisposable
{
    /// <summary>
    /// log2 of the entries (16 bytes each), two to a set. Two targets that share a direct-mapped entry and alternate
    /// reset each other's count and never get hot: with 2^14 entries (pcs 32 KiB apart alias) one run of the
    /// page's gzip workload left 317 M instructions cold in the interpreter, another 122 M (where
    /// user code lands moves from run to run); with 2^16, 67-143 M (docs/PERFORMANCE.md). Two ways let any two
    /// alternating targets of a set both count (session 17: x86 kernel targets in pairs whose folded indexes met,
    /// ~4,800 arrivals each over one pigz run natively, never got hot and left compiled code for the interpreter at
    /// every arrival).
    /// </summary>
    public const int Bits = 16;
    public const int SetBits = Bits - 1;
    public const ulong Mask = (1 << SetBits) - 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct Entry
    {
        public ulong Pc;
        public long Count;
    }

    public HotTable(int threshold, int pcShift)
    {
        Threshold = threshold;
        PcShift = pcShift;
        Entries = (Entry*)NativeMemory.AllocZeroed((nuint)(sizeof(Entry) << Bits));
        Clear();
    }

    public Entry* Entries { get; private set; }

    public int Threshold { get; }

    /// <summary>log2 of the guest's instruction alignment (RISC-V with C: 1; x86: 0).</summary>
    public int PcShift { get; }

    /// <summary>
    /// Counts an arrival at <paramref name="pc"/> as <paramref name="weight"/> arrivals; true once it is hot
    /// (<paramref name="pcShift"/>: <see cref="PcShift"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Bump(Entry* table, ulong pc, int threshold, int pcShift, int weight = 1)
    {
        Entry* set = table + (Index(pc, pcShift) << 1);
        if (set[0].Pc == pc)
            return (set[0].Count += weight) >= threshold;
        Entry first;
        if (set[1].Pc == pc)
        {
            first = set[1];
            first.Count += weight;
        }
        else
        {
            first = new Entry { Pc = pc, Count = weight };   // (the least recent way goes)
        }
        set[1] = set[0];
        set[0] = first;
        return first.Count >= threshold;
    }

    public bool Bump(ulong pc, int weight = 1) => Bump(Entries, pc, Threshold, PcShift, weight);

    /// <summary>
    /// The set of <paramref name="pc"/>: with x = pc &gt;&gt; <paramref name="pcShift"/>, for byte-aligned pcs (x86) a
    /// multiplicative hash of all of x (code at the same offset of 64 KiB-aligned places, one library in two processes,
    /// the kernel against a library, must not meet; a fold of 16-bit groups by XOR made kernel pcs whose groups XOR
    /// alike meet); otherwise x's low <see cref="SetBits"/> bits (RISC-V keeps the plain index its page boot was
    /// tuned with).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Index(ulong pc, int pcShift)
    {
        ulong x = pc >> pcShift;
        return pcShift == 0 ? (x * 0x9E3779B97F4A7C15UL) >> (64 - SetBits) : x & Mask;
    }

    /// <summary>True if <paramref name="pc"/> has been a branch target (region building includes it).</summary>
    public bool HasRun(ulong pc)
    {
        Entry* set = Entries + (Index(pc, PcShift) << 1);
        return (set[0].Pc == pc && set[0].Count > 0) || (set[1].Pc == pc && set[1].Count > 0);
    }

    /// <summary>Starts counting <paramref name="pc"/> again (it cannot be compiled).</summary>
    public void Cool(ulong pc)
    {
        Entry* set = Entries + (Index(pc, PcShift) << 1);
        if (set[0].Pc == pc)
            set[0].Count = 0;
        if (set[1].Pc == pc)
            set[1].Count = 0;
    }

    /// <summary>
    /// Empties every entry: all bits set, so no pc matches (its count is never read). One memset: a loop over the
    /// 65,536 entries took ~15 ms under the page's interpreter, at start-up and at every invalidation.
    /// </summary>
    public void Clear() => NativeMemory.Fill(Entries, (nuint)(sizeof(Entry) << Bits), 0xFF);

    public void Dispose()
    {
        if (Entries != null)
        {
            NativeMemory.Free(Entries);
            Entries = null;
        }
    }
}
