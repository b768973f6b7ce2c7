using Microsoft.Win32.SafeHandles;
using Wemu.Devices;

namespace Wemu.Cli;

/// <summary>
/// A raw disk image file. Writes go straight to the file; Flush makes them durable (fsync). The file must be a
/// regular file, and it is locked as QEMU locks it (<see cref="ImageLock"/>): a writer has it to itself.
/// </summary>
public sealed class FileBlockBackend : IBlockBackend
{
    private readonly SafeFileHandle _handle;
    private readonly string _path;

    /// <summary>The image's path, size and last modification: a snapshot resumes only against the same image as it was.</summary>
    public string SnapshotIdentity() => $"{_path}, {Length} bytes, modified {File.GetLastWriteTimeUtc(_path):O}";

    /// <param name="path">The image.</param>
    /// <param name="readOnly">Open read-only (readonly=on, or the base under snapshot=on).</param>
    /// <param name="snapshotBase">The base of a snapshot=on overlay (locks as QEMU's backing file does).</param>
    public FileBlockBackend(string path, bool readOnly, bool snapshotBase = false)
    {
        _path = Path.GetFullPath(path);
        IsReadOnly = readOnly;
        _handle = RegularFile.Open(path, !readOnly, out long length);
        try
        {
            ImageLock.Acquire(_handle, path, write: !readOnly, snapshot: snapshotBase);
            if (!ImageLock.IsSupported)
            {
                // flock through .NET: exclusive for a writer, shared for readers.
                _handle.Dispose();
                _handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                    readOnly ? FileShare.Read : FileShare.None);
            }
        }
        catch
        {
            _handle.Dispose();
            throw;
        }
        Length = length;
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

    /// <summary>Closes the file (and so drops its locks); the caller flushes first (Program.CloseDrives).</summary>
    public void Dispose() => _handle.Dispose();
}
