using System.Text;
using Wemu.Net;
using Wemu.Net.Fetch;
using Xunit;

namespace Wemu.Tests.Net;

/// <summary>vm.fetch's side of a connection into the guest: the request written, the guest's response parsed however it is framed.</summary>
public sealed class GuestHttpExchangeTests
{
    private static GuestHttpExchange Exchange(string method = "GET", byte[]? body = null)
    {
        var fields = new HttpFields();
        fields.Add("Connection", "keep-alive");
        fields.Add("Host", "ignored");
        fields.Add("X-Mine", "1");
        return new GuestHttpExchange(new HttpRequest { Method = method, Target = "/p?q", MinorVersion = 1, Fields = fields, Body = body ?? [] }, 8080);
    }

    private static string RequestText(GuestHttpExchange e)
    {
        var buffer = new byte[4096];
        int n = e.Receive(buffer);
        Assert.Equal(IHostTcpSocket.WouldBlock, e.Receive(buffer));
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Fact]
    public void The_Request_Has_Its_Own_Host_Connection_Close_And_The_Body_Length()
    {
        var e = Exchange("POST", Encoding.ASCII.GetBytes("a=1"));
        Assert.Equal("POST /p?q HTTP/1.1\r\nHost: localhost:8080\r\nX-Mine: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=1", RequestText(e));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloIGNORED", false)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\n\r\n", false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", true)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false)]
    public void Responses_Framed_Every_Way_Give_The_Same_Body(string response, bool endsWithClose)
    {
        foreach (int step in new[] { 1, 3, 1000 })
        {
            var e = Exchange();
            HttpResponse? done = null;
            e.Completed = x => done = x.Response;
            var bytes = Encoding.ASCII.GetBytes(response);
            for (int i = 0; i < bytes.Length; i += step)
                Assert.Equal(Math.Min(step, bytes.Length - i), e.Send(bytes.AsSpan(i, Math.Min(step, bytes.Length - i))));
            if (endsWithClose)
            {
                Assert.Null(done);
                e.ShutdownSend();
            }
            Assert.NotNull(done);
            Assert.Equal(200, done!.Status);
            Assert.Equal("hello", Encoding.ASCII.GetString(done.Body));
        }
    }

    [Fact]
    public void A_Head_Response_Has_No_Body_Whatever_Its_Length_Says()
    {
        var e = Exchange("HEAD");
        HttpResponse? done = null;
        e.Completed = x => done = x.Response;
        e.Send(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"));
        Assert.NotNull(done);
        Assert.Empty(done!.Body);
    }

    [Theory]
    [InlineData("SSH-2.0-OpenSSH\r\n\r\n", "malformed status line")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n", "malformed status line")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "bound")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "chunk size")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "only chunked")]
    public void Malformed_Responses_Fail_The_Exchange_With_A_Reason_And_Reset_The_Connection(string response, string reason)
    {
        var e = Exchange();
        string? error = null;
        e.Completed = x => error = x.Error;
        Assert.Equal(IHostTcpSocket.Error, e.Send(Encoding.ASCII.GetBytes(response)));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void A_Response_Cut_Short_Or_Over_The_Bound_Fails()
    {
        var e = Exchange();
        string? error = null;
        e.Completed = x => error = x.Error;
        e.Send(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
        e.ShutdownSend();
        Assert.Contains("before the end of the body", error);

        var big = Exchange();
        big.Completed = x => error = x.Error;
        big.Send(Encoding.ASCII.GetBytes("HTTP/1.0 200 OK\r\n\r\n"));
        var chunk = new byte[1 << 20];
        int result = 0;
        for (int i = 0; i <= HttpResponseParser.MaxBodyBytes >> 20 && result != IHostTcpSocket.Error; i++)
            result = big.Send(chunk);
        Assert.Equal(IHostTcpSocket.Error, result);
        Assert.Contains("larger than", error);
    }
}
