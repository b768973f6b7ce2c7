namespace Wemu.Devices.NineP;

/// <summary>The fields of 9P2000.L Rstatfs (Linux struct p9_rstatfs, mirroring statfs(2)).</summary>
public struct FileSystemStats
{
    public uint Type;
    public uint BlockSize;
    public ulong Blocks;
    public ulong BlocksFree;
    public ulong BlocksAvailable;
    public ulong Files;
    public ulong FilesFree;
    public ulong FileSystemId;
    public uint NameLength;
}
