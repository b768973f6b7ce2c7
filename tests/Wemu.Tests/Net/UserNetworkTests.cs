using System.Buffers.Binary;
using System.Text;
using Wemu.Net;
using Xunit;
using static Wemu.Tests.Net.GuestSide;

namespace Wemu.Tests.Net;

/// <summary>
/// The user network's own services and its bounds, without a guest or host sockets: ARP, ICMP echo, DHCP, DNS,
/// UDP NAT, restrict=on, malformed frames, a SYN flood, a guest that never reads and a host that never reads.
/// </summary>
public sealed class UserNetworkTests : IDisposable
{
    private readonly FakeNetworkHost _host = new() { Now = 1_000_000 };
    private readonly UserNetwork _network;
    private readonly GuestSide _guest;

    public UserNetworkTests()
    {
        _host.Names["example.test"] = [0x5DB8D822];
        _host.Names["localhost"] = [0x7F000001];
        _network = new UserNetwork(new UserNetworkOptions(), _host);
        _guest = new GuestSide(_network);
    }

    public void Dispose() => _network.Dispose();

    private List<byte[]> Exchange(byte[] frame)
    {
        _network.ReceiveFrame(frame);
        return _guest.Drain();
    }

    private void Tick(long microseconds = 1000)
    {
        _host.Now += microseconds;
        _network.Poll();
    }

    [Fact]
    public void Arp_Requests_For_Gateway_And_Dns_Are_Answered_With_Slirps_Mac()
    {
        foreach (uint target in new[] { Gateway, Dns })
        {
            var reply = Assert.Single(Exchange(ArpRequest(target)));
            Assert.Equal(GuestMac, reply[..6]);
            Assert.Equal(0x0806, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(12)));
            Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(20)));   // ARP reply
            Assert.Equal(new byte[] { 0x52, 0x55, 0x0A, 0x00, 0x02, 0x02 }, reply[22..28]);   // sender MAC
            Assert.Equal(target, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(28)));
            Assert.Equal(GuestMac, reply[32..38]);
            Assert.Equal(Guest, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(38)));
        }
        Assert.Empty(Exchange(ArpRequest(0x0A000209)));   // nobody else lives on 10.0.2.0/24
        Assert.Empty(Exchange(ArpRequest(Guest)));        // the guest's own duplicate-address probe
    }

    [Fact]
    public void Ping_Of_The_Gateway_Is_Echoed_With_The_Same_Payload()
    {
        var icmp = new byte[8 + 56];
        icmp[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), 7);
        for (int i = 8; i < icmp.Length; i++)
            icmp[i] = (byte)i;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), Checksum(icmp));
        var reply = Assert.Single(Exchange(Ipv4(1, Guest, Gateway, icmp)));
        var r = reply.AsSpan(34);
        Assert.Equal(0, r[0]);                        // echo reply
        Assert.Equal(0, Checksum(r));                 // a valid ICMP checksum
        Assert.Equal(icmp[4..], r[4..].ToArray());    // id, sequence and data echoed
        Assert.Equal(Gateway, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(26)));
    }

    private static byte[] DhcpMessage(byte type, uint requested = 0)
    {
        var m = new byte[300];
        m[0] = 1;
        m[1] = 1;
        m[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), 0xCAFEBABE);
        GuestMac.CopyTo(m, 28);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(236), 0x63825363);
        int o = 240;
        m[o++] = 53;
        m[o++] = 1;
        m[o++] = type;
        if (requested != 0)
        {
            m[o++] = 50;
            m[o++] = 4;
            BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(o), requested);
            o += 4;
        }
        m[o] = 255;
        return Udp(0, 68, 0xFFFFFFFF, 67, m);
    }

    private static Dictionary<byte, byte[]> DhcpOptions(byte[] reply)
    {
        var options = new Dictionary<byte, byte[]>();
        for (int i = 240; i < reply.Length && reply[i] != 255;)
        {
            if (reply[i] == 0)
            {
                i++;
                continue;
            }
            options[reply[i]] = reply[(i + 2)..(i + 2 + reply[i + 1])];
            i += 2 + reply[i + 1];
        }
        return options;
    }

    [Fact]
    public void Dhcp_Offers_And_Acknowledges_10_0_2_15_With_Router_Dns_And_Netmask()
    {
        var offer = ParseUdp(Assert.Single(Exchange(DhcpMessage(1))))!.Value;
        Assert.Equal((ushort)67, offer.SourcePort);
        Assert.Equal((ushort)68, offer.DestinationPort);
        Assert.Equal(2, offer.Payload[0]);   // BOOTREPLY
        Assert.Equal(0xCAFEBABE, BinaryPrimitives.ReadUInt32BigEndian(offer.Payload.AsSpan(4)));
        Assert.Equal(Guest, BinaryPrimitives.ReadUInt32BigEndian(offer.Payload.AsSpan(16)));
        var o = DhcpOptions(offer.Payload);
        Assert.Equal(new byte[] { 2 }, o[53]);
        Assert.Equal(new byte[] { 255, 255, 255, 0 }, o[1]);
        Assert.Equal(new byte[] { 10, 0, 2, 2 }, o[3]);
        Assert.Equal(new byte[] { 10, 0, 2, 3 }, o[6]);
        Assert.Equal(new byte[] { 10, 0, 2, 2 }, o[54]);

        var ack = ParseUdp(Assert.Single(Exchange(DhcpMessage(3, Guest))))!.Value;
        Assert.Equal(new byte[] { 5 }, DhcpOptions(ack.Payload)[53]);
        Assert.Equal(Guest, BinaryPrimitives.ReadUInt32BigEndian(ack.Payload.AsSpan(16)));

        var nak = ParseUdp(Assert.Single(Exchange(DhcpMessage(3, 0x0A000263))))!.Value;
        Assert.Equal(new byte[] { 6 }, DhcpOptions(nak.Payload)[53]);
    }

    private static byte[] DnsQuestion(string name, ushort type, ushort id = 0x4242)
    {
        var m = new MemoryStream();
        m.Write([(byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        foreach (var label in name.Split('.'))
        {
            m.WriteByte((byte)label.Length);
            m.Write(Encoding.ASCII.GetBytes(label));
        }
        m.Write([0, (byte)(type >> 8), (byte)type, 0, 1]);
        return m.ToArray();
    }

    private (int Rcode, List<uint> Addresses, byte[] Message) Resolve(byte[] question)
    {
        var frames = Exchange(Udp(Guest, 40000, Dns, 53, question));
        var reply = ParseUdp(Assert.Single(frames))!.Value;
        Assert.Equal(Dns, reply.Source);
        Assert.Equal((ushort)40000, reply.DestinationPort);
        var m = reply.Payload;
        Assert.Equal(question[..2], m[..2]);   // the id
        Assert.True((m[2] & 0x80) != 0);       // QR
        if ((m[3] & 15) == 1)
            return (1, [], m);   // FORMERR: the header only, the question could not be read
        int answers = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(6));
        var addresses = new List<uint>();
        int o = question.Length;
        for (int i = 0; i < answers; i++)
        {
            Assert.Equal(4, BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(o + 10)));
            addresses.Add(BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(o + 12)));
            o += 16;
        }
        Assert.Equal(o, m.Length);
        return (m[3] & 15, addresses, m);
    }

    [Fact]
    public void Dns_Answers_A_Queries_From_The_Host_Resolver()
    {
        var a = Resolve(DnsQuestion("example.test", 1));
        Assert.Equal(0, a.Rcode);
        Assert.Equal([0x5DB8D822u], a.Addresses);
        Assert.Equal([0x7F000001u], Resolve(DnsQuestion("localhost", 1)).Addresses);

        var aaaa = Resolve(DnsQuestion("example.test", 28));
        Assert.Equal(0, aaaa.Rcode);     // the name exists, with no IPv6 address
        Assert.Empty(aaaa.Addresses);

        Assert.Equal(3, Resolve(DnsQuestion("nothing.invalid", 1)).Rcode);   // NXDOMAIN
        Assert.Equal(4, Resolve(DnsQuestion("example.test", 15)).Rcode);     // MX: NOTIMP

        // A compression pointer in the question is a format error, and no look-up.
        var pointer = DnsQuestion("example.test", 1);
        pointer[12] = 0xC0;
        Assert.Equal(1, Resolve(pointer).Rcode);
    }

    [Fact]
    public void Dns_Answers_Come_In_The_Order_Of_The_Queries_And_Slow_Ones_Fail_After_5_Seconds()
    {
        _host.ResolveLater = true;
        // Both with one id, as a resolver on a coarse clock sends them: the A answer must come first.
        Assert.Empty(Exchange(Udp(Guest, 40000, Dns, 53, DnsQuestion("example.test", 1, id: 7))));
        Assert.Empty(Exchange(Udp(Guest, 40000, Dns, 53, DnsQuestion("example.test", 28, id: 7))));
        _host.NamesResolved = true;
        Tick();
        var answers = _guest.Drain().Select(f => ParseUdp(f)!.Value.Payload).ToList();
        Assert.Equal(2, answers.Count);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answers[0].AsSpan(6)));   // the A answer, one address
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(answers[1].AsSpan(6)));   // then the empty AAAA one

        _host.NamesResolved = false;
        Assert.Empty(Exchange(Udp(Guest, 40000, Dns, 53, DnsQuestion("example.test", 1))));
        Tick(4_000_000);
        Assert.Empty(_guest.Drain());
        Tick(2_000_000);
        Assert.Equal(2, ParseUdp(Assert.Single(_guest.Drain()))!.Value.Payload[3] & 15);   // SERVFAIL
    }

    [Fact]
    public void Udp_To_The_Gateway_Goes_To_The_Host_Loopback_And_Replies_Come_Back()
    {
        Assert.Empty(Exchange(Udp(Guest, 5555, Gateway, 7000, "ping"u8)));
        var socket = Assert.Single(_host.UdpSockets);
        var sent = Assert.Single(socket.SentTo);
        Assert.Equal(UserNetwork.HostLoopback, sent.Address);
        Assert.Equal((ushort)7000, sent.Port);
        Assert.Equal("ping"u8.ToArray(), sent.Data);

        socket.Incoming.Enqueue(("pong"u8.ToArray(), UserNetwork.HostLoopback, 7000));
        Tick();
        var reply = ParseUdp(Assert.Single(_guest.Drain()))!.Value;
        Assert.Equal(Gateway, reply.Source);   // the host's loopback seen as 10.0.2.2
        Assert.Equal((ushort)7000, reply.SourcePort);
        Assert.Equal((ushort)5555, reply.DestinationPort);
        Assert.Equal("pong"u8.ToArray(), reply.Payload);

        // A minute unused: the binding and its host socket go.
        Tick(61_000_000);
        Assert.True(socket.Disposed);
        Assert.Equal(0, _network.UdpBindingCount);
    }

    [Fact]
    public void Udp_Bindings_Are_Capped()
    {
        for (int i = 0; i < 1000; i++)
            _network.ReceiveFrame(Udp(Guest, (ushort)(10000 + i), 0x08080808, 53, "x"u8));
        Assert.InRange(_network.UdpBindingCount, 1, UserNetwork.MaxUdpBindings);
        Assert.Equal(_host.UdpSockets.Count - _network.UdpBindingCount, _host.UdpSockets.Count(s => s.Disposed));
    }

    [Fact]
    public void Restrict_Cuts_The_Guest_Off_But_Keeps_Dhcp_And_Answers_Resets()
    {
        using var network = new UserNetwork(new UserNetworkOptions { Restrict = true }, _host);
        var guest = new GuestSide(network);
        network.ReceiveFrame(Tcp(40000, 0x5DB8D822, 80, 1, 0, Syn, 64240, mss: 1460));
        var rst = ParseTcp(Assert.Single(guest.Drain()))!;
        Assert.Equal(Rst | Ack, rst.Flags);
        network.ReceiveFrame(Tcp(40000, Gateway, 80, 1, 0, Syn, 64240, mss: 1460));
        Assert.Equal(Rst | Ack, ParseTcp(Assert.Single(guest.Drain()))!.Flags);
        network.ReceiveFrame(Udp(Guest, 5555, Gateway, 7000, "x"u8));
        Assert.Empty(guest.Drain());
        Assert.Empty(_host.Connections);
        Assert.Empty(_host.UdpSockets);
        network.ReceiveFrame(Udp(Guest, 40000, Dns, 53, DnsQuestion("example.test", 1)));
        Assert.Equal(5, ParseUdp(Assert.Single(guest.Drain()))!.Value.Payload[3] & 15);   // REFUSED
        network.ReceiveFrame(DhcpMessage(1));
        Assert.Single(guest.Drain());
    }

    [Fact]
    public void Malformed_Frames_Are_Dropped_And_Counted()
    {
        var good = Udp(Guest, 5555, Gateway, 7000, "payload"u8);
        var bad = new List<byte[]>
        {
            good[..13],                                           // shorter than an Ethernet header
            good[..30],                                           // shorter than an IPv4 header
            Patch(good, 14, 0x44),                                // IHL 4
            Patch(good, 14, 0x65),                                // IP version 6 in an IPv4 frame
            Patch(good, 16, 0x7F),                                // total length past the frame
            Patch(good, 24, (byte)(good[24] ^ 1)),                // header checksum
            Ipv4(17, Guest, Gateway, good[34..], flagsAndOffset: 0x2000),   // first fragment (MF)
            Ipv4(17, Guest, Gateway, good[34..], flagsAndOffset: 0x0010),   // a later fragment
            Patch(good, 38, 0x7F),                                // UDP length past the datagram
            Patch(good, good.Length - 1, (byte)(good[^1] ^ 0xFF)),  // UDP checksum
            Tcp(40000, Gateway, 80, 1, 0, Syn | Fin, 64240),      // SYN+FIN
            Tcp(40000, Gateway, 80, 1, 0, Syn | Rst, 64240),      // SYN+RST
            Patch(Tcp(40000, Gateway, 80, 1, 0, Ack, 64240), 46, 0xF0),   // data offset past the segment (checksum then wrong too)
            Ipv4(6, Guest, Gateway, new byte[10]),                // a TCP header cut short
            Ipv4(1, Guest, Gateway, new byte[] { 8, 0, 0, 0, 0, 0 }),     // ICMP shorter than its header
            Ipv4(17, 0x08080808, Gateway, good[34..]),            // a source outside the guest's subnet
            Ethernet(0x86DD, new byte[40]),                       // IPv6
            Ethernet(0x0806, new byte[10]),                       // ARP cut short
            new byte[2000],                                       // longer than any frame
        };
        foreach (var f in bad)
            _network.ReceiveFrame(f);
        Assert.Equal(bad.Count, _network.DroppedFrames);
        Assert.Empty(_guest.Drain());
        Assert.Empty(_host.Connections);
        Assert.Empty(_host.UdpSockets);
    }

    private static byte[] Patch(byte[] frame, int offset, byte value)
    {
        var copy = (byte[])frame.Clone();
        copy[offset] = value;
        return copy;
    }

    /// <summary>Random corruptions of valid frames of every kind: nothing throws, and every queue stays bounded.</summary>
    [Fact]
    public void Mutated_Frames_Never_Throw()
    {
        var rng = new Random(1234);
        byte[][] seeds =
        [
            ArpRequest(Gateway), DhcpMessage(1), DhcpMessage(3, Guest), Udp(Guest, 40000, Dns, 53, DnsQuestion("example.test", 1)),
            Udp(Guest, 5555, Gateway, 7000, "x"u8), Tcp(40000, Gateway, 80, 1, 0, Syn, 64240, mss: 1460),
            Tcp(40000, Gateway, 80, 2, 5, Ack | Psh, 64240, "data"u8), Ipv4(1, Guest, Gateway, new byte[] { 8, 0, 0xF7, 0xFF, 0, 0, 0, 0 }),
        ];
        _host.ConnectState = HostSocketState.Connected;
        for (int i = 0; i < 50_000; i++)
        {
            var f = (byte[])seeds[rng.Next(seeds.Length)].Clone();
            int flips = rng.Next(1, 4);
            for (int k = 0; k < flips; k++)
                f[rng.Next(f.Length)] ^= (byte)(1 << rng.Next(8));
            if (rng.Next(4) == 0)
                f = f[..rng.Next(f.Length)];
            _network.ReceiveFrame(f);
            if (i % 100 == 0)
                Tick();
            if (i % 1000 == 0)
                _guest.Drain();
            Assert.InRange(_network.QueuedFrames, 0, UserNetwork.MaxQueuedFrames);
        }
        Assert.InRange(_network.TcpConnectionCount, 0, UserNetwork.MaxTcpConnections);
        Assert.InRange(_network.UdpBindingCount, 0, UserNetwork.MaxUdpBindings);
        Assert.True(_network.DroppedFrames > 10_000);
    }

    [Fact]
    public void Syn_Flood_Fills_Only_The_Half_Open_Table()
    {
        // The host never answers the connects: every SYN would stay half-open.
        for (int i = 0; i < 20_000; i++)
            _network.ReceiveFrame(Tcp((ushort)(1024 + i), 0x5DB8D822, 80, (uint)i, 0, Syn, 64240, mss: 1460));
        Assert.Equal(UserNetwork.MaxHalfOpenTcpConnections, _network.TcpConnectionCount);
        Assert.Equal(UserNetwork.MaxHalfOpenTcpConnections, _host.Connections.Count);
        // They time out (30 s), and new connections are possible again.
        for (int i = 0; i < 40; i++)
            Tick(1_000_000);
        Tick(3_000_000);
        Assert.Equal(0, _network.TcpConnectionCount);
        Assert.All(_host.Connections, c => Assert.True(c.Disposed));
        _guest.Drain();
        _host.ConnectState = HostSocketState.Connected;
        _network.ReceiveFrame(Tcp(999, 0x5DB8D822, 80, 7, 0, Syn, 64240, mss: 1460));
        Tick();
        Assert.Contains(_guest.Drain(), f => ParseTcp(f) is { Flags: Syn | Ack });
    }

    /// <summary>Connects (host side connected at once) and completes the handshake; returns the stack's next sequence number.</summary>
    private uint Establish(ushort port, uint iss, ushort window)
    {
        _host.ConnectState = HostSocketState.Connected;
        _network.ReceiveFrame(Tcp(port, 0x5DB8D822, 80, iss, 0, Syn, window, mss: 1460));
        Tick();
        var synAck = _guest.Drain().Select(ParseTcp).Single(s => s != null && s.Flags == (Syn | Ack))!;
        _network.ReceiveFrame(Tcp(port, 0x5DB8D822, 80, iss + 1, synAck.Seq + 1, Ack, window));
        return synAck.Seq + 1;
    }

    [Fact]
    public void A_Guest_That_Never_Reads_Stops_The_Host_Reads_At_One_Buffer()
    {
        _host.ConnectionData = -1;   // the host side has endless data
        uint next = Establish(40000, 100, 0);   // the guest's window is closed from the start
        var socket = Assert.Single(_host.Connections);
        long sent = 0;
        for (int i = 0; i < 200; i++)
        {
            Tick(100_000);
            foreach (var f in _guest.Drain())
                if (ParseTcp(f) is { } s)
                    sent += s.Payload.Length;
        }
        Assert.Equal(0, sent);   // nothing beyond a zero window (probes carry no data)
        Assert.InRange(socket.BytesRead, 1, TcpNatConnection.BufferSize);
        // The guest opens its window by 4 KiB and acknowledges nothing more: 4 KiB come, and no more.
        _network.ReceiveFrame(Tcp(40000, 0x5DB8D822, 80, 101, next, Ack, 4096));
        for (int i = 0; i < 5; i++)
            Tick(1000);
        foreach (var f in _guest.Drain())
            if (ParseTcp(f) is { } s)
                sent += s.Payload.Length;
        Assert.Equal(4096, sent);
        Assert.InRange(socket.BytesRead, 1, TcpNatConnection.BufferSize + 4096);
    }

    [Fact]
    public void A_Host_That_Never_Reads_Closes_The_Window_Advertised_To_The_Guest()
    {
        uint next = Establish(40001, 500, 64240);
        var socket = Assert.Single(_host.Connections);
        socket.SendCapacity = 0;
        uint seq = 501;
        var chunk = new byte[1460];
        int lastWindow = -1;
        for (int i = 0; i < 100; i++)
        {
            _network.ReceiveFrame(Tcp(40001, 0x5DB8D822, 80, seq, next, Ack | Psh, 64240, chunk));
            var ack = _guest.Drain().Select(ParseTcp).Last(s => s != null)!;
            seq = ack.Ack;   // the guest sends on from what was acknowledged (a real TCP would also respect the window)
            lastWindow = ack.Window;
        }
        Assert.Equal(0, lastWindow);
        Assert.Equal(501u + TcpNatConnection.BufferSize, seq);   // exactly one buffer accepted
        // The host starts reading: everything buffered reaches it, and the window opens again.
        socket.SendCapacity = int.MaxValue;
        Tick();
        Assert.Equal(TcpNatConnection.BufferSize, socket.Sent.Length);
        Assert.Contains(_guest.Drain(), f => ParseTcp(f) is { Window: > 60000 });
    }

    [Fact]
    public void Unacknowledged_Data_Is_Retransmitted_Then_The_Connection_Is_Reset()
    {
        _host.ConnectionData = 1000;
        uint next = Establish(40002, 900, 64240);
        Tick();
        var first = _guest.Drain().Select(ParseTcp).Single(s => s is { Payload.Length: > 0 })!;
        Assert.Equal(next, first.Seq);
        Assert.Equal(1000, first.Payload.Length);
        Tick(600_000);   // past the first timeout
        var again = _guest.Drain().Select(ParseTcp).Single(s => s is { Payload.Length: > 0 })!;
        Assert.Equal(first.Seq, again.Seq);
        Assert.Equal(first.Payload, again.Payload);
        for (int i = 0; i < 200; i++)
            Tick(1_000_000);
        Assert.Contains(_guest.Drain(), f => ParseTcp(f) is { Flags: Rst | Ack });
        Assert.True(Assert.Single(_host.Connections).Disposed);
        Assert.Equal(0, _network.TcpConnectionCount);
    }

    [Fact]
    public void Host_Close_Reaches_The_Guest_As_Fin_And_A_Guest_That_Never_Closes_Is_Timed_Out()
    {
        _host.ConnectionData = 10;
        uint next = Establish(40003, 300, 64240);
        var socket = Assert.Single(_host.Connections);
        socket.Eof = true;
        Tick();
        var segments = _guest.Drain().Select(ParseTcp).Where(s => s != null).ToList();
        Assert.Equal(10, segments.Sum(s => s!.Payload.Length));
        var fin = segments.Single(s => (s!.Flags & Fin) != 0)!;
        Assert.Equal(next + 10, fin.Seq);
        _network.ReceiveFrame(Tcp(40003, 0x5DB8D822, 80, 301, next + 11, Ack, 64240));   // data and FIN acknowledged
        Tick(60_000_000);
        Assert.Equal(1, _network.TcpConnectionCount);   // half-closed: the guest may still send
        Tick(61_000_000);
        Assert.Contains(_guest.Drain(), f => ParseTcp(f) is { Flags: Rst | Ack });
        Tick(3_000_000);
        Assert.Equal(0, _network.TcpConnectionCount);
        Assert.True(socket.Disposed);
    }

    [Fact]
    public void Hostfwd_Opens_The_Connection_To_The_Guest_Port()
    {
        var options = new UserNetworkOptions();
        options.HostForwards.Add(HostForward.Parse("tcp::2222-:22"));
        using var network = new UserNetwork(options, _host);
        var guest = new GuestSide(network);
        var client = new FakeTcpSocket { State = HostSocketState.Connected, Readable = 5 };
        _host.Pending.Enqueue(client);
        _host.Now += 1000;
        network.Poll();
        var syn = ParseTcp(Assert.Single(guest.Drain()))!;
        Assert.Equal(Syn, syn.Flags);
        Assert.Equal(Gateway, syn.Source);
        Assert.Equal(Guest, syn.Destination);
        Assert.Equal((ushort)22, syn.DestinationPort);
        network.ReceiveFrame(TcpTo(syn.SourcePort, 22, 7000, syn.Seq + 1, Syn | Ack));
        _host.Now += 1000;
        network.Poll();
        var data = guest.Drain().Select(ParseTcp).Last(s => s != null)!;
        Assert.Equal(7001u, data.Ack);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, data.Payload);
        // The guest's RST (its server went away) closes the host client's connection.
        network.ReceiveFrame(TcpTo(syn.SourcePort, 22, 7001, data.Seq + 5, Rst | Ack));
        Assert.True(client.Disposed);
    }

    /// <summary>A segment from the guest's port <paramref name="guestPort"/> to 10.0.2.2:<paramref name="port"/>.</summary>
    private static byte[] TcpTo(ushort port, ushort guestPort, uint seq, uint ack, byte flags)
    {
        var f = Tcp(guestPort, Gateway, port, seq, ack, flags, 64240);
        return f;
    }
}
