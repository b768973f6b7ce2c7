namespace Wemu.Net;

/// <summary>
/// One guest UDP port's host socket (slirp keeps one per guest socket too): every datagram the guest sends from
/// that port goes out on it, and whatever arrives on it comes back to that port, from the sender's address
/// (the host's loopback shown as 10.0.2.2). Removed after a minute unused.
/// </summary>
internal sealed class UdpNatBinding(uint guestAddress, ushort guestPort, IHostUdpSocket socket)
{
    public uint GuestAddress { get; } = guestAddress;

    public ushort GuestPort { get; } = guestPort;

    public IHostUdpSocket Socket { get; } = socket;

    public long LastUsed { get; set; }
}
