using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Wemu.Net;

namespace Wemu.Cli;

/// <summary>
/// <c>wemu relay</c>: a WebSocket server on <see cref="RelayFraming.Path"/> that gives each client its own user-mode
/// NAT (<see cref="UserNetwork"/> on <see cref="HostSocketNetwork"/>, the same as <c>-nic user</c>: 10.0.2.0/24,
/// DHCP, DNS, 10.0.2.2 = this host's loopback), fed with the frames of <see cref="RelayFraming"/>. So a guest in a
/// browser tab (or a <c>-nic websocket</c> machine elsewhere) reaches the network as this host does: exposing the
/// relay is exposing a NAT into this host's network. Hence on a loopback address it answers only requests that
/// name a loopback host (DNS rebinding) and WebSocket requests from pages on a loopback origin, or on an origin
/// given with <c>--allow-origin</c>; clients that send no Origin (native ones) are let in.
/// Every client is bounded: at most <see cref="MaxClients"/> at once, each with the NAT's own bounds and a queue of
/// <see cref="RelayFraming.MaxQueuedFrames"/> frames each way; a frame that finds its queue full is dropped. The NAT
/// of a client runs on its own thread (it is single-threaded, like the machine loop); the socket tasks meet it only
/// through the queues. A client that breaks the framing is closed (1003 for text, 1009 for an oversize message,
/// 1007 for one shorter than an Ethernet header); the relay goes on.
/// </summary>
public sealed class NetworkRelay : IDisposable
{
    public const int MaxClients = 16;

    private const int MaxRequestHead = 8192;
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);
    // The NAT thread sleeps in select(2) on its host sockets, which a frame from the client cannot interrupt: while
    // frames flow it looks again every BusyStep (a transfer's ACKs must not wait), after QuietAfter without any it
    // sleeps IdleStep (an idle client with open connections costs ~200 wake-ups a second, not thousands).
    private static readonly TimeSpan BusyStep = TimeSpan.FromMilliseconds(0.25);
    private static readonly TimeSpan IdleStep = TimeSpan.FromMilliseconds(5);
    private static readonly long QuietAfter = System.Diagnostics.Stopwatch.Frequency / 10;

    private readonly TcpListener _listener;
    private readonly HashSet<string> _allowedOrigins;
    private readonly bool _loopback;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private int _clients;
    private int _lastId;

    /// <param name="allowedOrigins">Page origins let in besides loopback ones (exactly as browsers send them, or "*").</param>
    /// <param name="log">One line per client connecting and leaving.</param>
    public NetworkRelay(IPAddress address, int port, IEnumerable<string> allowedOrigins, TextWriter log)
    {
        _listener = new TcpListener(address, port);
        _loopback = IPAddress.IsLoopback(address);
        _allowedOrigins = new HashSet<string>(allowedOrigins, StringComparer.OrdinalIgnoreCase);
        _log = TextWriter.Synchronized(log);
    }

    /// <summary>Binds; throws <see cref="SocketException"/> when the address or port cannot be had.</summary>
    public void Start() => _listener.Start();

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndpoint;

    public string Url => $"ws://{(Endpoint.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Endpoint.Address}]" : Endpoint.Address.ToString())}:{Endpoint.Port}{RelayFraming.Path}";

    /// <summary>Clients connected now.</summary>
    public int ClientCount => Volatile.Read(ref _clients);

    /// <summary>Accepts clients until <see cref="Dispose"/>.</summary>
    public async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient tcp;
            try
            {
                tcp = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;   // a connection reset before it was accepted, out of descriptors: the next one
            }
            _ = Task.Run(() => ServeAsync(tcp));
        }
    }

    private async Task ServeAsync(TcpClient tcp)
    {
        int id = Interlocked.Increment(ref _lastId);
        string remote = tcp.Client.RemoteEndPoint?.ToString() ?? "?";
        bool counted = Interlocked.Increment(ref _clients) <= MaxClients;
        try
        {
            tcp.NoDelay = true;
            var stream = tcp.GetStream();
            if (!counted)
            {
                await RefuseAsync(stream, 503, "too many clients").ConfigureAwait(false);
                return;
            }
            using var handshake = new CancellationTokenSource(HandshakeTimeout);
            var ws = await HandshakeAsync(stream, handshake.Token).ConfigureAwait(false);
            if (ws == null)
                return;
            _log.WriteLine($"wemu relay: client {id} ({remote}) connected: its own NAT on 10.0.2.0/24");
            using var session = new Session(ws, id);
            string end = await session.RunAsync(_stop.Token).ConfigureAwait(false);
            _log.WriteLine($"wemu relay: client {id} closed ({end}; {session.FramesIn} frames in, {session.FramesOut} out, {session.Dropped} dropped)");
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or WebSocketException)
        {
            // A client that went away mid-handshake, or one too slow to finish it: nothing to keep.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.WriteLine($"wemu relay: client {id}: internal error: {e.Message.ReplaceLineEndings(" ")} ({e.GetType().Name})");
        }
        finally
        {
            Interlocked.Decrement(ref _clients);
            tcp.Dispose();
        }
    }

    /// <summary>RFC 6455 section 4.2: reads the request, checks it, answers 101 and returns the server's WebSocket; or answers an HTTP error and returns null.</summary>
    private async Task<WebSocket?> HandshakeAsync(NetworkStream stream, CancellationToken cancel)
    {
        var head = new byte[MaxRequestHead];
        int length = 0, end;
        while ((end = head.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (length == head.Length)
            {
                await RefuseAsync(stream, 431, "request header too large").ConfigureAwait(false);
                return null;
            }
            int n = await stream.ReadAsync(head.AsMemory(length), cancel).ConfigureAwait(false);
            if (n == 0)
                return null;
            length += n;
        }
        // Nothing may follow the request before our answer (the client waits for the 101).
        if (end + 4 != length)
        {
            await RefuseAsync(stream, 400, "bad request").ConfigureAwait(false);
            return null;
        }
        var lines = Encoding.Latin1.GetString(head, 0, end).Split("\r\n");
        var request = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < lines.Length; i++)
        {
            int colon = lines[i].IndexOf(':');
            if (colon <= 0)
            {
                await RefuseAsync(stream, 400, "bad request").ConfigureAwait(false);
                return null;
            }
            string name = lines[i][..colon].Trim(), value = lines[i][(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var before) ? before + ", " + value : value;
        }
        if (request.Length != 3 || !request[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            await RefuseAsync(stream, 400, "bad request").ConfigureAwait(false);
            return null;
        }
        if (request[0] != "GET")
        {
            await RefuseAsync(stream, 405, "method not allowed").ConfigureAwait(false);
            return null;
        }
        string path = request[1].Split('?')[0];
        if (path != RelayFraming.Path)
        {
            await RefuseAsync(stream, 404, $"not found (the relay is at {RelayFraming.Path})").ConfigureAwait(false);
            return null;
        }
        if (_loopback && !IsLoopbackName(HostName(headers.GetValueOrDefault("Host") ?? "")))
        {
            await RefuseAsync(stream, 403, "forbidden host").ConfigureAwait(false);
            return null;
        }
        if (headers.TryGetValue("Origin", out var origin) && !OriginAllowed(origin))
        {
            await RefuseAsync(stream, 403, $"origin {origin} not allowed (wemu relay --allow-origin {origin})").ConfigureAwait(false);
            return null;
        }
        string? key = headers.GetValueOrDefault("Sec-WebSocket-Key");
        if (!HasToken(headers.GetValueOrDefault("Upgrade"), "websocket") || !HasToken(headers.GetValueOrDefault("Connection"), "upgrade")
            || headers.GetValueOrDefault("Sec-WebSocket-Version") != "13" || string.IsNullOrEmpty(key))
        {
            await RefuseAsync(stream, 426, "a WebSocket relay: connect to ws://HOST:PORT/net (WebSocket version 13)", "Sec-WebSocket-Version: 13\r\n").ConfigureAwait(false);
            return null;
        }
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), cancel).ConfigureAwait(false);
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.FromSeconds(30) });
    }

    private static bool HasToken(string? value, string token) =>
        value != null && value.Split(',').Any(t => t.Trim().Equals(token, StringComparison.OrdinalIgnoreCase));

    /// <summary>The host part of a Host header or an origin's authority: no port, no brackets.</summary>
    private static string HostName(string authority)
    {
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']');
            return close > 0 ? authority[1..close] : authority;
        }
        int colon = authority.LastIndexOf(':');
        return colon >= 0 ? authority[..colon] : authority;
    }

    private static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    private bool OriginAllowed(string origin)
    {
        if (_allowedOrigins.Contains("*") || _allowedOrigins.Contains(origin))
            return true;
        return _loopback && Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && IsLoopbackName(uri.Host.Trim('[', ']'));
    }

    private static async Task RefuseAsync(NetworkStream stream, int status, string text, string extraHeaders = "")
    {
        string reason = status switch { 400 => "Bad Request", 403 => "Forbidden", 404 => "Not Found", 405 => "Method Not Allowed", 426 => "Upgrade Required", 431 => "Request Header Fields Too Large", _ => "Service Unavailable" };
        var body = Encoding.UTF8.GetBytes(text + "\n");
        var answer = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\n{extraHeaders}Connection: close\r\n\r\n");
        using var t = new CancellationTokenSource(CloseTimeout);
        await stream.WriteAsync(answer, t.Token).ConfigureAwait(false);
        await stream.WriteAsync(body, t.Token).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    /// <summary>One client: its WebSocket, its NAT on its own thread, and the two bounded queues between them.</summary>
    private sealed class Session(WebSocket socket, int id) : IDisposable
    {
        private readonly Channel<byte[]> _fromClient = Channel.CreateBounded<byte[]>(
            new BoundedChannelOptions(RelayFraming.MaxQueuedFrames) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        private readonly Channel<byte[]> _toClient = Channel.CreateBounded<byte[]>(
            new BoundedChannelOptions(RelayFraming.MaxQueuedFrames) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        private readonly AutoResetEvent _arrived = new(false);
        private volatile bool _done;
        private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
        private string _closeReason = "relay stopped";
        private long _dropped;

        public long FramesIn { get; private set; }

        public long FramesOut { get; private set; }

        public long Dropped => Interlocked.Read(ref _dropped);

        /// <summary>Runs until the client leaves, breaks the framing, or the relay stops; returns why it ended.</summary>
        public async Task<string> RunAsync(CancellationToken stop)
        {
            var nat = new Thread(NatLoop) { IsBackground = true, Name = $"relay client {id}" };
            nat.Start();
            var sending = Task.Run(SendLoop);
            string end;
            using (stop.Register(() => _done = true))
                end = await ReceiveLoop(stop).ConfigureAwait(false);
            _done = true;
            _arrived.Set();
            _toClient.Writer.TryComplete();
            await Task.Run(nat.Join).ConfigureAwait(false);
            await sending.ConfigureAwait(false);
            return end;
        }

        private async Task<string> ReceiveLoop(CancellationToken stop)
        {
            var buffer = new byte[RelayFraming.MaxFrameSize + 1];
            try
            {
                while (!_done)
                {
                    int length = 0;
                    ValueWebSocketReceiveResult r;
                    do
                    {
                        if (length == buffer.Length)
                            return Refuse(WebSocketCloseStatus.MessageTooBig, $"a message is one Ethernet frame of at most {RelayFraming.MaxFrameSize} bytes");
                        r = await socket.ReceiveAsync(buffer.AsMemory(length), stop).ConfigureAwait(false);
                        if (r.MessageType == WebSocketMessageType.Close)
                        {
                            _closeReason = "bye";
                            return $"the client closed ({socket.CloseStatus})";
                        }
                        if (r.MessageType == WebSocketMessageType.Text)
                            return Refuse(WebSocketCloseStatus.InvalidMessageType, "text message: only binary messages, one Ethernet frame each");
                        length += r.Count;
                    }
                    while (!r.EndOfMessage);
                    if (length > RelayFraming.MaxFrameSize)
                        return Refuse(WebSocketCloseStatus.MessageTooBig, $"a message is one Ethernet frame of at most {RelayFraming.MaxFrameSize} bytes");
                    if (length < RelayFraming.MinFrameSize)
                        return Refuse(WebSocketCloseStatus.InvalidPayloadData, $"a message of {length} bytes is not an Ethernet frame (at least {RelayFraming.MinFrameSize})");
                    if (_fromClient.Writer.TryWrite(buffer.AsSpan(0, length).ToArray()))
                        _arrived.Set();
                    else
                        Interlocked.Increment(ref _dropped);   // the NAT is behind: a congested link drops
                }
                return "relay stopped";
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                return stop.IsCancellationRequested ? "relay stopped" : $"connection lost: {e.Message.ReplaceLineEndings(" ")}";
            }
        }

        private string Refuse(WebSocketCloseStatus status, string reason)
        {
            _closeStatus = status;
            _closeReason = reason;
            return $"refused: {reason}";
        }

        /// <summary>All sends, the close included, happen here (a WebSocket takes one send at a time).</summary>
        private async Task SendLoop()
        {
            try
            {
                await foreach (var frame in _toClient.Reader.ReadAllAsync().ConfigureAwait(false))
                {
                    if (_closeStatus != WebSocketCloseStatus.NormalClosure)
                        break;   // a client that broke the framing gets nothing more but the close
                    await socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None).ConfigureAwait(false);
                }
                using var t = new CancellationTokenSource(CloseTimeout);
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    await socket.CloseOutputAsync(_closeStatus, _closeReason, t.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                // the client is gone
            }
        }

        /// <summary>The client's NAT: frames in, host sockets and timers, frames out while the send queue has room.</summary>
        private void NatLoop()
        {
            var host = new HostSocketNetwork();
            using var nat = new UserNetwork(new UserNetworkOptions(), host);
            long lastTraffic = 0;
            while (!_done)
            {
                long moved = FramesIn + FramesOut;
                while (_fromClient.Reader.TryRead(out var frame))
                {
                    nat.ReceiveFrame(frame);
                    FramesIn++;
                }
                nat.Poll();
                // A client that does not read: its queue stays full, the NAT's own queue fills behind it, and the
                // NAT stops reading host sockets (back-pressure to the servers) and drops the rest.
                while (nat.QueuedFrames > 0 && _toClient.Writer.TryWrite(nat.PeekFrame().ToArray()))
                {
                    nat.DequeueFrame();
                    FramesOut++;
                }
                long now = System.Diagnostics.Stopwatch.GetTimestamp();
                if (FramesIn + FramesOut != moved)
                    lastTraffic = now;
                if (_fromClient.Reader.Count > 0)
                    continue;
                if (host.HasSockets)
                {
                    if (!_arrived.WaitOne(0))
                        host.WaitForActivity(now - lastTraffic < QuietAfter ? BusyStep : IdleStep);
                }
                else
                    _arrived.WaitOne(TimeSpan.FromMilliseconds(50));
            }
            Interlocked.Add(ref _dropped, nat.DroppedToGuest);
        }

        public void Dispose()
        {
            _arrived.Dispose();
            socket.Dispose();
        }
    }
}
