namespace Wemu.Devices.NineP;

/// <summary>
/// Linux errno values (include/uapi/asm-generic/errno-base.h and errno.h; identical on riscv64, x86_64 and
/// arm64). 9P2000.L carries them as-is in Rlerror, and <see cref="IFileSystem"/> returns them (0 = success).
/// </summary>
public static class LinuxErrno
{
    public const int Success = 0;
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EMFILE = 24;
    public const int EFBIG = 27;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int EMLINK = 31;
    public const int ERANGE = 34;
    public const int ENAMETOOLONG = 36;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int ENODATA = 61;
    public const int EPROTO = 71;
    public const int EOVERFLOW = 75;
    public const int EILSEQ = 84;
    public const int EMSGSIZE = 90;
    public const int EOPNOTSUPP = 95;
}
