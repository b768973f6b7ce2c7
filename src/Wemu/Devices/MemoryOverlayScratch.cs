namespace Wemu.Devices;

/// <summary>Overlay clusters in memory, one array per 64 KiB (for hosts without a file system, and tests).</summary>
public sealed class MemoryOverlayScratch : IOverlayScratch
{
    private const int ChunkShift = 16;
    private const int ChunkSize = 1 << ChunkShift;

    private readonly List<byte[]> _chunks = [];

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int chunk = (int)(offset >> ChunkShift), within = (int)(offset & (ChunkSize - 1));
            int n = Math.Min(ChunkSize - within, destination.Length);
            if (chunk < _chunks.Count)
                _chunks[chunk].AsSpan(within, n).CopyTo(destination);
            else
                destination[..n].Clear();
            destination = destination[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int chunk = (int)(offset >> ChunkShift), within = (int)(offset & (ChunkSize - 1));
            int n = Math.Min(ChunkSize - within, source.Length);
            while (_chunks.Count <= chunk)
                _chunks.Add(new byte[ChunkSize]);
            source[..n].CopyTo(_chunks[chunk].AsSpan(within));
            source = source[n..];
            offset += n;
        }
    }

    public void Dispose() => _chunks.Clear();
}
