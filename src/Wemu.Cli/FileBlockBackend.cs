using Microsoft.Win32.SafeHandles;
using Wemu.Devices;

namespace Wemu.Cli;

/// <summary>A raw disk image file. Writes go straight to the file; Flush makes them durable (fsync).</summary>
public sealed class FileBlockBackend : IBlockBackend
{
    private readonly SafeFileHandle _handle;

    public FileBlockBackend(string path, bool readOnly)
    {
        IsReadOnly = readOnly;
        _handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
            readOnly ? FileShare.Read : FileShare.Read);
        Length = RandomAccess.GetLength(_handle);
    }

    public long Length { get; }

    public bool IsReadOnly { get; }

    public void Read(long offset, Span<byte> destination)
    {
        int n = RandomAccess.Read(_handle, destination, offset);
        if (n < destination.Length)
            destination[n..].Clear();
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        if (IsReadOnly)
            throw new InvalidOperationException("read-only disk");
        RandomAccess.Write(_handle, source, offset);
    }

    public void Flush()
    {
        if (!IsReadOnly)
            RandomAccess.FlushToDisk(_handle);
    }

    public void Dispose()
    {
        Flush();
        _handle.Dispose();
    }
}
