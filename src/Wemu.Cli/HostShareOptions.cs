namespace Wemu.Cli;

/// <summary>
/// How a host directory is shared (<c>-virtfs local,...</c>): the security model and the opt-ins that give the
/// guest more power over host files than the safe defaults allow.
/// </summary>
public sealed record HostShareOptions
{
    /// <summary><c>readonly=on</c>: every change fails with EROFS.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// <c>security_model=mapped-xattr</c> (QEMU's): the guest's owner, mode and device number live in the
    /// <c>user.virtfs.uid/gid/mode/rdev</c> extended attributes; host files are created 0600 (directories 0700),
    /// and symbolic links, FIFOs, sockets and device nodes are regular host files (a link's file holds its target).
    /// </summary>
    public bool MappedXattr { get; init; }

    /// <summary><c>x-setid=on</c> (security_model=none): keep the guest's setuid/setgid bits on host files.</summary>
    public bool AllowSetId { get; init; }

    /// <summary><c>x-chown-root=on</c> (security_model=none): let the guest give host files to uid or gid 0.</summary>
    public bool AllowRootOwner { get; init; }

    /// <summary><c>x-special-files=on</c> (security_model=none): let the guest create real FIFOs and sockets on the host.</summary>
    public bool AllowSpecialFiles { get; init; }
}
