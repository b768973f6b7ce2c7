namespace Wemu.Devices;

/// <summary>
/// A disk held in memory, for tests and the browser. Storage is sparse: 64 KiB chunks are allocated on first
/// write, unwritten areas read as zeros, so a large empty disk costs nothing and there is no 2 GiB array limit.
/// </summary>
public sealed class MemoryBlockBackend : IBlockBackend
{
    private const int ChunkShift = 16;
    private const int ChunkSize = 1 << ChunkShift;

    private byte[]?[] _chunks;

    /// <summary>An all-zero disk of <paramref name="length"/> bytes.</summary>
    public MemoryBlockBackend(long length, bool readOnly = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        IsReadOnly = readOnly;
        _chunks = new byte[]?[(length + ChunkSize - 1) >> ChunkShift];
    }

    /// <summary>A disk holding a copy of <paramref name="image"/>.</summary>
    public MemoryBlockBackend(ReadOnlySpan<byte> image, bool readOnly = false)
        : this(image.Length, false)
    {
        WriteCore(0, image);
        IsReadOnly = readOnly;
    }

    public long Length { get; private set; }

    public bool IsReadOnly { get; }

    /// <summary>What a snapshot records of this disk (default: its size); the page gives its image's URL and validator.</summary>
    public string? Identity { get; init; }

    public string SnapshotIdentity() => Identity ?? $"{Length} bytes";

    /// <summary>Bytes of memory the allocated chunks use.</summary>
    public long AllocatedBytes
    {
        get
        {
            long total = 0;
            foreach (var c in _chunks)
                if (c != null)
                    total += ChunkSize;
            return total;
        }
    }

    /// <summary>Grows (zero-filled) or shrinks the disk.</summary>
    public void Resize(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length < Length)
        {
            // Forget the cut-off part so a later grow reads zeros there.
            long tail = length & (ChunkSize - 1);
            if (tail != 0 && _chunks[length >> ChunkShift] is { } last)
                Array.Clear(last, (int)tail, ChunkSize - (int)tail);
        }
        Array.Resize(ref _chunks, (int)((length + ChunkSize - 1) >> ChunkShift));
        Length = length;
    }

    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        while (!destination.IsEmpty)
        {
            int within = (int)(offset & (ChunkSize - 1));
            int n = Math.Min(ChunkSize - within, destination.Length);
            var chunk = _chunks[offset >> ChunkShift];
            if (chunk == null)
                destination[..n].Clear();
            else
                chunk.AsSpan(within, n).CopyTo(destination);
            destination = destination[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (IsReadOnly)
            throw new InvalidOperationException("the disk is read-only");
        CheckRange(offset, source.Length);
        WriteCore(offset, source);
    }

    public void Flush()
    {
    }

    /// <summary>The whole disk as one array (for saving it from the browser or checking it in tests).</summary>
    public byte[] ToArray()
    {
        var result = new byte[Length];
        Read(0, result);
        return result;
    }

    public void Dispose()
    {
    }

    private void WriteCore(long offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int within = (int)(offset & (ChunkSize - 1));
            int n = Math.Min(ChunkSize - within, source.Length);
            ref var chunk = ref _chunks[offset >> ChunkShift];
            if (chunk == null)
            {
                if (!source[..n].ContainsAnyExcept((byte)0))
                {
                    source = source[n..];
                    offset += n;
                    continue; // zeros over an unallocated chunk change nothing
                }
                chunk = new byte[ChunkSize];
            }
            source[..n].CopyTo(chunk.AsSpan(within));
            source = source[n..];
            offset += n;
        }
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:x}+{length} is outside the disk");
    }
}
