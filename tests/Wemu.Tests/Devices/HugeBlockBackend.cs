using Wemu.Devices;

namespace Wemu.Tests.Devices;

/// <summary>A large all-zero disk that stores nothing and counts the bytes the device asks for.</summary>
internal sealed class HugeBlockBackend(long length) : IBlockBackend
{
    public long BytesRead { get; private set; }

    public long BytesWritten { get; private set; }

    public long Length => length;

    public bool IsReadOnly => false;

    public void Read(long offset, Span<byte> destination) => BytesRead += destination.Length;

    public void Write(long offset, ReadOnlySpan<byte> source) => BytesWritten += source.Length;

    public void Flush()
    {
    }

    public void Dispose()
    {
    }
}
