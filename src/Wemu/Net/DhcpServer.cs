using System.Buffers.Binary;

namespace Wemu.Net;

/// <summary>
/// The DHCP server of the user network (RFC 2131, options RFC 2132), as slirp's bootp.c: every client gets
/// <see cref="UserNetwork.GuestAddress"/>, router 10.0.2.2, DNS 10.0.2.3, netmask 255.255.255.0, a one-day lease.
/// Unlike slirp (16 leases from .15 up) there is one address: one guest NIC per network.
/// </summary>
internal static class DhcpServer
{
    public const ushort ServerPort = 67, ClientPort = 68;

    // RFC 2131 section 2: op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr[16],
    // sname[64], file[128], then the magic cookie and the options.
    private const int FixedLength = 236, OptionsOffset = FixedLength + 4;
    private const uint MagicCookie = 0x63825363;
    private const int LeaseSeconds = 86400;

    // RFC 2132 9.6: DHCP message types.
    private const byte Discover = 1, Offer = 2, Request = 3, Ack = 5, Nak = 6, Inform = 8;

    /// <summary>Builds the reply to a BOOTREQUEST into <paramref name="reply"/>; returns its length, or 0 to send nothing.</summary>
    public static int Reply(ReadOnlySpan<byte> request, Span<byte> reply, out ReadOnlySpan<byte> clientMac)
    {
        clientMac = default;
        if (request.Length < OptionsOffset || request[0] != 1 || request[1] != 1 || request[2] != 6)
            return 0;   // BOOTREQUEST over Ethernet only
        if (BinaryPrimitives.ReadUInt32BigEndian(request[FixedLength..]) != MagicCookie)
            return 0;
        byte type = 0;
        uint requested = BinaryPrimitives.ReadUInt32BigEndian(request[12..]);   // ciaddr
        var options = request[OptionsOffset..];
        for (int i = 0; i < options.Length;)
        {
            byte code = options[i];
            if (code == 255)
                break;
            if (code == 0)
            {
                i++;
                continue;
            }
            if (i + 1 >= options.Length || i + 2 + options[i + 1] > options.Length)
                return 0;   // an option runs past the packet
            var value = options.Slice(i + 2, options[i + 1]);
            if (code == 53 && value.Length == 1)
                type = value[0];
            else if (code == 50 && value.Length == 4)
                requested = BinaryPrimitives.ReadUInt32BigEndian(value);
            i += 2 + value.Length;
        }
        byte answer = type switch
        {
            Discover => Offer,
            Request => requested == 0 || requested == UserNetwork.GuestAddress ? Ack : Nak,
            Inform => Ack,
            _ => 0,
        };
        if (answer == 0 || reply.Length < 300)
            return 0;
        clientMac = request.Slice(28, 6);
        reply[..300].Clear();
        reply[0] = 2;   // BOOTREPLY
        reply[1] = 1;
        reply[2] = 6;
        request.Slice(4, 4).CopyTo(reply[4..]);    // xid
        request.Slice(10, 2).CopyTo(reply[10..]);  // flags (the broadcast bit)
        if (answer != Nak && type != Inform)
            BinaryPrimitives.WriteUInt32BigEndian(reply[16..], UserNetwork.GuestAddress);   // yiaddr
        BinaryPrimitives.WriteUInt32BigEndian(reply[20..], UserNetwork.GatewayAddress);     // siaddr
        request.Slice(28, 16).CopyTo(reply[28..]);  // chaddr
        BinaryPrimitives.WriteUInt32BigEndian(reply[FixedLength..], MagicCookie);
        int o = OptionsOffset;
        o = Option(reply, o, 53, [answer]);
        o = OptionAddress(reply, o, 54, UserNetwork.GatewayAddress);   // server identifier
        if (answer != Nak)
        {
            if (type != Inform)
            {
                Span<byte> lease = stackalloc byte[4];
                BinaryPrimitives.WriteInt32BigEndian(lease, LeaseSeconds);
                o = Option(reply, o, 51, lease);
            }
            o = OptionAddress(reply, o, 1, UserNetwork.Netmask);
            o = OptionAddress(reply, o, 3, UserNetwork.GatewayAddress);
            o = OptionAddress(reply, o, 6, UserNetwork.DnsAddress);
        }
        reply[o++] = 255;
        return Math.Max(o, 300);   // RFC 1542 2.1: at least 300 bytes, for old relay agents
    }

    private static int Option(Span<byte> reply, int o, byte code, ReadOnlySpan<byte> value)
    {
        reply[o] = code;
        reply[o + 1] = (byte)value.Length;
        value.CopyTo(reply[(o + 2)..]);
        return o + 2 + value.Length;
    }

    private static int OptionAddress(Span<byte> reply, int o, byte code, uint address)
    {
        Span<byte> value = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(value, address);
        return Option(reply, o, code, value);
    }
}
