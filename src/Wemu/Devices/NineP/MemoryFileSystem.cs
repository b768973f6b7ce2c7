using static Wemu.Devices.NineP.LinuxErrno;

namespace Wemu.Devices.NineP;

/// <summary>
/// A file tree in memory, shared with the guest over virtio-9p and with the host program through
/// <see cref="WriteFile"/>, <see cref="ReadFile"/>, <see cref="ListFiles"/> (the page's <c>vm.writeFile</c> etc.).
/// POSIX semantics the guest relies on: hard links, symbolic links (stored, never followed here), rename over
/// an existing name, open files surviving unlink, sparse files. A capacity bounds the bytes the guest can make
/// the host keep (ENOSPC beyond): file data, a <see cref="NodeCost"/> per file, every directory entry (hard links
/// included) with its name, and symbolic-link targets. Not thread-safe: call the host methods between machine
/// slices.
/// </summary>
public sealed class MemoryFileSystem : IFileSystem
{
    /// <summary>Bytes charged per file for its node, so a guest cannot exhaust host memory with empty files.</summary>
    public const int NodeCost = 256;

    /// <summary>
    /// Bytes charged per directory entry besides its name's UTF-16 characters (the dictionary slot and the string
    /// header), so hard links, which add an entry but no node, are not free.
    /// </summary>
    public const int EntryCost = 64;

    /// <summary>Largest file size (EFBIG beyond).</summary>
    public const long MaxFileSize = 1L << 40;

    /// <summary>statfs f_type: TMPFS_MAGIC.</summary>
    private const uint TmpfsMagic = 0x01021994;

    private readonly TimeProvider _time;
    private readonly MemoryFileNode _root;
    private ulong _nextInode = 2;
    private long _used;

    /// <param name="capacity">Bytes of file data and nodes the tree may hold.</param>
    /// <param name="readOnly">The guest sees a read-only share (EROFS); the host methods still write.</param>
    /// <param name="time">Clock for file times (default: the system clock).</param>
    public MemoryFileSystem(long capacity = 256L << 20, bool readOnly = false, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, NodeCost);
        Capacity = capacity;
        IsReadOnly = readOnly;
        _time = time ?? TimeProvider.System;
        _root = new MemoryFileNode(1, LinuxFileMode.Directory | 0x1ED /* 0755 */, 0, 0, Now()) { Links = 1 };
        _root.Parent = _root;
        _used = NodeCost;
    }

    /// <summary>The guest sees a read-only share (EROFS on every change); the host methods still write. May be switched at any time.</summary>
    public bool IsReadOnly { get; set; }

    public long Capacity { get; }

    /// <summary>
    /// Bytes in use: allocated file data (64 KiB chunks), <see cref="NodeCost"/> per file, <see cref="EntryCost"/>
    /// plus two bytes per name character per directory entry, two bytes per character of link targets.
    /// </summary>
    public long UsedBytes => _used;

    internal long Now()
    {
        var t = _time.GetUtcNow();
        return (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
    }

    // --- host API (the page) ------------------------------------------------------------------------------

    /// <summary>Creates or replaces the file at <paramref name="path"/> ("/dir/name"), creating missing directories.</summary>
    /// <exception cref="IOException">A path component is a file, the path is a directory, or the tree is full.</exception>
    /// <exception cref="ArgumentException">A name is "..", has NUL or is longer than NAME_MAX, or the path is longer than PATH_MAX.</exception>
    public void WriteFile(string path, ReadOnlySpan<byte> contents)
    {
        var names = HostPath(path);
        if (names.Length == 0)
            throw new IOException($"'{path}' is a directory");
        if (contents.Length > Capacity)
            throw new IOException("the file is larger than the shared file system");
        var dir = HostDirectory(names.AsSpan(0, names.Length - 1), create: true, path);
        string name = names[^1];
        if (!dir.Children!.TryGetValue(name, out var node))
        {
            if (!Reserve(NodeCost + NameCost(name)))
                throw new IOException("the shared file system is full");
            node = NewNode(LinuxFileMode.Regular | 0x1A4 /* 0644 */, 0, 0);
            Attach(dir, name, node);
        }
        else if (!node.IsRegular)
            throw new IOException($"'{path}' exists and is not a regular file");
        _used -= node.Truncate(0);
        if (WriteNode(node, 0, contents, out int written) != 0 || written != contents.Length)
            throw new IOException("the shared file system is full");
    }

    /// <summary>The contents of the regular file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No regular file there.</exception>
    public byte[] ReadFile(string path)
    {
        var node = HostLookup(path);
        if (node == null || !node.IsRegular)
            throw new FileNotFoundException($"no file '{path}'", path);
        // A sparse file can claim any size without holding the bytes: never allocate more than the share can hold.
        if (node.Size > Array.MaxLength || node.Size > Capacity)
            throw new IOException($"'{path}' is too large to read at once");
        var bytes = new byte[node.Size];
        node.Read(0, bytes);
        return bytes;
    }

    /// <summary>The entries of directory <paramref name="directory"/> (default the root), sorted by name.</summary>
    /// <exception cref="DirectoryNotFoundException">No directory there.</exception>
    public IReadOnlyList<MemoryFileInfo> ListFiles(string directory = "/")
    {
        var node = HostLookup(directory);
        if (node == null || !node.IsDirectory)
            throw new DirectoryNotFoundException($"no directory '{directory}'");
        var list = new List<MemoryFileInfo>(node.Children!.Count);
        foreach (var (name, child) in node.Children)
            list.Add(new MemoryFileInfo(name, child.IsDirectory, child.IsRegular ? child.Size : 0));
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>mkdir -p.</summary>
    public void CreateDirectory(string path) => HostDirectory(HostPath(path), create: true, path);

    /// <summary>True if something exists at <paramref name="path"/>.</summary>
    public bool Exists(string path) => HostLookup(path) != null;

    /// <summary>Removes the file or directory tree at <paramref name="path"/>; false if there was nothing.</summary>
    public bool Delete(string path)
    {
        var names = HostPath(path);
        if (names.Length == 0)
            throw new IOException("cannot delete the root");
        var parent = HostLookup(string.Join('/', names[..^1]));
        if (parent?.Children == null || !parent.Children.TryGetValue(names[^1], out var node))
            return false;
        DeleteTree(parent, names[^1], node);
        return true;
    }

    /// <summary>
    /// Removes a tree bottom-up without recursion: renames let the guest build a tree deeper than PATH_MAX allows
    /// to spell (a directory moved below another deep one), deep enough to overflow the stack.
    /// </summary>
    private void DeleteTree(MemoryFileNode parent, string name, MemoryFileNode node)
    {
        var pending = new Stack<(MemoryFileNode Parent, string Name, MemoryFileNode Node)>();
        pending.Push((parent, name, node));
        while (pending.Count > 0)
        {
            var (p, n, d) = pending.Peek();
            if (d.IsDirectory && d.Children!.Count > 0)
            {
                foreach (var (childName, child) in d.Children)
                    pending.Push((d, childName, child));
                continue;
            }
            pending.Pop();
            Detach(p, n, d);
        }
    }

    private static string[] HostPath(string path)
    {
        var names = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(n => n != ".").ToArray();
        int bytes = 0;
        foreach (var n in names)
        {
            // The same limits as the guest's (NAME_MAX, PATH_MAX), so every name fits a directory-listing reply.
            int nameBytes = System.Text.Encoding.UTF8.GetByteCount(n);
            if (n == ".." || n.Contains('\0') || nameBytes > NinePServer.MaxNameBytes)
                throw new ArgumentException($"invalid path '{Shorten(path)}'", nameof(path));
            bytes += nameBytes + 1;
        }
        if (bytes > NinePServer.MaxPathBytes)
            throw new ArgumentException($"path '{Shorten(path)}' is too long", nameof(path));
        return names;
    }

    private static string Shorten(string path) => path.Length <= 80 ? path : path[..80] + "...";

    private MemoryFileNode? HostLookup(string path)
    {
        var node = _root;
        foreach (var name in HostPath(path))
            if (node.Children == null || !node.Children.TryGetValue(name, out node))
                return null;
        return node;
    }

    private MemoryFileNode HostDirectory(ReadOnlySpan<string> names, bool create, string path)
    {
        var node = _root;
        foreach (var name in names)
        {
            if (!node.Children!.TryGetValue(name, out var next))
            {
                if (!create || !Reserve(NodeCost + NameCost(name)))
                    throw new IOException($"cannot create directory for '{path}'");
                next = NewNode(LinuxFileMode.Directory | 0x1ED, 0, 0);
                Attach(node, name, next);
            }
            if (!next.IsDirectory)
                throw new IOException($"'{name}' in '{path}' is not a directory");
            node = next;
        }
        return node;
    }

    // --- IFileSystem (the guest, through the 9P server) ----------------------------------------------------

    public int Stat(string path, out FileStat stat)
    {
        int e = Lookup(path, out var node);
        stat = e == 0 ? node!.ToStat() : default;
        return e;
    }

    public int StatFileSystem(out FileSystemStats stats)
    {
        stats = new FileSystemStats
        {
            Type = TmpfsMagic,
            BlockSize = 4096,
            Blocks = (ulong)(Capacity / 4096),
            BlocksFree = (ulong)Math.Max((Capacity - _used) / 4096, 0),
            BlocksAvailable = (ulong)Math.Max((Capacity - _used) / 4096, 0),
            Files = (ulong)(Capacity / NodeCost),
            FilesFree = (ulong)Math.Max((Capacity - _used) / NodeCost, 0),
            FileSystemId = 0x7765_6D75, // "wemu"
            NameLength = NinePServer.MaxNameBytes,
        };
        return 0;
    }

    public int ReadDirectory(string path, List<DirectoryEntry> entries)
    {
        int e = Lookup(path, out var node);
        if (e != 0)
            return e;
        if (!node!.IsDirectory)
            return ENOTDIR;
        int start = entries.Count;
        foreach (var (name, child) in node.Children!)
            entries.Add(new DirectoryEntry(name, child.Inode, child.Mode & LinuxFileMode.TypeMask));
        entries.Sort(start, entries.Count - start, Comparer<DirectoryEntry>.Create((a, b) => string.CompareOrdinal(a.Name, b.Name)));
        node.AtimeNs = Now();
        return 0;
    }

    public int Open(string path, int flags, uint uid, out IOpenFile? file)
    {
        file = null;
        int e = Lookup(path, out var node);
        if (e != 0)
            return e;
        if (node!.IsDirectory)
            return EISDIR;
        if (!node.IsRegular)
            return LinuxFileMode.IsSymbolicLink(node.Mode) ? ELOOP : ENXIO;
        bool write = NinePOpenFlags.Writes(flags);
        if (write && IsReadOnly)
            return EROFS;
        int access = flags & NinePOpenFlags.AccessMask;
        if ((access != NinePOpenFlags.WriteOnly && !Allowed(node, uid, 4)) || (write && !Allowed(node, uid, 2)))
            return EACCES;
        if ((flags & NinePOpenFlags.Truncate) != 0 && access != NinePOpenFlags.ReadOnly)
            TruncateNode(node, 0);
        file = new MemoryOpenFile(this, node, (flags & NinePOpenFlags.Append) != 0);
        return 0;
    }

    public int Create(string directory, string name, int flags, uint mode, uint uid, uint gid, out IOpenFile? file)
    {
        file = null;
        int e = NewEntry(directory, name, uid, NodeCost, out var dir);
        if (e != 0)
            return e;
        var node = NewNode(LinuxFileMode.Regular | (mode & LinuxFileMode.PermissionMask), uid, gid);
        Attach(dir!, name, node);
        file = new MemoryOpenFile(this, node, (flags & NinePOpenFlags.Append) != 0);
        return 0;
    }

    public int MakeDirectory(string directory, string name, uint mode, uint uid, uint gid)
    {
        int e = NewEntry(directory, name, uid, NodeCost, out var dir);
        if (e == 0)
            Attach(dir!, name, NewNode(LinuxFileMode.Directory | (mode & LinuxFileMode.PermissionMask), uid, gid));
        return e;
    }

    public int MakeSymbolicLink(string directory, string name, string target, uint uid, uint gid)
    {
        int e = NewEntry(directory, name, uid, NodeCost + TargetCost(target), out var dir);
        if (e != 0)
            return e;
        var node = NewNode(LinuxFileMode.SymbolicLink | 0x1FF /* 0777 */, uid, gid);
        node.Target = target;
        Attach(dir!, name, node);
        return 0;
    }

    public int MakeNode(string directory, string name, uint mode, uint major, uint minor, uint uid, uint gid)
    {
        int e = NewEntry(directory, name, uid, NodeCost, out var dir);
        if (e != 0)
            return e;
        var node = NewNode(mode & (LinuxFileMode.TypeMask | LinuxFileMode.PermissionMask), uid, gid);
        if ((mode & LinuxFileMode.TypeMask) is LinuxFileMode.CharacterDevice or LinuxFileMode.BlockDevice)
            node.RawDevice = FileStat.MakeDevice(major, minor);
        Attach(dir!, name, node);
        return 0;
    }

    public int ReadSymbolicLink(string path, out string target)
    {
        target = "";
        int e = Lookup(path, out var node);
        if (e != 0)
            return e;
        if (node!.Target == null)
            return EINVAL;
        target = node.Target;
        node.AtimeNs = Now();
        return 0;
    }

    public int Link(string target, string directory, string name)
    {
        if (IsReadOnly)
            return EROFS;
        int e = Lookup(target, out var node);
        if (e != 0)
            return e;
        if (node!.IsDirectory)
            return EPERM; // link(2): no hard links to directories
        e = NewEntry(directory, name, 0, 0, out var dir); // a new entry, no new node
        if (e != 0)
            return e;
        Attach(dir!, name, node);
        node.CtimeNs = Now();
        return 0;
    }

    public int Rename(string oldDirectory, string oldName, string newDirectory, string newName)
    {
        if (IsReadOnly)
            return EROFS;
        int e = LookupDirectory(oldDirectory, out var oldDir);
        if (e != 0)
            return e;
        e = LookupDirectory(newDirectory, out var newDir);
        if (e != 0)
            return e;
        if (!CheckName(oldName) || !CheckName(newName))
            return EINVAL;
        if (!oldDir!.Children!.TryGetValue(oldName, out var node))
            return ENOENT;
        newDir!.Children!.TryGetValue(newName, out var existing);
        if (existing == node)
            return 0; // rename(2): same file, nothing to do
        if (node.IsDirectory)
        {
            for (var p = newDir; ; p = p.Parent!)
            {
                if (p == node)
                    return EINVAL; // into its own subtree
                if (p == _root)
                    break;
            }
            if (existing != null && !existing.IsDirectory)
                return ENOTDIR;
            if (existing != null && existing.Children!.Count > 0)
                return ENOTEMPTY;
        }
        else if (existing?.IsDirectory == true)
            return EISDIR;
        // The entry's name changes: charge the new one before anything moves.
        long nameDelta = NameCost(newName) - NameCost(oldName);
        if (nameDelta > 0 && !Reserve(nameDelta))
            return ENOSPC;
        if (nameDelta < 0)
            _used += nameDelta;
        if (existing != null)
            Detach(newDir, newName, existing);
        oldDir.Children.Remove(oldName);
        if (node.IsDirectory)
            oldDir.Subdirectories--;
        newDir.Children[newName] = node;
        if (node.IsDirectory)
        {
            newDir.Subdirectories++;
            node.Parent = newDir;
        }
        long now = Now();
        oldDir.MtimeNs = oldDir.CtimeNs = newDir.MtimeNs = newDir.CtimeNs = node.CtimeNs = now;
        return 0;
    }

    public int Remove(string parent, string name, bool directory)
    {
        if (IsReadOnly)
            return EROFS;
        int e = LookupDirectory(parent, out var dir);
        if (e != 0)
            return e;
        if (!CheckName(name))
            return EINVAL;
        if (!dir!.Children!.TryGetValue(name, out var node))
            return ENOENT;
        if (directory)
        {
            if (!node.IsDirectory)
                return ENOTDIR;
            if (node.Children!.Count > 0)
                return ENOTEMPTY;
        }
        else if (node.IsDirectory)
            return EISDIR;
        Detach(dir, name, node);
        return 0;
    }

    public int SetAttributes(string path, in SetAttributesRequest request)
    {
        if (IsReadOnly)
            return EROFS;
        int e = Lookup(path, out var node);
        if (e != 0)
            return e;
        if (request.Has(SetAttributesRequest.Size))
        {
            if (node!.IsDirectory)
                return EISDIR;
            if (!node.IsRegular)
                return EINVAL;
            e = TruncateNode(node, request.NewSize);
            if (e != 0)
                return e;
        }
        long now = Now();
        if (request.Has(SetAttributesRequest.Mode))
            node!.Mode = (node.Mode & LinuxFileMode.TypeMask) | (request.NewMode & LinuxFileMode.PermissionMask);
        if (request.Has(SetAttributesRequest.Uid))
            node!.Uid = request.NewUid;
        if (request.Has(SetAttributesRequest.Gid))
            node!.Gid = request.NewGid;
        if (request.Has(SetAttributesRequest.Atime))
            node!.AtimeNs = request.Has(SetAttributesRequest.AtimeSet) ? ToNs(request.AtimeSeconds, request.AtimeNanoseconds) : now;
        if (request.Has(SetAttributesRequest.Mtime))
            node!.MtimeNs = request.Has(SetAttributesRequest.MtimeSet) ? ToNs(request.MtimeSeconds, request.MtimeNanoseconds) : now;
        node!.CtimeNs = now;
        return 0;
    }

    // --- internals -----------------------------------------------------------------------------------------

    internal int WriteNode(MemoryFileNode node, long offset, ReadOnlySpan<byte> source, out int written)
    {
        written = 0;
        if (offset < 0)
            return EINVAL;
        if (offset > MaxFileSize || source.Length > MaxFileSize - offset)
            return EFBIG;
        written = node.Write(offset, source, Reserve);
        if (written > 0)
            node.MtimeNs = node.CtimeNs = Now();
        return written < source.Length ? ENOSPC : 0;
    }

    internal int TruncateNode(MemoryFileNode node, ulong length)
    {
        if (length > MaxFileSize)
            return EFBIG;
        _used -= node.Truncate((long)length);
        node.MtimeNs = node.CtimeNs = Now();
        return 0;
    }

    /// <summary>Frees an unlinked file's data once no handle has it open.</summary>
    internal void ReleaseIfUnused(MemoryFileNode node)
    {
        if (node.Links > 0 || node.OpenCount > 0)
            return;
        _used -= NodeCost + node.AllocatedBytes + (node.Target == null ? 0 : TargetCost(node.Target));
        node.Chunks?.Clear();
    }

    private bool Reserve(long bytes)
    {
        if (_used + bytes > Capacity)
            return false;
        _used += bytes;
        return true;
    }

    private MemoryFileNode NewNode(uint mode, uint uid, uint gid) => new(_nextInode++, mode, uid, gid, Now());

    private void Attach(MemoryFileNode dir, string name, MemoryFileNode node)
    {
        dir.Children![name] = node;
        node.Links++;
        if (node.IsDirectory)
        {
            node.Parent = dir;
            dir.Subdirectories++;
        }
        dir.MtimeNs = dir.CtimeNs = Now();
    }

    private void Detach(MemoryFileNode dir, string name, MemoryFileNode node)
    {
        dir.Children!.Remove(name);
        _used -= NameCost(name);
        node.Links--;
        if (node.IsDirectory)
            dir.Subdirectories--;
        dir.MtimeNs = dir.CtimeNs = node.CtimeNs = Now();
        ReleaseIfUnused(node);
    }

    /// <summary>Bytes charged for a directory entry named <paramref name="name"/>.</summary>
    private static long NameCost(string name) => EntryCost + 2L * name.Length;

    private static long TargetCost(string target) => 2L * target.Length;

    /// <summary>
    /// Checks that <paramref name="name"/> can be created in <paramref name="directory"/> and charges its entry
    /// plus <paramref name="nodeCost"/> (a new node and its target; 0 for a hard link).
    /// </summary>
    private int NewEntry(string directory, string name, uint uid, long nodeCost, out MemoryFileNode? dir)
    {
        if (IsReadOnly)
        {
            dir = null;
            return EROFS;
        }
        int e = LookupDirectory(directory, out dir);
        if (e != 0)
            return e;
        if (!CheckName(name))
            return EINVAL;
        if (dir!.Children!.ContainsKey(name))
            return EEXIST;
        if (!Allowed(dir, uid, 2 | 1))
            return EACCES;
        return Reserve(nodeCost + NameCost(name)) ? 0 : ENOSPC;
    }

    /// <summary>
    /// Permission check for a non-root guest user (the guest kernel checks too; this keeps the tree honest for
    /// clients that do not): the owner's bits for the owner, otherwise group or other bits.
    /// </summary>
    private static bool Allowed(MemoryFileNode node, uint uid, uint want)
    {
        if (uid == 0)
            return true;
        uint bits = uid == node.Uid ? (node.Mode >> 6) & 7 : ((node.Mode >> 3) | node.Mode) & 7;
        return (bits & want) == want;
    }

    private static bool CheckName(string name) => name.Length > 0 && name != "." && name != ".." && !name.Contains('/') && !name.Contains('\0');

    /// <summary>Resolves a server path ("" or "a/b") without following symbolic links.</summary>
    private int Lookup(string path, out MemoryFileNode? node)
    {
        node = _root;
        if (path.Length == 0)
            return 0;
        foreach (var name in path.Split('/'))
        {
            if (!CheckName(name))
            {
                node = null;
                return EINVAL;
            }
            if (!node!.IsDirectory)
            {
                node = null;
                return ENOTDIR;
            }
            if (!node.Children!.TryGetValue(name, out node))
                return ENOENT;
        }
        return 0;
    }

    private int LookupDirectory(string path, out MemoryFileNode? node)
    {
        int e = Lookup(path, out node);
        if (e == 0 && !node!.IsDirectory)
            e = ENOTDIR;
        return e;
    }

    private static long ToNs(long seconds, long nanoseconds) => seconds * 1_000_000_000L + Math.Clamp(nanoseconds, 0, 999_999_999);
}
