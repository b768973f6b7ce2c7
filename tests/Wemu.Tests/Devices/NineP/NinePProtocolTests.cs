using System.Text;
using Wemu.Devices.NineP;
using Xunit;
using static Wemu.Devices.NineP.LinuxErrno;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// Every 9P2000.L operation at message level, with the errno Linux expects, run against each backend (the
/// derived classes): what the guest sees must not depend on where the files live.
/// </summary>
public abstract class NinePProtocolTests
{
    private const int RdOnly = NinePOpenFlags.ReadOnly, WrOnly = NinePOpenFlags.WriteOnly, RdWr = NinePOpenFlags.ReadWrite;
    private const uint FileMode644 = 0x1A4, DirMode755 = 0x1ED;

    private NinePTestClient? _client;

    /// <summary>The file system under test (created once per test).</summary>
    protected abstract IFileSystem FileSystem { get; }

    /// <summary>A read-only share showing the same files.</summary>
    protected abstract IFileSystem ReadOnlyView();

    /// <summary>Writes a file behind the guest's back (the host or the page), creating directories.</summary>
    protected abstract void HostWrite(string path, byte[] contents);

    /// <summary>The file's bytes as the host sees them, or null if there is no file.</summary>
    protected abstract byte[]? HostRead(string path);

    protected abstract bool HostIsDirectory(string path);

    /// <summary>False for a host share with security_model=none and no x-special-files: mknod of a FIFO is EPERM.</summary>
    protected virtual bool CreatesFifos => true;

    private NinePTestClient C => _client ??= new NinePTestClient(FileSystem).Start();

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    // --- session -------------------------------------------------------------------------------------------

    [Fact]
    public void Version_Caps_Msize_At_512K_And_Answers_The_L_Dialect()
    {
        var c = new NinePTestClient(FileSystem);
        var r = c.Send(NinePMessageType.Tversion, m => m.U32(1 << 24).Str("9P2000.L"));
        Assert.Equal(NinePMessageType.Rversion, r.Type);
        Assert.Equal(512u * 1024, r.U32());
        Assert.Equal("9P2000.L", r.Str());

        r = c.Send(NinePMessageType.Tversion, m => m.U32(8192).Str("9P2000.L"));
        Assert.Equal(8192u, r.U32());
        Assert.Equal(8192u, c.Server.MessageSize);
    }

    [Fact]
    public void Version_Other_Dialects_Are_Unknown_And_Open_No_Session()
    {
        var c = new NinePTestClient(FileSystem);
        var r = c.Send(NinePMessageType.Tversion, m => m.U32(65536).Str("9P2000.u"));
        Assert.Equal(NinePMessageType.Rversion, r.Type);
        r.U32();
        Assert.Equal("unknown", r.Str());
        Assert.Equal(EPROTO, c.Attach(1, 0, out _));
    }

    [Fact]
    public void Version_Starts_A_New_Session_Clunking_Every_Fid()
    {
        Assert.Equal(0, C.Walk(RootFid, 2, out _));
        C.Send(NinePMessageType.Tversion, m => m.U32(65536).Str("9P2000.L"));
        Assert.Equal(0, C.Server.FidCount);
        Assert.Equal(EBADF, C.Clunk(2));
    }

    [Fact]
    public void Attach_Gives_The_Root_Directory_And_Refuses_A_Used_Fid()
    {
        var c = new NinePTestClient(FileSystem);
        c.Send(NinePMessageType.Tversion, m => m.U32(65536).Str("9P2000.L"));
        Assert.Equal(0, c.Attach(5, 0, out var qid));
        Assert.Equal(Qid.TypeDirectory, qid.Type);
        Assert.Equal(EBADF, c.Attach(5, 0, out _));
        Assert.Equal(EOPNOTSUPP, c.Send(NinePMessageType.Tauth, m => m.U32(6).Str("u").Str("").U32(0)).Errno);
    }

    [Fact]
    public void Flush_Answers_Rflush()
    {
        var r = C.Send(NinePMessageType.Tflush, m => m.U16(7));
        Assert.Equal(NinePMessageType.Rflush, r.Type);
        Assert.Empty(r.Body);
    }

    // --- walk ----------------------------------------------------------------------------------------------

    [Fact]
    public void Walk_Returns_A_Qid_Per_Name_With_Types()
    {
        HostWrite("a/b/file.txt", Bytes("x"));
        Assert.Equal(0, C.Walk(RootFid, 2, out var qids, "a", "b", "file.txt"));
        Assert.Equal(3, qids.Length);
        Assert.Equal(Qid.TypeDirectory, qids[0].Type);
        Assert.Equal(Qid.TypeDirectory, qids[1].Type);
        Assert.Equal(Qid.TypeFile, qids[2].Type);
        Assert.Equal(0, C.GetAttr(2, out var attr));
        Assert.Equal(qids[2].Path, attr.Qid.Path);
        Assert.NotEqual(qids[0].Path, qids[1].Path);
    }

    [Fact]
    public void Walk_Missing_First_Name_Is_ENOENT_And_Later_Names_Give_A_Partial_Walk()
    {
        HostWrite("a/file.txt", Bytes("x"));
        Assert.Equal(ENOENT, C.Walk(RootFid, 2, out _, "nope"));
        Assert.Equal(0, C.Walk(RootFid, 2, out var qids, "a", "nope", "deeper"));
        Assert.Single(qids);
        Assert.Equal(EBADF, C.Clunk(2)); // walk(5): newfid is not created by a partial walk
    }

    [Fact]
    public void Walk_With_No_Names_Clones_The_Fid()
    {
        Assert.Equal(0, C.Walk(RootFid, 2, out var qids));
        Assert.Empty(qids);
        Assert.Equal(0, C.GetAttr(2, out var a));
        Assert.Equal(Qid.TypeDirectory, a.Qid.Type);
        Assert.Equal(EBADF, C.Walk(RootFid, 2, out _)); // newfid in use
    }

    [Fact]
    public void Walk_DotDot_Goes_Up_And_Stops_At_The_Root()
    {
        HostWrite("a/b/f", Bytes("x"));
        C.GetAttr(RootFid, out var root);
        Assert.Equal(0, C.Walk(RootFid, 2, out var qids, "..", "..", ".."));
        Assert.All(qids, q => Assert.Equal(root.Qid.Path, q.Path));
        Assert.Equal(0, C.Walk(RootFid, 3, out qids, "a", "b", "..", ".."));
        Assert.Equal(root.Qid.Path, qids[3].Path);
        Assert.Equal(0, C.Walk(RootFid, 4, out qids, "a", ".", "b"));
        Assert.Equal(3, qids.Length);
    }

    [Fact]
    public void Walk_Through_A_File_Is_ENOTDIR()
    {
        HostWrite("f", Bytes("x"));
        Assert.Equal(0, C.Walk(RootFid, 2, out var qids, "f", "g"));
        Assert.Single(qids);
        Assert.Equal(0, C.Walk(RootFid, 3, out _, "f"));
        Assert.Equal(ENOTDIR, C.Walk(3, 4, out _, "g"));
        Assert.Equal(ENOTDIR, C.Walk(3, 4, out _, ".."));
    }

    [Fact]
    public void Walk_Of_More_Than_16_Names_Is_EINVAL()
    {
        var names = Enumerable.Repeat("..", 17).ToArray();
        Assert.Equal(EINVAL, C.Walk(RootFid, 2, out _, names));
        Assert.Equal(0, C.Walk(RootFid, 2, out var qids, names[..16]));
        Assert.Equal(16, qids.Length);
    }

    [Fact]
    public void Walk_Refuses_Names_With_Slash_Or_Nul()
    {
        HostWrite("a/b", Bytes("x"));
        Assert.Equal(EINVAL, C.Walk(RootFid, 2, out _, "a/b"));
        Assert.Equal(EINVAL, C.Walk(RootFid, 2, out _, "a\0b"));
        Assert.Equal(ENOENT, C.Walk(RootFid, 2, out _, ""));
    }

    // --- attributes ----------------------------------------------------------------------------------------

    [Fact]
    public void GetAttr_Reports_Type_Size_Links_And_Mode()
    {
        HostWrite("dir/f.bin", new byte[1234]);
        Check(C.WalkPath("dir/f.bin", 2));
        Assert.Equal(0, C.GetAttr(2, out var f));
        Assert.Equal(0x7FFUL, f.Valid);
        Assert.Equal(LinuxFileMode.Regular, f.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(1234UL, f.Size);
        Assert.Equal(1UL, f.Nlink);
        Check(C.WalkPath("dir", 3));
        Assert.Equal(0, C.GetAttr(3, out var d));
        Assert.Equal(LinuxFileMode.Directory, d.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(Qid.TypeDirectory, d.Qid.Type);
        Assert.True(d.Nlink >= 2);
    }

    [Fact]
    public void SetAttr_Changes_Mode_Times_And_Size()
    {
        HostWrite("f", Bytes("hello world"));
        Check(C.WalkPath("f", 2));
        Assert.Equal(0, C.SetAttr(2, SetAttributesRequest.Mode, mode: 0x180 /* 0600 */));
        Assert.Equal(0, C.SetAttr(2, SetAttributesRequest.Size, size: 5)); // before the times: truncation sets mtime
        Assert.Equal(0, C.SetAttr(2, SetAttributesRequest.Mtime | SetAttributesRequest.MtimeSet | SetAttributesRequest.Atime | SetAttributesRequest.AtimeSet,
            atimeSec: 1_000_000_000, atimeNsec: 5, mtimeSec: 1_234_567_890, mtimeNsec: 42));
        Assert.Equal(0, C.GetAttr(2, out var a));
        Assert.Equal(0x180u, a.Mode & LinuxFileMode.PermissionMask);
        Assert.Equal(1_234_567_890L, a.MtimeSec);
        Assert.Equal(42L, a.MtimeNsec);
        Assert.Equal(1_000_000_000L, a.AtimeSec);
        Assert.Equal(5UL, a.Size);
        Assert.Equal(Bytes("hello"), HostRead("f"));

        Assert.Equal(0, C.SetAttr(2, SetAttributesRequest.Size, size: 8)); // grows with zeros
        Assert.Equal(new byte[] { (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o', 0, 0, 0 }, C.ReadAll("f"));
    }

    [Fact]
    public void SetAttr_Mtime_Without_Set_Means_Now()
    {
        HostWrite("f", Bytes("x"));
        Check(C.WalkPath("f", 2));
        Check(C.SetAttr(2, SetAttributesRequest.Mtime | SetAttributesRequest.MtimeSet, mtimeSec: 100));
        Check(C.SetAttr(2, SetAttributesRequest.Mtime));
        Check(C.GetAttr(2, out var a));
        Assert.True(Math.Abs(a.MtimeSec - DateTimeOffset.UtcNow.ToUnixTimeSeconds()) < 120);
    }

    // --- open, create, read, write -------------------------------------------------------------------------

    [Fact]
    public void Lcreate_Write_Read_Round_Trip_And_The_Host_Sees_It()
    {
        Check(C.WalkPath("", 2));
        Assert.Equal(0, C.Lcreate(2, "new.txt", RdWr, FileMode644, out var qid));
        Assert.Equal(Qid.TypeFile, qid.Type);
        Assert.Equal(0, C.Write(2, 0, Bytes("guest data"), out uint n));
        Assert.Equal(10u, n);
        Assert.Equal(0, C.Read(2, 6, 100, out var back));
        Assert.Equal(Bytes("data"), back);
        Assert.Equal(0, C.Fsync(2));
        Assert.Equal(0, C.Clunk(2));
        Assert.Equal(Bytes("guest data"), HostRead("new.txt"));
        Check(C.WalkPath("new.txt", 3));
        Check(C.GetAttr(3, out var a));
        Assert.Equal(FileMode644, a.Mode & LinuxFileMode.PermissionMask); // exact, whatever the host's umask
    }

    [Fact]
    public void Lcreate_Errors_Are_Linux_Errnos()
    {
        HostWrite("exists", Bytes("x"));
        Check(C.WalkPath("", 2));
        Assert.Equal(EEXIST, C.Lcreate(2, "exists", WrOnly, FileMode644, out _));
        Assert.Equal(EINVAL, C.Lcreate(2, "a/b", WrOnly, FileMode644, out _));
        Assert.Equal(ENOENT, C.Lcreate(2, "", WrOnly, FileMode644, out _));
        Assert.Equal(EEXIST, C.Lcreate(2, "..", WrOnly, FileMode644, out _));
        Assert.Equal(ENAMETOOLONG, C.Lcreate(2, new string('n', 256), WrOnly, FileMode644, out _));
        Assert.Equal(0, C.Lcreate(2, new string('n', 255), WrOnly, FileMode644, out _));
    }

    [Fact]
    public void Large_Writes_And_Reads_Use_The_Whole_Msize()
    {
        var data = new byte[3 * 512 * 1024 + 777];
        new Random(5).NextBytes(data);
        Check(C.WalkPath("", 2));
        Check(C.Lcreate(2, "big", RdWr, FileMode644, out _));
        int chunk = 512 * 1024 - 24; // msize - P9_IOHDRSZ, as Linux sends
        for (int at = 0; at < data.Length; at += chunk)
        {
            var part = data.AsSpan(at, Math.Min(chunk, data.Length - at)).ToArray();
            Check(C.Write(2, (ulong)at, part, out uint n));
            Assert.Equal((uint)part.Length, n);
        }
        Check(C.Read(2, 0, 1u << 30, out var first)); // count above msize is clamped to msize - 11
        Assert.Equal(512 * 1024 - 11, first.Length);
        Assert.Equal(data.AsSpan(0, first.Length).ToArray(), first);
        Check(C.Read(2, (ulong)data.Length, 100, out var eof));
        Assert.Empty(eof);
        Check(C.Clunk(2));
        Assert.Equal(data, HostRead("big"));
        Assert.Equal(data, C.ReadAll("big"));
    }

    [Fact]
    public void Lopen_Checks_Directories_And_Access_Modes()
    {
        HostWrite("d/f", Bytes("abc"));
        Check(C.WalkPath("d", 2));
        Assert.Equal(EISDIR, C.Lopen(2, WrOnly, out _));
        Check(C.WalkPath("d/f", 3));
        Assert.Equal(0, C.Lopen(3, RdOnly, out var q));
        Assert.Equal(Qid.TypeFile, q.Type);
        Assert.Equal(EBADF, C.Lopen(3, RdOnly, out _)); // already open
        Assert.Equal(EBADF, C.Write(3, 0, Bytes("x"), out _));
        Check(C.WalkPath("d/f", 4));
        Check(C.Lopen(4, WrOnly, out _));
        Assert.Equal(EBADF, C.Read(4, 0, 10, out _));
    }

    [Fact]
    public void Lopen_Truncate_And_Append()
    {
        HostWrite("t", Bytes("0123456789"));
        Check(C.WalkPath("t", 2));
        Check(C.Lopen(2, WrOnly | NinePOpenFlags.Truncate, out _));
        Check(C.Clunk(2));
        Assert.Empty(HostRead("t")!);

        HostWrite("a", Bytes("start-"));
        Check(C.WalkPath("a", 3));
        Check(C.Lopen(3, WrOnly | NinePOpenFlags.Append, out _));
        Check(C.Write(3, 0, Bytes("end"), out _)); // O_APPEND: at the end whatever the offset
        Check(C.Clunk(3));
        Assert.Equal(Bytes("start-end"), HostRead("a"));
    }

    [Fact]
    public void An_Unlinked_Open_File_Stays_Usable()
    {
        Check(C.WalkPath("", 2));
        Check(C.Lcreate(2, "tmp", RdWr, FileMode644, out _));
        Check(C.Write(2, 0, Bytes("still here"), out _));
        Assert.Equal(0, C.UnlinkAt(RootFid, "tmp"));
        Assert.Null(HostRead("tmp"));
        Check(C.Read(2, 0, 100, out var data));
        Assert.Equal(Bytes("still here"), data);
        Check(C.GetAttr(2, out var a));
        Assert.Equal(10UL, a.Size);
        Check(C.SetAttr(2, SetAttributesRequest.Size, size: 5)); // ftruncate through the handle
        Check(C.Read(2, 0, 100, out data));
        Assert.Equal(Bytes("still"), data);
    }

    // --- directories ---------------------------------------------------------------------------------------

    [Fact]
    public void ReadDir_Lists_Everything_Once_With_Types()
    {
        HostWrite("d/file", Bytes("x"));
        HostWrite("d/sub/inner", Bytes("y"));
        Check(C.WalkPath("d", 2));
        Check(C.Symlink(2, "link", "file", out _));
        var entries = C.List("d");
        Assert.Equal(["."!, "..", "file", "link", "sub"], entries.Select(e => e.Name).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(4, entries.Single(e => e.Name == "sub").Type);   // DT_DIR
        Assert.Equal(8, entries.Single(e => e.Name == "file").Type);  // DT_REG
        Assert.Equal(10, entries.Single(e => e.Name == "link").Type); // DT_LNK
        Assert.Equal(Qid.TypeDirectory, entries.Single(e => e.Name == "sub").Qid.Type);
        Check(C.WalkPath("d/file", 3));
        Check(C.GetAttr(3, out var fa));
        Assert.Equal(fa.Qid.Path, entries.Single(e => e.Name == "file").Qid.Path);
    }

    [Fact]
    public void ReadDir_Continues_From_Offsets_In_Small_Replies()
    {
        for (int i = 0; i < 300; i++)
            HostWrite($"many/file-{i:D4}-with-a-longish-name", [(byte)i]);
        var entries = C.List("many", count: 300);
        var names = entries.Select(e => e.Name).Where(n => n is not ("." or "..")).ToList();
        Assert.Equal(300, names.Count);
        Assert.Equal(300, names.Distinct().Count());
        Assert.Equal(entries.Count, entries.Select(e => e.Offset).Distinct().Count());
    }

    [Fact]
    public void ReadDir_Needs_An_Open_Directory()
    {
        HostWrite("f", Bytes("x"));
        Check(C.WalkPath("", 2));
        Assert.Equal(EBADF, C.ReadDir(2, 0, 4096, out _));
        Check(C.WalkPath("f", 3));
        Check(C.Lopen(3, RdOnly, out _));
        Assert.Equal(ENOTDIR, C.ReadDir(3, 0, 4096, out _));
        Check(C.WalkPath("", 4));
        Check(C.Lopen(4, RdOnly, out _));
        Assert.Equal(EISDIR, C.Read(4, 0, 100, out _));
    }

    [Fact]
    public void Mkdir_Creates_With_Mode_And_Refuses_Existing()
    {
        Assert.Equal(0, C.Mkdir(RootFid, "newdir", 0x1C0 /* 0700 */, out var q));
        Assert.Equal(Qid.TypeDirectory, q.Type);
        Assert.True(HostIsDirectory("newdir"));
        Check(C.WalkPath("newdir", 2));
        Check(C.GetAttr(2, out var a));
        Assert.Equal(0x1C0u, a.Mode & LinuxFileMode.PermissionMask);
        Assert.Equal(EEXIST, C.Mkdir(RootFid, "newdir", DirMode755, out _));
        Assert.Equal(ENAMETOOLONG, C.Mkdir(RootFid, new string('d', 300), DirMode755, out _));
        Assert.Equal(0, C.Mkdir(2, "nested", DirMode755, out _));
        Assert.True(HostIsDirectory("newdir/nested"));
    }

    [Fact]
    public void UnlinkAt_Removes_Files_And_Empty_Directories_With_The_Right_Errnos()
    {
        HostWrite("f", Bytes("x"));
        HostWrite("full/x", Bytes("x"));
        Check(C.Mkdir(RootFid, "empty", DirMode755, out _));
        Assert.Equal(ENOTEMPTY, C.UnlinkAt(RootFid, "full", AtRemoveDir));
        Assert.Equal(EISDIR, C.UnlinkAt(RootFid, "empty"));
        Assert.Equal(ENOTDIR, C.UnlinkAt(RootFid, "f", AtRemoveDir));
        Assert.Equal(ENOENT, C.UnlinkAt(RootFid, "missing"));
        Assert.Equal(0, C.UnlinkAt(RootFid, "f"));
        Assert.Equal(0, C.UnlinkAt(RootFid, "empty", AtRemoveDir));
        Assert.Null(HostRead("f"));
        Assert.False(HostIsDirectory("empty"));
    }

    [Fact]
    public void Remove_Deletes_And_Always_Clunks()
    {
        HostWrite("f", Bytes("x"));
        HostWrite("full/x", Bytes("x"));
        Check(C.WalkPath("f", 2));
        Assert.Equal(0, C.Remove(2));
        Assert.Null(HostRead("f"));
        Assert.Equal(EBADF, C.Clunk(2));
        Check(C.WalkPath("full", 3));
        Assert.Equal(ENOTEMPTY, C.Remove(3));
        Assert.Equal(EBADF, C.Clunk(3));
        Check(C.WalkPath("", 4));
        Assert.Equal(EBUSY, C.Remove(4));
    }

    // --- rename, links -------------------------------------------------------------------------------------

    [Fact]
    public void RenameAt_Moves_Replaces_And_Refuses_What_Linux_Refuses()
    {
        HostWrite("a/f", Bytes("one"));
        HostWrite("b/g", Bytes("two"));
        HostWrite("c/inner/x", Bytes("x"));
        Check(C.WalkPath("a", 2));
        Check(C.WalkPath("b", 3));
        Assert.Equal(0, C.RenameAt(2, "f", 3, "moved"));
        Assert.Null(HostRead("a/f"));
        Assert.Equal(Bytes("one"), HostRead("b/moved"));
        Assert.Equal(0, C.RenameAt(3, "moved", 3, "g")); // replaces g
        Assert.Equal(Bytes("one"), HostRead("b/g"));
        Assert.Equal(ENOENT, C.RenameAt(2, "missing", 3, "x"));
        Assert.Equal(ENOTEMPTY, C.RenameAt(RootFid, "b", RootFid, "c"));
        Check(C.WalkPath("c/inner", 4));
        Assert.Equal(EINVAL, C.RenameAt(RootFid, "c", 4, "loop")); // into its own subtree
        Assert.Equal(EISDIR, C.RenameAt(3, "g", RootFid, "a"));
        Assert.True(HostIsDirectory("c/inner"));
    }

    [Fact]
    public void Fids_Follow_Their_Files_Through_Renames()
    {
        HostWrite("old/deep/file", Bytes("content"));
        Check(C.WalkPath("old/deep/file", 2));
        Check(C.WalkPath("old/deep", 3));
        Assert.Equal(0, C.RenameAt(RootFid, "old", RootFid, "new"));
        Check(C.GetAttr(2, out var a));
        Assert.Equal(7UL, a.Size);
        Check(C.Lopen(2, RdOnly, out _));
        Check(C.Read(2, 0, 100, out var data));
        Assert.Equal(Bytes("content"), data);
        Check(C.Walk(3, 4, out _, "file"));
        Assert.Equal(0, C.Rename(3, RootFid, "top")); // Trename: fid's file into dfid under name
        Assert.True(HostIsDirectory("top"));
        Check(C.GetAttr(4, out a));
        Assert.Equal(7UL, a.Size);
        Assert.Equal(Bytes("content"), HostRead("top/file"));
    }

    [Fact]
    public void Symlink_And_Readlink_Keep_The_Target_Verbatim()
    {
        Assert.Equal(0, C.Symlink(RootFid, "abs", "/etc/passwd", out var q));
        Assert.Equal(Qid.TypeSymlink, q.Type);
        Check(C.Symlink(RootFid, "rel", "../../x/./y", out _));
        Check(C.WalkPath("abs", 2));
        Assert.Equal(0, C.Readlink(2, out var target));
        Assert.Equal("/etc/passwd", target);
        Check(C.GetAttr(2, out var a));
        Assert.Equal(LinuxFileMode.SymbolicLink, a.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(ELOOP, C.Lopen(2, RdOnly, out _)); // the client resolves links, never the server
        Check(C.WalkPath("rel", 3));
        Check(C.Readlink(3, out target));
        Assert.Equal("../../x/./y", target);
        Assert.Equal(EEXIST, C.Symlink(RootFid, "abs", "z", out _));
        HostWrite("plain", Bytes("x"));
        Check(C.WalkPath("plain", 4));
        Assert.Equal(EINVAL, C.Readlink(4, out _));
    }

    [Fact]
    public void Link_Makes_A_Second_Name_For_The_Same_File()
    {
        HostWrite("orig", Bytes("shared"));
        HostWrite("d/x", Bytes("x"));
        Check(C.WalkPath("orig", 2));
        Check(C.WalkPath("d", 3));
        Assert.Equal(0, C.Link(3, 2, "alias"));
        Assert.Equal(Bytes("shared"), HostRead("d/alias"));
        Check(C.GetAttr(2, out var a));
        Assert.Equal(2UL, a.Nlink);
        Check(C.WalkPath("d/alias", 4));
        Check(C.Lopen(4, WrOnly, out _));
        Check(C.Write(4, 0, Bytes("SH"), out _));
        Assert.Equal(Bytes("SHared"), HostRead("orig"));
        Assert.Equal(EEXIST, C.Link(3, 2, "x"));
        Assert.Equal(EPERM, C.Link(RootFid, 3, "dirlink")); // no hard links to directories
    }

    [Fact]
    public void Mknod_Makes_A_Fifo()
    {
        if (!CreatesFifos)
        {
            Assert.Equal(EPERM, C.Mknod(RootFid, "pipe", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
            Assert.Null(HostRead("pipe"));
            return;
        }
        Assert.Equal(0, C.Mknod(RootFid, "pipe", LinuxFileMode.Fifo | 0x1A4, 0, 0, out var q));
        Check(C.WalkPath("pipe", 2));
        Check(C.GetAttr(2, out var a));
        Assert.Equal(LinuxFileMode.Fifo, a.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(q.Path, a.Qid.Path);
        Assert.Equal(EEXIST, C.Mknod(RootFid, "pipe", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
        Assert.Equal(EINVAL, C.Mknod(RootFid, "weird", 0x1A4, 0, 0, out _)); // no file type
    }

    // --- statfs, fsync, clunk, xattrs, locks ---------------------------------------------------------------

    [Fact]
    public void StatFs_Reports_A_File_System()
    {
        Assert.Equal(0, C.StatFs(RootFid, out _, out uint bsize, out ulong blocks, out uint namelen));
        Assert.True(bsize > 0);
        Assert.True(blocks > 0);
        Assert.Equal(255u, namelen);
        Assert.Equal(EBADF, C.StatFs(77, out _, out _, out _, out _));
    }

    [Fact]
    public void Clunk_Forgets_The_Fid()
    {
        Check(C.WalkPath("", 2));
        Assert.Equal(0, C.Clunk(2));
        Assert.Equal(EBADF, C.Clunk(2));
        Assert.Equal(EBADF, C.GetAttr(2, out _));
        Assert.Equal(0, C.Fsync(RootFid));
    }

    [Fact]
    public void Xattrs_Are_Empty()
    {
        HostWrite("f", Bytes("x"));
        Check(C.WalkPath("f", 2));
        Assert.Equal(0, C.XattrWalk(2, 3, "", out ulong size));
        Assert.Equal(0UL, size);
        Assert.Equal(0, C.Read(3, 0, 100, out var list));
        Assert.Empty(list);
        Assert.Equal(0, C.Clunk(3));
        Assert.Equal(ENODATA, C.XattrWalk(2, 3, "security.capability", out _));
        Assert.Equal(EBADF, C.Clunk(3));
        var r = C.Send(NinePMessageType.Txattrcreate, m => m.U32(2).Str("user.x").U64(1).U32(0));
        Assert.Equal(EOPNOTSUPP, r.Errno);
    }

    [Fact]
    public void Locks_Are_Granted()
    {
        HostWrite("f", Bytes("x"));
        Check(C.WalkPath("f", 2));
        Check(C.Lopen(2, RdWr, out _));
        var r = C.Send(NinePMessageType.Tlock, m => m.U32(2).U8(1).U32(0).U64(0).U64(0).U32(42).Str("guest"));
        Assert.Equal(NinePMessageType.Rlock, r.Type);
        Assert.Equal(0, r.U8());
        r = C.Send(NinePMessageType.Tgetlock, m => m.U32(2).U8(1).U64(10).U64(20).U32(42).Str("guest"));
        Assert.Equal(NinePMessageType.Rgetlock, r.Type);
        Assert.Equal(2, r.U8()); // F_UNLCK
        Assert.Equal(10UL, r.U64());
        Assert.Equal(20UL, r.U64());
        Assert.Equal(42u, r.U32());
        Assert.Equal("guest", r.Str());
    }

    // --- read-only share -----------------------------------------------------------------------------------

    [Fact]
    public void ReadOnly_Share_Refuses_Every_Change_With_EROFS()
    {
        HostWrite("dir/f", Bytes("keep"));
        HostWrite("dir/sub/x", Bytes("x"));
        var c = new NinePTestClient(ReadOnlyView()).Start();
        Assert.Equal(Bytes("keep"), c.ReadAll("dir/f"));
        Assert.NotEmpty(c.List("dir"));
        Check(c.WalkPath("dir", 2));
        Check(c.WalkPath("dir/f", 3));
        Assert.Equal(EROFS, c.Mkdir(2, "new", DirMode755, out _));
        Assert.Equal(EROFS, c.Symlink(2, "l", "f", out _));
        Assert.Equal(EROFS, c.Mknod(2, "p", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
        Assert.Equal(EROFS, c.Link(2, 3, "hard"));
        Assert.Equal(EROFS, c.RenameAt(2, "f", 2, "g"));
        Assert.Equal(EROFS, c.Rename(3, 2, "g"));
        Assert.Equal(EROFS, c.UnlinkAt(2, "f"));
        Assert.Equal(EROFS, c.UnlinkAt(2, "sub", AtRemoveDir));
        Assert.Equal(EROFS, c.SetAttr(3, SetAttributesRequest.Mode, mode: 0x1FF));
        Assert.Equal(EROFS, c.SetAttr(3, SetAttributesRequest.Size, size: 0));
        Assert.Equal(EROFS, c.SetAttr(3, SetAttributesRequest.Mtime));
        Assert.Equal(EROFS, c.Send(NinePMessageType.Txattrcreate, m => m.U32(3).Str("user.x").U64(1).U32(0)).Errno);
        Check(c.WalkPath("dir/f", 4));
        Assert.Equal(EROFS, c.Lopen(4, WrOnly, out _));
        Assert.Equal(EROFS, c.Lopen(4, RdWr, out _));
        Assert.Equal(EROFS, c.Lopen(4, RdOnly | NinePOpenFlags.Truncate, out _));
        Check(c.WalkPath("dir", 5));
        Assert.Equal(EROFS, c.Lcreate(5, "new", WrOnly, FileMode644, out _));
        Check(c.WalkPath("dir/f", 6));
        Assert.Equal(EROFS, c.Remove(6));
        Assert.Equal(0, c.Lopen(4, RdOnly, out _));
        Assert.Equal(Bytes("keep"), HostRead("dir/f"));
        Assert.Equal(Bytes("x"), HostRead("dir/sub/x"));
        Assert.False(HostIsDirectory("dir/new"));
    }
}
