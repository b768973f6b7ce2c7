namespace Wemu.Devices;

/// <summary>
/// A copy-on-write overlay over another disk: writes land in memory (in 4 KiB clusters), reads take written
/// clusters from memory and the rest from the base, and the base is never written or flushed. This is how
/// QEMU's <c>snapshot=on</c> behaves: the guest sees a writable disk, the image file stays as it was.
/// </summary>
public sealed class OverlayBlockBackend : IBlockBackend
{
    private const int ClusterShift = 12;
    private const int ClusterSize = 1 << ClusterShift;

    private readonly IBlockBackend _base;
    private readonly bool _ownsBase;
    private readonly Dictionary<long, byte[]> _clusters = [];

    /// <param name="baseBackend">The disk underneath (may be read-only).</param>
    /// <param name="ownsBase">Whether disposing the overlay disposes the base.</param>
    public OverlayBlockBackend(IBlockBackend baseBackend, bool ownsBase = true)
    {
        _base = baseBackend;
        _ownsBase = ownsBase;
    }

    public long Length => _base.Length;

    public bool IsReadOnly => false;

    /// <summary>Number of 4 KiB clusters written so far.</summary>
    public int DirtyClusterCount => _clusters.Count;

    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        while (!destination.IsEmpty)
        {
            long cluster = offset >> ClusterShift;
            int within = (int)(offset & (ClusterSize - 1));
            int n = Math.Min(ClusterSize - within, destination.Length);
            if (_clusters.TryGetValue(cluster, out var data))
            {
                data.AsSpan(within, n).CopyTo(destination);
            }
            else
            {
                // Gather a run of clean clusters into one base read.
                while (n < destination.Length && !_clusters.ContainsKey((offset + n) >> ClusterShift))
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
            if (!_clusters.TryGetValue(cluster, out var data))
            {
                data = new byte[ClusterSize];
                // A partial cluster keeps the base's bytes around the write (the last cluster may be short).
                if (n != ClusterSize)
                {
                    long start = cluster << ClusterShift;
                    int available = (int)Math.Min(ClusterSize, _base.Length - start);
                    _base.Read(start, data.AsSpan(0, available));
                }
                _clusters.Add(cluster, data);
            }
            source[..n].CopyTo(data.AsSpan(within));
            source = source[n..];
            offset += n;
        }
    }

    /// <summary>Nothing to make durable: the overlay lives in memory and the base is never written.</summary>
    public void Flush()
    {
    }

    /// <summary>Drops every write: the disk reads as the base again.</summary>
    public void Discard() => _clusters.Clear();

    public void Dispose()
    {
        _clusters.Clear();
        if (_ownsBase)
            _base.Dispose();
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:x}+{length} is outside the disk");
    }
}
