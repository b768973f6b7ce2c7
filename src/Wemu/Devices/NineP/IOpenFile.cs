namespace Wemu.Devices.NineP;

/// <summary>
/// An open regular file. It stays usable after the file is renamed or unlinked, as an open file descriptor does.
/// Methods return Linux errno values (0 = success).
/// </summary>
public interface IOpenFile : IDisposable
{
    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>; fewer only at end of file.</summary>
    int Read(long offset, Span<byte> destination, out int read);

    /// <summary>Writes at <paramref name="offset"/> (at the end of the file if opened with Append).</summary>
    int Write(long offset, ReadOnlySpan<byte> source, out int written);

    int Stat(out FileStat stat);

    int Truncate(ulong length);

    int Sync();
}
