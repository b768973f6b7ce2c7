using Wemu.Devices;

namespace Wemu.Tests.Devices;

/// <summary>Wraps a backend and counts the calls a device makes.</summary>
internal sealed class CountingBlockBackend(IBlockBackend inner) : IBlockBackend
{
    public int Reads { get; private set; }

    public int Writes { get; private set; }

    public int Flushes { get; private set; }

    public bool Disposed { get; private set; }

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public void Read(long offset, Span<byte> destination)
    {
        Reads++;
        inner.Read(offset, destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        Writes++;
        inner.Write(offset, source);
    }

    public void Flush() => Flushes++;

    public void Dispose() => Disposed = true;
}
