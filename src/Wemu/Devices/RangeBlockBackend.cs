namespace Wemu.Devices;

/// <summary>Reads byte ranges of a remote image (in the page: synchronous HTTP <c>Range</c> requests). Failures are IOExceptions.</summary>
public interface IRangeReader
{
    /// <summary>Fills <paramref name="destination"/> with the image's bytes from <paramref name="offset"/> (the range lies inside the image).</summary>
    void Read(long offset, Span<byte> destination);
}

/// <summary>
/// A read-only disk read on demand from a remote image, in 64 KiB blocks kept in a bounded cache (least recently used
/// go first), so a large root disk does not download before boot. A miss fetches the blocks the request needs plus a
/// read-ahead window in one request: 128 KiB after a jump, doubling while the guest reads on sequentially, up to
/// 2 MiB. Writes go to an <see cref="OverlayBlockBackend"/> on top.
/// </summary>
public sealed class RangeBlockBackend : IBlockBackend
{
    public const int BlockShift = 16;
    public const int BlockSize = 1 << BlockShift;
    public const int MinReadAheadBlocks = 2, MaxReadAheadBlocks = 32;

    private readonly IRangeReader _source;
    private readonly string _identity;
    private readonly int _capacityBlocks;
    private readonly long _blockCount;
    private readonly Dictionary<long, LinkedListNode<(long Block, byte[] Data)>> _cache = [];
    private readonly LinkedList<(long Block, byte[] Data)> _lru = [];
    private long _nextExpected = -1;
    private int _window = MinReadAheadBlocks;

    /// <param name="source">Where the bytes come from.</param>
    /// <param name="length">The image's size in bytes.</param>
    /// <param name="identity">What a snapshot records of it (its URL, size and validator).</param>
    /// <param name="cacheBytes">The most memory the cache keeps (at least two read-ahead windows).</param>
    public RangeBlockBackend(IRangeReader source, long length, string identity, long cacheBytes = 32 << 20)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _source = source;
        Length = length;
        _identity = identity;
        _blockCount = (length + BlockSize - 1) >> BlockShift;
        _capacityBlocks = (int)Math.Max(2 * MaxReadAheadBlocks, Math.Min(int.MaxValue, cacheBytes >> BlockShift));
    }

    public long Length { get; }

    public bool IsReadOnly => true;

    /// <summary>Bytes fetched from the source so far.</summary>
    public long BytesFetched { get; private set; }

    /// <summary>Requests made to the source so far.</summary>
    public long Requests { get; private set; }

    /// <summary>Bytes the cache holds now.</summary>
    public long CachedBytes { get; private set; }

    public void Read(long offset, Span<byte> destination)
    {
        if (offset < 0 || offset > Length - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:x}+{destination.Length} is outside the disk");
        while (!destination.IsEmpty)
        {
            long block = offset >> BlockShift;
            int within = (int)(offset & (BlockSize - 1));
            if (!_cache.TryGetValue(block, out var node))
            {
                Fetch(block, (offset + destination.Length - 1) >> BlockShift);
                node = _cache[block];
            }
            else
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
            }
            var data = node.Value.Data;
            int n = Math.Min(data.Length - within, destination.Length);
            data.AsSpan(within, n).CopyTo(destination);
            destination = destination[n..];
            offset += n;
        }
    }

    /// <summary>Fetches the missing run from <paramref name="block"/>: what the request needs (up to <paramref name="lastNeeded"/>) and the read-ahead.</summary>
    private void Fetch(long block, long lastNeeded)
    {
        _window = block == _nextExpected ? Math.Min(_window * 2, MaxReadAheadBlocks) : MinReadAheadBlocks;
        long end = block + 1;   // exclusive
        long want = Math.Max(lastNeeded + 1, block + _window);
        while (end < want && end < _blockCount && end - block < _capacityBlocks / 2 && !_cache.ContainsKey(end))
            end++;
        long start = block << BlockShift;
        long bytes = Math.Min(end << BlockShift, Length) - start;
        var buffer = new byte[bytes];
        _source.Read(start, buffer);
        Requests++;
        BytesFetched += bytes;
        for (long b = block; b < end; b++)
        {
            int at = (int)((b - block) << BlockShift);
            var data = buffer.AsSpan(at, (int)Math.Min(BlockSize, bytes - at)).ToArray();
            var node = _lru.AddFirst((b, data));
            _cache.Add(b, node);
            CachedBytes += data.Length;
        }
        _nextExpected = end;
        while (_cache.Count > _capacityBlocks)
        {
            var last = _lru.Last!;
            _lru.RemoveLast();
            _cache.Remove(last.Value.Block);
            CachedBytes -= last.Value.Data.Length;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source) => throw new IOException("the disk is read-only (an image read over HTTP)");

    public void Flush()
    {
    }

    public string SnapshotIdentity() => _identity;

    public void Dispose()
    {
        _cache.Clear();
        _lru.Clear();
        CachedBytes = 0;
    }
}
