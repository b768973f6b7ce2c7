using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

/// <summary>
/// A persistent copy-on-write overlay (<see cref="OverlayBlockBackend.OpenPersistent"/> over an
/// <see cref="OverlayJournal"/>): its writes outlive the machine, a power loss keeps exactly the flushed new clusters,
/// a torn map tail is cut, a foreign or damaged map is refused, a full quota fails one write or one flush and nothing
/// else. The expected disk is a model array the same writes were applied to, never what the overlay read back before.
/// </summary>
public sealed class PersistentOverlayTests : IDisposable
{
    private const int Cluster = 4096;
    private const int DiskLength = (1 << 20) + 1000;             // the last cluster is 1000 bytes
    private const int DiskClusters = (DiskLength + Cluster - 1) / Cluster;   // 257
    private const string Identity = "https://images.example/debian.img 1049576 \"etag-1\"";
    private const string Name = "root";

    private readonly string _dir = Directory.CreateTempSubdirectory("wemu-persist-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>The overlay's format, from the map's documentation: slot, cluster, CRC-32 check with its top bit set.</summary>
    private static ulong Entry(int slot, long cluster)
    {
        Span<byte> b = stackalloc byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(b, slot);
        BinaryPrimitives.WriteInt64LittleEndian(b[4..], cluster);
        return (ulong)cluster | ((ulong)(ushort)(Crc32.HashToUInt32(b) | 0x8000) << 48);
    }

    private static byte[] EntryBytes(int slot, long cluster)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, Entry(slot, cluster));
        return b;
    }

    /// <summary>Fails with the first differing offset (a 1 MiB array diff says nothing useful).</summary>
    private static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what = "disk")
    {
        Assert.Equal(expected.Length, actual.Length);
        int at = expected.CommonPrefixLength(actual);
        if (at != expected.Length)
            Assert.Fail($"{what} differs at 0x{at:x} (cluster {at / Cluster}): expected 0x{expected[at]:x2}, read 0x{actual[at]:x2}");
    }

    private static byte[] ReadAll(IBlockBackend disk)
    {
        var back = new byte[disk.Length];
        disk.Read(0, back);
        return back;
    }

    /// <summary>The disk read in odd-sized pieces, so reads start and end inside clusters, written or not.</summary>
    private static byte[] ReadInPieces(IBlockBackend disk, int piece)
    {
        var back = new byte[disk.Length];
        for (int at = 0; at < back.Length; at += piece)
            disk.Read(at, back.AsSpan(at, Math.Min(piece, back.Length - at)));
        return back;
    }

    private static void Write(OverlayBlockBackend overlay, byte[] model, long offset, int length, int seed)
    {
        var data = RandomBytes(length, seed);
        overlay.Write(offset, data);
        data.CopyTo(model, offset);
    }

    private static IEnumerable<long> ClustersOf(long offset, int length)
    {
        for (long c = offset / Cluster; c <= (offset + length - 1) / Cluster; c++)
            yield return c;
    }

    /// <summary>
    /// A storage file in memory that knows what a power loss keeps: <see cref="Durable"/> is its content as of the last
    /// Flush, <see cref="Content"/> everything written. Past <see cref="Quota"/> bytes a write stores what fits and
    /// throws, as a full disk or a full origin quota does. Calls go to <see cref="Log"/> (shared between files).
    /// </summary>
    private sealed class MemoryStorageFile(string name, byte[]? content = null, List<string>? log = null) : IStorageFile
    {
        private byte[] _bytes = content == null ? [] : (byte[])content.Clone();

        public List<string> Log { get; } = log ?? [];

        public byte[] Durable { get; private set; } = content == null ? [] : (byte[])content.Clone();

        public byte[] Content => (byte[])_bytes.Clone();

        public long Quota { get; set; } = long.MaxValue;

        public bool Disposed { get; private set; }

        public long Length => _bytes.Length;

        public void Read(long offset, Span<byte> destination)
        {
            Assert.False(Disposed);
            int n = offset >= _bytes.Length ? 0 : (int)Math.Min(destination.Length, _bytes.Length - offset);
            _bytes.AsSpan((int)offset, n).CopyTo(destination);
            destination[n..].Clear();
        }

        public void Write(long offset, ReadOnlySpan<byte> source)
        {
            Assert.False(Disposed);
            Log.Add($"{name}.Write");
            long fits = Math.Clamp(Quota - offset, 0, source.Length);
            if (offset + fits > _bytes.Length)
                Array.Resize(ref _bytes, (int)(offset + fits));
            source[..(int)fits].CopyTo(_bytes.AsSpan((int)offset));
            if (fits < source.Length)
                throw new IOException("QuotaExceededError: the origin's storage quota is used up");
        }

        public void SetLength(long length)
        {
            Assert.False(Disposed);
            Log.Add($"{name}.SetLength");
            Array.Resize(ref _bytes, (int)length);
        }

        public void Flush()
        {
            Assert.False(Disposed);
            Log.Add($"{name}.Flush");
            Durable = (byte[])_bytes.Clone();
        }

        public void Dispose() => Disposed = true;
    }

    /// <summary>The map and data files of one persistent disk, in memory.</summary>
    private sealed class Files
    {
        public Files(byte[]? map = null, byte[]? data = null)
        {
            Map = new MemoryStorageFile("map", map, Log);
            Data = new MemoryStorageFile("data", data, Log);
        }

        public List<string> Log { get; } = [];

        public MemoryStorageFile Map { get; }

        public MemoryStorageFile Data { get; }

        /// <summary>The files as a power loss leaves them: only what was flushed.</summary>
        public Files AfterPowerLoss() => new(Map.Durable, Data.Durable);

        public OverlayBlockBackend Open(IBlockBackend baseDisk, string identity = Identity) =>
            OverlayBlockBackend.OpenPersistent(baseDisk, Map, Data, identity, Name, ownsBase: false);
    }

    private OverlayBlockBackend OpenHost(IBlockBackend baseDisk) => OverlayBlockBackend.OpenPersistent(baseDisk,
        new HostStorageFile(Path.Combine(_dir, "root.map")), new HostStorageFile(Path.Combine(_dir, "root.data")), Identity, Name, ownsBase: false);

    [Fact]
    public void Writes_Outlive_The_Machine_In_Host_Files()
    {
        var image = RandomBytes(DiskLength, 1);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        var model = (byte[])image.Clone();
        var clusters = new HashSet<long>();
        (long Offset, int Length)[] first =
        [
            (0, 1),                          // one byte at the start
            (Cluster - 1, 2),                // across a cluster boundary
            (5000, 10000),                   // unaligned, three clusters
            (8 * Cluster, Cluster),          // one whole cluster
            ((1 << 16) - 3, 70000),          // across the base's 64 KiB chunks and many clusters
            (DiskLength - 1000, 1000),       // the whole short last cluster
            (DiskLength - 5000, 300),
            (Cluster + 10, 5),               // again into a cluster this session wrote
        ];
        using (var overlay = OpenHost(baseDisk))
        {
            Assert.True(overlay.IsPersistent);
            Assert.Equal(DiskLength, overlay.Length);
            int seed = 100;
            foreach (var (offset, length) in first)
            {
                Write(overlay, model, offset, length, seed++);
                clusters.UnionWith(ClustersOf(offset, length));
            }
            Assert.Equal(clusters.Count, overlay.UnrecordedClusterCount);
            Assert.Equal(0, overlay.RecordedBytes);
            overlay.Flush();
            Assert.Equal(0, overlay.UnrecordedClusterCount);
            Assert.Equal(clusters.Count * (long)Cluster, overlay.RecordedBytes);
            AssertSameBytes(model, ReadAll(overlay));
        }
        Assert.Equal(OverlayJournal.HeaderSize + 8L * clusters.Count, new FileInfo(Path.Combine(_dir, "root.map")).Length);
        Assert.True(new FileInfo(Path.Combine(_dir, "root.data")).Length >= clusters.Count * (long)Cluster);

        // A second machine sees the first one's writes, adds its own (new clusters, and over recorded ones), ...
        using (var overlay = OpenHost(baseDisk))
        {
            Assert.Equal(clusters.Count, overlay.DirtyClusterCount);
            Assert.Equal(clusters.Count * (long)Cluster, overlay.RecordedBytes);
            AssertSameBytes(model, ReadAll(overlay));
            AssertSameBytes(model, ReadInPieces(overlay, 777));
            (long Offset, int Length)[] second = [(3, 4), (DiskLength - 1, 1), (100 * Cluster + 3000, 200), (9000, 1)];
            int seed = 200;
            foreach (var (offset, length) in second)
            {
                Write(overlay, model, offset, length, seed++);
                clusters.UnionWith(ClustersOf(offset, length));
            }
            Assert.Equal(1, overlay.UnrecordedClusterCount);   // only cluster 100 is new
            overlay.Flush();
        }

        // ... and a third sees both.
        using (var overlay = OpenHost(baseDisk))
        {
            Assert.Equal(clusters.Count, overlay.DirtyClusterCount);
            AssertSameBytes(model, ReadInPieces(overlay, 4099));
        }
        AssertSameBytes(image, baseDisk.ToArray(), "base");
    }

    [Fact]
    public void Map_Layout_Is_As_Documented()
    {
        var files = new Files();
        using (var overlay = files.Open(new MemoryBlockBackend(DiskLength)))
        {
            overlay.Write(7 * Cluster + 1, new byte[] { 1 });
            overlay.Write(DiskLength - 1, new byte[] { 2 });
            overlay.Write(0, new byte[] { 3 });
            overlay.Flush();
        }
        var map = files.Map.Content;
        Assert.Equal(OverlayJournal.HeaderSize + 3 * 8, map.Length);
        Assert.Equal("WEMUOVL1"u8.ToArray(), map[..8]);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(map.AsSpan(8)));
        Assert.Equal((uint)Cluster, BinaryPrimitives.ReadUInt32LittleEndian(map.AsSpan(12)));
        Assert.Equal(DiskLength, BinaryPrimitives.ReadInt64LittleEndian(map.AsSpan(16)));
        int idLength = BinaryPrimitives.ReadInt32LittleEndian(map.AsSpan(24));
        Assert.Equal(Identity, Encoding.UTF8.GetString(map, 28, idLength));
        Assert.Equal(Crc32.HashToUInt32(map.AsSpan(0, 508)), BinaryPrimitives.ReadUInt32LittleEndian(map.AsSpan(508)));
        Assert.Equal(EntryBytes(0, 7), map[512..520]);
        Assert.Equal(EntryBytes(1, DiskClusters - 1), map[520..528]);
        Assert.Equal(EntryBytes(2, 0), map[528..536]);
        // Slot times cluster size is where a cluster's data is.
        var data = files.Data.Content;
        Assert.Equal(1, data[0 * Cluster + 1]);
        Assert.Equal(2, data[1 * Cluster + (DiskLength - 1) % Cluster]);
        Assert.Equal(3, data[2 * Cluster]);
    }

    [Fact]
    public void Flush_Makes_The_Data_Durable_Before_The_Map_Names_It()
    {
        var files = new Files();
        using var overlay = files.Open(new MemoryBlockBackend(DiskLength));
        overlay.Write(5 * Cluster, new byte[100]);
        overlay.Write(9 * Cluster + 3, new byte[5000]);
        files.Log.Clear();
        overlay.Flush();
        int firstMapWrite = files.Log.IndexOf("map.Write");
        Assert.True(firstMapWrite > 0, string.Join(", ", files.Log));
        Assert.Equal("data.Flush", files.Log.Take(firstMapWrite).LastOrDefault(e => e.StartsWith("data.", StringComparison.Ordinal)));
        Assert.Equal("map.Flush", files.Log[^1]);
        Assert.DoesNotContain("data.Write", files.Log);

        // Nothing new: the data is still flushed (writes over recorded clusters are in place), the map left alone.
        overlay.Write(5 * Cluster + 1, new byte[] { 1 });
        files.Log.Clear();
        overlay.Flush();
        Assert.Contains("data.Flush", files.Log);
        Assert.DoesNotContain("map.Write", files.Log);
    }

    [Fact]
    public void Power_Loss_Keeps_The_Flushed_New_Clusters_And_Drops_The_Others()
    {
        var image = RandomBytes(DiskLength, 2);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        var files = new Files();
        var overlay = files.Open(baseDisk);
        var flushed = (byte[])image.Clone();
        Write(overlay, flushed, 3 * Cluster + 100, 50, 10);
        Write(overlay, flushed, DiskLength - 10, 10, 11);
        overlay.Flush();
        var all = (byte[])flushed.Clone();
        Write(overlay, all, 3 * Cluster + 200, 7, 12);        // over a recorded cluster: in place
        Write(overlay, all, 10 * Cluster + 5, 9000, 13);      // three new clusters, never flushed
        Assert.Equal(3, overlay.UnrecordedClusterCount);
        Assert.Equal(2L * Cluster, overlay.RecordedBytes);
        AssertSameBytes(all, ReadAll(overlay));

        // The power goes: the files hold what was flushed; the overlay is never flushed or disposed.
        var lost = files.AfterPowerLoss();
        using (var after = lost.Open(baseDisk))
        {
            Assert.Equal(2, after.DirtyClusterCount);
            Assert.Equal(0, after.UnrecordedClusterCount);
            AssertSameBytes(flushed, ReadAll(after));
        }

        // The host wrote the data file back anyway (not the map, which only a flush writes): the writes over recorded
        // clusters are there, the unflushed new clusters still are not (their slots are not on record).
        var written = new Files(files.Map.Durable, files.Data.Content);
        var expected = (byte[])flushed.Clone();
        all.AsSpan(3 * Cluster, Cluster).CopyTo(expected.AsSpan(3 * Cluster));
        using (var after = written.Open(baseDisk))
        {
            AssertSameBytes(expected, ReadAll(after));
            // A new cluster reuses the first unrecorded slot, and is on record after a flush.
            Write(after, expected, 40 * Cluster + 1, 3, 14);
            after.Flush();
            using var again = written.AfterPowerLoss().Open(baseDisk);
            Assert.Equal(3, again.DirtyClusterCount);
            AssertSameBytes(expected, ReadAll(again));
        }
        Assert.Equal(OverlayJournal.HeaderSize + 3 * 8, written.Map.Length);
        Assert.Equal(5 * Cluster, written.Data.Length);   // slot 2 reused (the map's slots are dense), not a sixth one
        AssertSameBytes(image, baseDisk.ToArray(), "base");
        overlay.Dispose();
    }

    [Theory]
    [InlineData("zeros")]
    [InlineData("partial entry")]
    [InlineData("garbage")]
    [InlineData("entry of another slot")]
    [InlineData("valid entry after a torn one")]
    public void Torn_Map_Tail_Is_Cut_At_The_First_Bad_Entry(string tail)
    {
        var image = RandomBytes(DiskLength, 3);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        var model = (byte[])image.Clone();
        var files = new Files();
        using (var overlay = files.Open(baseDisk))
        {
            Write(overlay, model, 0, 10, 20);
            Write(overlay, model, 50 * Cluster, 10, 21);
            Write(overlay, model, 20 * Cluster, 10, 22);
            overlay.Flush();
            // A fourth, fifth and sixth cluster whose data is in the file but never on record.
            overlay.Write(60 * Cluster, new byte[3 * Cluster]);
        }
        byte[] bad = tail switch
        {
            "zeros" => new byte[24],
            "partial entry" => EntryBytes(3, 60)[..5],
            "garbage" => RandomBytes(24, 23),
            "entry of another slot" => EntryBytes(0, 60),
            "valid entry after a torn one" => [.. EntryBytes(3, 60)[..4], 0, 0, 0, 0, .. EntryBytes(4, 61)],
            _ => throw new ArgumentException(tail),
        };
        var reopened = new Files([.. files.Map.Content, .. bad], files.Data.Content);
        using (var overlay = reopened.Open(baseDisk))
        {
            Assert.Equal(3, overlay.DirtyClusterCount);
            Assert.Equal(3L * Cluster, overlay.RecordedBytes);
            AssertSameBytes(model, ReadAll(overlay));
            Assert.Equal(OverlayJournal.HeaderSize + 3 * 8, reopened.Map.Length);
            // The next entry lands right after the good ones.
            Write(overlay, model, 70 * Cluster, 1, 24);
            overlay.Flush();
        }
        Assert.Equal(OverlayJournal.HeaderSize + 4 * 8, reopened.Map.Length);
        using (var overlay = reopened.AfterPowerLoss().Open(baseDisk))
        {
            Assert.Equal(4, overlay.DirtyClusterCount);
            AssertSameBytes(model, ReadAll(overlay));
        }
    }

    /// <summary>A recorded map and data file: clusters 0, 5 and the last one written.</summary>
    private static Files Recorded(IBlockBackend baseDisk, string identity = Identity)
    {
        var files = new Files();
        using (var overlay = files.Open(baseDisk, identity))
        {
            overlay.Write(0, new byte[] { 1 });
            overlay.Write(5 * Cluster, new byte[] { 2 });
            overlay.Write(DiskLength - 1, new byte[] { 3 });
            overlay.Flush();
        }
        return new Files(files.Map.Content, files.Data.Content);
    }

    private static string Refused(Files files, IBlockBackend baseDisk, string identity = Identity)
    {
        var e = Assert.Throws<InvalidDataException>(() => files.Open(baseDisk, identity));
        Assert.True(files.Map.Disposed, "the map is not disposed on a refusal");
        Assert.True(files.Data.Disposed, "the data is not disposed on a refusal");
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void Map_Made_Over_Another_Image_Is_Refused()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        string message = Refused(new Files(files.Map.Content, files.Data.Content), baseDisk, "https://images.example/debian.img 1049576 \"etag-2\"");
        Assert.Contains("another image", message);
        Assert.Contains("etag-1", message);
        Assert.Contains("etag-2", message);

        // The same name over an image of another size.
        message = Refused(new Files(files.Map.Content, files.Data.Content), new MemoryBlockBackend(DiskLength + Cluster));
        Assert.Contains("another image", message);

        // The original still opens.
        using var overlay = new Files(files.Map.Content, files.Data.Content).Open(baseDisk);
        Assert.Equal(3, overlay.DirtyClusterCount);
    }

    [Fact]
    public void Long_Identities_Are_Told_Apart_Beyond_The_Header()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        string identity = "https://images.example/" + new string('a', 600) + " etag-1";
        var files = Recorded(baseDisk, identity);
        using (var overlay = new Files(files.Map.Content, files.Data.Content).Open(baseDisk, identity))
            Assert.Equal(3, overlay.DirtyClusterCount);
        string other = "https://images.example/" + new string('a', 600) + " etag-2";
        Assert.Contains("another image", Refused(new Files(files.Map.Content, files.Data.Content), baseDisk, other));
    }

    [Fact]
    public void Damaged_Map_Header_Is_Refused()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        var map = files.Map.Content;
        map[300] ^= 0x10;   // in the identity's padding: only the checksum can tell
        Assert.Contains("checksum", Refused(new Files(map, files.Data.Content), baseDisk));
    }

    [Fact]
    public void Map_Of_Another_Version_Is_Refused()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        var map = files.Map.Content;
        BinaryPrimitives.WriteUInt32LittleEndian(map.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(map.AsSpan(508), Crc32.HashToUInt32(map.AsSpan(0, 508)));
        Assert.Contains("version 2", Refused(new Files(map, files.Data.Content), baseDisk));
    }

    [Fact]
    public void File_That_Is_Not_A_Map_Is_Refused()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        Assert.Contains("not a Wemu overlay map", Refused(new Files(RandomBytes(600, 4)), baseDisk));
    }

    /// <summary>A write over a cluster already on record makes no new cluster, yet the host's periodic commit must still flush it.</summary>
    [Fact]
    public void Overwrites_Of_Recorded_Clusters_Are_Seen_As_Written_Until_A_Flush()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        using var overlay = files.Open(baseDisk);
        Assert.False(overlay.WrittenSinceFlush);
        overlay.Write(5 * Cluster + 10, new byte[] { 9 });
        Assert.Equal((true, 0), (overlay.WrittenSinceFlush, overlay.UnrecordedClusterCount));
        overlay.Flush();
        Assert.False(overlay.WrittenSinceFlush);
        Assert.Equal(9, files.Data.Durable[(int)(overlay.RecordedBytes - 2 * Cluster) + 10]);
    }

    [Fact]
    public void Map_Torn_In_Its_Header_Starts_Afresh()
    {
        // A crash while a new map's header was written: nothing can have been on record, so the disk reads as its base.
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        var torn = new Files(files.Map.Content[..300], files.Data.Content);
        using (var overlay = torn.Open(baseDisk))
        {
            Assert.Equal(0, overlay.DirtyClusterCount);
            var b = new byte[1];
            overlay.Read(5 * Cluster, b);
            Assert.Equal(0, b[0]);
        }
        Assert.Equal(OverlayJournal.HeaderSize, torn.Map.Content.Length);
    }

    [Fact]
    public void Data_Shorter_Than_Its_Map_Says_Is_Refused()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        string message = Refused(new Files(files.Map.Content, files.Data.Content[..(3 * Cluster - 1)]), baseDisk);
        Assert.Contains("data is shorter", message);
        Assert.Contains("3 clusters", message);
    }

    [Fact]
    public void Map_Naming_A_Cluster_Twice_Is_Refused()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        var data = new byte[4 * Cluster];
        string message = Refused(new Files([.. files.Map.Content, .. EntryBytes(3, 5)], data), baseDisk);
        Assert.Contains("cluster 5 is in two slots", message);
    }

    [Fact]
    public void Map_Naming_A_Cluster_Beyond_The_Disk_Is_Refused()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        var files = Recorded(baseDisk);
        var data = new byte[4 * Cluster];
        string message = Refused(new Files([.. files.Map.Content, .. EntryBytes(3, DiskClusters)], data), baseDisk);
        Assert.Contains($"cluster {DiskClusters}", message);
        Assert.Contains("beyond", message);
    }

    [Fact]
    public void Full_Quota_Fails_The_Write_And_Leaves_The_Disk_As_It_Was()
    {
        var image = RandomBytes(DiskLength, 5);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        var model = (byte[])image.Clone();
        var files = new Files();
        using var overlay = files.Open(baseDisk);
        Write(overlay, model, 2 * Cluster + 7, 100, 30);
        overlay.Flush();

        // Room for part of one more cluster: a new cluster fails, after storing what fit.
        files.Data.Quota = Cluster + 100;
        Assert.Throws<IOException>(() => overlay.Write(9 * Cluster + 1, new byte[] { 0xEE, 0xEF }));
        Assert.Equal(1, overlay.DirtyClusterCount);
        Assert.Equal(0, overlay.UnrecordedClusterCount);
        // A write spanning a recorded cluster and a new one fails too, and the new cluster is not mapped; whatever
        // landed of the recorded part, writing it again makes it known.
        Assert.Throws<IOException>(() => overlay.Write(3 * Cluster - 10, RandomBytes(20, 31)));
        Assert.Equal(1, overlay.DirtyClusterCount);
        Assert.Equal(0, overlay.UnrecordedClusterCount);
        overlay.Write(3 * Cluster - 10, new byte[10]);
        model.AsSpan(3 * Cluster - 10, 10).Clear();
        AssertSameBytes(model, ReadAll(overlay));
        // Writes over recorded clusters need no room, and a flush with nothing new succeeds.
        Write(overlay, model, 2 * Cluster, 50, 32);
        overlay.Flush();

        // Room again: the new cluster takes the slot the failed one would have.
        files.Data.Quota = long.MaxValue;
        Write(overlay, model, 9 * Cluster + 1, 2, 33);
        overlay.Flush();
        Assert.Equal(2 * Cluster, files.Data.Length);
        using var after = files.AfterPowerLoss().Open(baseDisk);
        AssertSameBytes(model, ReadAll(after));
    }

    [Fact]
    public void Failed_Map_Append_Keeps_The_Clusters_Waiting_For_The_Next_Flush()
    {
        var image = RandomBytes(DiskLength, 6);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        var model = (byte[])image.Clone();
        var files = new Files();
        using var overlay = files.Open(baseDisk);
        Write(overlay, model, 11 * Cluster, 10, 40);
        Write(overlay, model, 12 * Cluster, 10, 41);
        Write(overlay, model, 13 * Cluster, 10, 42);

        // The map has room for one entry of three: the flush fails, nothing is on record.
        files.Map.Quota = OverlayJournal.HeaderSize + 8;
        Assert.Throws<IOException>(overlay.Flush);
        Assert.Equal(3, overlay.UnrecordedClusterCount);
        Assert.Equal(0, overlay.RecordedBytes);
        AssertSameBytes(model, ReadAll(overlay));
        using (var lost = files.AfterPowerLoss().Open(baseDisk))
            AssertSameBytes(image, ReadAll(lost));

        // More writes meanwhile, then room again: the retry records every waiting cluster, in slot order.
        Write(overlay, model, 14 * Cluster, 10, 43);
        Assert.Throws<IOException>(overlay.Flush);
        files.Map.Quota = long.MaxValue;
        overlay.Flush();
        Assert.Equal(0, overlay.UnrecordedClusterCount);
        Assert.Equal(4L * Cluster, overlay.RecordedBytes);
        Assert.Equal(OverlayJournal.HeaderSize + 4 * 8, files.Map.Length);
        using var after = files.AfterPowerLoss().Open(baseDisk);
        Assert.Equal(4, after.DirtyClusterCount);
        AssertSameBytes(model, ReadAll(after));
    }

    [Fact]
    public void Persistent_Overlay_Names_Its_Base_In_Snapshots()
    {
        var baseDisk = new MemoryBlockBackend(DiskLength);
        string baseIdentity = ((IBlockBackend)baseDisk).SnapshotIdentity();
        using var overlay = new Files().Open(baseDisk);
        Assert.Contains(baseIdentity, overlay.SnapshotIdentity());
        // Its writes go into the snapshot itself, so they do not stop a save.
        overlay.Write(100, new byte[] { 1 });
        Assert.Contains(baseIdentity, overlay.SnapshotIdentity());
    }

    /// <summary>A snapshot's overlay section: the clusters a temporary overlay over <paramref name="baseDisk"/> holds after the writes.</summary>
    private static byte[] SavedClusters(IBlockBackend baseDisk, byte[] model, params (long Offset, int Length)[] writes)
    {
        using var temporary = new OverlayBlockBackend(baseDisk, ownsBase: false);
        int seed = 50;
        foreach (var (offset, length) in writes)
            Write(temporary, model, offset, length, seed++);
        var writer = new Wemu.Snapshot.StateWriter();
        temporary.SaveClusters(writer);
        return writer.WrittenSpan.ToArray();
    }

    [Fact]
    public void Snapshot_Clusters_Resumed_Into_An_Empty_Persistent_Overlay_Are_Kept_After_A_Flush()
    {
        var image = RandomBytes(DiskLength, 7);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        var model = (byte[])image.Clone();
        var section = SavedClusters(baseDisk, model, (Cluster - 3, 6), (40 * Cluster + 9, 3 * Cluster), (DiskLength - 2, 2));
        var files = new Files();
        using (var overlay = files.Open(baseDisk))
        {
            overlay.LoadClusters(new Wemu.Snapshot.StateReader(section, "disk0"));
            AssertSameBytes(model, ReadAll(overlay));
            Assert.Equal(7, overlay.UnrecordedClusterCount);
            overlay.Flush();
        }
        using var after = files.AfterPowerLoss().Open(baseDisk);
        Assert.Equal(7, after.DirtyClusterCount);
        AssertSameBytes(model, ReadAll(after));
        AssertSameBytes(image, baseDisk.ToArray(), "base");
    }

    [Fact]
    public void Persistent_Overlay_With_Its_Own_Writes_Refuses_A_Snapshots_Clusters_Unless_Forced()
    {
        var image = RandomBytes(DiskLength, 8);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        var snapshot = (byte[])image.Clone();
        var section = SavedClusters(baseDisk, snapshot, (3 * Cluster + 1, 10));
        var own = (byte[])image.Clone();
        var files = new Files();
        using (var overlay = files.Open(baseDisk))
        {
            Write(overlay, own, 7 * Cluster, 10, 60);
            overlay.Flush();
        }
        using var reopened = new Files(files.Map.Content, files.Data.Content).Open(baseDisk);
        var e = Assert.Throws<Wemu.Snapshot.SnapshotException>(() => reopened.LoadClusters(new Wemu.Snapshot.StateReader(section, "disk0")));
        Assert.Contains($"'{Name}'", e.Message);
        AssertSameBytes(own, ReadAll(reopened));
        Assert.Throws<InvalidOperationException>(reopened.Discard);

        // Forced: the snapshot's clusters are written over the disk's own, which stay where the snapshot has none.
        reopened.LoadClusters(new Wemu.Snapshot.StateReader(section, "disk0") { Force = true });
        snapshot.AsSpan(3 * Cluster, Cluster).CopyTo(own.AsSpan(3 * Cluster));
        AssertSameBytes(own, ReadAll(reopened));
    }

    [Fact]
    public void HostStorageFile_Reads_Zeros_Past_Its_End()
    {
        using var file = new HostStorageFile(Path.Combine(_dir, "f"));
        Assert.Equal(0, file.Length);
        file.Write(0, new byte[] { 1, 2, 3, 4 });
        var back = new byte[8];
        back.AsSpan().Fill(0xFF);
        file.Read(2, back);
        Assert.Equal(new byte[] { 3, 4, 0, 0, 0, 0, 0, 0 }, back);
        back.AsSpan().Fill(0xFF);
        file.Read(100, back);
        Assert.Equal(new byte[8], back);
        file.SetLength(2);
        file.Flush();
        Assert.Equal(2, file.Length);
    }
}

/// <summary>
/// A read-only disk read by range requests (<see cref="RangeBlockBackend"/>) over a fake server that counts what it
/// is asked: every read equals the image, read-ahead grows 128 KiB, 256 KiB ... 2 MiB while sequential, the cache stays
/// within its bound, and a failed request leaves it usable.
/// </summary>
public sealed class RangeBlockBackendTests
{
    private const int Block = RangeBlockBackend.BlockSize;
    private const int MiB = 1 << 20;

    private sealed class ArrayRangeReader(byte[] image) : IRangeReader
    {
        public List<(long Offset, int Length)> Requests { get; } = [];

        public bool Failing { get; set; }

        public void Read(long offset, Span<byte> destination)
        {
            if (Failing)
                throw new IOException("HTTP 503 Service Unavailable");
            Assert.InRange(offset, 0L, image.Length - destination.Length);
            Requests.Add((offset, destination.Length));
            image.AsSpan((int)offset, destination.Length).CopyTo(destination);
        }
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, long at)
    {
        Assert.Equal(expected.Length, actual.Length);
        int i = expected.CommonPrefixLength(actual);
        if (i != expected.Length)
            Assert.Fail($"read at 0x{at:x}+{expected.Length} differs at 0x{at + i:x}");
    }

    private static void ReadAndCheck(RangeBlockBackend disk, byte[] image, long offset, int length)
    {
        var back = new byte[length];
        disk.Read(offset, back);
        AssertSameBytes(image.AsSpan((int)offset, length), back, offset);
    }

    [Fact]
    public void Random_Reads_Equal_The_Image()
    {
        var image = RandomBytes(9 * MiB + 12345, 1);   // the last block is short
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test", cacheBytes: 1);
        Assert.True(disk.IsReadOnly);
        Assert.Equal(image.Length, disk.Length);
        long bound = 2 * RangeBlockBackend.MaxReadAheadBlocks * (long)Block;
        (long, int)[] edges =
        [
            (Block - 1, 2), (3 * Block - 100, Block + 200), (image.Length - 1, 1), (image.Length - 100, 100),
            (image.Length - 12345 - 10, 12355), (image.Length - Block - 7, Block + 7), (0, 1), (0, image.Length), (5, 0),
        ];
        foreach (var (offset, length) in edges)
            ReadAndCheck(disk, image, offset, length);
        var random = new Random(2);
        for (int i = 0; i < 1500; i++)
        {
            int length = random.Next(4) switch
            {
                0 => 512,
                1 => 4096,
                2 => random.Next(1, 3 * Block),
                _ => random.Next(1, MiB + Block),
            };
            long offset = random.NextInt64(0, image.Length - length + 1);
            ReadAndCheck(disk, image, offset, length);
            Assert.InRange(disk.CachedBytes, 0L, bound);
        }
        foreach (var (offset, length) in reader.Requests)
        {
            Assert.Equal(0, offset % Block);
            Assert.True(length % Block == 0 || offset + length == image.Length, $"request 0x{offset:x}+{length}");
        }
        Assert.Equal(reader.Requests.Count, disk.Requests);
        Assert.Equal(reader.Requests.Sum(r => (long)r.Length), disk.BytesFetched);
    }

    [Fact]
    public void Sequential_Scan_Grows_Its_Read_Ahead_To_2_MiB()
    {
        var image = RandomBytes(16 * MiB, 3);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test");
        for (int at = 0; at < image.Length; at += 4096)
            ReadAndCheck(disk, image, at, 4096);

        // 128 KiB after the first (a jump), doubling to 2 MiB, the last one cut at the image's end.
        var expected = new List<int>();
        for (long at = 0, size = 2 * Block; at < image.Length; at += size, size = Math.Min(2 * size, 2 * MiB))
            expected.Add((int)Math.Min(size, image.Length - at));
        Assert.Equal(expected, reader.Requests.Select(r => r.Length));
        Assert.Equal(128 * 1024, expected[0]);
        Assert.Equal(2 * MiB, expected.Max());
        Assert.True(reader.Requests.Count <= 16, $"{reader.Requests.Count} requests for 16 MiB");
        Assert.Equal(image.Length, disk.BytesFetched);   // each byte once
    }

    [Theory]
    [InlineData(1 * MiB, 4 * MiB)]    // below the minimum of two read-ahead windows
    [InlineData(4 * MiB, 4 * MiB)]
    [InlineData(6 * MiB, 6 * MiB)]
    public void Sequential_Scan_Keeps_The_Cache_Within_Its_Bound(int cacheBytes, int bound)
    {
        var image = RandomBytes(16 * MiB + 3000, 4);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test", cacheBytes);
        for (int at = 0; at < image.Length; at += Block)
        {
            ReadAndCheck(disk, image, at, Math.Min(Block, image.Length - at));
            Assert.InRange(disk.CachedBytes, 0, bound);
        }
        Assert.Equal(image.Length, disk.BytesFetched);
        Assert.True(disk.CachedBytes > bound - Block, $"the cache holds only {disk.CachedBytes} bytes");
        // The start was evicted long ago: reading it again asks again.
        long before = disk.Requests;
        ReadAndCheck(disk, image, 0, 512);
        Assert.Equal(before + 1, disk.Requests);
    }

    [Fact]
    public void Read_Larger_Than_The_Cache_Is_Whole()
    {
        var image = RandomBytes(12 * MiB + 1, 5);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test", cacheBytes: 4 * MiB);
        ReadAndCheck(disk, image, 3, 10 * MiB + 5);
        Assert.InRange(disk.CachedBytes, 0, 4 * MiB);
        ReadAndCheck(disk, image, image.Length - 11 * MiB, 11 * MiB);
    }

    [Fact]
    public void Random_Small_Read_Fetches_At_Most_128_KiB()
    {
        var image = RandomBytes(16 * MiB + 3000, 6);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test");
        ReadAndCheck(disk, image, 5 * MiB + 1000, 512);
        ReadAndCheck(disk, image, 11 * MiB + 7, 512);
        ReadAndCheck(disk, image, 7 * Block - 256, 512);     // across two blocks
        ReadAndCheck(disk, image, 2 * MiB, 512);
        Assert.Equal(
            new List<(long, int)> { (5L * MiB, 2 * Block), (11L * MiB, 2 * Block), (6L * Block, 2 * Block), (2L * MiB, 2 * Block) },
            reader.Requests);
        // Near the end the window stops at the image's last (short) block.
        ReadAndCheck(disk, image, image.Length - 512, 512);
        Assert.Equal((16L * MiB, 3000), reader.Requests[^1]);
        // And before a cached block: the last block is not fetched again.
        ReadAndCheck(disk, image, 16 * MiB - Block + 5, 20);
        Assert.Equal((16L * MiB - Block, Block), reader.Requests[^1]);
        Assert.Equal(6, reader.Requests.Count);
    }

    [Fact]
    public void Cached_Reads_Make_No_Request()
    {
        var image = RandomBytes(4 * MiB, 7);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test");
        ReadAndCheck(disk, image, MiB + 100, 512);
        Assert.Single(reader.Requests);
        ReadAndCheck(disk, image, MiB + 100, 512);
        ReadAndCheck(disk, image, MiB, Block);
        ReadAndCheck(disk, image, MiB + Block + 5, 600);       // the read-ahead
        ReadAndCheck(disk, image, MiB + 10, 2 * Block - 10);
        Assert.Single(reader.Requests);
        Assert.Equal(2 * Block, disk.CachedBytes);
    }

    [Fact]
    public void Recently_Read_Blocks_Stay_Cached()
    {
        var image = RandomBytes(16 * MiB, 8);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test", cacheBytes: 4 * MiB);
        ReadAndCheck(disk, image, 0, 512);
        // 80 jumps of 128 KiB each (2.5 times the cache), reading block 0 again after each: it is never the oldest.
        for (int i = 0; i < 80; i++)
        {
            ReadAndCheck(disk, image, (4 + 3L * i) * Block, 512);
            ReadAndCheck(disk, image, 100, 512);
        }
        Assert.Equal(81, reader.Requests.Count);
    }

    [Fact]
    public void Reads_Outside_The_Image_Are_Refused()
    {
        var image = RandomBytes(MiB + 5, 9);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test");
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(-1, new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(image.Length - 10, new byte[11]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(image.Length + 1, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(long.MaxValue, new byte[512]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(long.MinValue, new byte[512]));
        Assert.Empty(reader.Requests);
        disk.Read(image.Length, []);
    }

    [Fact]
    public void Writes_Are_Refused()
    {
        var image = new byte[MiB];
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "https://images.example/a.img 1048576 \"v1\"");
        Assert.Throws<IOException>(() => disk.Write(0, new byte[512]));
        disk.Flush();
        Assert.Equal("https://images.example/a.img 1048576 \"v1\"", ((IBlockBackend)disk).SnapshotIdentity());
        Assert.Empty(reader.Requests);
    }

    [Fact]
    public void Reader_Failure_Reaches_The_Caller_And_The_Cache_Stays_Usable()
    {
        var image = RandomBytes(8 * MiB, 10);
        var reader = new ArrayRangeReader(image);
        using var disk = new RangeBlockBackend(reader, image.Length, "test");
        ReadAndCheck(disk, image, 0, 4096);
        long cached = disk.CachedBytes;
        reader.Failing = true;
        Assert.Throws<IOException>(() => disk.Read(2 * Block, new byte[4096]));
        Assert.Throws<IOException>(() => disk.Read(Block, new byte[2 * Block]));   // the cached part first, then a miss
        Assert.Equal(cached, disk.CachedBytes);
        Assert.Equal(1, disk.Requests);
        ReadAndCheck(disk, image, 100, 4096);
        reader.Failing = false;
        ReadAndCheck(disk, image, 2 * Block, 4096);
        ReadAndCheck(disk, image, Block, 2 * Block);
        ReadAndCheck(disk, image, 5 * MiB, MiB);
    }

    [Fact]
    public void Persistent_Overlay_Over_A_Range_Disk_Round_Trips()
    {
        var image = RandomBytes(3 * MiB + 777, 11);
        var model = (byte[])image.Clone();
        var dir = Directory.CreateTempSubdirectory("wemu-range-").FullName;
        try
        {
            OverlayBlockBackend Open() => OverlayBlockBackend.OpenPersistent(
                new RangeBlockBackend(new ArrayRangeReader(image), image.Length, "img 3146505"),
                new HostStorageFile(Path.Combine(dir, "map")), new HostStorageFile(Path.Combine(dir, "data")), "img 3146505", "range");
            using (var overlay = Open())
            {
                var patch = RandomBytes(Block + 3, 12);
                overlay.Write(image.Length - patch.Length, patch);
                patch.CopyTo(model, image.Length - patch.Length);
                overlay.Write(5, patch[..10]);
                patch.AsSpan(0, 10).CopyTo(model.AsSpan(5));
                overlay.Flush();
            }
            using (var overlay = Open())
            {
                var back = new byte[image.Length];
                overlay.Read(0, back);
                AssertSameBytes(model, back, 0);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
