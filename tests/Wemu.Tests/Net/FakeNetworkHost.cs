using Wemu.Net;

namespace Wemu.Tests.Net;

/// <summary>
/// A scripted <see cref="INetworkHost"/>: a manual clock, TCP sockets whose state and data the test controls,
/// UDP sockets that record what was sent, and names from a table. Counts every host resource asked for, so
/// tests can check the stack's bounds.
/// </summary>
internal sealed class FakeNetworkHost : INetworkHost
{
    public long Now;

    public long Microseconds => Now;

    public Dictionary<string, uint[]> Names { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<FakeTcpSocket> Connections { get; } = [];

    public List<FakeUdpSocket> UdpSockets { get; } = [];

    public Queue<FakeTcpSocket> Pending { get; } = new();

    /// <summary>The state new connections start in.</summary>
    public HostSocketState ConnectState = HostSocketState.Connecting;

    /// <summary>Bytes every new connection offers to read, unbounded if -1.</summary>
    public long ConnectionData;

    public IHostTcpSocket ConnectTcp(uint address, ushort port)
    {
        var s = new FakeTcpSocket { State = ConnectState, Address = address, Port = port, Readable = ConnectionData };
        Connections.Add(s);
        return s;
    }

    public IHostUdpSocket? OpenUdp()
    {
        var s = new FakeUdpSocket();
        UdpSockets.Add(s);
        return s;
    }

    public IHostTcpListener ListenTcp(uint address, ushort port) => new Listener(this);

    public IHostUdpSocket ListenUdp(uint address, ushort port) => new FakeUdpSocket();

    /// <summary>When set, name queries stay unfinished until the test sets <see cref="NamesResolved"/>.</summary>
    public bool ResolveLater;

    public bool NamesResolved;

    public IHostNameQuery ResolveName(string name) => new Query(this, Names.TryGetValue(name, out var a) ? a : []);

    private sealed class Query(FakeNetworkHost host, uint[] addresses) : IHostNameQuery
    {
        public bool IsCompleted => !host.ResolveLater || host.NamesResolved;

        public IReadOnlyList<uint> Addresses => addresses;
    }

    private sealed class Listener(FakeNetworkHost host) : IHostTcpListener
    {
        public IHostTcpSocket? Accept() => host.Pending.Count > 0 ? host.Pending.Dequeue() : null;

        public void Dispose()
        {
        }
    }
}

internal sealed class FakeTcpSocket : IHostTcpSocket
{
    public HostSocketState State { get; set; }

    public uint Address;
    public ushort Port;

    /// <summary>Bytes still offered to Receive (-1: without end); the stream ends when it reaches 0 and <see cref="Eof"/>.</summary>
    public long Readable;
    public bool Eof;
    public long BytesRead;

    /// <summary>How many bytes Send takes per call (0: the host is not reading).</summary>
    public int SendCapacity = int.MaxValue;
    public MemoryStream Sent { get; } = new();
    public bool ShutDown, Disposed;

    public int Receive(Span<byte> buffer)
    {
        if (Disposed)
            return IHostTcpSocket.Error;
        if (Readable == 0)
            return Eof ? 0 : IHostTcpSocket.WouldBlock;
        int n = Readable < 0 ? buffer.Length : (int)Math.Min(buffer.Length, Readable);
        for (int i = 0; i < n; i++)
            buffer[i] = (byte)(BytesRead + i);
        BytesRead += n;
        if (Readable > 0)
            Readable -= n;
        return n;
    }

    public int Send(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, SendCapacity);
        Sent.Write(data[..n]);
        return n;
    }

    public void ShutdownSend() => ShutDown = true;

    public void Dispose() => Disposed = true;
}

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
