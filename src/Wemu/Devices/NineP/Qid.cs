namespace Wemu.Devices.NineP;

/// <summary>
/// The server's identity of a file (9P "qid", 13 bytes on the wire): type[1] version[4] path[8]. Two files are
/// the same file exactly when their paths are equal.
/// </summary>
public readonly record struct Qid(byte Type, uint Version, ulong Path)
{
    /// <summary>QTDIR: a directory.</summary>
    public const byte TypeDirectory = 0x80;

    /// <summary>QTSYMLINK: a symbolic link (9P2000.u/.L).</summary>
    public const byte TypeSymlink = 0x02;

    /// <summary>QTFILE: anything else.</summary>
    public const byte TypeFile = 0x00;

    public const int WireSize = 13;

    /// <summary>The qid of a file with these attributes; version as QEMU's stat_to_qid (mtime ^ size &lt;&lt; 8).</summary>
    public static Qid From(in FileStat stat) =>
        new(TypeOf(stat.Mode), (uint)((ulong)stat.MtimeSeconds ^ (stat.Size << 8)), stat.Inode);

    public static byte TypeOf(uint mode) => (mode & LinuxFileMode.TypeMask) switch
    {
        LinuxFileMode.Directory => TypeDirectory,
        LinuxFileMode.SymbolicLink => TypeSymlink,
        _ => TypeFile,
    };
}
