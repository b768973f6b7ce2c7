using System.Buffers.Binary;
using Wemu.Net;

namespace Wemu.Tests.Net;

/// <summary>
/// The guest's end of a <see cref="UserNetwork"/> in tests: builds the frames a guest NIC would send (Ethernet,
/// ARP, IPv4 with UDP, TCP or ICMP, checksums computed independently of the stack's code) and parses what
/// the stack sends back.
/// </summary>
internal sealed class GuestSide
{
    public static readonly byte[] GuestMac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    public const uint Guest = 0x0A00020F, Gateway = 0x0A000202, Dns = 0x0A000203;

    public GuestSide(IEthernetLink network) => Network = network;

    public IEthernetLink Network { get; }

    /// <summary>Every frame the stack queued for the guest so far, taken off its queue.</summary>
    public List<byte[]> Drain()
    {
        var frames = new List<byte[]>();
        while (Network.QueuedFrames > 0)
        {
            frames.Add(Network.PeekFrame().ToArray());
            Network.DequeueFrame();
        }
        return frames;
    }

    public static byte[] Ethernet(ushort type, ReadOnlySpan<byte> payload, byte[]? destination = null)
    {
        var f = new byte[14 + payload.Length];
        (destination ?? [0x52, 0x55, 0x0A, 0x00, 0x02, 0x02]).CopyTo(f, 0);
        GuestMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), type);
        payload.CopyTo(f.AsSpan(14));
        return f;
    }

    public static byte[] ArpRequest(uint target)
    {
        var a = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(2), 0x0800);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(6), 1);
        GuestMac.CopyTo(a, 8);
        BinaryPrimitives.WriteUInt32BigEndian(a.AsSpan(14), Guest);
        BinaryPrimitives.WriteUInt32BigEndian(a.AsSpan(24), target);
        return Ethernet(0x0806, a, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    /// <summary>Sum of 16-bit big-endian words, folded and complemented (written here, not taken from the stack).</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong s = initial;
        for (int i = 0; i < data.Length; i += 2)
            s += (uint)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
        while (s >> 16 != 0)
            s = (s & 0xFFFF) + (s >> 16);
        return (ushort)~s;
    }

    private static uint Pseudo(uint src, uint dst, byte proto, int length) =>
        (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + (uint)length;

    public static byte[] Ipv4(byte protocol, uint source, uint destination, ReadOnlySpan<byte> payload, ushort flagsAndOffset = 0x4000)
    {
        var ip = new byte[20 + payload.Length];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), flagsAndOffset);
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(12), source);
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(16), destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Checksum(ip.AsSpan(0, 20)));
        payload.CopyTo(ip.AsSpan(20));
        return Ethernet(0x0800, ip);
    }

    public static byte[] Udp(uint source, ushort sourcePort, uint destination, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var u = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        payload.CopyTo(u.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(6), Checksum(u, Pseudo(source, destination, 17, u.Length)));
        return Ipv4(17, source, destination, u);
    }

    public static byte[] Tcp(ushort sourcePort, uint destination, ushort destinationPort, uint seq, uint ack, byte flags, ushort window,
        ReadOnlySpan<byte> payload = default, ushort mss = 0)
    {
        int opt = mss != 0 ? 4 : 0;
        var t = new byte[20 + opt + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = (byte)((20 + opt) / 4 << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), window);
        if (mss != 0)
        {
            t[20] = 2;
            t[21] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(22), mss);
        }
        payload.CopyTo(t.AsSpan(20 + opt));
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), Checksum(t, Pseudo(Guest, destination, 6, t.Length)));
        return Ipv4(6, Guest, destination, t);
    }

    public const byte Fin = 1, Syn = 2, Rst = 4, Psh = 8, Ack = 16;

    /// <summary>A TCP segment the stack sent, with its checksums verified.</summary>
    public sealed record Segment(uint Source, ushort SourcePort, uint Destination, ushort DestinationPort, uint Seq, uint Ack, byte Flags,
        ushort Window, ushort Mss, byte[] Payload);

    public static Segment? ParseTcp(byte[] frame)
    {
        if (frame.Length < 54 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[23] != 6)
            return null;
        var ip = frame.AsSpan(14);
        if (Checksum(ip[..20]) != 0)
            throw new InvalidDataException("bad IPv4 header checksum from the stack");
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        var t = ip[20..total];
        if (Checksum(t, Pseudo(src, dst, 6, t.Length)) != 0)
            throw new InvalidDataException("bad TCP checksum from the stack");
        int off = (t[12] >> 4) * 4;
        ushort mss = off >= 24 && t[20] == 2 ? BinaryPrimitives.ReadUInt16BigEndian(t[22..]) : (ushort)0;
        return new Segment(src, BinaryPrimitives.ReadUInt16BigEndian(t), dst, BinaryPrimitives.ReadUInt16BigEndian(t[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(t[4..]), BinaryPrimitives.ReadUInt32BigEndian(t[8..]), t[13],
            BinaryPrimitives.ReadUInt16BigEndian(t[14..]), mss, t[off..].ToArray());
    }

    /// <summary>The UDP payload of a frame the stack sent (checksums verified), with its ports.</summary>
    public static (uint Source, ushort SourcePort, ushort DestinationPort, byte[] Payload)? ParseUdp(byte[] frame)
    {
        if (frame.Length < 42 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[23] != 17)
            return null;
        var ip = frame.AsSpan(14);
        if (Checksum(ip[..20]) != 0)
            throw new InvalidDataException("bad IPv4 header checksum from the stack");
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        var u = ip[20..total];
        if (Checksum(u, Pseudo(src, dst, 17, u.Length)) != 0)
            throw new InvalidDataException("bad UDP checksum from the stack");
        return (src, BinaryPrimitives.ReadUInt16BigEndian(u), BinaryPrimitives.ReadUInt16BigEndian(u[2..]), u[8..].ToArray());
    }
}
