using System.Buffers.Binary;

namespace Wemu.Net;

/// <summary>
/// The <c>user</c> network backend: a NAT between the guest's Ethernet frames and the host's sockets, like QEMU's
/// slirp, on slirp's addresses (10.0.2.0/24, gateway 10.0.2.2 standing for the host's 127.0.0.1, DNS 10.0.2.3,
/// the guest 10.0.2.15 by DHCP). Guest-neutral and single-threaded: the NIC hands it frames
/// (<see cref="ReceiveFrame"/>), takes frames for the guest from its queue (<see cref="PeekFrame"/>), and the
/// machine loop calls <see cref="Poll"/> to service host sockets and timers through the <see cref="INetworkHost"/>,
/// which never blocks. Everything is bounded: the frame queue toward the guest, the TCP connections (and among them
/// the half-open ones, so a SYN flood only fills a small table), the UDP bindings, the DNS queries in flight, and
/// each TCP connection's buffers. A malformed frame is counted in <see cref="DroppedFrames"/> and dropped.
/// </summary>
public sealed class UserNetwork : IEthernetLink
{
    public const uint NetworkAddress = 0x0A000200, Netmask = 0xFFFFFF00;
    public const uint GatewayAddress = 0x0A000202, DnsAddress = 0x0A000203, GuestAddress = 0x0A00020F;
    public const uint HostLoopback = 0x7F000001;

    /// <summary>slirp's MAC address for its own addresses (special_ethaddr 52:55:0a:00:02:02).</summary>
    public static ReadOnlySpan<byte> GatewayMac => [0x52, 0x55, 0x0A, 0x00, 0x02, 0x02];

    /// <summary>Largest Ethernet frame without FCS: 14 bytes of header and an MTU of 1500.</summary>
    public const int MaxFrameSize = 1514;

    public const int MaxQueuedFrames = 256;
    public const int MaxTcpConnections = 256;
    public const int MaxHalfOpenTcpConnections = 32;
    public const int MaxUdpBindings = 64;
    public const int MaxDnsQueries = 16;

    /// <summary>How often <see cref="Poll"/> looks at host sockets (microseconds); calls in between return at once.</summary>
    public const long PollInterval = 200;

    private const ushort EtherTypeIpv4 = 0x0800, EtherTypeArp = 0x0806;
    private const byte ProtocolIcmp = 1, ProtocolTcp = 6, ProtocolUdp = 17;
    private const int EthernetHeader = 14, Ipv4Header = 20, TcpHeader = 20, UdpHeader = 8;
    private const long UdpTimeout = 60_000_000, DnsTimeout = 5_000_000;
    private const ushort FirstForwardPort = 49152;

    private readonly INetworkHost _host;
    private readonly UserNetworkOptions _options;
    private readonly byte[] _guestMac;
    private readonly GuestFrameQueue _toGuest = new(MaxQueuedFrames);
    private readonly Dictionary<(uint, ushort, uint, ushort), TcpNatConnection> _tcp = [];
    private readonly List<TcpNatConnection> _tcpList = [];
    private readonly Dictionary<(uint, ushort), UdpNatBinding> _udp = [];
    private readonly List<DnsQuery> _dns = [];
    private readonly List<(HostForward Rule, IHostTcpListener Listener)> _tcpForwards = [];
    private readonly List<(HostForward Rule, IHostUdpSocket Socket)> _udpForwards = [];
    private readonly byte[] _scratch = new byte[MaxFrameSize];
    private ushort _ipId;
    private uint _isn;
    private ushort _nextForwardPort = FirstForwardPort;
    private long _lastPoll = long.MinValue / 2;   // far in the past, without overflowing now - _lastPoll
    private bool _outputBlocked;
    private bool _disposed;

    /// <summary>Sets up the network and opens the host listeners of its <c>hostfwd</c> rules.</summary>
    public UserNetwork(UserNetworkOptions options, INetworkHost host)
    {
        _options = options;
        _host = host;
        _guestMac = (byte[])options.MacAddress.Clone();
        _isn = (uint)host.Microseconds * 2654435761u;
        try
        {
            foreach (var rule in options.HostForwards)
            {
                if (rule.Udp)
                    _udpForwards.Add((rule, host.ListenUdp(rule.HostAddress, rule.HostPort)));
                else
                    _tcpForwards.Add((rule, host.ListenTcp(rule.HostAddress, rule.HostPort)));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Frames from the guest dropped as malformed, unsupported (fragments, IPv6...) or over a limit.</summary>
    public long DroppedFrames { get; private set; }

    /// <summary>Frames for the guest dropped because the queue toward it was full.</summary>
    public long DroppedToGuest { get; private set; }

    public int TcpConnectionCount => _tcpList.Count;

    public int UdpBindingCount => _udp.Count;

    /// <summary>Frames waiting for the guest's receive buffers.</summary>
    public int QueuedFrames => _toGuest.Count;

    /// <summary>The next frame for the guest (valid while it is queued).</summary>
    public ReadOnlySpan<byte> PeekFrame() => _toGuest.Peek();

    /// <summary>Removes the frame <see cref="PeekFrame"/> returned (delivered, or too large for the guest's buffer).</summary>
    public void DequeueFrame() => _toGuest.Dequeue();

    /// <summary>An Ethernet frame (without FCS) the guest sent.</summary>
    public void ReceiveFrame(ReadOnlySpan<byte> frame)
    {
        if (_disposed)
            return;
        if (frame.Length < EthernetHeader || frame.Length > MaxFrameSize + 4)
        {
            DroppedFrames++;
            return;
        }
        bool ok = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) switch
        {
            EtherTypeArp => ReceiveArp(frame),
            EtherTypeIpv4 => ReceiveIpv4(frame),
            _ => false,   // IPv6, VLAN tags and the rest: not served
        };
        if (!ok)
            DroppedFrames++;
    }

    /// <summary>
    /// True if <paramref name="frame"/> (from the guest) is a TCP segment of a connection this stack holds: what
    /// <see cref="InboundSplitLink"/> asks to send a frame here rather than to the link it shares the NIC with.
    /// Only the addresses and ports are looked at; <see cref="ReceiveFrame"/> checks the rest.
    /// </summary>
    public bool HoldsConnectionOf(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetHeader + Ipv4Header + TcpHeader || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherTypeIpv4)
            return false;
        var ip = frame[EthernetHeader..];
        int headerLength = (ip[0] & 15) * 4;
        if (ip[0] >> 4 != 4 || ip[9] != ProtocolTcp || headerLength < Ipv4Header || ip.Length < headerLength + 4)
            return false;
        uint source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(ip[headerLength..]);
        ushort destinationPort = BinaryPrimitives.ReadUInt16BigEndian(ip[(headerLength + 2)..]);
        return _tcp.ContainsKey((source, sourcePort, destination, destinationPort));
    }

    /// <summary>Services host sockets and timers (at most every <see cref="PollInterval"/> µs unless output waits).</summary>
    public void Poll()
    {
        if (_disposed)
            return;
        long now = _host.Microseconds;
        if (now - _lastPoll < PollInterval && !(_outputBlocked && _toGuest.Count < MaxQueuedFrames / 2))
            return;
        _lastPoll = now;
        _outputBlocked = false;
        foreach (var (rule, listener) in _tcpForwards)
            AcceptForwarded(rule, listener, now);
        foreach (var (rule, socket) in _udpForwards)
            ReceiveForwardedUdp(rule, socket);
        AcceptIntoGuest(now);
        for (int i = 0; i < _tcpList.Count; i++)
            _tcpList[i].Poll(now);
        for (int i = _tcpList.Count - 1; i >= 0; i--)
        {
            var c = _tcpList[i];
            if (!c.IsFinished)
                continue;
            _tcpList.RemoveAt(i);
            _tcp.Remove((c.GuestAddress, c.GuestPort, c.RemoteAddress, c.RemotePort));
        }
        PollUdp(now);
        PollDns(now);
    }

    // ---- ARP (RFC 826) ----

    private bool ReceiveArp(ReadOnlySpan<byte> frame)
    {
        var arp = frame[EthernetHeader..];
        // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
        if (arp.Length < 28 || BinaryPrimitives.ReadUInt16BigEndian(arp) != 1 || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherTypeIpv4
            || arp[4] != 6 || arp[5] != 4)
            return false;
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        uint target = BinaryPrimitives.ReadUInt32BigEndian(arp[24..]);
        if (op != 1)
            return true;   // replies: the stack never asks
        if (target != GatewayAddress && target != DnsAddress)
            return true;   // not ours (the guest's own address probe, other hosts of the subnet)
        var reply = new byte[EthernetHeader + 28];
        arp.Slice(8, 6).CopyTo(reply);                 // to the sender's hardware address
        GatewayMac.CopyTo(reply.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(12), EtherTypeArp);
        var r = reply.AsSpan(EthernetHeader);
        arp[..6].CopyTo(r);
        BinaryPrimitives.WriteUInt16BigEndian(r[6..], 2);   // reply
        GatewayMac.CopyTo(r[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(r[14..], target);
        arp.Slice(8, 10).CopyTo(r[18..]);                    // target = the asker's MAC and IP
        Enqueue(reply);
        return true;
    }

    // ---- IPv4 (RFC 791) ----

    private bool ReceiveIpv4(ReadOnlySpan<byte> frame)
    {
        var ip = frame[EthernetHeader..];
        if (ip.Length < Ipv4Header || ip[0] >> 4 != 4)
            return false;
        int headerLength = (ip[0] & 15) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (headerLength < Ipv4Header || totalLength < headerLength || totalLength > ip.Length)
            return false;
        if (InternetChecksum.Add(0, ip[..headerLength]) != 0xFFFF)
            return false;
        // Fragments (MF set or an offset) are not reassembled: Linux sends none at an MTU of 1500 with DF.
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0)
            return false;
        byte protocol = ip[9];
        uint source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        var payload = ip[headerLength..totalLength];
        if (protocol == ProtocolUdp && source == 0 && destination == 0xFFFFFFFF)
            return ReceiveUdp(frame, source, destination, payload);   // DHCP before the guest has an address
        if (!IsGuestSide(source))
            return false;
        LearnGuestMac(frame);
        return protocol switch
        {
            ProtocolIcmp => ReceiveIcmp(source, destination, payload),
            ProtocolUdp => ReceiveUdp(frame, source, destination, payload),
            ProtocolTcp => ReceiveTcp(source, destination, payload),
            _ => false,
        };
    }

    /// <summary>A guest address: in 10.0.2.0/24, not the network, broadcast or the stack's own addresses.</summary>
    private static bool IsGuestSide(uint a) =>
        (a & Netmask) == NetworkAddress && a != NetworkAddress && a != (NetworkAddress | ~Netmask) && a != GatewayAddress && a != DnsAddress;

    private void LearnGuestMac(ReadOnlySpan<byte> frame)
    {
        if ((frame[6] & 1) == 0)
            frame.Slice(6, 6).CopyTo(_guestMac);
    }

    /// <summary>The host address a guest destination maps to: the gateway is the host's loopback; null if unreachable.</summary>
    private uint? HostAddressFor(uint destination)
    {
        if (destination == GatewayAddress)
            return HostLoopback;
        if ((destination & Netmask) == NetworkAddress || destination >> 28 == 0xE || destination == 0xFFFFFFFF
            || destination >> 24 is 0 or 127)
            return null;   // the virtual subnet (nobody else lives there), multicast, broadcast, 0/8, the guest's own loopback
        return destination;
    }

    /// <summary>A new frame toward the guest with Ethernet and IPv4 headers filled in; the caller writes the rest.</summary>
    private byte[] NewIpv4Frame(byte protocol, uint source, uint destination, int payloadLength, ReadOnlySpan<byte> destinationMac = default)
    {
        var frame = new byte[EthernetHeader + Ipv4Header + payloadLength];
        (destinationMac.IsEmpty ? _guestMac : destinationMac).CopyTo(frame);
        GatewayMac.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherTypeIpv4);
        var ip = frame.AsSpan(EthernetHeader);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4Header + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], _ipId++);
        ip[8] = 64;   // TTL
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Finish(InternetChecksum.Add(0, ip[..Ipv4Header])));
        return frame;
    }

    private bool Enqueue(byte[] frame)
    {
        if (_toGuest.TryEnqueue(frame))
            return true;
        DroppedToGuest++;
        _outputBlocked = true;
        return false;
    }

    // ---- ICMP (RFC 792): echo to the stack's own addresses ----

    private bool ReceiveIcmp(uint source, uint destination, ReadOnlySpan<byte> icmp)
    {
        if (icmp.Length < 8 || InternetChecksum.Add(0, icmp) != 0xFFFF)
            return false;
        if (icmp[0] != 8 || icmp[1] != 0)
            return true;   // only echo requests are answered
        if (destination != GatewayAddress && destination != DnsAddress)
            return true;   // no raw sockets on the host: echo to outside addresses is not forwarded (slirp needs ping sockets)
        var frame = NewIpv4Frame(ProtocolIcmp, destination, source, icmp.Length);
        var reply = frame.AsSpan(EthernetHeader + Ipv4Header);
        icmp.CopyTo(reply);
        reply[0] = 0;   // echo reply
        reply[2] = reply[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(reply[2..], InternetChecksum.Finish(InternetChecksum.Add(0, reply)));
        Enqueue(frame);
        return true;
    }

    // ---- UDP (RFC 768): DHCP, DNS, NAT through host sockets ----

    private bool ReceiveUdp(ReadOnlySpan<byte> frame, uint source, uint destination, ReadOnlySpan<byte> udp)
    {
        if (udp.Length < UdpHeader)
            return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (length < UdpHeader || length > udp.Length)
            return false;
        udp = udp[..length];
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);
        if (checksum != 0 && InternetChecksum.Add(InternetChecksum.PseudoHeader(source, destination, ProtocolUdp, length), udp) != 0xFFFF)
            return false;
        ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(udp);
        ushort destinationPort = BinaryPrimitives.ReadUInt16BigEndian(udp[2..]);
        var payload = udp[UdpHeader..];
        if (destinationPort == DhcpServer.ServerPort && (destination == 0xFFFFFFFF || destination == GatewayAddress))
        {
            int n = DhcpServer.Reply(payload, _scratch, out var clientMac);
            if (n > 0)
                SendUdp(GatewayAddress, DhcpServer.ServerPort, 0xFFFFFFFF, DhcpServer.ClientPort, _scratch.AsSpan(0, n), clientMac);
            return true;
        }
        if (source == 0)
            return false;
        if (destination == DnsAddress)
        {
            if (destinationPort == DnsQuery.Port)
                ReceiveDns(source, sourcePort, payload);
            return true;
        }
        foreach (var (rule, socket) in _udpForwards)
        {
            if (rule.GuestPort == sourcePort && rule.GuestAddress == source && destination == GatewayAddress)
            {
                socket.SendTo(payload, HostLoopback, destinationPort);   // a reply to a forwarded datagram
                return true;
            }
        }
        if (_options.Restrict || HostAddressFor(destination) is not uint hostAddress)
            return true;
        long now = _host.Microseconds;
        if (!_udp.TryGetValue((source, sourcePort), out var binding))
        {
            if (_udp.Count >= MaxUdpBindings)
                ExpireUdp(now, evictOldest: true);
            var socket = _host.OpenUdp();
            if (socket == null)
                return true;
            binding = new UdpNatBinding(source, sourcePort, socket);
            _udp.Add((source, sourcePort), binding);
        }
        binding.LastUsed = now;
        binding.Socket.SendTo(payload, hostAddress, destinationPort);
        return true;
    }

    private void SendUdp(uint source, ushort sourcePort, uint destination, ushort destinationPort, ReadOnlySpan<byte> payload,
        ReadOnlySpan<byte> destinationMac = default)
    {
        if (payload.Length > MaxFrameSize - EthernetHeader - Ipv4Header - UdpHeader)
            return;   // no fragmentation toward the guest either
        var frame = NewIpv4Frame(ProtocolUdp, source, destination, UdpHeader + payload.Length, destinationMac);
        var udp = frame.AsSpan(EthernetHeader + Ipv4Header);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        payload.CopyTo(udp[UdpHeader..]);
        ushort sum = InternetChecksum.Finish(InternetChecksum.Add(InternetChecksum.PseudoHeader(source, destination, ProtocolUdp, udp.Length), udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], sum == 0 ? (ushort)0xFFFF : sum);
        Enqueue(frame);
    }

    private void PollUdp(long now)
    {
        foreach (var binding in _udp.Values)
        {
            for (int i = 0; i < 16; i++)   // a few datagrams per binding per poll: one busy socket cannot starve the rest
            {
                int n = binding.Socket.ReceiveFrom(_scratch, out uint address, out ushort port);
                if (n < 0)
                    break;
                binding.LastUsed = now;
                uint seen = address == HostLoopback ? GatewayAddress : address;
                SendUdp(seen, port, binding.GuestAddress, binding.GuestPort, _scratch.AsSpan(0, n));
            }
        }
        ExpireUdp(now, evictOldest: false);
    }

    private void ExpireUdp(long now, bool evictOldest)
    {
        UdpNatBinding? oldest = null;
        List<(uint, ushort)>? expired = null;
        foreach (var (key, b) in _udp)
        {
            if (now - b.LastUsed > UdpTimeout)
                (expired ??= []).Add(key);
            if (oldest == null || b.LastUsed < oldest.LastUsed)
                oldest = b;
        }
        if (evictOldest && expired == null && oldest != null)
            expired = [(oldest.GuestAddress, oldest.GuestPort)];
        if (expired == null)
            return;
        foreach (var key in expired)
        {
            _udp[key].Socket.Dispose();
            _udp.Remove(key);
        }
    }

    private void ReceiveForwardedUdp(HostForward rule, IHostUdpSocket socket)
    {
        for (int i = 0; i < 16; i++)
        {
            int n = socket.ReceiveFrom(_scratch, out _, out ushort port);
            if (n < 0)
                return;
            SendUdp(GatewayAddress, port, rule.GuestAddress, rule.GuestPort, _scratch.AsSpan(0, n));
        }
    }

    // ---- DNS at 10.0.2.3 ----

    private void ReceiveDns(uint source, ushort sourcePort, ReadOnlySpan<byte> message)
    {
        var query = DnsQuery.Parse(message, out byte error);
        if (query == null)
        {
            if (error != 0)
                SendDnsReply(source, sourcePort, _scratch.AsSpan(0, DnsQuery.ErrorReply(message, error, _scratch)));
            return;
        }
        query.ClientAddress = source;
        query.ClientPort = sourcePort;
        if (_options.Restrict)
        {
            AnswerDns(query, DnsQuery.Refused, null);   // restrict=on: no look-ups through the host either
            return;
        }
        if (!query.IsAddressQuery)
        {
            AnswerDns(query, DnsQuery.NotImplemented, null);
            return;
        }
        if (query.Name.Length == 0)
        {
            AnswerDns(query, DnsQuery.NameError, null);   // the root has no address (and "" would ask for the host's own)
            return;
        }
        if (_dns.Count >= MaxDnsQueries)
        {
            AnswerDns(query, DnsQuery.ServerFailure, null);
            return;
        }
        query.Resolution = _host.ResolveName(query.Name);
        query.Deadline = _host.Microseconds + DnsTimeout;
        _dns.Add(query);
        PollDns(_host.Microseconds);   // a resolution that finished at once (e.g. a literal address) is answered now
    }

    /// <summary>
    /// Answers finished queries in the order they came: resolvers that send A and AAAA with the same id (glibc's
    /// res_mkquery on a guest with a coarse clock) match replies by id alone, so the A answer must come first.
    /// </summary>
    private void PollDns(long now)
    {
        int kept = 0;
        for (int i = 0; i < _dns.Count; i++)
        {
            var q = _dns[i];
            if (q.Resolution!.IsCompleted)
            {
                var a = q.Resolution.Addresses;
                AnswerDns(q, a.Count == 0 ? DnsQuery.NameError : (byte)0, a);
            }
            else if (now > q.Deadline)
                AnswerDns(q, DnsQuery.ServerFailure, null);
            else
                _dns[kept++] = q;
        }
        _dns.RemoveRange(kept, _dns.Count - kept);
    }

    private void AnswerDns(DnsQuery query, byte code, IReadOnlyList<uint>? addresses) =>
        SendDnsReply(query.ClientAddress, query.ClientPort, _scratch.AsSpan(0, query.Reply(_scratch, code, addresses)));

    private void SendDnsReply(uint client, ushort port, ReadOnlySpan<byte> reply)
    {
        if (reply.Length > 0)
            SendUdp(DnsAddress, DnsQuery.Port, client, port, reply);
    }

    // ---- TCP (RFC 793): terminated here, relayed to host sockets ----

    private bool ReceiveTcp(uint source, uint destination, ReadOnlySpan<byte> tcp)
    {
        if (tcp.Length < TcpHeader)
            return false;
        if (InternetChecksum.Add(InternetChecksum.PseudoHeader(source, destination, ProtocolTcp, tcp.Length), tcp) != 0xFFFF)
            return false;
        int dataOffset = (tcp[12] >> 4) * 4;
        if (dataOffset < TcpHeader || dataOffset > tcp.Length)
            return false;
        var flags = (TcpFlags)tcp[13];
        ushort mss = 0;
        if ((flags & TcpFlags.Syn) != 0 && !TryParseMss(tcp[TcpHeader..dataOffset], out mss))
            return false;
        if ((flags & (TcpFlags.Syn | TcpFlags.Fin)) == (TcpFlags.Syn | TcpFlags.Fin) || (flags & (TcpFlags.Syn | TcpFlags.Rst)) == (TcpFlags.Syn | TcpFlags.Rst))
            return false;   // nonsense combinations (SYN+FIN, SYN+RST) are dropped
        var segment = new TcpSegment
        {
            Sequence = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]),
            Acknowledgment = BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]),
            Flags = flags,
            Window = BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]),
            MaximumSegmentSize = mss,
            Payload = tcp[dataOffset..],
        };
        ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(tcp);
        ushort destinationPort = BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]);
        long now = _host.Microseconds;
        if (_tcp.TryGetValue((source, sourcePort, destination, destinationPort), out var connection))
        {
            connection.OnSegment(segment, now);
            return true;
        }
        if (segment.Has(TcpFlags.Rst))
            return true;
        if (segment.Has(TcpFlags.Syn) && !segment.Has(TcpFlags.Ack))
        {
            if (_options.Restrict || HostAddressFor(destination) is not uint hostAddress || destinationPort == 0)
            {
                ResetUnknown(source, sourcePort, destination, destinationPort, segment);
                return true;
            }
            int halfOpen = 0;
            foreach (var c in _tcpList)
                if (c.IsHalfOpen)
                    halfOpen++;
            if (halfOpen >= MaxHalfOpenTcpConnections || _tcpList.Count >= MaxTcpConnections)
                return false;   // a SYN flood: dropped, the guest's TCP retries later
            var host = _host.ConnectTcp(hostAddress, destinationPort);
            connection = TcpNatConnection.FromGuestSyn(this, host, source, sourcePort, destination, destinationPort, segment, NextIsn(), now);
            Add(connection);
            return true;
        }
        ResetUnknown(source, sourcePort, destination, destinationPort, segment);
        return true;
    }

    /// <summary>The MSS option among a SYN's options (RFC 793 3.1); false if the options are malformed.</summary>
    private static bool TryParseMss(ReadOnlySpan<byte> options, out ushort mss)
    {
        mss = 0;
        for (int i = 0; i < options.Length;)
        {
            byte kind = options[i];
            if (kind == 0)
                break;
            if (kind == 1)
            {
                i++;
                continue;
            }
            if (i + 1 >= options.Length || options[i + 1] < 2 || i + options[i + 1] > options.Length)
                return false;
            if (kind == 2 && options[i + 1] == 4)
                mss = BinaryPrimitives.ReadUInt16BigEndian(options[(i + 2)..]);
            i += options[i + 1];
        }
        return true;
    }

    /// <summary>RFC 793 3.4 "Reset Generation" for a segment that belongs to no connection.</summary>
    private void ResetUnknown(uint source, ushort sourcePort, uint destination, ushort destinationPort, in TcpSegment s)
    {
        if (s.Has(TcpFlags.Ack))
            SendTcp(destination, destinationPort, source, sourcePort, s.Acknowledgment, 0, TcpFlags.Rst, 0, 0, default);
        else
        {
            uint length = (uint)s.Payload.Length + (s.Has(TcpFlags.Syn) ? 1u : 0) + (s.Has(TcpFlags.Fin) ? 1u : 0);
            SendTcp(destination, destinationPort, source, sourcePort, 0, s.Sequence + length, TcpFlags.Rst | TcpFlags.Ack, 0, 0, default);
        }
    }

    private void AcceptForwarded(HostForward rule, IHostTcpListener listener, long now)
    {
        while (_tcpList.Count < MaxTcpConnections && listener.Accept() is { } host)
        {
            ushort port = NextForwardPort(rule.GuestAddress, rule.GuestPort);
            Add(TcpNatConnection.ToGuest(this, host, rule.GuestAddress, rule.GuestPort, GatewayAddress, port, NextIsn(), now));
        }
    }

    /// <summary>Connections the host opens into guest ports it chooses (the page's vm.fetch), as hostfwd's are opened.</summary>
    private void AcceptIntoGuest(long now)
    {
        while (_tcpList.Count < MaxTcpConnections && _host.AcceptIntoGuest(out uint address, out ushort port) is { } host)
        {
            if (port == 0 || !IsGuestSide(address))
            {
                host.Dispose();
                continue;
            }
            Add(TcpNatConnection.ToGuest(this, host, address, port, GatewayAddress, NextForwardPort(address, port), NextIsn(), now));
        }
    }

    /// <summary>A source port on 10.0.2.2 no connection to that guest port uses (49152 and up, as ephemeral ports).</summary>
    private ushort NextForwardPort(uint guestAddress, ushort guestPort)
    {
        while (true)
        {
            ushort port = _nextForwardPort;
            _nextForwardPort = _nextForwardPort == ushort.MaxValue ? FirstForwardPort : (ushort)(_nextForwardPort + 1);
            if (!_tcp.ContainsKey((guestAddress, guestPort, GatewayAddress, port)))
                return port;
        }
    }

    private void Add(TcpNatConnection c)
    {
        _tcp.Add((c.GuestAddress, c.GuestPort, c.RemoteAddress, c.RemotePort), c);
        _tcpList.Add(c);
    }

    /// <summary>RFC 6528 would hash the four-tuple with a secret; a counter moved by the clock is enough behind a NAT.</summary>
    private uint NextIsn() => _isn += 64_000 + (uint)(_host.Microseconds & 0xFFFF);

    /// <summary>Sends a segment of <paramref name="connection"/> to the guest; false if the queue toward it is full.</summary>
    internal bool SendTcp(TcpNatConnection connection, uint seq, uint ack, TcpFlags flags, ushort window, ushort mss, ReadOnlySpan<byte> payload) =>
        SendTcp(connection.RemoteAddress, connection.RemotePort, connection.GuestAddress, connection.GuestPort, seq, ack, flags, window, mss, payload);

    private bool SendTcp(uint source, ushort sourcePort, uint destination, ushort destinationPort, uint seq, uint ack, TcpFlags flags,
        ushort window, ushort mss, ReadOnlySpan<byte> payload)
    {
        if (_toGuest.IsFull)
        {
            _outputBlocked = true;
            return false;
        }
        int optionLength = mss != 0 ? 4 : 0;
        int length = TcpHeader + optionLength + payload.Length;
        var frame = NewIpv4Frame(ProtocolTcp, source, destination, length);
        var tcp = frame.AsSpan(EthernetHeader + Ipv4Header);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & TcpFlags.Ack) != 0 ? ack : 0);
        tcp[12] = (byte)((TcpHeader + optionLength) / 4 << 4);
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], window);
        if (mss != 0)
        {
            tcp[20] = 2;
            tcp[21] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(tcp[22..], mss);
        }
        payload.CopyTo(tcp[(TcpHeader + optionLength)..]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..],
            InternetChecksum.Finish(InternetChecksum.Add(InternetChecksum.PseudoHeader(source, destination, ProtocolTcp, length), tcp)));
        return Enqueue(frame);
    }

    /// <summary>Closes every host socket and listener.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var c in _tcpList)
            c.Abort(sendReset: false, 0);
        _tcpList.Clear();
        _tcp.Clear();
        foreach (var b in _udp.Values)
            b.Socket.Dispose();
        _udp.Clear();
        foreach (var (_, l) in _tcpForwards)
            l.Dispose();
        foreach (var (_, s) in _udpForwards)
            s.Dispose();
        _toGuest.Clear();
    }
}
