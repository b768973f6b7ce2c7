namespace Wemu.Net;

/// <summary>A host UDP socket, non-blocking.</summary>
public interface IHostUdpSocket : IDisposable
{
    /// <summary>Bytes of the next datagram (truncated to <paramref name="buffer"/>), or -1 if none is waiting.</summary>
    int ReceiveFrom(Span<byte> buffer, out uint address, out ushort port);

    /// <summary>Sends one datagram; false if the host dropped it.</summary>
    bool SendTo(ReadOnlySpan<byte> data, uint address, ushort port);
}
