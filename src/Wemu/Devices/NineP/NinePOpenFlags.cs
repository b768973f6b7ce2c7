namespace Wemu.Devices.NineP;

/// <summary>
/// 9P2000.L open flags of Tlopen and Tlcreate (Linux include/net/9p/9p.h, P9_DOTL_*). They equal the asm-generic
/// open(2) values, but a host backend must translate them to its own (arm64 differs for DIRECTORY and NOFOLLOW).
/// </summary>
public static class NinePOpenFlags
{
    public const int AccessMask = 3;
    public const int ReadOnly = 0;
    public const int WriteOnly = 1;
    public const int ReadWrite = 2;
    public const int Create = 0x40;       // 0100
    public const int Exclusive = 0x80;    // 0200
    public const int NoCtty = 0x100;      // 0400
    public const int Truncate = 0x200;    // 01000
    public const int Append = 0x400;      // 02000
    public const int NonBlock = 0x800;    // 04000
    public const int DataSync = 0x1000;   // 010000
    public const int Directory = 0x10000; // 0200000
    public const int NoFollow = 0x20000;  // 0400000
    public const int Sync = 0x100000;     // 04000000

    /// <summary>True if the flags ask for write access or truncation (refused with EROFS on a read-only share).</summary>
    public static bool Writes(int flags) => (flags & AccessMask) != ReadOnly || (flags & Truncate) != 0;
}
