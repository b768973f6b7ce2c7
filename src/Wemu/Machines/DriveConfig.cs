namespace Wemu.Machines;

/// <summary>One <c>-drive</c>: a raw disk image on virtio-blk.</summary>
public sealed record DriveConfig(string File, string Interface = "virtio", string Format = "raw", bool Snapshot = false, bool ReadOnly = false);
