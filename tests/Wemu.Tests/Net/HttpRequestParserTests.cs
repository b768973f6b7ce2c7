using System.Text;
using Wemu.Net.Fetch;
using Xunit;

namespace Wemu.Tests.Net;

/// <summary>The guest's HTTP/1.x requests as the in-page stack parses them (RFC 9112), good, pipelined, malformed and oversize.</summary>
public sealed class HttpRequestParserTests
{
    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    private static List<HttpRequest> FeedAll(HttpRequestParser p, byte[] data, int step)
    {
        var requests = new List<HttpRequest>();
        for (int i = 0; i < data.Length;)
        {
            int n = p.Feed(data.AsSpan(i, Math.Min(step, data.Length - i)));
            i += n;
            while (p.TryTake(out var r))
                requests.Add(r);
            if (n == 0 && p.ErrorStatus != 0)
                break;
            Assert.True(n > 0 || p.ErrorStatus != 0, "the parser took nothing with nothing queued");
        }
        return requests;
    }

    [Fact]
    public void A_Get_From_Busybox_Wget_Is_Parsed_With_Its_Fields()
    {
        var p = new HttpRequestParser();
        var r = FeedAll(p, Ascii("GET /dir/file.bin?x=1 HTTP/1.1\r\nHost: 10.0.2.2:8000\r\nUser-Agent: Wget\r\nConnection: close\r\n\r\n"), 4096).Single();
        Assert.Equal("GET", r.Method);
        Assert.Equal("/dir/file.bin?x=1", r.PathAndQuery);
        Assert.Equal(1, r.MinorVersion);
        Assert.Equal("10.0.2.2:8000", r.Fields.Get("host"));
        Assert.False(r.KeepAlive);
        Assert.Empty(r.Body);
        Assert.Equal(0, p.ErrorStatus);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Pipelined_Requests_With_Bodies_Come_Out_In_Order_However_The_Bytes_Are_Split(int step)
    {
        var p = new HttpRequestParser();
        var data = Ascii("\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
            + "PUT /c HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n3;ext=1\r\nabc\r\n0A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
            + "GET /d HTTP/1.0\r\n\r\n");
        var r = FeedAll(p, data, step);
        Assert.Equal(["/a", "/b", "/c", "/d"], r.Select(x => x.Target));
        Assert.Equal("hello", Encoding.ASCII.GetString(r[1].Body));
        Assert.Equal("abc0123456789", Encoding.ASCII.GetString(r[2].Body));
        Assert.True(r[0].KeepAlive);
        Assert.False(r[3].KeepAlive);   // HTTP/1.0 without keep-alive
        Assert.Equal(0, p.ErrorStatus);
    }

    [Theory]
    [InlineData("GET /\r\n\r\n", 400)]
    [InlineData("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400)]
    [InlineData("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET nopath HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / FTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)]
    [InlineData("GET / HTTP/1.1\r\n\r\n", 400)]                                               // no Host
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400)]                          // obs-fold
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX: a\u0001b\r\n\r\n", 400)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n", 400)]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400)]
    public void Malformed_Requests_Stop_The_Parser_With_The_Status_To_Answer(string request, int status)
    {
        var p = new HttpRequestParser();
        var r = FeedAll(p, Encoding.Latin1.GetBytes(request), 4096);
        Assert.Empty(r);
        Assert.Equal(status, p.ErrorStatus);
        Assert.False(string.IsNullOrEmpty(p.Error));
        Assert.DoesNotContain('\n', p.Error);
        // Nothing more is taken once it failed.
        Assert.Equal(0, p.Feed(Ascii("GET / HTTP/1.1\r\nHost: h\r\n\r\n")));
    }

    [Fact]
    public void A_Head_Over_The_Bound_Is_431_Without_Buffering_More()
    {
        var p = new HttpRequestParser();
        var data = Ascii("GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + new string('a', HttpRequestParser.MaxHeadBytes) + "\r\n\r\n");
        int taken = p.Feed(data);
        Assert.Equal(431, p.ErrorStatus);
        Assert.True(taken <= HttpRequestParser.MaxHeadBytes + 1, $"took {taken} bytes");
    }

    [Fact]
    public void A_Body_Over_The_Bound_Is_413_Whether_Announced_Or_Chunked()
    {
        var p = new HttpRequestParser();
        p.Feed(Ascii($"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {HttpRequestParser.MaxBodyBytes + 1}\r\n\r\n"));
        Assert.Equal(413, p.ErrorStatus);

        var c = new HttpRequestParser();
        c.Feed(Ascii("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"));
        var chunk = Ascii("FFFFF\r\n" + new string('x', 0xFFFFF) + "\r\n");
        int rounds = 0;
        while (c.ErrorStatus == 0 && rounds++ < 10)
            c.Feed(chunk);
        Assert.Equal(413, c.ErrorStatus);
        Assert.True(rounds <= HttpRequestParser.MaxBodyBytes / 0xFFFFF + 1, $"{rounds} rounds of 1 MiB before the bound");
    }

    [Fact]
    public void Requests_Queue_Up_To_The_Bound_Then_The_Parser_Takes_Nothing()
    {
        var p = new HttpRequestParser();
        var one = Ascii("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        var many = Enumerable.Repeat(one, HttpRequestParser.MaxQueuedRequests + 3).SelectMany(x => x).ToArray();
        int taken = p.Feed(many);
        Assert.Equal(one.Length * HttpRequestParser.MaxQueuedRequests, taken);
        Assert.Equal(HttpRequestParser.MaxQueuedRequests, p.Count);
        Assert.True(p.TryTake(out _));
        Assert.Equal(one.Length, p.Feed(many.AsSpan(taken)));
    }

    [Fact]
    public void Queued_Bodies_Together_Stop_The_Parser_At_The_Body_Bound()
    {
        // Small requests with big bodies: the count bound alone would let a connection hold four full bodies.
        var p = new HttpRequestParser();
        int size = HttpRequestParser.MaxBodyBytes / 2 + 1;
        var one = Ascii($"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: {size}\r\n\r\n").Concat(new byte[size]).ToArray();
        var many = Enumerable.Repeat(one, 4).SelectMany(x => x).ToArray();
        int taken = p.Feed(many);
        Assert.Equal(2, p.Count);                   // two bodies pass the bound together; the third waits
        Assert.Equal(2 * one.Length, taken);
        Assert.Equal(0, p.Feed(many.AsSpan(taken)));
        Assert.True(p.TryTake(out var first));
        Assert.Equal(size, first.Body.Length);
        Assert.Equal(one.Length, p.Feed(many.AsSpan(taken)));
    }
}
