using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wemu.Jit;

/// <summary>
/// Execution counts of branch targets, for tiering. The interpreter bumps the entry of every
/// taken branch or jump target and leaves when one reaches the threshold, so the JIT can compile
/// it (and from then on run the compiled code there). Direct-mapped and keyed by virtual pc:
/// a collision only costs a count, never correctness. Indexed by the pc without its always-zero
/// alignment bits (<see cref="PcShift"/>). Native memory, so an interpreter loop reads it through a
/// pointer without bounds checks.
/// </summary>
public sealed unsafe class HotTable : IDisposable
{
    /// <summary>
    /// log2 of the entries (16 bytes each). Two targets that share an entry and alternate reset each
    /// other's count and never get hot. With 2^14 entries (pcs 32 KiB apart alias) one run of the
    /// page's gzip workload left 317 M instructions cold in the interpreter, another 122 M (where
    /// user code lands moves from run to run); with 2^16, 67-143 M (docs/PERFORMANCE.md).
    /// </summary>
    public const int Bits = 16;
    public const ulong Mask = (1 << Bits) - 1;

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
        Entry* e = table + Index(pc, pcShift);
        if (e->Pc != pc)
        {
            e->Pc = pc;
            e->Count = weight;
            return weight >= threshold;
        }
        return (e->Count += weight) >= threshold;
    }

    public bool Bump(ulong pc, int weight = 1) => Bump(Entries, pc, Threshold, PcShift, weight);

    /// <summary>
    /// The entry of <paramref name="pc"/>: with x = pc &gt;&gt; <paramref name="pcShift"/>, x's low <see cref="Bits"/> bits,
    /// for byte-aligned pcs (x86) folded with the two <see cref="Bits"/>-bit groups above them: with the low bits alone,
    /// x86 code at the same offset of 64 KiB-aligned places (kernel text against a library's, one library in two
    /// processes) shared an entry. (RISC-V keeps the plain index its page boot was tuned with.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Index(ulong pc, int pcShift)
    {
        ulong x = pc >> pcShift;
        return (pcShift == 0 ? x ^ (x >> Bits) ^ (x >> (2 * Bits)) : x) & Mask;
    }

    /// <summary>True if <paramref name="pc"/> has been a branch target (region building includes it).</summary>
    public bool HasRun(ulong pc)
    {
        Entry* e = Entries + Index(pc, PcShift);
        return e->Pc == pc && e->Count > 0;
    }

    /// <summary>Starts counting <paramref name="pc"/> again (it cannot be compiled).</summary>
    public void Cool(ulong pc)
    {
        Entry* e = Entries + Index(pc, PcShift);
        if (e->Pc == pc)
            e->Count = 0;
    }

    public void Clear()
    {
        for (ulong i = 0; i <= Mask; i++)
        {
            Entries[i].Pc = ulong.MaxValue;
            Entries[i].Count = 0;
        }
    }

    public void Dispose()
    {
        if (Entries != null)
        {
            NativeMemory.Free(Entries);
            Entries = null;
        }
    }
}
