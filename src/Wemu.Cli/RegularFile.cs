using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Wemu.Cli;

/// <summary>
/// Opens a host file the user named (kernel, initrd, firmware, disk image) and insists that it is a regular
/// file: a directory, FIFO, socket or device is refused with a one-line reason. On Linux the file is opened
/// with O_NONBLOCK and checked with statx on the open descriptor, so a FIFO can neither stall the open nor
/// slip in between the check and the read; /dev/zero or /dev/urandom are refused rather than read forever.
/// </summary>
public static unsafe class RegularFile
{
    private const int StatxSize = 256;
    private const ushort TypeMask = 0xF000, TypeRegular = 0x8000, TypeDirectory = 0x4000, TypeFifo = 0x1000,
        TypeCharDevice = 0x2000, TypeBlockDevice = 0x6000, TypeSocket = 0xC000;

    /// <summary>Opens <paramref name="path"/> for reading (or reading and writing); IOException with the reason otherwise.</summary>
    public static SafeFileHandle Open(string path, bool write, out long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            if (Directory.Exists(path))
                throw new IOException("is a directory");
            var h = File.OpenHandle(path, FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite);
            length = RandomAccess.GetLength(h);
            return h;
        }
        int fd = LibC.Open(path, (write ? LibC.ORdWr : LibC.ORdOnly) | LibC.ONonBlock | LibC.OCloExec | LibC.ONoCtty, 0);
        if (fd < 0)
        {
            int errno = LibC.Errno;
            // EISDIR: a directory opened for writing; say so as for reading.
            throw new IOException(errno switch
            {
                2 => "no such file",            // ENOENT
                21 => "is a directory",         // EISDIR: a directory opened for writing
                _ => Marshal.GetPInvokeErrorMessage(errno),
            });
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            byte* b = stackalloc byte[StatxSize];
            if (LibC.Statx(fd, "", LibC.AtEmptyPath, LibC.StatxBasicStats, b) != 0)
                throw new IOException(Marshal.GetPInvokeErrorMessage(LibC.Errno));
            var s = new ReadOnlySpan<byte>(b, StatxSize);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(s[28..]) & TypeMask);
            if (type != TypeRegular)
                throw new IOException(type switch
                {
                    TypeDirectory => "is a directory",
                    TypeFifo => "is a FIFO, not a regular file",
                    TypeCharDevice => "is a character device, not a regular file",
                    TypeBlockDevice => "is a block device, not a regular file",
                    TypeSocket => "is a socket, not a regular file",
                    _ => "is not a regular file",
                });
            length = (long)BinaryPrimitives.ReadUInt64LittleEndian(s[40..]);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The whole file, at most <paramref name="limit"/> bytes: a larger file is refused before anything is
    /// read (it could not fit in the guest's RAM anyway).
    /// </summary>
    public static byte[] ReadAll(string path, long limit)
    {
        using var handle = Open(path, write: false, out long length);
        if (length > limit)
            throw new IOException($"is larger than {QemuSize(limit)}");
        var bytes = new byte[length];
        int done = 0;
        while (done < bytes.Length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(done), done);
            if (n <= 0)
                break;
            done += n;
        }
        return done == bytes.Length ? bytes : bytes[..done];
    }

    private static string QemuSize(long bytes) => Wemu.Machines.QemuCommandLine.FormatSize((ulong)bytes);
}
