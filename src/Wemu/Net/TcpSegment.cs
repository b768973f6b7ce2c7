namespace Wemu.Net;

/// <summary>A TCP segment from the guest, parsed and checksummed by <see cref="UserNetwork"/>.</summary>
internal readonly ref struct TcpSegment
{
    public uint Sequence { get; init; }

    public uint Acknowledgment { get; init; }

    public TcpFlags Flags { get; init; }

    public ushort Window { get; init; }

    /// <summary>The MSS option of a SYN (RFC 793 3.1, kind 2), 0 if absent.</summary>
    public ushort MaximumSegmentSize { get; init; }

    public ReadOnlySpan<byte> Payload { get; init; }

    public bool Has(TcpFlags f) => (Flags & f) != 0;
}
