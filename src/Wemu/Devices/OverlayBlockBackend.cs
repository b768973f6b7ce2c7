namespace Wemu.Devices;

/// <summary>
/// A copy-on-write overlay over another disk: writes land in a scratch store (in 4 KiB clusters), reads take
/// written clusters from the scratch and the rest from the base, and the base is never written or flushed. This
/// is how QEMU's <c>snapshot=on</c> behaves: the guest sees a writable disk, the image file stays as it was.
/// The CLI gives it an unlinked temporary file as scratch (as QEMU's temporary qcow2), so what the guest writes
/// costs host disk, not host RAM: only the cluster map (a few bytes per written cluster) lives in memory.
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

    /// <param name="baseBackend">The disk underneath (may be read-only).</param>
    /// <param name="ownsBase">Whether disposing the overlay disposes the base.</param>
    /// <param name="scratch">Where written clusters go (default: memory). The overlay owns it.</param>
    public OverlayBlockBackend(IBlockBackend baseBackend, bool ownsBase = true, IOverlayScratch? scratch = null)
    {
        _base = baseBackend;
        _ownsBase = ownsBase;
        _scratch = scratch ?? new MemoryOverlayScratch();
    }

    public long Length => _base.Length;

    public bool IsReadOnly => false;

    /// <summary>Number of 4 KiB clusters written so far.</summary>
    public int DirtyClusterCount => _slots.Count;

    /// <summary>The base image's identity; an overlay holding writes is refused (its content is not saved yet).</summary>
    public string SnapshotIdentity() => DirtyClusterCount == 0
        ? $"{_base.SnapshotIdentity()} under a temporary overlay"
        : throw new Snapshot.SnapshotException("cannot save this machine: a disk with snapshot=on holds temporary writes, which snapshots do not keep yet");

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
            }
            source = source[n..];
            offset += n;
        }
    }

    /// <summary>Nothing to make durable: the overlay is thrown away at exit and the base is never written.</summary>
    public void Flush()
    {
    }

    /// <summary>Drops every write: the disk reads as the base again (scratch slots are reused).</summary>
    public void Discard()
    {
        _slots.Clear();
        _nextSlot = 0;
    }

    public void Dispose()
    {
        _slots.Clear();
        _scratch.Dispose();
        if (_ownsBase)
            _base.Dispose();
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:x}+{length} is outside the disk");
    }
}
