using System.Text;
using Wemu.Net;
using Wemu.Net.Fetch;
using Xunit;
using static Wemu.Tests.Net.GuestSide;

namespace Wemu.Tests.Net;

/// <summary>
/// The whole in-page network without a browser: <see cref="UserNetwork"/> on a <see cref="FetchNetworkHost"/> with
/// a fake fetch, a hand-driven guest TCP endpoint on the other side. Out: the guest's HTTP request through TCP
/// becomes a fetch and the answer comes back in segments; in: a request from the page (vm.fetch) is opened into a
/// guest port and the guest's answer parsed.
/// </summary>
public sealed class UserNetworkFetchTests : IDisposable
{
    private readonly FakeFetchClient _fetch = new();
    private readonly List<string> _log = [];
    private long _now = 1_000_000;
    private readonly FetchNetworkHost _host;
    private readonly UserNetwork _network;
    private readonly GuestSide _guest;

    public UserNetworkFetchTests()
    {
        _host = new FetchNetworkHost(_fetch, "http://127.0.0.1:8000/", _log.Add, () => _now);
        _network = new UserNetwork(new UserNetworkOptions(), _host);
        _guest = new GuestSide(_network);
    }

    public void Dispose() => _network.Dispose();

    private List<Segment> Step()
    {
        _now += 1000;
        _network.Poll();
        return [.. _guest.Drain().Select(ParseTcp).OfType<Segment>()];
    }

    private List<Segment> Send(byte[] frame)
    {
        _network.ReceiveFrame(frame);
        return [.. _guest.Drain().Select(ParseTcp).OfType<Segment>()];
    }

    /// <summary>A guest TCP client: connects, sends <paramref name="request"/>, reads to the end of the stream, acknowledging everything.</summary>
    private (byte[] Received, bool Reset) GuestClient(uint destination, ushort port, byte[] request)
    {
        const ushort local = 40000;
        uint seq = 5000;
        var segments = Send(Tcp(local, destination, port, seq, 0, Syn, 65535, mss: 1460));
        for (int i = 0; i < 5 && !segments.Any(s => (s.Flags & Syn) != 0); i++)
            segments.AddRange(Step());
        var synAck = segments.Single(s => (s.Flags & (Syn | Ack)) == (Syn | Ack));
        uint ack = synAck.Seq + 1;
        seq++;
        var received = new List<byte>();
        segments = Send(Tcp(local, destination, port, seq, ack, Ack | Psh, 65535, request));
        seq += (uint)request.Length;
        for (int round = 0; round < 2000; round++)
        {
            foreach (var s in segments)
            {
                if ((s.Flags & Rst) != 0)
                    return ([.. received], true);
                if (s.Seq == ack && s.Payload.Length > 0)
                {
                    received.AddRange(s.Payload);
                    ack += (uint)s.Payload.Length;
                }
                if ((s.Flags & Fin) != 0 && s.Seq + (uint)s.Payload.Length == ack)
                {
                    ack++;
                    Send(Tcp(local, destination, port, seq, ack, Ack | Fin, 65535));
                    return ([.. received], false);
                }
            }
            segments = Send(Tcp(local, destination, port, seq, ack, Ack, 65535));
            segments.AddRange(Step());
        }
        throw new TimeoutException($"no end of stream; got {received.Count} bytes");
    }

    [Fact]
    public void A_Guest_Get_To_The_Gateway_Goes_Through_Tcp_To_Fetch_And_Back()
    {
        var body = Enumerable.Range(0, 300_000).Select(i => (byte)(i % 251)).ToArray();
        _fetch.Answer = r => (200, body, body.Length);
        var (received, reset) = GuestClient(Gateway, 8000, Encoding.ASCII.GetBytes("GET /blob.bin HTTP/1.1\r\nHost: 10.0.2.2:8000\r\nConnection: close\r\n\r\n"));
        Assert.False(reset);
        Assert.Equal("http://127.0.0.1:8000/blob.bin", _fetch.Started.Single().Request.Url);
        var text = Encoding.Latin1.GetString(received);
        int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", text);
        Assert.Contains("Content-Length: 300000\r\n", text[..(headEnd + 2)]);
        Assert.Contains("Connection: close\r\n", text[..(headEnd + 2)]);
        Assert.Equal(body, received[(headEnd + 4)..]);
    }

    [Fact]
    public void A_Name_Resolved_By_The_Stacks_Dns_Is_Fetched_By_Name_And_Failures_Are_502()
    {
        // A query for a name, answered from the stack (no resolver in the page).
        var query = new byte[] { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, (byte)'w', (byte)'e', (byte)'m', (byte)'u', 7,
            (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 0, 0, 1, 0, 1 };
        _network.ReceiveFrame(Udp(Guest, 5353, Dns, 53, query));
        var answer = _guest.Drain().Select(ParseUdp).Single(u => u != null)!.Value.Payload;
        uint address = (uint)(answer[^4] << 24 | answer[^3] << 16 | answer[^2] << 8 | answer[^1]);
        Assert.Equal(FetchNetworkHost.SyntheticNetwork, address & FetchNetworkHost.SyntheticMask);

        _fetch.Answer = null;
        var request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: wemu.example\r\nConnection: close\r\n\r\n");
        // The fetch fails as the browser would (CORS): answer it between two polls.
        const ushort local = 40001;
        uint seq = 100;
        Send(Tcp(local, address, 80, seq, 0, Syn, 65535, mss: 1460));
        var synAck = Step().Single(s => (s.Flags & Syn) != 0);
        uint ack = synAck.Seq + 1;
        Send(Tcp(local, address, 80, seq + 1, ack, Ack | Psh, 65535, request));
        var ex = _fetch.Started.Single();
        Assert.Equal("http://wemu.example/", ex.Request.Url);
        ex.Fail("TypeError: Failed to fetch");
        var segments = Step();
        var reply = Encoding.UTF8.GetString([.. segments.SelectMany(s => s.Payload)]);
        Assert.StartsWith("HTTP/1.1 502 Bad Gateway\r\n", reply);
        Assert.EndsWith("wemu: fetch http://wemu.example/ failed: TypeError: Failed to fetch\n", reply);
        Assert.Contains(segments, s => (s.Flags & Fin) != 0);
        Assert.Contains(_log, l => l.Contains("Failed to fetch"));
    }

    [Fact]
    public void A_Request_From_The_Page_Is_Opened_Into_The_Guest_Port_And_Its_Answer_Parsed()
    {
        var fields = new HttpFields();
        fields.Add("Accept", "text/html");
        var exchange = _host.FetchIntoGuest(8080, new HttpRequest { Method = "GET", Target = "/index.html", MinorVersion = 1, Fields = fields })!;
        GuestHttpExchange? done = null;
        exchange.Completed = e => done = e;

        // The stack opens the connection from the gateway, as hostfwd does.
        var syn = Step().Single();
        Assert.Equal(Syn, syn.Flags);
        Assert.Equal(Gateway, syn.Source);
        Assert.Equal(8080, syn.DestinationPort);
        uint seq = 9000;
        var segments = Send(TcpFrom(syn, seq, syn.Seq + 1, Syn | Ack, []));
        segments.AddRange(Step());
        var request = Encoding.ASCII.GetString([.. segments.SelectMany(s => s.Payload)]);
        Assert.StartsWith("GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/html\r\nConnection: close\r\n\r\n", request);
        uint ack = syn.Seq + 1 + (uint)request.Length;
        // BusyBox httpd answers and closes.
        var response = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>hello from the guest</h1>\n");
        Send(TcpFrom(syn, seq + 1, ack, Ack | Psh, response));
        Assert.Null(done);   // no length: the body ends with the connection
        Send(TcpFrom(syn, seq + 1 + (uint)response.Length, ack, Ack | Fin, []));
        Step();
        Assert.NotNull(done);
        Assert.Null(done!.Error);
        Assert.Equal(200, done.Response!.Status);
        Assert.Equal("text/html", done.Response.Fields.Get("content-type"));
        Assert.Equal("<h1>hello from the guest</h1>\n", Encoding.ASCII.GetString(done.Response.Body));
    }

    [Fact]
    public void A_Request_From_The_Page_To_A_Closed_Guest_Port_Fails_As_Refused()
    {
        var exchange = _host.FetchIntoGuest(9999, new HttpRequest { Method = "GET", Target = "/", MinorVersion = 1, Fields = new HttpFields() })!;
        string? error = null;
        exchange.Completed = e => error = e.Error;
        var syn = Step().Single();
        Send(TcpFrom(syn, 0, syn.Seq + 1, Rst | Ack, []));
        Step();
        Assert.Contains("refused", error);
    }

    /// <summary>A segment from the guest's port back to the connection <paramref name="peer"/> came from.</summary>
    private static byte[] TcpFrom(Segment peer, uint seq, uint ack, byte flags, byte[] payload) =>
        Tcp(peer.DestinationPort, peer.Source, peer.SourcePort, seq, ack, flags, 65535, payload);
}
