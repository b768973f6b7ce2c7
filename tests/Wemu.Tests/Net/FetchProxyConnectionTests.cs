using System.Globalization;
using System.Text;
using Wemu.Machines;
using Wemu.Net;
using Wemu.Net.Fetch;
using Xunit;

namespace Wemu.Tests.Net;

/// <summary>
/// The in-page network's host (<see cref="FetchNetworkHost"/>) with a fake fetch: guest connections as the stack
/// drives them (Send the guest's bytes, Receive the answer), the URLs fetched, the responses written, the errors
/// answered as 502 and the bounds.
/// </summary>
public sealed class FetchProxyConnectionTests
{
    private const string Page = "http://127.0.0.1:8000/index.html";
    private readonly FakeFetchClient _fetch = new();
    private readonly List<string> _log = [];
    private readonly FetchNetworkHost _host;

    public FetchProxyConnectionTests() => _host = new FetchNetworkHost(_fetch, Page, _log.Add);

    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    /// <summary>Everything the connection has for the guest now, and whether it ended the stream (0) or broke (Error).</summary>
    private static (byte[] Bytes, int End) ReadAll(IHostTcpSocket s)
    {
        var all = new List<byte>();
        var buffer = new byte[1460];
        while (true)
        {
            int n = s.Receive(buffer);
            if (n <= 0)
                return ([.. all], n);
            all.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>Splits HTTP/1.1 responses written to the guest: status, fields, body (Content-Length or chunked, decoded here).</summary>
    private static List<(int Status, Dictionary<string, string> Fields, byte[] Body)> Responses(byte[] data)
    {
        var result = new List<(int, Dictionary<string, string>, byte[])>();
        int at = 0;
        while (at < data.Length)
        {
            int end = IndexOf(data, "\r\n\r\n"u8, at);
            Assert.True(end >= 0, "a response head without its end");
            var lines = Encoding.Latin1.GetString(data, at, end - at).Split("\r\n");
            int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
            Assert.StartsWith("HTTP/1.1 ", lines[0]);
            var fields = lines.Skip(1).ToDictionary(l => l[..l.IndexOf(':')].ToLowerInvariant(), l => l[(l.IndexOf(':') + 2)..]);
            at = end + 4;
            var body = new List<byte>();
            if (fields.TryGetValue("content-length", out var cl))
            {
                int n = int.Parse(cl, CultureInfo.InvariantCulture);
                body.AddRange(data.AsSpan(at, Math.Min(n, data.Length - at)).ToArray());
                at += n;
            }
            else if (fields.TryGetValue("transfer-encoding", out var te) && te == "chunked")
            {
                while (true)
                {
                    int lineEnd = IndexOf(data, "\r\n"u8, at);
                    int size = int.Parse(Encoding.ASCII.GetString(data, at, lineEnd - at), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    at = lineEnd + 2;
                    if (size == 0)
                    {
                        Assert.Equal("\r\n", Encoding.ASCII.GetString(data, at, 2));
                        at += 2;
                        break;
                    }
                    body.AddRange(data.AsSpan(at, size).ToArray());
                    at += size + 2;
                }
            }
            else
            {
                body.AddRange(data.AsSpan(at).ToArray());
                at = data.Length;
            }
            result.Add((status, fields, [.. body]));
        }
        return result;
    }

    private static int IndexOf(byte[] data, ReadOnlySpan<byte> what, int from)
    {
        int i = data.AsSpan(from).IndexOf(what);
        return i < 0 ? -1 : from + i;
    }

    private IHostTcpSocket Connect(uint address = UserNetwork.HostLoopback, ushort port = 8000) => _host.ConnectTcp(address, port);

    [Fact]
    public void A_Get_To_The_Gateway_Fetches_The_Pages_Host_And_Answers_With_Its_Content_Length()
    {
        var body = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        _fetch.Answer = _ => (200, body, body.Length);
        var s = Connect();
        Assert.Equal(HostSocketState.Connected, s.State);
        var request = Ascii("GET /x?y HTTP/1.1\r\nHost: 10.0.2.2:8000\r\n\r\n");
        Assert.Equal(request.Length, s.Send(request));
        var (bytes, end) = ReadAll(s);
        var started = Assert.Single(_fetch.Started);
        Assert.Equal("http://127.0.0.1:8000/x?y", started.Request.Url);
        Assert.Equal("GET", started.Request.Method);
        var r = Assert.Single(Responses(bytes));
        Assert.Equal(200, r.Status);
        Assert.Equal(body, r.Body);
        Assert.Equal("application/octet-stream", r.Fields["content-type"]);
        Assert.False(r.Fields.ContainsKey("connection"));   // HTTP/1.1 keeps the connection
        Assert.Equal(IHostTcpSocket.WouldBlock, end);
        Assert.Equal(0, _host.ActiveFetches);
    }

    [Fact]
    public void An_Unknown_Length_Is_Sent_Chunked_To_Http11_And_To_The_End_Of_The_Stream_To_Http10()
    {
        var body = Ascii(string.Concat(Enumerable.Range(0, 5000).Select(i => i.ToString(CultureInfo.InvariantCulture))));
        _fetch.Answer = _ => (200, body, -1);
        var s = Connect();
        s.Send(Ascii("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
        var r = Assert.Single(Responses(ReadAll(s).Bytes));
        Assert.Equal("chunked", r.Fields["transfer-encoding"]);
        Assert.Equal(body, r.Body);

        var old = Connect();
        old.Send(Ascii("GET /a HTTP/1.0\r\n\r\n"));
        var (bytes, end) = ReadAll(old);
        var r10 = Assert.Single(Responses(bytes));
        Assert.Equal("close", r10.Fields["connection"]);
        Assert.False(r10.Fields.ContainsKey("transfer-encoding"));
        Assert.Equal(body, r10.Body);
        Assert.Equal(0, end);   // the end of the stream ends the body
    }

    [Fact]
    public void Pipelined_Requests_Are_Fetched_One_After_The_Other_And_Answered_In_Order()
    {
        var s = Connect();
        s.Send(Ascii("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
        Assert.Single(_fetch.Started);   // the second waits for the first's answer
        var first = _fetch.Started[0];
        var output = new List<byte>();
        first.Respond(200, "OK", [], 3);
        output.AddRange(ReadAll(s).Bytes);
        first.Body("one"u8);
        output.AddRange(ReadAll(s).Bytes);
        first.End();
        output.AddRange(ReadAll(s).Bytes);
        Assert.Equal(2, _fetch.Started.Count);
        Assert.Equal("http://127.0.0.1:8000/2", _fetch.Started[1].Request.Url);
        _fetch.Started[1].Respond(404, "Not Found", [], -1);
        _fetch.Started[1].End();
        output.AddRange(ReadAll(s).Bytes);
        Assert.Equal(3, _fetch.Started.Count);
        Assert.Equal("HEAD", _fetch.Started[2].Request.Method);
        _fetch.Started[2].Respond(200, "OK", [], 1234);
        var (bytes3, end) = ReadAll(s);
        var all = Responses([.. output]);
        Assert.Equal([200, 404], all.Select(x => x.Status));
        Assert.Equal("one", Encoding.ASCII.GetString(all[0].Body));
        // HEAD: the length a GET would have, no body, and the connection closes as asked.
        var head = Encoding.ASCII.GetString(bytes3);
        Assert.Contains("Content-Length: 1234\r\n", head);
        Assert.Contains("Connection: close\r\n", head);
        Assert.EndsWith("\r\n\r\n", head);
        Assert.Equal(0, end);
        Assert.Contains(_fetch.Started[2], _fetch.Cancelled);   // a HEAD's body is not read
    }

    [Fact]
    public void A_Failed_Fetch_Is_A_502_With_The_Reason_And_A_Line_In_The_Log()
    {
        var s = Connect(_host.Resolve("cross-origin.example"), 80);
        s.Send(Ascii("GET /data HTTP/1.1\r\nHost: cross-origin.example\r\n\r\n"));
        var ex = Assert.Single(_fetch.Started);
        Assert.Equal("http://cross-origin.example/data", ex.Request.Url);
        ex.Fail("TypeError: Failed to fetch (CORS or the network)");
        var r = Assert.Single(Responses(ReadAll(s).Bytes));
        Assert.Equal(502, r.Status);
        var text = Encoding.UTF8.GetString(r.Body);
        Assert.Contains("http://cross-origin.example/data", text);
        Assert.Contains("Failed to fetch", text);
        Assert.EndsWith("\n", text);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
        Assert.Contains(_log, l => l.Contains("http://cross-origin.example/data") && l.Contains("502"));
        Assert.Equal(0, _host.ActiveFetches);
    }

    [Fact]
    public void A_Fetch_That_Breaks_In_The_Body_Ends_The_Connection_Without_The_Last_Chunk()
    {
        var s = Connect();
        s.Send(Ascii("GET /big HTTP/1.1\r\nHost: h\r\n\r\n"));
        var ex = _fetch.Started[0];
        ex.Respond(200, "OK", [], -1);
        ex.Body("partial"u8);
        ReadAll(s);
        ex.Fail("network error");
        var (bytes, end) = ReadAll(s);
        Assert.Equal(0, end);
        Assert.DoesNotContain("0\r\n\r\n", Encoding.ASCII.GetString(bytes));
        Assert.Contains(_log, l => l.Contains("broke off"));
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n", 400)]
    [InlineData("GET / HTTP/3\r\n\r\n", 505)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", 413)]
    public void Malformed_And_Oversize_Requests_Get_Their_Status_And_The_Connection_Closes(string request, int status)
    {
        var s = Connect();
        s.Send(Ascii(request));
        var (bytes, end) = ReadAll(s);
        var r = Assert.Single(Responses(bytes));
        Assert.Equal(status, r.Status);
        Assert.Equal("close", r.Fields["connection"]);
        Assert.Equal(0, end);
        Assert.Empty(_fetch.Started);
        Assert.NotEmpty(_log);
    }

    [Fact]
    public void A_Tls_Client_Hello_Is_A_Reset_And_A_Log_Line()
    {
        var s = Connect(UserNetwork.HostLoopback, 443);
        Assert.Equal(IHostTcpSocket.Error, s.Send([0x16, 0x03, 0x01, 0x00, 0x05]));
        Assert.Equal(IHostTcpSocket.Error, s.Receive(new byte[100]));
        Assert.Contains(_log, l => l.Contains("TLS"));
    }

    [Fact]
    public void Forbidden_And_Hop_By_Hop_Fields_Are_Not_Passed_To_Fetch_And_The_Body_Is()
    {
        var s = Connect();
        s.Send(Ascii("POST /form HTTP/1.1\r\nHost: 10.0.2.2\r\nUser-Agent: Wget\r\nCookie: a=b\r\nConnection: keep-alive\r\nAccept: */*\r\n"
            + "Content-Type: text/plain\r\nContent-Length: 4\r\nSec-Fetch-Mode: x\r\n\r\nbody"));
        var r = _fetch.Started.Single().Request;
        Assert.Equal(["Accept", "Content-Type"], r.Headers.Select(h => h.Key));
        Assert.Equal("body", Encoding.ASCII.GetString(r.Body));
    }

    [Fact]
    public void Encoded_Length_And_Hop_By_Hop_Fields_Of_The_Fetched_Response_Are_Not_Passed_To_The_Guest()
    {
        var s = Connect();
        s.Send(Ascii("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        var ex = _fetch.Started[0];
        ex.Respond(200, "", [new("Content-Encoding", "gzip"), new("Content-Length", "10"), new("Transfer-Encoding", "chunked"),
            new("Connection", "upgrade"), new("X-Kept", "yes"), new("Bad\nName", "x"), new("X-Bad-Value", "a\r\nInjected: 1")], -1);
        ex.Body("decoded body"u8);
        ex.End();
        var (bytes, _) = ReadAll(s);
        var text = Encoding.Latin1.GetString(bytes);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", text);
        Assert.DoesNotContain("gzip", text);
        Assert.DoesNotContain("Injected", text);
        Assert.DoesNotContain("upgrade", text);
        var r = Assert.Single(Responses(bytes));
        Assert.Equal("yes", r.Fields["x-kept"]);
        Assert.Equal("decoded body", Encoding.ASCII.GetString(r.Body));
    }

    [Fact]
    public void At_Most_16_Fetches_Run_At_Once_And_The_Next_Starts_When_One_Ends()
    {
        var sockets = Enumerable.Range(0, FetchNetworkHost.MaxConcurrentFetches + 1).Select(_ => Connect()).ToList();
        foreach (var s in sockets)
            s.Send(Ascii("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        Assert.Equal(FetchNetworkHost.MaxConcurrentFetches, _fetch.Started.Count);
        _fetch.Started[0].Fail("gone");
        ReadAll(sockets[0]);
        ReadAll(sockets[^1]);
        Assert.Equal(FetchNetworkHost.MaxConcurrentFetches + 1, _fetch.Started.Count);
        // A guest that goes away cancels its fetch and frees its place.
        sockets[1].Dispose();
        Assert.Contains(_fetch.Started[1], _fetch.Cancelled);
        Assert.Equal(FetchNetworkHost.MaxConcurrentFetches - 1, _host.ActiveFetches);
    }

    [Fact]
    public void A_Guest_That_Does_Not_Read_Makes_The_Page_Hold_One_Output_Buffer_And_One_Piece()
    {
        _fetch.Answer = _ => (200, new byte[50_000_000], 50_000_000);
        _fetch.PieceSize = FetchExchange.MaxPiece;
        var s = Connect();
        s.Send(Ascii("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        for (int i = 0; i < 100; i++)
            Assert.Equal(IHostTcpSocket.WouldBlock, s.Receive(Span<byte>.Empty));   // polled with no room toward the guest
        // Reads stop once the buffers are full: the body is pulled, never pushed.
        Assert.True((long)_fetch.Pieces * FetchExchange.MaxPiece <= FetchProxyConnection.OutputBytes + FetchExchange.MaxBuffered + FetchExchange.MaxPiece,
            $"{_fetch.Pieces} pieces taken for a guest that reads nothing");
        long total = 0;
        var buffer = new byte[65536];
        int n;
        while ((n = s.Receive(buffer)) > 0)
            total += n;
        Assert.True(total > 50_000_000);
    }

    [Fact]
    public void A_Client_That_Pushes_Past_The_Buffer_Fails_The_Fetch()
    {
        var s = Connect();
        s.Send(Ascii("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        var ex = _fetch.Started[0];
        ex.Respond(200, "OK", [], -1);
        s.Receive(Span<byte>.Empty);   // the head goes out, the body is asked for
        var piece = new byte[FetchExchange.MaxPiece];
        int accepted = 0;
        while (ex.Body(piece))
            accepted++;
        Assert.Equal(FetchExchange.MaxBuffered / FetchExchange.MaxPiece - 1, accepted);
        Assert.Null(ex.Failure);
        Assert.False(ex.Body(piece));   // out of turn: over the bound
        Assert.NotNull(ex.Failure);
        Assert.False(ex.Body(new byte[FetchExchange.MaxPiece + 1]));
    }

    [Fact]
    public void Names_Resolve_To_Made_Up_Addresses_That_Map_Back_The_Pages_Host_To_The_Gateway_And_Localhost_To_The_Guest()
    {
        uint a = _host.Resolve("example.com"), b = _host.Resolve("other.example.");
        Assert.Equal(FetchNetworkHost.SyntheticNetwork, a & FetchNetworkHost.SyntheticMask);
        Assert.NotEqual(a, b);
        Assert.Equal(a, _host.Resolve("EXAMPLE.com"));
        Assert.Equal(UserNetwork.HostLoopback, _host.Resolve("localhost"));
        Assert.Equal(0x01020304u, _host.Resolve("1.2.3.4"));
        var query = _host.ResolveName("example.com");
        Assert.True(query.IsCompleted);
        Assert.Equal([a], query.Addresses);

        var onPageHost = new FetchNetworkHost(_fetch, "https://wemu.example:8443/", _log.Add);
        Assert.Equal(UserNetwork.GatewayAddress, onPageHost.Resolve("wemu.example"));
        onPageHost.ConnectTcp(UserNetwork.HostLoopback, 8443).Send(Ascii("GET /s HTTP/1.1\r\nHost: x\r\n\r\n"));
        onPageHost.ConnectTcp(UserNetwork.HostLoopback, 81).Send(Ascii("GET /p HTTP/1.1\r\nHost: x\r\n\r\n"));
        onPageHost.ConnectTcp(onPageHost.Resolve("example.com"), 8080).Send(Ascii("GET /n HTTP/1.1\r\nHost: x\r\n\r\n"));
        onPageHost.ConnectTcp(0x5DB8D822, 80).Send(Ascii("GET /ip HTTP/1.1\r\nHost: x\r\n\r\n"));
        Assert.Equal(["https://wemu.example:8443/s", "http://wemu.example:81/p", "http://example.com:8080/n", "http://93.184.216.34/ip"],
            _fetch.Started.Select(e => e.Request.Url));
    }

    [Fact]
    public void Absolute_Form_Targets_From_A_Guest_Using_10_0_2_2_As_Its_Proxy_Are_Fetched_As_They_Name()
    {
        var s = Connect(UserNetwork.HostLoopback, 3128);
        s.Send(Ascii("GET http://example.org:8080/a?b HTTP/1.1\r\nHost: example.org:8080\r\n\r\n"));
        _fetch.Started[0].Fail("x");
        ReadAll(s);
        s.Send(Ascii("GET http://10.0.2.2:8000/page HTTP/1.1\r\nHost: 10.0.2.2:8000\r\n\r\n"));
        _fetch.Started[1].Fail("x");
        ReadAll(s);
        s.Send(Ascii("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n"));
        Assert.Equal(["http://example.org:8080/a?b", "http://127.0.0.1:8000/page", "http://127.0.0.1:3128/plain"],
            _fetch.Started.Select(e => e.Request.Url));
    }

    [Fact]
    public void A_Made_Up_Address_No_Name_Maps_To_Is_Refused_And_Old_Names_Are_Reused_Past_The_Bound()
    {
        Assert.Equal(HostSocketState.Failed, Connect(FetchNetworkHost.SyntheticNetwork + 5, 80).State);
        uint first = _host.Resolve("n0.example");
        for (int i = 1; i <= FetchNetworkHost.MaxNames; i++)
            _host.Resolve($"n{i}.example");
        Assert.Equal(first, _host.Resolve($"n{FetchNetworkHost.MaxNames}.example"));
        Assert.NotEqual(first, _host.Resolve("n0.example"));   // evicted, given a new address
    }

    [Fact]
    public void Hostfwd_And_Udp_Are_Refused_In_The_Page()
    {
        Assert.Throws<ConfigException>(() => _host.ListenTcp(UserNetwork.HostLoopback, 8080));
        Assert.Throws<ConfigException>(() => _host.ListenUdp(UserNetwork.HostLoopback, 8080));
        Assert.Null(_host.OpenUdp());
        Assert.Throws<ConfigException>(() => new FetchNetworkHost(_fetch, "file:///tmp/x.html", _log.Add));
    }

    [Fact]
    public void Connections_Beyond_The_Bound_Are_Refused_Until_One_Closes()
    {
        var open = Enumerable.Range(0, FetchNetworkHost.MaxProxyConnections).Select(_ => Connect()).ToList();
        Assert.All(open, s => Assert.Equal(HostSocketState.Connected, s.State));
        Assert.Equal(HostSocketState.Failed, Connect().State);
        Assert.Contains(_log, l => l.Contains("connection refused", StringComparison.Ordinal));
        open[0].Dispose();
        open[0].Dispose();   // twice counts once
        Assert.Equal(HostSocketState.Connected, Connect().State);
        Assert.Equal(HostSocketState.Failed, Connect().State);
    }
}
