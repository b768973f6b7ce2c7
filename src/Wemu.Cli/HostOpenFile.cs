using Wemu.Devices.NineP;

namespace Wemu.Cli;

/// <summary>A host file descriptor opened by <see cref="HostDirectoryFileSystem"/> (pread/pwrite on guest RAM spans).</summary>
internal sealed unsafe class HostOpenFile : IOpenFile
{
    private readonly HostDirectoryFileSystem _fs;
    private int _fd;

    public HostOpenFile(HostDirectoryFileSystem fs, int fd)
    {
        _fs = fs;
        _fd = fd;
    }

    public int Read(long offset, Span<byte> destination, out int read)
    {
        read = 0;
        if (_fd < 0)
            return LinuxErrno.EBADF;
        fixed (byte* p = destination)
        {
            while (read < destination.Length)
            {
                nint n = LibC.PRead(_fd, p + read, (nuint)(destination.Length - read), offset + read);
                if (n < 0)
                {
                    int e = LibC.Errno;
                    if (e == LibC.EINTR)
                        continue;
                    return read > 0 ? 0 : e;
                }
                if (n == 0)
                    break;
                read += (int)n;
            }
        }
        return 0;
    }

    public int Write(long offset, ReadOnlySpan<byte> source, out int written)
    {
        written = 0;
        if (_fd < 0)
            return LinuxErrno.EBADF;
        fixed (byte* p = source)
        {
            while (written < source.Length)
            {
                nint n = LibC.PWrite(_fd, p + written, (nuint)(source.Length - written), offset + written);
                if (n < 0)
                {
                    int e = LibC.Errno;
                    if (e == LibC.EINTR)
                        continue;
                    return e;
                }
                if (n == 0)
                    return LinuxErrno.EIO;
                written += (int)n;
            }
        }
        return 0;
    }

    public int Stat(out FileStat stat)
    {
        stat = default;
        return _fd < 0 ? LinuxErrno.EBADF : _fs.StatOpenFile(_fd, out stat);
    }

    public int Truncate(ulong length)
    {
        if (_fd < 0)
            return LinuxErrno.EBADF;
        if (_fs.IsReadOnly)
            return LinuxErrno.EROFS;
        return LibC.FTruncate(_fd, (long)length) == 0 ? 0 : LibC.Errno;
    }

    public int Sync() => _fd < 0 ? LinuxErrno.EBADF : LibC.FSync(_fd) == 0 ? 0 : LibC.Errno;

    public void Dispose()
    {
        if (_fd >= 0)
            LibC.Close(_fd);
        _fd = -1;
    }
}
