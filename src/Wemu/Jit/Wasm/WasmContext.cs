namespace Wemu.Jit.Wasm;

/// <summary>
/// The block of linear memory every compiled function gets a pointer to (its first argument):
/// where the guest registers and the data TLB are, the instruction budget, the exit record it
/// writes when it returns, and the jump cache chained exits look the next function up in.
/// All pointers are 32-bit linear-memory addresses.
/// </summary>
public static class WasmContext
{
    /// <summary>i32: address of the guest registers (x0..x31, 8 bytes each).</summary>
    public const int Regs = 0;
    /// <summary>i32: address of the data soft TLB of the current MMU context.</summary>
    public const int Tlb = 4;
    /// <summary>i32: stop at a loop back-edge or chain once the retired count reaches this.</summary>
    public const int Budget = 8;
    /// <summary>i32 written at exit: a <see cref="CodeExit"/>.</summary>
    public const int ExitKind = 12;
    /// <summary>i64 written at exit: the guest pc to continue at (for <see cref="CodeExit.Slow"/>, the instruction to interpret).</summary>
    public const int ExitPc = 16;
    /// <summary>i32: address of the jump cache of the current fetch MMU context (<see cref="JumpCacheEntry"/> entries).</summary>
    public const int JumpCache = 24;
    /// <summary>i32: the stamp jump-cache entries must carry to be valid (changes on TLB flushes and invalidations).</summary>
    public const int Stamp = 28;
    public const int Size = 32;

    /// <summary>A jump-cache entry: i64 virtual pc, i32 stamp, i32 function-table index; indexed by (pc >> 1) masked.</summary>
    public const int JumpCacheEntry = 16;
    public const int JumpCacheEntryPc = 0, JumpCacheEntryStamp = 8, JumpCacheEntryIndex = 12;
}
