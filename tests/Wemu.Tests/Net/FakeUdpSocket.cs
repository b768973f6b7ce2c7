using Wemu.Net;

namespace Wemu.Tests.Net;

/// <summary>A host UDP socket that records what was sent and returns what the test queued.</summary>
internal sealed class FakeUdpSocket : IHostUdpSocket
{
    public List<(byte[] Data, uint Address, ushort Port)> SentTo { get; } = [];

    public Queue<(byte[] Data, uint Address, ushort Port)> Incoming { get; } = new();

    public bool Disposed;

    public int ReceiveFrom(Span<byte> buffer, out uint address, out ushort port)
    {
        address = 0;
        port = 0;
        if (Incoming.Count == 0)
            return -1;
        var (d, a, p) = Incoming.Dequeue();
        address = a;
        port = p;
        int n = Math.Min(d.Length, buffer.Length);
        d.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public bool SendTo(ReadOnlySpan<byte> data, uint address, ushort port)
    {
        SentTo.Add((data.ToArray(), address, port));
        return true;
    }

    public void Dispose() => Disposed = true;
}
