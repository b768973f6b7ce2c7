namespace Wemu.Jit;

/// <summary>What the backends that generate code directly (x86-64, WebAssembly) need to know about a guest: its soft TLB and how its pcs hash into the jump cache (see <see cref="Il.IlGuestAbi"/> for the IL backend's).</summary>
public sealed class GuestCodeAbi
{
    /// <summary>The soft TLB's layout (shared with <see cref="Il.IlGuestAbi"/>).</summary>
    public required SoftTlbLayout Tlb { get; init; }

    /// <summary>log2 of the jump cache's entry count.</summary>
    public int JumpCacheBits { get; init; } = 12;

    /// <summary>log2 of the guest's instruction alignment: the low pc bits the jump-cache hash drops (RISC-V with C: 1; x86: 0).</summary>
    public int PcAlignShift { get; init; }
}
