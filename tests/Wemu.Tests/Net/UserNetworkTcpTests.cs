using System.Net;
using System.Net.Sockets;
using System.Text;
using Wemu.Cli;
using Wemu.Net;
using Xunit;
using static Wemu.Tests.Net.GuestSide;

namespace Wemu.Tests.Net;

/// <summary>
/// TCP through the NAT without a guest: raw segments from a hand-driven guest endpoint to a server on the host's
/// loopback (reached as 10.0.2.2), through the real host sockets (<see cref="HostSocketNetwork"/>).
/// </summary>
public sealed class UserNetworkTcpTests : IDisposable
{
    private readonly UserNetwork _network = new(new UserNetworkOptions(), new HostSocketNetwork());
    private readonly GuestSide _guest;
    private readonly List<Segment> _received = [];

    public UserNetworkTcpTests() => _guest = new GuestSide(_network);

    public void Dispose() => _network.Dispose();

    /// <summary>Polls the stack until <paramref name="done"/> holds for the segments received so far.</summary>
    private void PollUntil(Func<bool> done, string what, int timeoutMs = 5000)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!done())
        {
            if (sw.ElapsedMilliseconds > timeoutMs)
                Assert.Fail($"timed out waiting for {what}; received: {string.Join(", ", _received.Select(s => $"[flags {s.Flags:x} seq {s.Seq} ack {s.Ack} len {s.Payload.Length}]"))}");
            Thread.Sleep(1);
            _network.Poll();
            foreach (var f in _guest.Drain())
                if (ParseTcp(f) is { } s)
                    _received.Add(s);
        }
    }

    private void Send(byte[] frame)
    {
        _network.ReceiveFrame(frame);
        foreach (var f in _guest.Drain())
            if (ParseTcp(f) is { } s)
                _received.Add(s);
    }

    [Fact]
    public void Guest_Connects_To_Host_Loopback_And_Exchanges_Data_Both_Ways()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        ushort port = (ushort)((IPEndPoint)listener.LocalEndPoint!).Port;

        const uint iss = 1000;
        Send(Tcp(40000, Gateway, port, iss, 0, Syn, 64240, mss: 1460));
        PollUntil(() => _received.Any(s => (s.Flags & (Syn | Ack)) == (Syn | Ack)), "SYN-ACK");
        var synAck = _received.Single(s => (s.Flags & Syn) != 0);
        Assert.Equal(Gateway, synAck.Source);
        Assert.Equal(port, synAck.SourcePort);
        Assert.Equal(iss + 1, synAck.Ack);
        Assert.Equal(1460, synAck.Mss);
        uint serverSeq = synAck.Seq + 1;
        using var server = listener.Accept();

        Send(Tcp(40000, Gateway, port, iss + 1, serverSeq, Ack, 64240));
        byte[] request = Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n");
        Send(Tcp(40000, Gateway, port, iss + 1, serverSeq, Ack | Psh, 64240, request));
        var got = new byte[request.Length];
        server.ReceiveTimeout = 5000;
        int n = 0;
        while (n < got.Length)
            n += server.Receive(got, n, got.Length - n, SocketFlags.None);
        Assert.Equal(request, got);
        Assert.Contains(_received, s => s.Ack == iss + 1 + (uint)request.Length);

        // 100 KB from the host: more than one window and one buffer, acknowledged as it arrives.
        var reply = new byte[100_000];
        new Random(7).NextBytes(reply);
        var writer = Task.Run(() => { server.Send(reply); server.Shutdown(SocketShutdown.Send); });
        var stream = new MemoryStream();
        uint expected = serverSeq;
        bool fin = false;
        PollUntil(() =>
        {
            foreach (var s in _received.ToList())
            {
                _received.Remove(s);
                if (s.Seq == expected && s.Payload.Length > 0)
                {
                    stream.Write(s.Payload);
                    expected += (uint)s.Payload.Length;
                }
                if ((s.Flags & Fin) != 0 && s.Seq + (uint)s.Payload.Length == expected)
                {
                    fin = true;
                    expected++;
                }
                Send(Tcp(40000, Gateway, port, iss + 1 + (uint)request.Length, expected, Ack, 64240));
            }
            return fin;
        }, "the host's 100 KB and FIN", 20000);
        writer.Wait();
        Assert.Equal(reply, stream.ToArray());

        // The guest closes too: the host sees the end of the stream, the stack acknowledges the FIN.
        Send(Tcp(40000, Gateway, port, iss + 1 + (uint)request.Length, expected, Fin | Ack, 64240));
        Assert.Equal(0, server.Receive(new byte[16]));
        PollUntil(() => _received.Any(s => s.Ack == iss + 2 + (uint)request.Length), "the ACK of the guest's FIN");
    }

    [Fact]
    public void Connection_Refused_By_The_Host_Is_A_Reset()
    {
        // A port nothing listens on: bind one, learn its number, close it.
        var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ushort port = (ushort)((IPEndPoint)probe.LocalEndPoint!).Port;
        probe.Dispose();
        Send(Tcp(40001, Gateway, port, 5000, 0, Syn, 64240, mss: 1460));
        Assert.Equal(0, _network.DroppedFrames);
        Assert.Equal(1, _network.TcpConnectionCount);
        PollUntil(() => _received.Any(s => (s.Flags & Rst) != 0), "RST");
        var rst = _received.First(s => (s.Flags & Rst) != 0);
        Assert.Equal(5001u, rst.Ack);
        Assert.DoesNotContain(_received, s => (s.Flags & Syn) != 0);
    }
}
