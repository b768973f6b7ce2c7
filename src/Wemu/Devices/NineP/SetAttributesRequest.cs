namespace Wemu.Devices.NineP;

/// <summary>
/// 9P2000.L Tsetattr (Linux struct p9_iattr_dotl): which fields to change (<see cref="Valid"/>, P9_ATTR_* bits)
/// and their values. Times with <see cref="Atime"/> or <see cref="Mtime"/> but without the matching *_SET bit
/// mean "now".
/// </summary>
public struct SetAttributesRequest
{
    public const uint Mode = 0x1, Uid = 0x2, Gid = 0x4, Size = 0x8, Atime = 0x10, Mtime = 0x20, Ctime = 0x40,
        AtimeSet = 0x80, MtimeSet = 0x100;

    public uint Valid;
    public uint NewMode;
    public uint NewUid;
    public uint NewGid;
    public ulong NewSize;
    public long AtimeSeconds;
    public long AtimeNanoseconds;
    public long MtimeSeconds;
    public long MtimeNanoseconds;

    public readonly bool Has(uint bit) => (Valid & bit) != 0;

    /// <summary>True if anything but times (which the owner may also set to "now") changes.</summary>
    public readonly bool ChangesOwnership => (Valid & (Uid | Gid)) != 0;
}
