using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Wemu.Machines;
using Wemu.Net;

namespace Wemu.Cli;

/// <summary>
/// The native host side of <c>-netdev user</c>: ordinary non-blocking sockets, polled by the machine thread, and
/// names resolved by the runtime's resolver in the background (<see cref="Dns.GetHostAddressesAsync(string)"/>).
/// No call blocks and no exception reaches the stack: a socket error becomes <see cref="IHostTcpSocket.Error"/>.
/// <see cref="WaitForActivity"/> lets the idle machine loop sleep until a socket has something.
/// </summary>
public sealed class HostSocketNetwork : INetworkHost
{
    private readonly List<Socket> _sockets = [];
    private readonly HashSet<Socket> _connecting = [];
    // TCP sockets the stack is not reading now (its buffer toward the guest is full, or the stream ended): left
    // out of the idle select, or a guest that does not read would make it return at once, again and again.
    private readonly HashSet<Socket> _notReading = [];
    private readonly Lock _lock = new();

    public long Microseconds => Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000);

    public IHostTcpSocket ConnectTcp(uint address, ushort port)
    {
        Socket s;
        try
        {
            s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false, NoDelay = true };
        }
        catch (SocketException)
        {
            return new RefusedTcpSocket();   // out of descriptors: the guest sees the connection refused
        }
        Track(s);
        var c = new TcpSocket(this, s);
        try
        {
            s.Connect(new IPEndPoint(ToIp(address), port));
            c.State = HostSocketState.Connected;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
            c.State = HostSocketState.Connecting;
            lock (_lock)
                _connecting.Add(s);
        }
        catch (SocketException)
        {
            c.State = HostSocketState.Failed;
        }
        return c;
    }

    public IHostUdpSocket? OpenUdp()
    {
        try
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { Blocking = false };
            s.Bind(new IPEndPoint(IPAddress.Any, 0));
            Track(s);
            return new UdpSocket(this, s);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public IHostTcpListener ListenTcp(uint address, ushort port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
        try
        {
            s.Bind(new IPEndPoint(ToIp(address), port));
            s.Listen(16);
        }
        catch (SocketException e)
        {
            s.Dispose();
            throw new ConfigException($"hostfwd: could not listen on tcp {HostForward.FormatAddress(address)}:{port}: {e.Message}");
        }
        Track(s);
        return new TcpListener(this, s);
    }

    public IHostUdpSocket ListenUdp(uint address, ushort port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { Blocking = false };
        try
        {
            s.Bind(new IPEndPoint(ToIp(address), port));
        }
        catch (SocketException e)
        {
            s.Dispose();
            throw new ConfigException($"hostfwd: could not listen on udp {HostForward.FormatAddress(address)}:{port}: {e.Message}");
        }
        Track(s);
        return new UdpSocket(this, s);
    }

    public IHostNameQuery ResolveName(string name) => new NameQuery(name);

    /// <summary>True while any socket is open (the idle loop then waits on them).</summary>
    public bool HasSockets
    {
        get
        {
            lock (_lock)
                return _sockets.Count > 0;
        }
    }

    /// <summary>
    /// Sleeps at most <paramref name="timeout"/> or until a socket is readable, writable after a connect, or in
    /// error (select(2) over every open socket).
    /// </summary>
    public void WaitForActivity(TimeSpan timeout)
    {
        List<Socket> read, error, write;
        lock (_lock)
        {
            read = [.. _sockets.Where(s => !_notReading.Contains(s))];
            error = [.. _sockets];
            write = [.. _connecting];
        }
        if (read.Count == 0)
        {
            LibC.SleepFor(timeout);
            return;
        }
        // Connecting sockets show up as writable once connected; connected ones nearly always are, so only the former.
        try
        {
            Socket.Select(read, write.Count > 0 ? write : null, error, (int)Math.Max(timeout.TotalMicroseconds, 0));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // A socket closed between the copy and the select: the next poll sees to it.
        }
    }

    private void Track(Socket s)
    {
        lock (_lock)
            _sockets.Add(s);
    }

    private void Untrack(Socket s)
    {
        lock (_lock)
        {
            _sockets.Remove(s);
            _connecting.Remove(s);
            _notReading.Remove(s);
        }
        s.Dispose();
    }

    /// <summary>
    /// After each receive: data or the end of the stream (the stack reads again only if it has room) leaves the
    /// socket out of the idle wait; "nothing now" (the stack wants more) puts it back.
    /// </summary>
    private void Reading(Socket s, bool wantsMore)
    {
        lock (_lock)
        {
            if (wantsMore)
                _notReading.Remove(s);
            else
                _notReading.Add(s);
        }
    }

    private void Connected(Socket s)
    {
        lock (_lock)
            _connecting.Remove(s);
    }

    private static IPAddress ToIp(uint address) =>
        new([(byte)(address >> 24), (byte)(address >> 16), (byte)(address >> 8), (byte)address]);

    private static uint FromIp(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6)
            ip = ip.MapToIPv4();
        Span<byte> b = stackalloc byte[4];
        return ip.TryWriteBytes(b, out int n) && n == 4 ? (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) : 0;
    }

    private sealed class TcpSocket(HostSocketNetwork owner, Socket socket) : IHostTcpSocket
    {
        private bool _disposed;

        public HostSocketState State { get; set; }

        HostSocketState IHostTcpSocket.State
        {
            get
            {
                if (State == HostSocketState.Connecting && !_disposed)
                {
                    // A non-blocking connect finished when the socket is writable (connected) or in error (refused).
                    try
                    {
                        if (socket.Poll(0, SelectMode.SelectError))
                            State = HostSocketState.Failed;
                        else if (socket.Poll(0, SelectMode.SelectWrite))
                            State = HostSocketState.Connected;
                        if (State != HostSocketState.Connecting)
                            owner.Connected(socket);
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        State = HostSocketState.Failed;
                    }
                }
                return State;
            }
        }

        public int Receive(Span<byte> buffer)
        {
            if (_disposed)
                return IHostTcpSocket.Error;
            int n = socket.Receive(buffer, SocketFlags.None, out var error);
            owner.Reading(socket, wantsMore: error == SocketError.WouldBlock);
            return error switch
            {
                SocketError.Success => n,
                SocketError.WouldBlock => IHostTcpSocket.WouldBlock,
                _ => IHostTcpSocket.Error,
            };
        }

        public int Send(ReadOnlySpan<byte> data)
        {
            if (_disposed)
                return IHostTcpSocket.Error;
            int n = socket.Send(data, SocketFlags.None, out var error);
            return error switch
            {
                SocketError.Success => n,
                SocketError.WouldBlock => 0,
                _ => IHostTcpSocket.Error,
            };
        }

        public void ShutdownSend()
        {
            try
            {
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            owner.Untrack(socket);
        }
    }

    /// <summary>A connection the host could not even start (no socket): failed from the start.</summary>
    private sealed class RefusedTcpSocket : IHostTcpSocket
    {
        public HostSocketState State => HostSocketState.Failed;

        public int Receive(Span<byte> buffer) => IHostTcpSocket.Error;

        public int Send(ReadOnlySpan<byte> data) => IHostTcpSocket.Error;

        public void ShutdownSend()
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed class UdpSocket(HostSocketNetwork owner, Socket socket) : IHostUdpSocket
    {
        private readonly byte[] _address = new byte[16];
        private EndPoint _any = new IPEndPoint(IPAddress.Any, 0);
        private bool _disposed;

        public int ReceiveFrom(Span<byte> buffer, out uint address, out ushort port)
        {
            address = 0;
            port = 0;
            if (_disposed || socket.Available == 0)
                return -1;
            try
            {
                int n = socket.ReceiveFrom(buffer, SocketFlags.None, ref _any);
                var from = (IPEndPoint)_any;
                address = FromIp(from.Address);
                port = (ushort)from.Port;
                return n;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
            {
                return -1;   // larger than the guest's MTU: dropped
            }
            catch (SocketException)
            {
                return -1;   // e.g. an ICMP port unreachable reported on the next receive
            }
        }

        public bool SendTo(ReadOnlySpan<byte> data, uint address, ushort port)
        {
            if (_disposed)
                return false;
            try
            {
                socket.SendTo(data, SocketFlags.None, new IPEndPoint(ToIp(address), port));
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            owner.Untrack(socket);
        }
    }

    private sealed class TcpListener(HostSocketNetwork owner, Socket socket) : IHostTcpListener
    {
        private bool _disposed;

        public IHostTcpSocket? Accept()
        {
            if (_disposed)
                return null;
            try
            {
                // Accept on an empty non-blocking listener throws; ask poll(2) first, polls are frequent.
                if (!socket.Poll(0, SelectMode.SelectRead))
                    return null;
                var s = socket.Accept();
                s.Blocking = false;
                s.NoDelay = true;
                owner.Track(s);
                return new TcpSocket(owner, s) { State = HostSocketState.Connected };
            }
            catch (SocketException)
            {
                return null;   // WouldBlock: nobody is waiting
            }
        }

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            owner.Untrack(socket);
        }
    }

    private sealed class NameQuery : IHostNameQuery
    {
        private readonly Task<IPAddress[]> _task;

        public NameQuery(string name)
        {
            try
            {
                _task = Dns.GetHostAddressesAsync(name, AddressFamily.InterNetwork);
            }
            catch (Exception e) when (e is ArgumentException or SocketException)
            {
                _task = Task.FromResult(Array.Empty<IPAddress>());   // a name the resolver refuses outright: no address
            }
        }

        public bool IsCompleted => _task.IsCompleted;

        public IReadOnlyList<uint> Addresses =>
            _task.IsCompletedSuccessfully ? [.. _task.Result.Select(FromIp).Where(a => a != 0)] : [];
    }
}
