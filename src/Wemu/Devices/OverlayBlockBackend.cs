namespace Wemu.Devices;

/// <summary>
/// A copy-on-write overlay over another disk: writes land in a scratch store (in 4 KiB clusters), reads take
/// written clusters from the scratch and the rest from the base, and the base is never written or flushed. This
/// is how QEMU's <c>snapshot=on</c> behaves: the guest sees a writable disk, the image file stays as it was.
/// The CLI gives it an unlinked temporary file as scratch (as QEMU's temporary qcow2), so what the guest writes
/// costs host disk, not host RAM: only the cluster map (a few bytes per written cluster) lives in memory.
/// <para>
/// A persistent overlay (<see cref="OpenPersistent"/>) keeps its clusters in a file and their map in an
/// <see cref="OverlayJournal"/>, so the writes outlive the machine (the page's <c>persist</c> disks). New clusters are
/// put on record when the guest flushes (or the host commits): the data file is flushed first, then the map, so the
/// map never names data that is not durable; a machine that ends without a flush loses the unflushed new clusters,
/// as a disk with a volatile write cache loses them on power loss.
/// </para>
/// </summary>
public sealed class OverlayBlockBackend : IBlockBackend
{
    private const int ClusterShift = 12;
    private const int ClusterSize = 1 << ClusterShift;

    private readonly IBlockBackend _base;
    private readonly bool _ownsBase;
    private readonly IOverlayScratch _scratch;
    // Written cluster -> its slot in the scratch store (slot * ClusterSize is the offset there).
    private readonly Dictionary<long, int> _slots = [];
    private int _nextSlot;
    private readonly byte[] _cluster = new byte[ClusterSize];
    private readonly OverlayJournal? _journal;
    private readonly List<long> _unrecorded = [];
    private readonly string? _persistName;

    /// <param name="baseBackend">The disk underneath (may be read-only).</param>
    /// <param name="ownsBase">Whether disposing the overlay disposes the base.</param>
    /// <param name="scratch">Where written clusters go (default: memory). The overlay owns it.</param>
    public OverlayBlockBackend(IBlockBackend baseBackend, bool ownsBase = true, IOverlayScratch? scratch = null)
    {
        _base = baseBackend;
        _ownsBase = ownsBase;
        _scratch = scratch ?? new MemoryOverlayScratch();
    }

    /// <summary>
    /// A persistent overlay over <paramref name="baseBackend"/>: its clusters in <paramref name="data"/>, their map in
    /// <paramref name="map"/> (both empty for a new overlay). <paramref name="baseIdentity"/> names the base image (its
    /// size, and a validator such as an HTTP ETag); a map made over another identity is refused. Throws
    /// <see cref="InvalidDataException"/> with a one-line reason for a foreign, damaged or mismatched overlay; takes
    /// ownership of both files (disposed with the overlay, or at once on failure).
    /// </summary>
    public static OverlayBlockBackend OpenPersistent(IBlockBackend baseBackend, IStorageFile map, IStorageFile data, string baseIdentity, string name, bool ownsBase = true)
    {
        try
        {
            var journal = OverlayJournal.Open(map, baseBackend.Length, baseIdentity, ClusterSize, out var clusters);
            if (data.Length < (long)clusters.Count << ClusterShift)
                throw new InvalidDataException($"its data is shorter ({data.Length} bytes) than its map says ({clusters.Count} clusters)");
            var overlay = new OverlayBlockBackend(baseBackend, ownsBase, data, journal, name);
            for (int slot = 0; slot < clusters.Count; slot++)
                overlay._slots.Add(clusters[slot], slot);
            overlay._nextSlot = clusters.Count;
            return overlay;
        }
        catch
        {
            map.Dispose();
            data.Dispose();
            throw;
        }
    }

    private OverlayBlockBackend(IBlockBackend baseBackend, bool ownsBase, IOverlayScratch scratch, OverlayJournal journal, string name)
        : this(baseBackend, ownsBase, scratch)
    {
        _journal = journal;
        _persistName = name;
    }

    /// <summary>Whether the clusters outlive the machine (<see cref="OpenPersistent"/>).</summary>
    public bool IsPersistent => _journal != null;

    /// <summary>Bytes of written clusters on record (durable), for a persistent overlay.</summary>
    public long RecordedBytes => (long)(_journal?.Count ?? 0) << ClusterShift;

    /// <summary>New clusters written since the last <see cref="Flush"/> (a persistent overlay puts them on record then).</summary>
    public int UnrecordedClusterCount => _unrecorded.Count;

    /// <summary>Whether anything was written since the last <see cref="Flush"/> (new clusters or over recorded ones).</summary>
    public bool WrittenSinceFlush { get; private set; }

    public long Length => _base.Length;

    public bool IsReadOnly => false;

    /// <summary>Number of 4 KiB clusters written so far.</summary>
    public int DirtyClusterCount => _slots.Count;

    /// <summary>The base image's identity: the overlay's content goes into the snapshot itself (<see cref="SaveClusters"/>).</summary>
    public string SnapshotIdentity() => $"{_base.SnapshotIdentity()} under an overlay";

    /// <summary>
    /// The written clusters, for a snapshot: a count, then each cluster's number and bytes in ascending order (the
    /// snapshot holds what the guest wrote, so a machine resumed on the same base with an overlay sees its disk as it was).
    /// </summary>
    public void SaveClusters(Snapshot.StateWriter writer)
    {
        var clusters = _slots.Keys.Order().ToList();
        writer.U32((uint)clusters.Count);
        var data = _cluster.AsSpan();
        foreach (long cluster in clusters)
        {
            writer.U64((ulong)cluster);
            _scratch.Read((long)_slots[cluster] << ClusterShift, data);
            writer.Bytes(data);
        }
    }

    /// <summary>
    /// Replaces the overlay's content with a snapshot's (<see cref="SaveClusters"/>). A temporary overlay drops what it
    /// held; a persistent one must be empty (its own writes would otherwise mix with the snapshot's) unless
    /// <see cref="Snapshot.StateReader.Force"/>, where the snapshot's clusters are written over it.
    /// </summary>
    public void LoadClusters(Snapshot.StateReader reader)
    {
        uint count = reader.U32();
        long limit = (Length + ClusterSize - 1) >> ClusterShift;
        if (count > limit)
            throw new Snapshot.SnapshotException($"snapshot section {reader.Where}: {count} written clusters on a disk of {limit}");
        if (IsPersistent && DirtyClusterCount > 0 && !reader.Force)
            throw new Snapshot.SnapshotException($"the persistent disk '{_persistName}' holds writes of its own; reset it (Wemu.resetDisk('{_persistName}')) to resume this snapshot, or -force-resume");
        if (!IsPersistent)
            Discard();
        long previous = -1;
        for (uint i = 0; i < count; i++)
        {
            long cluster = (long)reader.U64();
            if (cluster <= previous || cluster >= limit)
                throw new Snapshot.SnapshotException($"snapshot section {reader.Where}: written cluster {cluster} is out of order or beyond the disk");
            previous = cluster;
            var data = reader.Bytes(ClusterSize);
            long start = cluster << ClusterShift;
            Write(start, data[..(int)Math.Min(ClusterSize, Length - start)]);
        }
    }

    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        while (!destination.IsEmpty)
        {
            long cluster = offset >> ClusterShift;
            int within = (int)(offset & (ClusterSize - 1));
            int n = Math.Min(ClusterSize - within, destination.Length);
            if (_slots.TryGetValue(cluster, out int slot))
            {
                _scratch.Read(((long)slot << ClusterShift) + within, destination[..n]);
            }
            else
            {
                // Gather a run of clean clusters into one base read.
                while (n < destination.Length && !_slots.ContainsKey((offset + n) >> ClusterShift))
                    n = Math.Min(n + ClusterSize, destination.Length);
                _base.Read(offset, destination[..n]);
            }
            destination = destination[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        WrittenSinceFlush = true;
        while (!source.IsEmpty)
        {
            long cluster = offset >> ClusterShift;
            int within = (int)(offset & (ClusterSize - 1));
            int n = Math.Min(ClusterSize - within, source.Length);
            if (_slots.TryGetValue(cluster, out int slot))
            {
                _scratch.Write(((long)slot << ClusterShift) + within, source[..n]);
            }
            else
            {
                if (_nextSlot == int.MaxValue)
                    throw new IOException("snapshot overlay is full");
                // A new cluster goes to the scratch whole: a partial one keeps the base's bytes around the write
                // (the last cluster may be short). It is mapped only once the scratch holds it, so a failed write
                // (host disk full) leaves the overlay as it was.
                var data = _cluster.AsSpan();
                if (n != ClusterSize)
                {
                    data.Clear();
                    long start = cluster << ClusterShift;
                    int available = (int)Math.Min(ClusterSize, _base.Length - start);
                    _base.Read(start, data[..available]);
                }
                source[..n].CopyTo(data[within..]);
                _scratch.Write((long)_nextSlot << ClusterShift, data);
                _slots.Add(cluster, _nextSlot++);
                if (_journal != null)
                    _unrecorded.Add(cluster);
            }
            source = source[n..];
            offset += n;
        }
    }

    /// <summary>
    /// A temporary overlay has nothing to make durable (it is thrown away at exit, the base is never written). A
    /// persistent one flushes its data, then puts the new clusters on record; if that fails (a full quota), they stay
    /// waiting for the next flush and the failure reaches the guest as an I/O error.
    /// </summary>
    public void Flush()
    {
        if (_journal == null)
            return;
        _scratch.Flush();
        WrittenSinceFlush = false;
        if (_unrecorded.Count > 0)
        {
            _journal.Append(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_unrecorded));
            _unrecorded.Clear();
        }
    }

    /// <summary>Drops every write: the disk reads as the base again (scratch slots are reused). Temporary overlays only.</summary>
    public void Discard()
    {
        if (_journal != null)
            throw new InvalidOperationException("a persistent overlay is discarded by deleting its files");
        _slots.Clear();
        _nextSlot = 0;
    }

    public void Dispose()
    {
        _slots.Clear();
        _scratch.Dispose();
        _journal?.Dispose();
        if (_ownsBase)
            _base.Dispose();
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:x}+{length} is outside the disk");
    }
}
