using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Wemu.Devices;

/// <summary>
/// The map of a persistent copy-on-write overlay (<see cref="OverlayBlockBackend.OpenPersistent"/>): which disk cluster
/// each slot of the overlay's data file holds, so the guest's writes outlive the machine (the page's <c>persist</c>
/// disks, kept in the browser's origin-private file system).
/// <para>
/// Layout: a 512-byte header (<c>"WEMUOVL1"</c>, u32 version 1, u32 cluster size, u64 disk length, u32 length and the
/// UTF-8 identity of the base image, CRC-32 of the header in its last 4 bytes), then one u64 per slot, in slot order:
/// the cluster in the low 48 bits, a 16-bit check of (slot, cluster) with its top bit set in the high 16. Entries are
/// appended only after the data file was flushed, so an entry always names durable data; a crash can leave a torn or
/// zero tail, which the check finds: the map ends at the first entry that fails it (those writes were never flushed).
/// </para>
/// </summary>
public sealed class OverlayJournal : IDisposable
{
    public const int HeaderSize = 512;
    public const uint Version = 1;
    private static ReadOnlySpan<byte> Magic => "WEMUOVL1"u8;
    private const int IdentityLimit = HeaderSize - 32;

    private readonly IStorageFile _file;

    private OverlayJournal(IStorageFile file, int count)
    {
        _file = file;
        Count = count;
    }

    /// <summary>Entries on record (durable).</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Opens the map in <paramref name="file"/> (an empty file becomes a new, empty map) for a disk of
    /// <paramref name="diskLength"/> bytes over the base image <paramref name="baseIdentity"/>, and returns the cluster
    /// of every slot on record. Throws <see cref="InvalidDataException"/> with a one-line reason if the file is not
    /// such a map or belongs to another image.
    /// </summary>
    public static OverlayJournal Open(IStorageFile file, long diskLength, string baseIdentity, int clusterSize, out List<long> clusters)
    {
        string identity = Encoding.UTF8.GetByteCount(baseIdentity) <= IdentityLimit ? baseIdentity
            : "xxh128:" + Convert.ToHexString(XxHash128.Hash(Encoding.UTF8.GetBytes(baseIdentity)));
        clusters = [];
        if (file.Length < HeaderSize)
        {
            // A new map (or one whose header never got written whole: no entry can follow a header that was not
            // durable, so nothing was on record and starting afresh loses nothing).
            if (file.Length != 0)
                file.SetLength(0);
            var header = new byte[HeaderSize];
            Magic.CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Version);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)clusterSize);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), diskLength);
            int n = Encoding.UTF8.GetBytes(identity, header.AsSpan(28));
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), n);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(HeaderSize - 4), Crc32.HashToUInt32(header.AsSpan(0, HeaderSize - 4)));
            file.Write(0, header);
            file.Flush();
            return new OverlayJournal(file, 0);
        }

        var h = new byte[HeaderSize];
        file.Read(0, h);
        if (!h.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException("its map is not a Wemu overlay map");
        if (BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(HeaderSize - 4)) != Crc32.HashToUInt32(h.AsSpan(0, HeaderSize - 4)))
            throw new InvalidDataException("its map is damaged (header checksum mismatch)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(8));
        if (version != Version)
            throw new InvalidDataException($"its map is format version {version}, and this Wemu reads version {Version}");
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(12));
        long length = BinaryPrimitives.ReadInt64LittleEndian(h.AsSpan(16));
        int idLength = BinaryPrimitives.ReadInt32LittleEndian(h.AsSpan(24));
        if (idLength < 0 || idLength > IdentityLimit)
            throw new InvalidDataException("its map is damaged (identity length)");
        string then = Encoding.UTF8.GetString(h, 28, idLength);
        if (size != clusterSize || length != diskLength || then != identity)
            throw new InvalidDataException($"its writes were made over another image (then: {then}; now: {identity})");

        long limit = (diskLength + clusterSize - 1) / clusterSize;
        long entries = (file.Length - HeaderSize) / 8;
        var buffer = new byte[8 * 4096];
        var seen = new HashSet<long>();
        for (long at = 0; at < entries;)
        {
            int batch = (int)Math.Min(4096, entries - at);
            file.Read(HeaderSize + at * 8, buffer.AsSpan(0, batch * 8));
            for (int i = 0; i < batch; i++, at++)
            {
                ulong e = BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(i * 8));
                long cluster = (long)(e & 0xFFFF_FFFF_FFFF);
                if ((ushort)(e >> 48) != Check((int)at, cluster))
                    return Truncated(file, clusters);   // a torn or unflushed tail: the map ends here
                if (cluster >= limit)
                    throw new InvalidDataException($"its map is damaged (slot {at} names cluster {cluster}, beyond the disk's {limit})");
                if (!seen.Add(cluster))
                    throw new InvalidDataException($"its map is damaged (cluster {cluster} is in two slots)");
                clusters.Add(cluster);
            }
        }
        return Truncated(file, clusters);
    }

    private static OverlayJournal Truncated(IStorageFile file, List<long> clusters)
    {
        long end = HeaderSize + clusters.Count * 8L;
        if (file.Length != end)
            file.SetLength(end);
        return new OverlayJournal(file, clusters.Count);
    }

    /// <summary>Records the next slots' clusters (slots Count, Count+1, ...) and makes them durable.</summary>
    public void Append(ReadOnlySpan<long> clusters)
    {
        if (clusters.IsEmpty)
            return;
        var buffer = new byte[clusters.Length * 8];
        for (int i = 0; i < clusters.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(i * 8), (ulong)clusters[i] | ((ulong)Check(Count + i, clusters[i]) << 48));
        _file.Write(HeaderSize + Count * 8L, buffer);
        _file.Flush();
        Count += clusters.Length;
    }

    /// <summary>The entry's 16-bit check of its slot and cluster, top bit set (so a zero tail never passes).</summary>
    private static ushort Check(int slot, long cluster)
    {
        Span<byte> b = stackalloc byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(b, slot);
        BinaryPrimitives.WriteInt64LittleEndian(b[4..], cluster);
        return (ushort)(Crc32.HashToUInt32(b) | 0x8000);
    }

    public void Dispose() => _file.Dispose();
}
