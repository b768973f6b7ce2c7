namespace Wemu.Devices;

/// <summary>
/// The host side of a disk: a file, an in-memory overlay, an HTTP range reader.
/// Offsets and lengths are already checked against <see cref="Length"/> by the device.
/// </summary>
public interface IBlockBackend : IDisposable
{
    long Length { get; }

    bool IsReadOnly { get; }

    void Read(long offset, Span<byte> destination);

    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes every completed write durable in the backing store.</summary>
    void Flush();

    /// <summary>
    /// What a snapshot records of this disk (after a flush), to refuse resuming against another image: a file's
    /// path, size and modification time. Throws <see cref="Snapshot.SnapshotException"/> if the disk holds writes a
    /// snapshot cannot keep.
    /// </summary>
    string SnapshotIdentity() => $"{Length} bytes";
}
