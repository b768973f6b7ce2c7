using System.Buffers.Binary;
using System.Text;
using Wemu.Devices.NineP;
using static Wemu.Devices.NineP.LinuxErrno;

namespace Wemu.Cli;

/// <summary>
/// A host directory shared with the guest (<c>-virtfs local,path=DIR</c>).
/// <para>
/// Confinement: the share holds one handle on DIR and resolves every path itself, one name at a time, each
/// relative to the handle of the directory before it, with O_NOFOLLOW and O_DIRECTORY (openat). Names are never
/// joined into host path strings; ".", ".." and names with '/' are refused here even though the 9P server never
/// passes them; the final name of every operation is used through an *at call that does not follow symbolic
/// links (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, linkat without AT_SYMLINK_FOLLOW, fchmodat with AT_SYMLINK_NOFOLLOW).
/// So a symbolic link (absolute or relative, created by the guest or found in DIR) is only ever read as a link,
/// for the guest to resolve in its own file system, and a rename or link can only name places below DIR. Because
/// each step opens relative to a handle already held, swapping a directory for a link between check and use
/// (by another host process) fails instead of escaping. Hard links that the host itself made to files outside
/// DIR are, as in QEMU, the host's choice.
/// </para>
/// <para>
/// security_model=none: files carry the host's owner and mode; ownership changes the host refuses (EPERM) are
/// ignored, as QEMU's "none" does. Unlike QEMU, by default the guest cannot turn the share against the host:
/// setuid/setgid bits are dropped on create, mkdir, mknod and chmod (<see cref="HostShareOptions.AllowSetId"/>),
/// a change of owner to uid or gid 0 is ignored (<see cref="HostShareOptions.AllowRootOwner"/>), and mknod of a
/// FIFO or socket fails with EPERM (<see cref="HostShareOptions.AllowSpecialFiles"/>). Device nodes (mknod c/b)
/// are always refused, so a guest can never make the host open a device.
/// </para>
/// <para>
/// security_model=mapped-xattr, as QEMU's hw/9pfs/9p-local.c: the guest's uid, gid, mode (with the file type)
/// and rdev are kept in the user.virtfs.uid/gid/mode/rdev extended attributes (little-endian 4, 4, 4 and 8
/// bytes); files are created 0600 and directories 0700 on the host whatever the guest asks, and symbolic links,
/// FIFOs, sockets and device nodes are regular host files (a link's file holds its target). Host files without
/// the attributes show their host owner and mode.
/// </para>
/// <para>
/// In both models only regular files and directories are ever opened, non-blocking, so a FIFO or socket found
/// in DIR cannot stall the emulator. If DIR has kernel interface file systems mounted below it (/proc, /sys,
/// debugfs, cgroup, binfmt_misc... when a user shares "/"), their files are never opened or changed and nothing
/// is created in them (EACCES): writing /proc/PID/mem of the emulator itself would be host code execution.
/// </para>
/// </summary>
public sealed unsafe class HostDirectoryFileSystem : IFileSystem, IDisposable
{
    private const int StatxSize = 256;
    private const int DirentBufferSize = 64 * 1024;

    // security_model=mapped-xattr: QEMU's attribute names, and the host modes of what the guest creates
    // (SM_LOCAL_MODE_BITS, SM_LOCAL_DIR_MODE_BITS).
    private const string UidAttribute = "user.virtfs.uid", GidAttribute = "user.virtfs.gid";
    private const string ModeAttribute = "user.virtfs.mode", DeviceAttribute = "user.virtfs.rdev";
    private const uint MappedFileMode = 0x180, MappedDirectoryMode = 0x1C0; // 0600, 0700
    private const byte DirentRegular = 8; // DT_REG

    private readonly int _rootFd;
    private readonly ulong _rootDevice;
    private readonly bool _rootDeviceKnown;
    private readonly Dictionary<ulong, ulong> _deviceIndex = [];
    private readonly HostShareOptions _options;
    private readonly bool _mapped;
    private readonly Dictionary<ulong, bool> _kernelInterfaceDevices = [];

    /// <summary>
    /// statfs f_type of the kernel's interface file systems (include/uapi/linux/magic.h): procfs, sysfs, debugfs,
    /// tracefs, securityfs, cgroup v1/v2, configfs, bpf, efivarfs, pstore, selinuxfs, smackfs, binfmt_misc, fusectl.
    /// </summary>
    private static readonly HashSet<long> s_kernelInterfaceTypes =
    [
        0x9FA0, 0x62656572, 0x64626720, 0x74726163, 0x73636673, 0x27E0EB, 0x63677270, 0x62656570,
        0xCAFE4A11, 0xDE5E81E4, 0x6165676C, 0xF97CFF8C, 0x43415D53, 0x42494E4D, 0x65735543,
    ];

    /// <exception cref="IOException">DIR cannot be opened as a directory.</exception>
    public HostDirectoryFileSystem(string path, bool readOnly = false)
        : this(path, new HostShareOptions { ReadOnly = readOnly })
    {
    }

    /// <exception cref="IOException">DIR cannot be opened as a directory, or (mapped-xattr) its file system has no user extended attributes.</exception>
    public HostDirectoryFileSystem(string path, HostShareOptions options)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
            throw new PlatformNotSupportedException("sharing a host directory needs 64-bit Linux");
        Root = Path.GetFullPath(path);
        _options = options;
        _mapped = options.MappedXattr;
        IsReadOnly = options.ReadOnly;
        _rootFd = LibC.Open(Root, LibC.OPath | LibC.ODirectory | LibC.OCloExec, 0);
        if (_rootFd < 0)
        {
            int e = LibC.Errno;
            throw new IOException(e switch
            {
                ENOENT => "no such directory",
                ENOTDIR => "not a directory",
                EACCES => "permission denied",
                _ => $"error {e}",
            });
        }
        if (StatDescriptor(_rootFd, out _, out _rootDevice) != 0)
        {
            LibC.Close(_rootFd);
            throw new IOException("cannot read its attributes");
        }
        _rootDeviceKnown = true;
        if (OnKernelInterface(_rootFd, _rootDevice))
        {
            LibC.Close(_rootFd);
            throw new IOException("it is a kernel interface (procfs, sysfs...), not a folder of files");
        }
        if (_mapped)
        {
            // A read of an attribute the root may lack tells whether the file system keeps user attributes at all.
            ulong probe;
            if (LibC.LGetXattr(ProcPath(_rootFd, "."), ModeAttribute, (byte*)&probe, sizeof(ulong)) < 0
                && LibC.Errno is not (ENODATA or ERANGE))
            {
                int e = LibC.Errno;
                LibC.Close(_rootFd);
                throw new IOException(e == EOPNOTSUPP
                    ? "its file system does not support user extended attributes (security_model=mapped-xattr needs them)"
                    : $"cannot read its extended attributes (error {e})");
            }
        }
    }

    public string Root { get; }

    public bool IsReadOnly { get; }

    public void Dispose() => LibC.Close(_rootFd);

    // --- attributes ----------------------------------------------------------------------------------------

    public int Stat(string path, out FileStat stat)
    {
        stat = default;
        int e = Locate(path, out int dir, out string name);
        if (e != 0)
            return e;
        try
        {
            e = StatAt(dir, name, LibC.AtSymlinkNoFollow, out stat);
            if (e == 0 && _mapped)
                ReadMappedAttributes(ProcPath(dir, name), -1, ref stat);
            return e;
        }
        finally
        {
            Release(dir);
        }
    }

    /// <summary>The attributes of an open file as the guest sees them (mapped ones with mapped-xattr).</summary>
    internal int StatOpenFile(int fd, out FileStat stat)
    {
        int e = StatDescriptor(fd, out stat, out _);
        if (e == 0 && _mapped)
            ReadMappedAttributes(null, fd, ref stat);
        return e;
    }

    internal int StatDescriptor(int fd, out FileStat stat) => StatDescriptor(fd, out stat, out _);

    private int StatDescriptor(int fd, out FileStat stat, out ulong device) =>
        StatAt(fd, "", LibC.AtEmptyPath | LibC.AtSymlinkNoFollow, out stat, out device);

    private int StatAt(int dir, string name, int flags, out FileStat stat) => StatAt(dir, name, flags, out stat, out _);

    private int StatAt(int dir, string name, int flags, out FileStat stat, out ulong device)
    {
        stat = default;
        device = 0;
        byte* b = stackalloc byte[StatxSize];
        if (LibC.Statx(dir, name, flags, LibC.StatxBasicStats, b) != 0)
            return LibC.Errno;
        var s = new ReadOnlySpan<byte>(b, StatxSize);
        // struct statx (include/uapi/linux/stat.h)
        stat.BlockSize = BinaryPrimitives.ReadUInt32LittleEndian(s[4..]);
        stat.LinkCount = BinaryPrimitives.ReadUInt32LittleEndian(s[16..]);
        stat.Uid = BinaryPrimitives.ReadUInt32LittleEndian(s[20..]);
        stat.Gid = BinaryPrimitives.ReadUInt32LittleEndian(s[24..]);
        stat.Mode = BinaryPrimitives.ReadUInt16LittleEndian(s[28..]);
        ulong inode = BinaryPrimitives.ReadUInt64LittleEndian(s[32..]);
        stat.Size = BinaryPrimitives.ReadUInt64LittleEndian(s[40..]);
        stat.Blocks = BinaryPrimitives.ReadUInt64LittleEndian(s[48..]);
        stat.AtimeSeconds = BinaryPrimitives.ReadInt64LittleEndian(s[64..]);
        stat.AtimeNanoseconds = BinaryPrimitives.ReadUInt32LittleEndian(s[72..]);
        stat.CtimeSeconds = BinaryPrimitives.ReadInt64LittleEndian(s[96..]);
        stat.CtimeNanoseconds = BinaryPrimitives.ReadUInt32LittleEndian(s[104..]);
        stat.MtimeSeconds = BinaryPrimitives.ReadInt64LittleEndian(s[112..]);
        stat.MtimeNanoseconds = BinaryPrimitives.ReadUInt32LittleEndian(s[120..]);
        stat.RawDevice = FileStat.MakeDevice(BinaryPrimitives.ReadUInt32LittleEndian(s[128..]), BinaryPrimitives.ReadUInt32LittleEndian(s[132..]));
        device = FileStat.MakeDevice(BinaryPrimitives.ReadUInt32LittleEndian(s[136..]), BinaryPrimitives.ReadUInt32LittleEndian(s[140..]));
        stat.Inode = QidPath(inode, device);
        return 0;
    }

    /// <summary>Inode numbers are unique per host file system: files on other file systems mounted below DIR get the device folded in.</summary>
    private ulong QidPath(ulong inode, ulong device)
    {
        if (device == _rootDevice || !_rootDeviceKnown)
            return inode;
        if (!_deviceIndex.TryGetValue(device, out ulong index))
            _deviceIndex[device] = index = (ulong)_deviceIndex.Count + 1;
        return inode ^ (index << 48);
    }

    public int StatFileSystem(out FileSystemStats stats)
    {
        stats = default;
        byte* b = stackalloc byte[128];
        if (LibC.FStatFs(_rootFd, b) != 0)
            return LibC.Errno;
        // struct statfs on 64-bit Linux: eleven 8-byte words (f_fsid is two ints), then spares.
        var s = new ReadOnlySpan<byte>(b, 128);
        stats.Type = (uint)BinaryPrimitives.ReadUInt64LittleEndian(s);
        stats.BlockSize = (uint)BinaryPrimitives.ReadUInt64LittleEndian(s[8..]);
        stats.Blocks = BinaryPrimitives.ReadUInt64LittleEndian(s[16..]);
        stats.BlocksFree = BinaryPrimitives.ReadUInt64LittleEndian(s[24..]);
        stats.BlocksAvailable = BinaryPrimitives.ReadUInt64LittleEndian(s[32..]);
        stats.Files = BinaryPrimitives.ReadUInt64LittleEndian(s[40..]);
        stats.FilesFree = BinaryPrimitives.ReadUInt64LittleEndian(s[48..]);
        stats.FileSystemId = BinaryPrimitives.ReadUInt64LittleEndian(s[56..]);
        stats.NameLength = (uint)BinaryPrimitives.ReadUInt64LittleEndian(s[64..]);
        return 0;
    }

    public int SetAttributes(string path, in SetAttributesRequest request)
    {
        if (IsReadOnly)
            return EROFS;
        int e = Locate(path, out int dir, out string name);
        if (e != 0)
            return e;
        try
        {
            e = RefuseKernelInterface(dir, name);
            if (e != 0)
                return e;
            if (request.Has(SetAttributesRequest.Size))
            {
                e = TruncateAt(dir, name, request.NewSize);
                if (e != 0)
                    return e;
            }
            if (_mapped)
            {
                e = SetMappedOwnerAndMode(dir, name, request);
                if (e != 0)
                    return e;
            }
            else
            {
                if (request.Has(SetAttributesRequest.Mode)
                    && LibC.FChmodAt(dir, name, HostPermissions(request.NewMode), LibC.AtSymlinkNoFollow) != 0)
                    return LibC.Errno;
                if (request.ChangesOwnership)
                {
                    // Giving a file to root is ignored unless opted in, like a change the host refuses.
                    uint uid = request.Has(SetAttributesRequest.Uid) && (request.NewUid != 0 || _options.AllowRootOwner) ? request.NewUid : uint.MaxValue;
                    uint gid = request.Has(SetAttributesRequest.Gid) && (request.NewGid != 0 || _options.AllowRootOwner) ? request.NewGid : uint.MaxValue;
                    // security_model=none: a change of owner the host does not allow is ignored (QEMU does the same).
                    if ((uid != uint.MaxValue || gid != uint.MaxValue)
                        && LibC.FChownAt(dir, name, uid, gid, LibC.AtSymlinkNoFollow) != 0 && LibC.Errno is not (EPERM or EINVAL))
                        return LibC.Errno;
                }
            }
            if (request.Has(SetAttributesRequest.Atime) || request.Has(SetAttributesRequest.Mtime))
            {
                long* times = stackalloc long[4];
                SetTime(times, request.Has(SetAttributesRequest.Atime), request.Has(SetAttributesRequest.AtimeSet), request.AtimeSeconds, request.AtimeNanoseconds);
                SetTime(times + 2, request.Has(SetAttributesRequest.Mtime), request.Has(SetAttributesRequest.MtimeSet), request.MtimeSeconds, request.MtimeNanoseconds);
                if (LibC.UtimensAt(dir, name, times, LibC.AtSymlinkNoFollow) != 0)
                    return LibC.Errno;
            }
            return 0;
        }
        finally
        {
            Release(dir);
        }

        static void SetTime(long* ts, bool change, bool given, long seconds, long nanoseconds)
        {
            ts[0] = given ? seconds : 0;
            ts[1] = !change ? LibC.UtimeOmit : given ? Math.Clamp(nanoseconds, 0, 999_999_999) : LibC.UtimeNow;
        }
    }

    /// <summary>mapped-xattr chmod/chown: only the attributes change; the host file keeps its own owner and mode.</summary>
    private int SetMappedOwnerAndMode(int dir, string name, in SetAttributesRequest request)
    {
        if (!request.Has(SetAttributesRequest.Mode) && !request.ChangesOwnership)
            return 0;
        string at = ProcPath(dir, name);
        if (request.Has(SetAttributesRequest.Mode))
        {
            int e = StatAt(dir, name, LibC.AtSymlinkNoFollow, out var st);
            if (e != 0)
                return e;
            ReadMappedAttributes(at, -1, ref st);
            e = SetAttribute(at, -1, ModeAttribute, (st.Mode & LinuxFileMode.TypeMask) | (request.NewMode & LinuxFileMode.PermissionMask), 4);
            if (e != 0)
                return e;
        }
        if (request.Has(SetAttributesRequest.Uid))
        {
            int e = SetAttribute(at, -1, UidAttribute, request.NewUid, 4);
            if (e != 0)
                return e;
        }
        return request.Has(SetAttributesRequest.Gid) ? SetAttribute(at, -1, GidAttribute, request.NewGid, 4) : 0;
    }

    private int TruncateAt(int dir, string name, ulong size)
    {
        if (size > long.MaxValue)
            return EFBIG;
        int e = OpenRegular(dir, name, LibC.OWrOnly, out int fd);
        if (e != 0)
            return e;
        e = LibC.FTruncate(fd, (long)size) == 0 ? 0 : LibC.Errno;
        LibC.Close(fd);
        return e;
    }

    // --- directories ---------------------------------------------------------------------------------------

    public int ReadDirectory(string path, List<DirectoryEntry> entries)
    {
        int e = Locate(path, out int dir, out string name);
        if (e != 0)
            return e;
        int fd = LibC.OpenAt(dir, name, LibC.ORdOnly | LibC.ODirectory | LibC.ONoFollow | LibC.OCloExec, 0);
        e = fd < 0 ? NoFollowErrno(LibC.Errno) : 0;
        Release(dir);
        if (e != 0)
            return e;
        byte[] buffer = new byte[DirentBufferSize];
        try
        {
            fixed (byte* b = buffer)
            {
                while (true)
                {
                    nint n = LibC.GetDents64(fd, b, (nuint)buffer.Length);
                    if (n < 0)
                    {
                        if (LibC.Errno == LibC.EINTR)
                            continue;
                        return LibC.Errno;
                    }
                    if (n == 0)
                        return 0;
                    // struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name (NUL-terminated)
                    for (int at = 0; at < n;)
                    {
                        var d = buffer.AsSpan(at, (int)n - at);
                        ulong inode = BinaryPrimitives.ReadUInt64LittleEndian(d);
                        int length = BinaryPrimitives.ReadUInt16LittleEndian(d[16..]);
                        byte type = d[18];
                        var rawName = d[19..length];
                        int nul = rawName.IndexOf((byte)0);
                        if (nul >= 0)
                            rawName = rawName[..nul];
                        at += Math.Max(length, 1);
                        if (rawName.SequenceEqual("."u8) || rawName.SequenceEqual(".."u8))
                            continue;
                        string entryName = Encoding.UTF8.GetString(rawName);
                        uint mode = (uint)type << 12;
                        // mapped-xattr: a regular host file may be a link, FIFO or device to the guest (QEMU says
                        // DT_UNKNOWN for every entry; one attribute read gives the right type).
                        if (_mapped && type == DirentRegular && GetAttribute(ProcPath(fd, entryName), -1, ModeAttribute, 4, out ulong mapped))
                            mode = (uint)mapped & LinuxFileMode.TypeMask;
                        if (type == 0 && !_mapped && StatAt(fd, entryName, LibC.AtSymlinkNoFollow, out var st) == 0)
                            mode = st.Mode & LinuxFileMode.TypeMask; // DT_UNKNOWN: ask
                        entries.Add(new DirectoryEntry(entryName, inode, mode));
                    }
                }
            }
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    public int MakeDirectory(string directory, string name, uint mode, uint uid, uint gid)
    {
        int e = LocateNew(directory, name, out int dir);
        if (e != 0)
            return e;
        try
        {
            if (_mapped)
            {
                if (LibC.MkdirAt(dir, name, MappedDirectoryMode) != 0)
                    return LibC.Errno;
                e = SetMappedAttributes(ProcPath(dir, name), -1, LinuxFileMode.Directory | (mode & LinuxFileMode.PermissionMask), uid, gid, null);
                if (e != 0)
                    LibC.UnlinkAt(dir, name, LibC.AtRemoveDir);
                return e;
            }
            if (LibC.MkdirAt(dir, name, HostPermissions(mode)) != 0)
                return LibC.Errno;
            ExactMode(dir, name, HostPermissions(mode));
            return 0;
        }
        finally
        {
            Release(dir);
        }
    }

    // --- files ---------------------------------------------------------------------------------------------

    public int Open(string path, int flags, uint uid, out IOpenFile? file)
    {
        file = null;
        if (IsReadOnly && NinePOpenFlags.Writes(flags))
            return EROFS;
        int e = Locate(path, out int dir, out string name);
        if (e != 0)
            return e;
        try
        {
            int host = (flags & NinePOpenFlags.AccessMask) switch
            {
                NinePOpenFlags.WriteOnly => LibC.OWrOnly,
                NinePOpenFlags.ReadWrite => LibC.ORdWr,
                _ => LibC.ORdOnly,
            };
            bool truncate = (flags & NinePOpenFlags.Truncate) != 0 && host != LibC.ORdOnly;
            // mapped-xattr: truncate only once the file is known to be a regular file to the guest too (a link's
            // target or a node's attributes live in a regular host file that O_TRUNC would clear first).
            if (truncate && !_mapped)
                host |= LibC.OTrunc;
            if ((flags & NinePOpenFlags.Append) != 0)
                host |= LibC.OAppend;
            e = OpenRegular(dir, name, host, out int fd);
            if (e == 0 && truncate && _mapped && LibC.FTruncate(fd, 0) != 0)
            {
                e = LibC.Errno;
                LibC.Close(fd);
            }
            if (e == 0)
                file = new HostOpenFile(this, fd);
            return e;
        }
        finally
        {
            Release(dir);
        }
    }

    /// <summary>
    /// Opens a regular file under <paramref name="dir"/>, never following a link, never blocking on a FIFO, and
    /// closing anything that turns out not to be a regular file before it is used.
    /// </summary>
    private int OpenRegular(int dir, string name, int hostFlags, out int fd, bool mappedRegular = true)
    {
        fd = -1;
        int e = RefuseKernelInterface(dir, name); // before opening: some such files act on open (O_TRUNC of tracefs "trace")
        if (e != 0)
            return e;
        do
            fd = LibC.OpenAt(dir, name, hostFlags | LibC.ONoFollow | LibC.OCloExec | LibC.ONoCtty | LibC.ONonBlock, 0);
        while (fd < 0 && LibC.Errno == LibC.EINTR);
        if (fd < 0)
            return LibC.Errno;
        e = StatDescriptor(fd, out var st, out ulong device);
        if (e == 0 && OnKernelInterface(fd, device))
            e = EACCES; // swapped in by the host between the check and the open
        if (e == 0 && !LinuxFileMode.IsRegular(st.Mode))
            e = LinuxFileMode.IsDirectory(st.Mode) ? EISDIR : ENXIO;
        // mapped-xattr: a link, FIFO or device kept as a regular host file is not opened as a file either.
        if (e == 0 && _mapped && mappedRegular && GetAttribute(null, fd, ModeAttribute, 4, out ulong mapped)
            && !LinuxFileMode.IsRegular((uint)mapped))
            e = LinuxFileMode.IsSymbolicLink((uint)mapped) ? ELOOP : ENXIO;
        if (e != 0)
        {
            LibC.Close(fd);
            fd = -1;
        }
        return e;
    }

    public int Create(string directory, string name, int flags, uint mode, uint uid, uint gid, out IOpenFile? file)
    {
        file = null;
        int e = LocateNew(directory, name, out int dir);
        if (e != 0)
            return e;
        try
        {
            int host = (flags & NinePOpenFlags.AccessMask) switch
            {
                NinePOpenFlags.WriteOnly => LibC.OWrOnly,
                NinePOpenFlags.ReadWrite => LibC.ORdWr,
                _ => LibC.ORdOnly,
            };
            if ((flags & NinePOpenFlags.Append) != 0)
                host |= LibC.OAppend;
            uint hostMode = _mapped ? MappedFileMode : HostPermissions(mode);
            int fd = LibC.OpenAt(dir, name, host | LibC.OCreat | LibC.OExcl | LibC.ONoFollow | LibC.OCloExec | LibC.ONoCtty, hostMode);
            if (fd < 0)
                return LibC.Errno;
            if (_mapped)
            {
                e = SetMappedAttributes(null, fd, LinuxFileMode.Regular | (mode & LinuxFileMode.PermissionMask), uid, gid, null);
                if (e != 0)
                {
                    LibC.Close(fd);
                    LibC.UnlinkAt(dir, name, 0);
                    return e;
                }
            }
            else
                LibC.FChmod(fd, hostMode); // the guest's mode, not masked by the host's umask
            file = new HostOpenFile(this, fd);
            return 0;
        }
        finally
        {
            Release(dir);
        }
    }

    public int MakeSymbolicLink(string directory, string name, string target, uint uid, uint gid)
    {
        int e = LocateNew(directory, name, out int dir);
        if (e != 0)
            return e;
        try
        {
            if (!_mapped)
                return LibC.SymlinkAt(target, dir, name) == 0 ? 0 : LibC.Errno;
            // mapped-xattr: a regular file holding the target, its type in the mode attribute (QEMU's local_symlink).
            int fd = LibC.OpenAt(dir, name, LibC.OWrOnly | LibC.OCreat | LibC.OExcl | LibC.ONoFollow | LibC.OCloExec | LibC.ONoCtty, MappedFileMode);
            if (fd < 0)
                return LibC.Errno;
            byte[] bytes = Encoding.UTF8.GetBytes(target);
            int written = 0;
            e = 0;
            fixed (byte* p = bytes)
            {
                while (written < bytes.Length && e == 0)
                {
                    nint n = LibC.PWrite(fd, p + written, (nuint)(bytes.Length - written), written);
                    if (n > 0)
                        written += (int)n;
                    else if (n == 0 || LibC.Errno != LibC.EINTR)
                        e = n == 0 ? EIO : LibC.Errno;
                }
            }
            if (e == 0)
                e = SetMappedAttributes(null, fd, LinuxFileMode.SymbolicLink | 0x1FF /* 0777 */, uid, gid, null);
            LibC.Close(fd);
            if (e != 0)
                LibC.UnlinkAt(dir, name, 0);
            return e;
        }
        finally
        {
            Release(dir);
        }
    }

    public int MakeNode(string directory, string name, uint mode, uint major, uint minor, uint uid, uint gid)
    {
        uint type = mode & LinuxFileMode.TypeMask;
        if (!_mapped && type is not (LinuxFileMode.Regular or LinuxFileMode.Fifo or LinuxFileMode.Socket))
            return EPERM; // no device nodes on the host (see the class comment)
        int e = LocateNew(directory, name, out int dir);
        if (e != 0)
            return e;
        try
        {
            if (!_mapped && type != LinuxFileMode.Regular && !_options.AllowSpecialFiles)
                return EPERM; // no FIFOs or sockets for host programs to block on, unless opted in
            if (_mapped)
            {
                // Every node is a regular 0600 host file; what the guest made is in the attributes (QEMU's local_mknod).
                if (LibC.MknodAt(dir, name, LinuxFileMode.Regular | MappedFileMode, 0) != 0)
                    return LibC.Errno;
                ulong? device = type is LinuxFileMode.CharacterDevice or LinuxFileMode.BlockDevice ? FileStat.MakeDevice(major, minor) : null;
                e = SetMappedAttributes(ProcPath(dir, name), -1, type | (mode & LinuxFileMode.PermissionMask), uid, gid, device);
                if (e != 0)
                    LibC.UnlinkAt(dir, name, 0);
                return e;
            }
            if (LibC.MknodAt(dir, name, type | HostPermissions(mode), 0) != 0)
                return LibC.Errno;
            ExactMode(dir, name, HostPermissions(mode));
            return 0;
        }
        finally
        {
            Release(dir);
        }
    }

    public int ReadSymbolicLink(string path, out string target)
    {
        target = "";
        int e = Locate(path, out int dir, out string name);
        if (e != 0)
            return e;
        try
        {
            const int Max = NinePServer.MaxPathBytes + 1;
            byte* b = stackalloc byte[Max];
            nint n;
            if (_mapped && StatAt(dir, name, LibC.AtSymlinkNoFollow, out var st) == 0 && LinuxFileMode.IsRegular(st.Mode))
            {
                // mapped-xattr: a link is a regular file holding its target.
                e = OpenRegular(dir, name, LibC.ORdOnly, out int fd, mappedRegular: false);
                if (e != 0)
                    return e;
                try
                {
                    if (!GetAttribute(null, fd, ModeAttribute, 4, out ulong mapped) || !LinuxFileMode.IsSymbolicLink((uint)mapped))
                        return EINVAL;
                    do
                        n = LibC.PRead(fd, b, Max, 0);
                    while (n < 0 && LibC.Errno == LibC.EINTR);
                    if (n < 0)
                        return LibC.Errno;
                }
                finally
                {
                    LibC.Close(fd);
                }
            }
            else
            {
                n = LibC.ReadlinkAt(dir, name, b, Max);
                if (n < 0)
                    return LibC.Errno;
            }
            if (n >= Max)
                return ENAMETOOLONG;
            target = Encoding.UTF8.GetString(b, (int)n);
            return 0;
        }
        finally
        {
            Release(dir);
        }
    }

    public int Link(string target, string directory, string name)
    {
        if (IsReadOnly)
            return EROFS;
        int e = Locate(target, out int targetDir, out string targetName);
        if (e != 0)
            return e;
        try
        {
            e = LocateNew(directory, name, out int dir);
            if (e != 0)
                return e;
            try
            {
                // flags 0: a link to a symbolic link is a link to the link itself, never to what it points at.
                return LibC.LinkAt(targetDir, targetName, dir, name, 0) == 0 ? 0 : LibC.Errno;
            }
            finally
            {
                Release(dir);
            }
        }
        finally
        {
            Release(targetDir);
        }
    }

    public int Rename(string oldDirectory, string oldName, string newDirectory, string newName)
    {
        if (IsReadOnly)
            return EROFS;
        if (!IsName(oldName))
            return EINVAL;
        int e = LocateNew(oldDirectory, oldName, out int oldDir);
        if (e != 0)
            return e;
        try
        {
            e = LocateNew(newDirectory, newName, out int newDir);
            if (e != 0)
                return e;
            try
            {
                return LibC.RenameAt(oldDir, oldName, newDir, newName) == 0 ? 0 : LibC.Errno;
            }
            finally
            {
                Release(newDir);
            }
        }
        finally
        {
            Release(oldDir);
        }
    }

    public int Remove(string parent, string name, bool directory)
    {
        int e = LocateNew(parent, name, out int dir);
        if (e != 0)
            return e;
        try
        {
            return LibC.UnlinkAt(dir, name, directory ? LibC.AtRemoveDir : 0) == 0 ? 0 : LibC.Errno;
        }
        finally
        {
            Release(dir);
        }
    }

    // --- resolution ----------------------------------------------------------------------------------------

    /// <summary>The guest's mode exactly (creation modes are masked by the host process's umask).</summary>
    private static void ExactMode(int dir, string name, uint mode) =>
        LibC.FChmodAt(dir, name, mode & LinuxFileMode.PermissionMask, LibC.AtSymlinkNoFollow);

    /// <summary>security_model=none: the permission bits a host file may get, without setuid/setgid unless opted in.</summary>
    private uint HostPermissions(uint mode) =>
        mode & (_options.AllowSetId ? LinuxFileMode.PermissionMask : LinuxFileMode.PermissionMask & ~LinuxFileMode.SetIdBits);

    // --- security_model=mapped-xattr -----------------------------------------------------------------------

    /// <summary>
    /// A path naming <paramref name="name"/> in the directory held by <paramref name="dir"/> without resolving any
    /// other name (the directory's /proc magic link), for the l*xattr calls, which have no *at form (QEMU does
    /// the same). With l*xattr, a final symbolic link is not followed.
    /// </summary>
    private static string ProcPath(int dir, string name) => $"/proc/self/fd/{dir}/{name}";

    /// <summary>Replaces the host's owner, mode and rdev with the guest's, where the attributes hold them.</summary>
    private static void ReadMappedAttributes(string? path, int fd, ref FileStat stat)
    {
        if (GetAttribute(path, fd, UidAttribute, 4, out ulong uid))
            stat.Uid = (uint)uid;
        if (GetAttribute(path, fd, GidAttribute, 4, out ulong gid))
            stat.Gid = (uint)gid;
        if (GetAttribute(path, fd, ModeAttribute, 4, out ulong mode))
        {
            // The mapped type counts for regular host files only: a host directory or link stays what it is.
            uint type = LinuxFileMode.IsRegular(stat.Mode) ? (uint)mode & LinuxFileMode.TypeMask : stat.Mode & LinuxFileMode.TypeMask;
            stat.Mode = type | ((uint)mode & LinuxFileMode.PermissionMask);
        }
        if (GetAttribute(path, fd, DeviceAttribute, 8, out ulong device))
            stat.RawDevice = device;
    }

    private static int SetMappedAttributes(string? path, int fd, uint mode, uint uid, uint gid, ulong? device)
    {
        int e = SetAttribute(path, fd, UidAttribute, uid, 4);
        if (e == 0)
            e = SetAttribute(path, fd, GidAttribute, gid, 4);
        if (e == 0)
            e = SetAttribute(path, fd, ModeAttribute, mode, 4);
        if (e == 0 && device is ulong d)
            e = SetAttribute(path, fd, DeviceAttribute, d, 8);
        return e;
    }

    /// <summary>Reads a little-endian attribute of exactly <paramref name="size"/> bytes, by path (l*) or descriptor (f*).</summary>
    private static bool GetAttribute(string? path, int fd, string name, int size, out ulong value)
    {
        byte* b = stackalloc byte[8];
        nint n = path != null ? LibC.LGetXattr(path, name, b, (nuint)size) : LibC.FGetXattr(fd, name, b, (nuint)size);
        value = n != size ? 0 : size == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(b, 4))
            : BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(b, 8));
        return n == size;
    }

    private static int SetAttribute(string? path, int fd, string name, ulong value, int size)
    {
        byte* b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(b, 8), value);
        int r = path != null ? LibC.LSetXattr(path, name, b, (nuint)size, 0) : LibC.FSetXattr(fd, name, b, (nuint)size, 0);
        return r == 0 ? 0 : LibC.Errno;
    }

    private static bool IsName(string name) =>
        name.Length > 0 && name != "." && name != ".." && !name.Contains('/') && !name.Contains('\0');

    /// <summary>
    /// Splits a share path into the handle of its directory and its last name ("." for the root itself).
    /// The handle must go back through <see cref="Release"/>.
    /// </summary>
    private int Locate(string path, out int dir, out string name)
    {
        if (path.Length == 0)
        {
            dir = _rootFd;
            name = ".";
            return 0;
        }
        int slash = path.LastIndexOf('/');
        name = path[(slash + 1)..];
        if (!IsName(name))
        {
            dir = -1;
            return EINVAL;
        }
        return OpenDirectory(slash < 0 ? "" : path[..slash], out dir);
    }

    /// <summary>The directory handle for creating or removing <paramref name="name"/>, with the checks every change makes.</summary>
    private int LocateNew(string directory, string name, out int dir)
    {
        dir = -1;
        if (IsReadOnly)
            return EROFS;
        if (!IsName(name))
            return EINVAL;
        if (Encoding.UTF8.GetByteCount(name) > NinePServer.MaxNameBytes)
            return ENAMETOOLONG;
        int e = OpenDirectory(directory, out dir);
        if (e == 0 && dir != _rootFd)
        {
            // No mkdir in /sys/fs/cgroup, no rename or unlink in /proc: nothing changes in a kernel interface.
            e = StatDescriptor(dir, out _, out ulong device);
            if (e == 0 && OnKernelInterface(dir, device))
                e = EACCES;
            if (e != 0)
            {
                Release(dir);
                dir = -1;
            }
        }
        return e;
    }

    /// <summary>EACCES if <paramref name="name"/> in <paramref name="dir"/> lives on a kernel interface file system.</summary>
    private int RefuseKernelInterface(int dir, string name)
    {
        int e = StatAt(dir, name, LibC.AtSymlinkNoFollow, out _, out ulong device);
        if (e != 0 || device == _rootDevice)
            return e;
        int fd = LibC.OpenAt(dir, name, LibC.OPath | LibC.ONoFollow | LibC.OCloExec, 0);
        if (fd < 0)
            return LibC.Errno;
        try
        {
            return OnKernelInterface(fd, device) ? EACCES : 0;
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    /// <summary>
    /// True if <paramref name="fd"/> (on <paramref name="device"/>) is on a kernel interface file system. The
    /// share's own device never is (checked once at start); others are asked once each with fstatfs.
    /// </summary>
    private bool OnKernelInterface(int fd, ulong device)
    {
        if (device == _rootDevice && _rootDeviceKnown && fd != _rootFd)
            return false;
        if (_kernelInterfaceDevices.TryGetValue(device, out bool kernel))
            return kernel;
        byte* b = stackalloc byte[128];
        if (LibC.FStatFs(fd, b) != 0)
            return true; // cannot tell: treat as one
        kernel = s_kernelInterfaceTypes.Contains((long)BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(b, 8)));
        _kernelInterfaceDevices[device] = kernel;
        return kernel;
    }

    /// <summary>
    /// Opens the directory at share path <paramref name="path"/> one name at a time from the root handle, each
    /// step an O_PATH|O_DIRECTORY|O_NOFOLLOW openat relative to the previous handle: no link is followed, no
    /// ".." is taken, nothing outside DIR can be named.
    /// </summary>
    private int OpenDirectory(string path, out int fd)
    {
        fd = _rootFd;
        if (path.Length == 0)
            return 0;
        int start = 0;
        while (true)
        {
            int slash = path.IndexOf('/', start);
            string name = slash < 0 ? path[start..] : path[start..slash];
            if (!IsName(name))
            {
                Release(fd);
                fd = -1;
                return EINVAL;
            }
            int next;
            do
                next = LibC.OpenAt(fd, name, LibC.OPath | LibC.ODirectory | LibC.ONoFollow | LibC.OCloExec, 0);
            while (next < 0 && LibC.Errno == LibC.EINTR);
            int e = next < 0 ? NoFollowErrno(LibC.Errno) : 0;
            Release(fd);
            fd = next;
            if (e != 0)
            {
                fd = -1;
                return e;
            }
            if (slash < 0)
                return 0;
            start = slash + 1;
        }
    }

    private void Release(int fd)
    {
        if (fd >= 0 && fd != _rootFd)
            LibC.Close(fd);
    }

    /// <summary>A link met where a directory or file was expected reads as "not a directory", as a walk would see it.</summary>
    private static int NoFollowErrno(int e) => e == ELOOP ? ENOTDIR : e;
}
