namespace Wemu.Jit;

/// <summary>What the backends that generate code directly (x86-64, WebAssembly) need to know about a guest's soft TLB (see <see cref="Il.IlGuestAbi"/> for the IL backend's).</summary>
public sealed class GuestCodeAbi
{
    /// <summary>log2 of the TLB entry size in bytes.</summary>
    public required int TlbEntryShift { get; init; }

    public required int TlbIndexMask { get; init; }

    public required int TlbReadTagOffset { get; init; }

    public required int TlbWriteTagOffset { get; init; }

    /// <summary>Offset of the host-minus-guest address delta (its low 32 bits are the linear-memory delta).</summary>
    public required int TlbAddendOffset { get; init; }

    public int PageBits { get; init; } = 12;

    /// <summary>Flag bits a tag may carry that keep it from matching (validated by <see cref="TlbTagLayout.Check"/>).</summary>
    public required ulong TlbTagFlags { get; init; }

    /// <summary>log2 of the jump cache's entry count.</summary>
    public int JumpCacheBits { get; init; } = 12;
}
