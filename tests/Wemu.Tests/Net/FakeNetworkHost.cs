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
