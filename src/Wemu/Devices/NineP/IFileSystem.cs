namespace Wemu.Devices.NineP;

/// <summary>
/// The host side of a shared folder (virtio-9p): a host directory natively, an in-memory tree in the page.
/// <para>
/// Paths are relative to the share's root: "" is the root, otherwise names joined by '/'. The 9P server builds
/// them only from names it has checked (non-empty, no '/', no NUL, never "." or ".."), and resolves ".." itself,
/// so a path never leaves the root by its spelling; a backend must still not follow symbolic links anywhere in a
/// path (the guest resolves links itself) and must reach nothing outside its root.
/// </para>
/// <para>
/// Every method returns a Linux errno value (<see cref="LinuxErrno"/>), 0 on success, and never throws for a
/// guest-caused condition. Calls come from the thread running the machine, one at a time.
/// </para>
/// </summary>
public interface IFileSystem
{
    /// <summary>A read-only share: every change fails with EROFS.</summary>
    bool IsReadOnly { get; }

    /// <summary>lstat: attributes of the file at <paramref name="path"/>, not following a final symbolic link.</summary>
    int Stat(string path, out FileStat stat);

    int StatFileSystem(out FileSystemStats stats);

    /// <summary>Lists the directory at <paramref name="path"/> into <paramref name="entries"/>, without "." and "..".</summary>
    int ReadDirectory(string path, List<DirectoryEntry> entries);

    /// <summary>Opens the regular file at <paramref name="path"/> for I/O (flags: <see cref="NinePOpenFlags"/>).</summary>
    /// <param name="uid">The guest user asking, for backends that check permissions themselves.</param>
    int Open(string path, int flags, uint uid, out IOpenFile? file);

    /// <summary>Creates regular file <paramref name="name"/> in <paramref name="directory"/> (failing with EEXIST if it exists) and opens it.</summary>
    int Create(string directory, string name, int flags, uint mode, uint uid, uint gid, out IOpenFile? file);

    int MakeDirectory(string directory, string name, uint mode, uint uid, uint gid);

    int MakeSymbolicLink(string directory, string name, string target, uint uid, uint gid);

    /// <summary>mknod: <paramref name="mode"/> carries the file type (FIFO, socket, device, regular).</summary>
    int MakeNode(string directory, string name, uint mode, uint major, uint minor, uint uid, uint gid);

    int ReadSymbolicLink(string path, out string target);

    /// <summary>Hard link: <paramref name="name"/> in <paramref name="directory"/> becomes another name of the file at <paramref name="target"/>.</summary>
    int Link(string target, string directory, string name);

    /// <summary>rename(2) semantics: replaces a compatible existing target.</summary>
    int Rename(string oldDirectory, string oldName, string newDirectory, string newName);

    /// <summary>unlinkat(2): removes an empty directory if <paramref name="directory"/> is set, otherwise a non-directory.</summary>
    int Remove(string parent, string name, bool directory);

    int SetAttributes(string path, in SetAttributesRequest request);
}
