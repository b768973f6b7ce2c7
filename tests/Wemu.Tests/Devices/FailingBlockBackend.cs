using Wemu.Devices;

namespace Wemu.Tests.Devices;

/// <summary>A disk whose Read, Write or Flush throws a chosen exception while <see cref="Failing"/> is set.</summary>
internal sealed class FailingBlockBackend(IBlockBackend inner, string operation, Func<Exception> exception) : IBlockBackend
{
    public bool Failing { get; set; } = true;

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public void Read(long offset, Span<byte> destination)
    {
        ThrowIf("Read");
        inner.Read(offset, destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        ThrowIf("Write");
        inner.Write(offset, source);
    }

    public void Flush()
    {
        ThrowIf("Flush");
        inner.Flush();
    }

    public void Dispose() => inner.Dispose();

    private void ThrowIf(string what)
    {
        if (Failing && what == operation)
            throw exception();
    }
}
