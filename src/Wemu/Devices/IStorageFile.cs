namespace Wemu.Devices;

/// <summary>
/// A random-access file a disk keeps its data in: a host file (<see cref="HostStorageFile"/>), or in the page a file of
/// the browser's origin-private file system. Reads past the end give zeros; failures are IOExceptions (a full quota
/// is one, and reaches the guest as an I/O error). It serves as an overlay's scratch as it is (slot times cluster
/// size is the offset there).
/// </summary>
public interface IStorageFile : IOverlayScratch
{
    long Length { get; }

    void SetLength(long length);
}

/// <summary>An <see cref="IStorageFile"/> on a host file (tests, and hosts with a file system).</summary>
public sealed class HostStorageFile(string path) : IStorageFile
{
    private readonly FileStream _file = new(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.RandomAccess);

    public long Length => _file.Length;

    public void Read(long offset, Span<byte> destination)
    {
        int n = offset >= _file.Length ? 0 : RandomAccess.Read(_file.SafeFileHandle, destination, offset);
        destination[n..].Clear();
    }

    public void Write(long offset, ReadOnlySpan<byte> source) => RandomAccess.Write(_file.SafeFileHandle, source, offset);

    public void SetLength(long length) => _file.SetLength(length);

    public void Flush() => _file.Flush(flushToDisk: true);

    public void Dispose() => _file.Dispose();
}
