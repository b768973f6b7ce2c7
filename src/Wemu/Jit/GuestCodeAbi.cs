namespace Wemu.Jit;

/// <summary>What the backends that generate code directly (x86-64, WebAssembly) need to know about a guest: its soft TLB and how its pcs hash into the jump cache (see <see cref="Il.IlGuestAbi"/> for the IL backend's).</summary>
public sealed class GuestCodeAbi
{
    /// <summary>The soft TLB's layout (shared with <see cref="Il.IlGuestAbi"/>).</summary>
    public required SoftTlbLayout Tlb { get; init; }

    /// <summary>log2 of the jump cache's entry count.</summary>
    public int JumpCacheBits { get; init; } = 14;

    /// <summary>log2 of the guest's instruction alignment: the low pc bits the jump-cache hash drops (RISC-V with C: 1; x86: 0).</summary>
    public int PcAlignShift { get; init; }

    /// <summary>
    /// x86-64 backend: a native function <c>int call(byte* ctx)</c> that runs helper
    /// <see cref="ExitContext.HelperIndex"/> with the arguments in the <see cref="ExitContext"/> and
    /// returns 1 to go on, or 0 to leave (a guest exception it delivered, or a stop: the pc to go on
    /// at is then in <see cref="ExitContext.ExitPc"/>). 0: helpers are exits the engine interprets
    /// (RISC-V, whose helpers are rare, and the WebAssembly backend).
    /// </summary>
    public nint HelperCall { get; init; }

    /// <summary>
    /// The <see cref="ExitContext.HelperIndex"/> under which <see cref="HelperCall"/> refills the soft
    /// TLB (<see cref="ExitContext.HelperA"/>: the address; <see cref="ExitContext.HelperB"/>: the
    /// access, <see cref="TlbFillKind"/>) without raising anything, returning 1 if the inline probe of
    /// that access now hits; -1: none (a TLB miss leaves compiled code for the slow path).
    /// </summary>
    public int TlbFillHelper { get; init; } = -1;

    /// <summary>The access a <see cref="TlbFillHelper"/> call asks for: size in bits 0-7, then <see cref="TlbFillWrite"/> / <see cref="TlbFillAtomic"/>.</summary>
    public static long TlbFillKind(int size, bool write, bool atomic) => (long)(uint)size | (write ? TlbFillWrite : 0) | (atomic ? TlbFillAtomic : 0);

    public const long TlbFillWrite = 0x100, TlbFillAtomic = 0x200;
}
