using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Wemu.Cli;

/// <summary>
/// Disk image locking compatible with QEMU 7.2 (block/file-posix.c, raw_apply_lock_bytes and
/// raw_check_lock_bytes): open-file-description (OFD) fcntl read locks on single bytes, 100 + i for each
/// permission the user holds and 200 + i for each permission it refuses to share, with i = 0 consistent read,
/// 1 write, 2 write-unchanged, 3 resize. After taking its own bytes an opener tests, for each permission it
/// wants, that nobody holds 200 + i, and for each permission it refuses to share, that nobody holds 100 + i.
/// So one writer excludes everyone, and any number of readers (readonly=on, snapshot=on) can share an image
/// that nobody writes, against other Wemu processes and against QEMU alike. The locks go away with the
/// descriptor (or the process). Linux only; elsewhere .NET's flock-based FileShare is the fallback.
/// </summary>
public static partial class ImageLock
{
    private const int PermBase = 100, SharedBase = 200;
    private const int ConsistentRead = 0, Write = 1, Resize = 3;
    private const int FOfdGetLk = 36, FOfdSetLk = 37;
    private const short FRdLck = 0, FWrLck = 1, FUnLck = 2;

    private static readonly string[] s_names = ["consistent read", "write", "write unchanged", "resize"];

    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, ref Flock lk);

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Takes the locks for a writer (<paramref name="write"/>) or a reader, as QEMU's virtio-blk does (a
    /// snapshot=on base also refuses to share resize, as QEMU's does). Throws IOException, in QEMU's words,
    /// if another process holds the image in a conflicting way.
    /// </summary>
    public static void Acquire(SafeFileHandle handle, string path, bool write, bool snapshot)
    {
        if (!IsSupported)
            return;
        int fd = (int)handle.DangerousGetHandle();
        int perms = 1 << ConsistentRead | (write ? 1 << Write : 0);
        int notShared = 1 << Write | (snapshot ? 1 << Resize : 0);
        for (int i = 0; i < s_names.Length; i++)
        {
            if ((perms & 1 << i) != 0)
                Lock(fd, PermBase + i);
            if ((notShared & 1 << i) != 0)
                Lock(fd, SharedBase + i);
        }
        for (int i = 0; i < s_names.Length; i++)
        {
            if ((perms & 1 << i) != 0 && HeldByOthers(fd, SharedBase + i))
                throw new IOException($"Failed to get \"{s_names[i]}\" lock: is another process using the image [{path}]?");
        }
        for (int i = 0; i < s_names.Length; i++)
        {
            if ((notShared & 1 << i) != 0 && HeldByOthers(fd, PermBase + i))
                throw new IOException($"Failed to get shared \"{s_names[i]}\" lock: is another process using the image [{path}]?");
        }
    }

    private static void Lock(int fd, int offset)
    {
        var lk = new Flock { Type = FRdLck, Whence = 0, Start = offset, Length = 1 };
        if (Fcntl(fd, FOfdSetLk, ref lk) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            // EAGAIN/EACCES: someone holds a write lock there (not QEMU's way, but a conflict all the same).
            if (errno is 11 or 13)
                throw new IOException($"could not lock byte {offset}: is another process using the image?");
            // EINVAL/ENOLCK (a file system without OFD locks): QEMU warns and goes on without locking.
        }
    }

    /// <summary>Whether another open file description holds a lock on the byte (F_OFD_GETLK with a write-lock probe).</summary>
    private static bool HeldByOthers(int fd, int offset)
    {
        var lk = new Flock { Type = FWrLck, Whence = 0, Start = offset, Length = 1 };
        if (Fcntl(fd, FOfdGetLk, ref lk) != 0)
            return false;
        return lk.Type != FUnLck;
    }
}
