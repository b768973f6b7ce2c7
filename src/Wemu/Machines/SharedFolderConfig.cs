namespace Wemu.Machines;

/// <summary>
/// One host folder shared over virtio-9p: <c>-virtfs local,path=DIR,mount_tag=TAG</c> or
/// <c>-fsdev local,id=X,path=DIR</c> + <c>-device virtio-9p-device,fsdev=X,mount_tag=TAG</c>.
/// </summary>
/// <param name="SecurityModel">"none" or "mapped-xattr" (both serve the host's owners and modes as they are).</param>
public sealed record SharedFolderConfig(string Path, string MountTag, string SecurityModel = "none", bool ReadOnly = false);
