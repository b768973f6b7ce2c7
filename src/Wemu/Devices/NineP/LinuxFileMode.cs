namespace Wemu.Devices.NineP;

/// <summary>Linux st_mode bits (include/uapi/linux/stat.h), as 9P2000.L carries them.</summary>
public static class LinuxFileMode
{
    public const uint TypeMask = 0xF000;       // S_IFMT
    public const uint Socket = 0xC000;         // S_IFSOCK
    public const uint SymbolicLink = 0xA000;   // S_IFLNK
    public const uint Regular = 0x8000;        // S_IFREG
    public const uint BlockDevice = 0x6000;    // S_IFBLK
    public const uint Directory = 0x4000;      // S_IFDIR
    public const uint CharacterDevice = 0x2000; // S_IFCHR
    public const uint Fifo = 0x1000;           // S_IFIFO

    /// <summary>Permission bits with setuid, setgid and sticky (07777).</summary>
    public const uint PermissionMask = 0xFFF;

    /// <summary>S_ISUID | S_ISGID (06000): what makes an executable run as its owner or group.</summary>
    public const uint SetIdBits = 0xC00;

    public static bool IsDirectory(uint mode) => (mode & TypeMask) == Directory;

    public static bool IsRegular(uint mode) => (mode & TypeMask) == Regular;

    public static bool IsSymbolicLink(uint mode) => (mode & TypeMask) == SymbolicLink;

    /// <summary>The d_type of a directory entry (DT_* in include/linux/fs_types.h): the type bits shifted down.</summary>
    public static byte DirectoryEntryType(uint mode) => (byte)((mode & TypeMask) >> 12);
}
