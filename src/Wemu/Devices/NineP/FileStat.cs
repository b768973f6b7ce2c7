namespace Wemu.Devices.NineP;

/// <summary>
/// A file's attributes, the fields of 9P2000.L Rgetattr (Linux struct p9_stat_dotl). <see cref="Inode"/> must be
/// unique per file within one file system (it becomes the qid path).
/// </summary>
public struct FileStat
{
    /// <summary>st_mode: type and permission bits (<see cref="LinuxFileMode"/>).</summary>
    public uint Mode;
    public uint Uid;
    public uint Gid;
    public ulong LinkCount;
    /// <summary>Device number of a device node, Linux encoding (major &lt;&lt; 8 | minor for small numbers; see <see cref="MakeDevice"/>).</summary>
    public ulong RawDevice;
    public ulong Size;
    public ulong BlockSize;
    /// <summary>Allocated 512-byte blocks.</summary>
    public ulong Blocks;
    public ulong Inode;
    public long AtimeSeconds;
    public long AtimeNanoseconds;
    public long MtimeSeconds;
    public long MtimeNanoseconds;
    public long CtimeSeconds;
    public long CtimeNanoseconds;

    /// <summary>Linux new_encode_dev: the dev_t userspace sees, from major and minor.</summary>
    public static ulong MakeDevice(uint major, uint minor) =>
        (minor & 0xFF) | ((ulong)(major & 0xFFF) << 8) | ((ulong)(minor & ~0xFFu) << 12);
}
