namespace Wemu.Machines;

/// <summary>
/// One host folder shared over virtio-9p: <c>-virtfs local,path=DIR,mount_tag=TAG</c> or
/// <c>-fsdev local,id=X,path=DIR</c> + <c>-device virtio-9p-device,fsdev=X,mount_tag=TAG</c>.
/// </summary>
/// <param name="SecurityModel">"none" (host owners and modes) or "mapped-xattr" (the guest's, in user.virtfs.* attributes).</param>
/// <param name="AllowSetId"><c>x-setid=on</c>: with "none", keep the guest's setuid/setgid bits.</param>
/// <param name="AllowRootOwner"><c>x-chown-root=on</c>: with "none", let the guest chown host files to uid/gid 0.</param>
/// <param name="AllowSpecialFiles"><c>x-special-files=on</c>: with "none", let the guest create real FIFOs and sockets.</param>
public sealed record SharedFolderConfig(string Path, string MountTag, string SecurityModel = "none", bool ReadOnly = false,
    bool AllowSetId = false, bool AllowRootOwner = false, bool AllowSpecialFiles = false);
