using Microsoft.Win32.SafeHandles;
using Wemu.Devices;

namespace Wemu.Cli;

/// <summary>
/// The scratch store of a snapshot=on overlay: a file created in $TMPDIR (mode 0600) and unlinked at once, so
/// nothing is left behind however the process ends, and guest writes cost host disk, not RAM. A full host disk
/// surfaces as an IOException, which virtio-blk answers with VIRTIO_BLK_S_IOERR.
/// </summary>
public sealed class TemporaryOverlayFile : IOverlayScratch
{
    private readonly SafeFileHandle _handle;

    public TemporaryOverlayFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"wemu-snapshot-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        else
            options.Options = FileOptions.DeleteOnClose;
        var stream = new FileStream(path, options);
        _handle = stream.SafeFileHandle;
        if (!OperatingSystem.IsWindows())
            File.Delete(path);
    }

    public void Read(long offset, Span<byte> destination)
    {
        int n = RandomAccess.Read(_handle, destination, offset);
        if (n < destination.Length)
            destination[n..].Clear();
    }

    public void Write(long offset, ReadOnlySpan<byte> source) => RandomAccess.Write(_handle, source, offset);

    public void Dispose() => _handle.Dispose();
}
