using System.Text;
using Wemu.Net;
using Wemu.Net.Fetch;
using Xunit;
using static Wemu.Tests.Net.GuestSide;

namespace Wemu.Tests.Net;

/// <summary>
/// vm.fetch with <c>-nic websocket</c> in the page: the relay's link (here a second stack on a fake host) shares the
/// NIC with a local restricted stack that opens connections into the guest. The guest's answers on those
/// connections must reach the local stack, everything else the outside.
/// </summary>
public sealed class InboundSplitLinkTests : IDisposable
{
    private readonly FakeNetworkHost _outsideHost = new() { Now = 1_000_000 };
    private readonly FetchNetworkHost _inboundHost;
    private readonly InboundSplitLink _link;
    private readonly GuestSide _guest;
    private long _now = 1_000_000;

    public InboundSplitLinkTests()
    {
        _inboundHost = new FetchNetworkHost(new FakeFetchClient(), "http://127.0.0.1:8000/", _ => { }, () => _now);
        var outside = new UserNetwork(new UserNetworkOptions(), _outsideHost);
        var inbound = new UserNetwork(new UserNetworkOptions { Restrict = true }, _inboundHost);
        _link = new InboundSplitLink(outside, inbound);
        _guest = new GuestSide(_link);
    }

    public void Dispose() => _link.Dispose();

    private List<byte[]> Step()
    {
        _now += 1000;
        _outsideHost.Now += 1000;
        _link.Poll();
        return _guest.Drain();
    }

    private List<byte[]> Send(byte[] frame)
    {
        _link.ReceiveFrame(frame);
        return _guest.Drain();
    }

    private static Segment[] Tcp(IEnumerable<byte[]> frames) => [.. frames.Select(ParseTcp).OfType<Segment>()];

    [Fact]
    public void A_Request_From_The_Page_Reaches_The_Guest_And_Its_Answer_Comes_Back_While_The_Outside_Serves_The_Rest()
    {
        var exchange = _inboundHost.FetchIntoGuest(8080, new HttpRequest { Method = "GET", Target = "/", MinorVersion = 1, Fields = new HttpFields() })!;
        GuestHttpExchange? done = null;
        exchange.Completed = e => done = e;
        var syn = Tcp(Step()).Single();
        Assert.Equal(Syn, syn.Flags);
        Assert.Equal(Gateway, syn.Source);

        // Meanwhile the guest opens its own connection to the gateway: the outside's NAT takes it.
        Assert.Empty(_outsideHost.Connections);
        Send(GuestSide.Tcp(41000, Gateway, 80, 1, 0, Syn, 65535, mss: 1460));
        Assert.Single(_outsideHost.Connections);
        // ARP for the gateway is the outside's to answer.
        Assert.Single(Send(ArpRequest(Gateway)));

        uint seq = 7000;
        var segments = Tcp(Send(TcpFrom(syn, seq, syn.Seq + 1, Syn | Ack, [])).Concat(Step()));
        Assert.DoesNotContain(segments, s => (s.Flags & Rst) != 0);   // an outside stack would reset a connection it does not hold
        var request = Encoding.ASCII.GetString([.. segments.Where(s => s.SourcePort == syn.SourcePort).SelectMany(s => s.Payload)]);
        Assert.StartsWith("GET / HTTP/1.1\r\n", request);
        uint ack = syn.Seq + 1 + (uint)request.Length;
        var response = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        Send(TcpFrom(syn, seq + 1, ack, Ack | Psh, response));
        Step();
        Assert.NotNull(done);
        Assert.Null(done!.Error);
        Assert.Equal("hello", Encoding.ASCII.GetString(done.Response!.Body));
        Assert.Single(_outsideHost.Connections);   // nothing of the exchange went outside
    }

    [Fact]
    public void Frames_Toward_The_Guest_Take_Turns_And_Peek_Matches_Dequeue()
    {
        // Two ARP answers from the outside, then a SYN from the inside queued: all three come out, each once.
        _link.ReceiveFrame(ArpRequest(Gateway));
        _link.ReceiveFrame(ArpRequest(Dns));
        _inboundHost.FetchIntoGuest(8080, new HttpRequest { Method = "GET", Target = "/", MinorVersion = 1, Fields = new HttpFields() });
        _now += 1000;
        _outsideHost.Now += 1000;
        _link.Poll();
        Assert.Equal(3, _link.QueuedFrames);
        var first = _link.PeekFrame().ToArray();
        _link.DequeueFrame();
        var second = _link.PeekFrame().ToArray();
        _link.DequeueFrame();
        var third = _link.PeekFrame().ToArray();
        _link.DequeueFrame();
        Assert.Equal(0, _link.QueuedFrames);
        Assert.Null(ParseTcp(first));                       // the outside's first ARP answer
        Assert.Equal(Syn, ParseTcp(second)!.Flags);         // then the inside's turn
        Assert.Null(ParseTcp(third));
        Assert.NotEqual(first, third);
    }

    private static byte[] TcpFrom(Segment peer, uint seq, uint ack, byte flags, byte[] payload) =>
        GuestSide.Tcp(peer.DestinationPort, peer.Source, peer.SourcePort, seq, ack, flags, 65535, payload);
}
