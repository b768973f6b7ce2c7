using System.Diagnostics;
using Wemu.Machines;

namespace Wemu.Net.Fetch;

/// <summary>
/// The host side of <c>-nic user</c> in the page, where there are no sockets: the same <see cref="UserNetwork"/>
/// runs in the worker, and what the guest reaches outside is the page's <c>fetch()</c>.
/// <list type="bullet">
/// <item>TCP to any address and port is an HTTP/1.x proxy (<see cref="FetchProxyConnection"/>): the gateway
/// 10.0.2.2 (which the stack hands over as the host's loopback) stands for the page's own host, so
/// <c>http://10.0.2.2:PORT/x</c> fetches <c>http://PAGEHOST:PORT/x</c> (the page's own scheme at the page's own
/// port); an address the stack's DNS made up for a name fetches <c>http://NAME:PORT/...</c>; any other address
/// <c>http://A.B.C.D:PORT/...</c>. HTTPS the same with https, its TLS terminated by <see cref="Tls"/>.</item>
/// <item>DNS never leaves the page (a page cannot ask DNS): a name gets a made-up address in 198.18.0.0/15 (RFC
/// 2544's benchmarking range, routed nowhere, the range "fake-IP" DNS proxies use) that maps back to the name when
/// the guest connects; the page's own host name gets 10.0.2.2; <c>localhost</c> is 127.0.0.1 (the guest itself, as
/// natively) and a dotted quad is itself. So every name "exists": whether it answers is fetch's to say.</item>
/// <item>No UDP leaves the page, and no <c>hostfwd</c> (a page cannot listen): inbound connections come from the
/// page's <c>vm.fetch</c> instead (<see cref="FetchIntoGuest"/>).</item>
/// </list>
/// Bounded: at most <see cref="MaxConcurrentFetches"/> fetches at once (more wait), <see cref="MaxNames"/> made-up
/// names (the oldest is reused), each connection's buffers, and the requests waiting to go into the guest.
/// </summary>
public sealed class FetchNetworkHost : INetworkHost
{
    public const int MaxConcurrentFetches = 16;
    public const int MaxNames = 4096;
    public const int MaxQueuedInbound = 32;

    /// <summary>
    /// Guest connections proxied at once. Each may hold about twice <see cref="HttpRequestParser.MaxBodyBytes"/> of
    /// request bodies, so this bounds what a guest can make the page hold (UserNetwork alone allows 256 connections);
    /// the next one is refused (a reset) until one closes.
    /// </summary>
    public const int MaxProxyConnections = 32;

    /// <summary>198.18.0.0/15, the made-up addresses names resolve to.</summary>
    public const uint SyntheticNetwork = 0xC6120000, SyntheticMask = 0xFFFE0000;

    private readonly Action<string> _log;
    private readonly Func<long>? _clock;
    private readonly string _pageScheme, _pageHost;
    private readonly int _pagePort;
    private readonly Dictionary<string, uint> _addressOfName = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, string> _nameOfAddress = [];
    private readonly Queue<(GuestHttpExchange Exchange, ushort Port)> _inbound = new();
    private uint _nextName;
    private int _fetches;

    /// <param name="client">The page's fetch.</param>
    /// <param name="pageUrl">The page's URL: its host is what 10.0.2.2 stands for.</param>
    /// <param name="log">Where a failed fetch or a refused request is explained (the page's console).</param>
    /// <param name="clock">Microseconds (tests drive it; the stopwatch otherwise).</param>
    public FetchNetworkHost(IFetchClient client, string pageUrl, Action<string> log, Func<long>? clock = null)
    {
        Client = client;
        _log = log;
        _clock = clock;
        if (!Uri.TryCreate(pageUrl, UriKind.Absolute, out var page) || page.Scheme is not ("http" or "https"))
            throw new ConfigException($"-nic user: the page's URL '{pageUrl}' is not http(s), so 10.0.2.2 stands for nothing");
        _pageScheme = page.Scheme;
        _pageHost = page.Host.ToLowerInvariant();
        _pagePort = page.Port;
    }

    public IFetchClient Client { get; }

    /// <summary>Fetches running now (counted from the request to the end of the response).</summary>
    public int ActiveFetches => _fetches;

    public long Microseconds => _clock?.Invoke() ?? Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000);

    /// <summary>Guest connections proxied now (opened and not yet disposed).</summary>
    public int ProxyConnections { get; private set; }

    internal void ProxyConnectionClosed() => ProxyConnections--;

    public IHostTcpSocket ConnectTcp(uint address, ushort port)
    {
        if (ProxyConnections >= MaxProxyConnections)
        {
            _log($"{HostForward.FormatAddress(address)}:{port}: the guest has {MaxProxyConnections} connections open already; connection refused");
            return new RefusedSocket();
        }
        string host;
        string scheme = "http";
        if (address == UserNetwork.HostLoopback)
        {
            host = _pageHost.Contains(':') && !_pageHost.StartsWith('[') ? $"[{_pageHost}]" : _pageHost;
            if (port == _pagePort)
                scheme = _pageScheme;   // the page's own origin (an https page cannot fetch http: mixed content)
        }
        else if ((address & SyntheticMask) == SyntheticNetwork)
        {
            if (!_nameOfAddress.TryGetValue(address, out var name))
            {
                _log($"{HostForward.FormatAddress(address)}:{port}: no name maps to this address (a stale DNS answer?); connection refused");
                return new RefusedSocket();
            }
            host = name;
        }
        else
            host = HostForward.FormatAddress(address);
        // HTTPS: the guest's TLS ends here and the request goes on as https, except to the page's own origin,
        // which is fetched with the page's scheme whatever the guest spoke.
        string tlsScheme = address == UserNetwork.HostLoopback && port == _pagePort ? _pageScheme : "https";
        ProxyConnections++;
        return new FetchProxyConnection(this, Origin(scheme, host, port), Origin(tlsScheme, host, port),
            address == UserNetwork.HostLoopback ? HostForward.FormatAddress(UserNetwork.GatewayAddress) : host);
    }

    /// <summary>What http://10.0.2.2:PORT stands for: the page's host (with the page's scheme at the page's port).</summary>
    internal string GatewayOrigin(ushort port) =>
        Origin(port == _pagePort ? _pageScheme : "http", _pageHost.Contains(':') && !_pageHost.StartsWith('[') ? $"[{_pageHost}]" : _pageHost, port);

    private static string Origin(string scheme, string host, ushort port)
    {
        bool defaultPort = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
        return defaultPort ? $"{scheme}://{host}" : $"{scheme}://{host}:{port}";
    }

    /// <summary>Terminates the guest's HTTPS (the page's CA), or null: TLS connections are reset.</summary>
    public ITlsTerminator? Tls { get; set; }

    /// <summary>No UDP leaves the page (fetch has none): datagrams to outside addresses are dropped.</summary>
    public IHostUdpSocket? OpenUdp() => null;

    public IHostTcpListener ListenTcp(uint address, ushort port) =>
        throw new ConfigException("hostfwd: a page cannot listen on ports; reach guest ports with vm.fetch (docs/NETWORKING.md)");

    public IHostUdpSocket ListenUdp(uint address, ushort port) =>
        throw new ConfigException("hostfwd: a page cannot listen on ports; reach guest ports with vm.fetch (docs/NETWORKING.md)");

    public IHostNameQuery ResolveName(string name) => new Answer(Resolve(name));

    /// <summary>The address the guest gets for <paramref name="name"/> (see the class comment).</summary>
    public uint Resolve(string name)
    {
        name = name.TrimEnd('.').ToLowerInvariant();
        if (HostForward.TryParseAddress(name, out uint literal))
            return literal;
        if (name == "localhost")
            return UserNetwork.HostLoopback;
        if (name == _pageHost)
            return UserNetwork.GatewayAddress;
        if (_addressOfName.TryGetValue(name, out uint known))
            return known;
        // 1 to 2^17-2 in the /15: the network and broadcast addresses stay unused.
        uint address = SyntheticNetwork + 1 + _nextName % MaxNames;
        _nextName++;
        if (_nameOfAddress.Remove(address, out var old))
            _addressOfName.Remove(old);
        _nameOfAddress[address] = name;
        _addressOfName[name] = address;
        return address;
    }

    /// <summary>
    /// Opens a connection into the guest's <paramref name="port"/> (as from 10.0.2.2, like hostfwd) carrying
    /// <paramref name="request"/>; the stack picks it up at its next poll. Null if too many wait already.
    /// </summary>
    public GuestHttpExchange? FetchIntoGuest(ushort port, HttpRequest request)
    {
        if (_inbound.Count >= MaxQueuedInbound)
            return null;
        var exchange = new GuestHttpExchange(request, port);
        _inbound.Enqueue((exchange, port));
        NoteProgress();   // the connection opens at the next poll: no idle sleep before it
        return exchange;
    }

    public IHostTcpSocket? AcceptIntoGuest(out uint guestAddress, out ushort guestPort)
    {
        guestAddress = UserNetwork.GuestAddress;
        guestPort = 0;
        if (!_inbound.TryDequeue(out var next))
            return null;
        guestPort = next.Port;
        return next.Exchange;
    }

    internal void Log(string message) => _log(message);

    /// <summary>How long after data last moved toward the guest the host asks to be polled without idle sleeps.</summary>
    public const long BusyWindow = 20_000;

    private long _lastProgress = long.MinValue / 2;

    /// <summary>
    /// True while data moved toward the guest in the last <see cref="BusyWindow"/> µs. The stack moves fetched bytes
    /// to the guest only when polled, and an idle guest is polled only at its next timer (milliseconds away): the
    /// page's machine loop skips its idle sleeps while this holds, so a download is not paced by the guest's timer.
    /// A guest that stops reading stops the progress, and the sleeps come back.
    /// </summary>
    public bool WantsPolling => Microseconds - _lastProgress < BusyWindow;

    internal void NoteProgress() => _lastProgress = Microseconds;

    internal bool TryAcquireFetch()
    {
        if (_fetches >= MaxConcurrentFetches)
            return false;
        _fetches++;
        return true;
    }

    internal void ReleaseFetch() => _fetches--;

    /// <summary>
    /// Request fields the proxy leaves out: hop-by-hop fields and the framing (the browser frames its own request),
    /// and the fetch standard's forbidden request fields, which fetch() would drop or refuse (Host, Cookie, Origin,
    /// Referer, Sec-*, Proxy-*...). User-Agent too: on a cross-origin request it would cost a CORS preflight.
    /// </summary>
    public static bool IsDroppedRequestField(string name)
    {
        string n = name.ToLowerInvariant();
        if (n.StartsWith("sec-", StringComparison.Ordinal) || n.StartsWith("proxy-", StringComparison.Ordinal))
            return true;
        return HttpResponseWriter.IsHopByHop(n) || n is "host" or "accept-charset" or "accept-encoding" or "access-control-request-headers"
            or "access-control-request-method" or "cookie" or "cookie2" or "date" or "dnt" or "expect" or "origin"
            or "referer" or "set-cookie" or "via" or "user-agent";
    }

    private sealed class Answer(uint address) : IHostNameQuery
    {
        public bool IsCompleted => true;

        public IReadOnlyList<uint> Addresses { get; } = [address];
    }

    private sealed class RefusedSocket : IHostTcpSocket
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
}
