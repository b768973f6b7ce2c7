using System.Buffers.Binary;

namespace Wemu.Net;

/// <summary>The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words.</summary>
public static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> to a running 32-bit sum (an odd last byte is padded with zero).</summary>
    public static uint Add(uint sum, ReadOnlySpan<byte> data)
    {
        int i = 0;
        ulong s = sum;
        for (; i + 1 < data.Length; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            s += (uint)data[i] << 8;
        while (s > 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16);
        return (uint)s;
    }

    /// <summary>The TCP/UDP pseudo-header (RFC 793 3.1, RFC 768): source, destination, protocol, length.</summary>
    public static uint PseudoHeader(uint source, uint destination, byte protocol, int length) =>
        Fold((ulong)(source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) + protocol + (uint)length);

    /// <summary>The checksum field's value for a finished sum.</summary>
    public static ushort Finish(uint sum) => (ushort)~Fold(sum);

    private static uint Fold(ulong s)
    {
        while (s > 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16);
        return (uint)s;
    }
}
