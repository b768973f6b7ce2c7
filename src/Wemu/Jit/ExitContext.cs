namespace Wemu.Jit;

/// <summary>
/// The block of memory compiled code gets a pointer to, the same for the x86-64 and WebAssembly
/// backends: where the guest registers and the data soft TLB are, the instruction budget, the
/// exit record written when the code returns (a <see cref="CodeExit"/> and the pc to go on at),
/// and the jump cache chained exits look the next code up in. Every field has an 8-byte slot: a
/// pointer (64-bit natively, 32-bit in wasm linear memory) is stored zero-extended, the budget is
/// clamped to <see cref="int.MaxValue"/>, so wasm reads the low half of each slot and x86-64 the
/// whole of it; the engine fills one layout whichever backend runs.
/// </summary>
public static class ExitContext
{
    /// <summary>Pointer: the guest registers (8 bytes each).</summary>
    public const int Regs = 0;
    /// <summary>Pointer: the data soft TLB of the current MMU context.</summary>
    public const int Tlb = 8;
    /// <summary>Stop at a loop back-edge or chain once the retired count reaches this (at most <see cref="int.MaxValue"/>).</summary>
    public const int Budget = 16;
    /// <summary>i32 written at exit: a <see cref="CodeExit"/>.</summary>
    public const int ExitKind = 24;
    /// <summary>i64 written at exit: the guest pc to continue at (for <see cref="CodeExit.Slow"/>, the instruction to interpret).</summary>
    public const int ExitPc = 32;
    /// <summary>Pointer: the jump cache of the current fetch context (<see cref="JumpCacheEntry"/>-byte entries).</summary>
    public const int JumpCache = 40;
    /// <summary>i32: the stamp jump-cache entries must carry to be valid (changes on TLB flushes and invalidations).</summary>
    public const int Stamp = 48;
    /// <summary>Pointer-sized: the guest CPU for <see cref="GuestCodeAbi.HelperCall"/> (a GC handle).</summary>
    public const int State = 56;
    /// <summary>A helper call's arguments (<see cref="Ir.IrOp.Call"/>): helper number, A, B, Imm, guest pc, instructions retired before it.</summary>
    public const int HelperIndex = 64, HelperA = 72, HelperB = 80, HelperImm = 88, HelperPc = 96, HelperRetired = 104;
    /// <summary>
    /// i32: the stamp an entry for code on a global page carries (x86 kernel text with CR4.PGE): it changes only when a
    /// flush may drop global translations, so such entries outlive the CR3 writes of context switches (which change
    /// <see cref="Stamp"/>). An entry is followed if its stamp is either; both come from one counter, so they never meet.
    /// </summary>
    public const int GlobalStamp = 112;
    /// <summary>Pointer: the soft TLB of the current fetch context (what an interpreter in wasm fetches through, <see cref="IJitFrontEnd{TCpu}.BuildWasmInterpreter"/>).</summary>
    public const int FetchTlb = 120;
    /// <summary>
    /// i32: the function-table index of the guest's interpreter in wasm (0: none). A chained exit whose target the jump
    /// cache lacks tail-calls it with the target in <see cref="ExitPc"/> instead of returning to the host.
    /// </summary>
    public const int ColdCode = 128;
    /// <summary>i64: instructions that interpreter retired since the host last read and cleared it (for the statistics).</summary>
    public const int ColdRetired = 136;
    public const int Size = 144;

    /// <summary>
    /// A jump-cache entry: the virtual pc, an i32 stamp, and the code (a native entry address, or a
    /// wasm function-table index in the low half); indexed by <see cref="JumpCacheIndex"/>.
    /// </summary>
    public const int JumpCacheEntry = 32, JumpCacheEntryShift = 5;
    public const int EntryPc = 0, EntryStamp = 8, EntryCode = 16;

    /// <summary>
    /// The jump-cache slot of <paramref name="pc"/>: with x = pc &gt;&gt; <paramref name="shift"/> (<see cref="GuestCodeAbi.PcAlignShift"/>),
    /// (x ^ (x &gt;&gt; <paramref name="bits"/>)) mod 2^<paramref name="bits"/>. The fold mixes the page number in: with the
    /// low bits alone, x86 code at the same offset of different pages (4 KiB apart, 2^12 entries) took the same slot and
    /// hot targets evicted each other (chained exits back to the host). Generated code computes the same.
    /// </summary>
    public static int JumpCacheIndex(ulong pc, int shift, int bits)
    {
        ulong x = pc >> shift;
        return (int)((x ^ (x >> bits)) & ((1UL << bits) - 1));
    }

    /// <summary>Bytes of one jump cache of 2^<paramref name="bits"/> entries.</summary>
    public static int JumpCacheBytes(int bits) => JumpCacheEntry << bits;
}
