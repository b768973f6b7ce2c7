using Wemu.Devices.NineP;

namespace Wemu.Machines;

/// <summary>A file tree the host resolved for a virtio-9p device (a host directory natively, a memory tree in the page).</summary>
public sealed record SharedFolder(string MountTag, IFileSystem FileSystem);
