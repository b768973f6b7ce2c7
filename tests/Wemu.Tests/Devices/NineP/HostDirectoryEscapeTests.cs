using System.Text;
using Wemu.Cli;
using Wemu.Devices.NineP;
using Xunit;
using static Wemu.Devices.NineP.LinuxErrno;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// Every way out of a host-directory share a guest could try: "..", absolute and relative symbolic links (to a
/// directory and to a file), hard links, renames across the boundary, names with '/', device nodes, and a
/// directory swapped for a link between walk and use. Each must fail, and afterwards the directory beside the
/// share must be byte-for-byte what it was, with no reply ever having carried its secret.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HostDirectoryEscapeTests : IDisposable
{
    private const string Secret = "TOP SECRET outside the share";
    private readonly string _top = Directory.CreateTempSubdirectory("wemu-9p-escape-").FullName;
    private readonly string _share;
    private readonly string _outside;
    private readonly HostDirectoryFileSystem _fs;
    private readonly NinePTestClient _c;
    private readonly string _before;

    public HostDirectoryEscapeTests()
    {
        _share = Path.Combine(_top, "share");
        _outside = Path.Combine(_top, "outside");
        Directory.CreateDirectory(Path.Combine(_outside, "inner"));
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), Secret);
        File.WriteAllText(Path.Combine(_outside, "inner", "file"), Secret);
        Directory.CreateDirectory(Path.Combine(_share, "sub", "inner"));
        File.WriteAllText(Path.Combine(_share, "sub", "inner", "file"), "inside");
        File.WriteAllText(Path.Combine(_share, "victim"), "inside");
        File.CreateSymbolicLink(Path.Combine(_share, "abs_dir"), _outside);
        File.CreateSymbolicLink(Path.Combine(_share, "abs_file"), Path.Combine(_outside, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(_share, "rel_dir"), "../outside");
        File.CreateSymbolicLink(Path.Combine(_share, "rel_file"), "../outside/secret.txt");
        File.CreateSymbolicLink(Path.Combine(_share, "root_dir"), "/");
        _before = Snapshot(_outside);
        _fs = new HostDirectoryFileSystem(_share);
        _c = new NinePTestClient(_fs).Start();
    }

    public void Dispose()
    {
        // Whatever the test did: the outside is untouched and no reply carried the secret.
        Assert.Equal(_before, Snapshot(_outside));
        byte[] secret = Encoding.UTF8.GetBytes(Secret);
        Assert.DoesNotContain(_c.Replies, r => r.AsSpan().IndexOf(secret) >= 0);
        _fs.Dispose();
        Directory.Delete(_top, recursive: true);
    }

    /// <summary>Names, types, sizes, modes, times and contents of everything below <paramref name="dir"/>.</summary>
    private static string Snapshot(string dir)
    {
        var sb = new StringBuilder();
        foreach (var p in Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(p);
            sb.Append(Path.GetRelativePath(dir, p)).Append(' ').Append(info.Attributes).Append(' ')
              .Append(File.GetUnixFileMode(p)).Append(' ').Append(info.LastWriteTimeUtc.Ticks);
            if (File.Exists(p))
                sb.Append(' ').Append(info.Length).Append(' ').Append(File.ReadAllText(p));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    [Fact]
    public void DotDot_Stops_At_The_Share_Root()
    {
        Check(_c.GetAttr(RootFid, out var root));
        Assert.Equal(0, _c.Walk(RootFid, 2, out var qids, "..", "outside", "secret.txt"));
        Assert.Single(qids); // ".." is the root; "outside" does not exist there
        Assert.Equal(root.Qid.Path, qids[0].Path);
        Assert.Equal(EBADF, _c.Clunk(2));
        Assert.Equal(0, _c.Walk(RootFid, 3, out qids, "sub", "..", "..", ".."));
        Assert.All(qids.Skip(1), q => Assert.Equal(root.Qid.Path, q.Path));
        Check(_c.Lopen(3, 0, out _));
        Check(_c.ReadDir(3, 0, 65536, out var entries));
        Assert.DoesNotContain(entries, e => e.Name is "outside" or "share");
    }

    [Theory]
    [InlineData("abs_dir")]
    [InlineData("rel_dir")]
    [InlineData("root_dir")]
    public void Links_To_Directories_Are_Never_Walked_Through(string link)
    {
        Assert.Equal(0, _c.Walk(RootFid, 2, out var qids, link, "secret.txt"));
        Assert.Single(qids);
        Assert.Equal(Qid.TypeSymlink, qids[0].Type);
        Assert.Equal(EBADF, _c.Clunk(2));
        Check(_c.Walk(RootFid, 3, out _, link));
        Assert.Equal(ENOTDIR, _c.Walk(3, 4, out _, "secret.txt"));
        Assert.Equal(ENOTDIR, _c.Walk(3, 4, out _, "etc"));
        Assert.Equal(ELOOP, _c.Lopen(3, 0, out _)); // cannot open the link to list what it points to
        Assert.Equal(ENOTDIR, _c.Lcreate(3, "planted", NinePOpenFlags.WriteOnly, 0x1A4, out _));
        Assert.Equal(ENOTDIR, _c.Mkdir(3, "planted", 0x1ED, out _));
        Assert.Equal(ENOTDIR, _c.Symlink(3, "planted", "x", out _));
        Assert.Equal(ENOTDIR, _c.Mknod(3, "planted", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
        Assert.Equal(ENOTDIR, _c.UnlinkAt(3, "secret.txt"));
        Assert.Equal(ENOTDIR, _c.RenameAt(3, "secret.txt", RootFid, "stolen"));
        Assert.Equal(ENOTDIR, _c.RenameAt(RootFid, "victim", 3, "victim"));
        Check(_c.WalkPath("victim", 5));
        Assert.Equal(ENOTDIR, _c.Link(3, 5, "victim"));
        Assert.Equal(ENOTDIR, _c.Rename(5, 3, "victim"));
        Assert.True(File.Exists(Path.Combine(_share, "victim")));
        Assert.False(File.Exists(Path.Combine(_share, "stolen")));
    }

    [Theory]
    [InlineData("abs_file")]
    [InlineData("rel_file")]
    public void Links_To_Files_Are_Read_As_Links_Only(string link)
    {
        Check(_c.WalkPath(link, 2));
        Check(_c.GetAttr(2, out var a));
        Assert.Equal(LinuxFileMode.SymbolicLink, a.Mode & LinuxFileMode.TypeMask); // the link's attributes, not the target's
        Assert.Equal(ELOOP, _c.Lopen(2, NinePOpenFlags.ReadOnly, out _));
        Assert.Equal(ELOOP, _c.Lopen(2, NinePOpenFlags.WriteOnly | NinePOpenFlags.Truncate, out _));
        Check(_c.Readlink(2, out string target)); // the guest may see where it points: that reaches nothing
        Assert.EndsWith("secret.txt", target);
        // Attribute changes land on the link or fail, never on the file outside.
        Assert.NotEqual(0, _c.SetAttr(2, SetAttributesRequest.Mode, mode: 0x1FF));
        Assert.NotEqual(0, _c.SetAttr(2, SetAttributesRequest.Size, size: 0));
        _c.SetAttr(2, SetAttributesRequest.Uid | SetAttributesRequest.Gid, uid: 1234, gid: 1234);
        _c.SetAttr(2, SetAttributesRequest.Mtime | SetAttributesRequest.MtimeSet | SetAttributesRequest.Atime | SetAttributesRequest.AtimeSet, atimeSec: 5, mtimeSec: 5);
        Assert.Equal(ENODATA, _c.XattrWalk(2, 3, "user.x", out _));
    }

    [Fact]
    public void A_Hard_Link_To_A_Link_Is_Still_A_Link()
    {
        Check(_c.WalkPath("abs_file", 2));
        Assert.Equal(0, _c.Link(RootFid, 2, "hard"));
        Check(_c.WalkPath("hard", 3));
        Check(_c.GetAttr(3, out var a));
        Assert.Equal(LinuxFileMode.SymbolicLink, a.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(ELOOP, _c.Lopen(3, 0, out _));
        Assert.Equal(1, new FileInfo(Path.Combine(_outside, "secret.txt")).Length > 0 ? 1 : 0);
    }

    [Fact]
    public void A_Guest_Made_Link_Pointing_Out_Leads_Nowhere()
    {
        Check(_c.Symlink(RootFid, "mine", Path.Combine(_outside, "secret.txt"), out _));
        Check(_c.Symlink(RootFid, "mine_dir", "../../" + Path.GetFileName(_top) + "/outside", out _));
        Check(_c.WalkPath("mine", 2));
        Assert.Equal(ELOOP, _c.Lopen(2, 0, out _));
        Assert.Equal(0, _c.Walk(RootFid, 3, out var qids, "mine_dir", "secret.txt"));
        Assert.Single(qids);
        Check(_c.WalkPath("mine", 4));
        Assert.Equal(0, _c.Link(RootFid, 4, "mine_hard"));
        Check(_c.WalkPath("mine_hard", 5));
        Assert.Equal(ELOOP, _c.Lopen(5, 0, out _));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("/tmp/escape")]
    [InlineData("a/../../escape")]
    public void Names_With_Slashes_Or_Dots_Never_Reach_The_Host(string name)
    {
        Assert.NotEqual(0, _c.Lcreate(RootFid, name, NinePOpenFlags.WriteOnly, 0x1A4, out _));
        Assert.NotEqual(0, _c.Mkdir(RootFid, name, 0x1ED, out _));
        Assert.NotEqual(0, _c.Symlink(RootFid, name, "x", out _));
        Assert.NotEqual(0, _c.RenameAt(RootFid, "victim", RootFid, name));
        Assert.NotEqual(0, _c.RenameAt(RootFid, name, RootFid, "got"));
        Assert.NotEqual(0, _c.UnlinkAt(RootFid, name, AtRemoveDir));
        Check(_c.WalkPath("victim", 2));
        Assert.NotEqual(0, _c.Link(RootFid, 2, name));
        Assert.NotEqual(0, _c.Rename(2, RootFid, name));
        Assert.Equal(0, _c.Walk(RootFid, 3, out _)); // root still there
        Assert.True(File.Exists(Path.Combine(_share, "victim")));
        Assert.False(File.Exists(Path.Combine(_top, "escape")));
        Assert.False(Directory.Exists(Path.Combine(_top, "escape")));
        Assert.False(File.Exists(Path.Combine(_share, "got")));
    }

    [Fact]
    public void Device_Nodes_Are_Refused()
    {
        Assert.Equal(EPERM, _c.Mknod(RootFid, "sda", LinuxFileMode.BlockDevice | 0x1B6, 8, 0, out _));
        Assert.Equal(EPERM, _c.Mknod(RootFid, "mem", LinuxFileMode.CharacterDevice | 0x1B6, 1, 1, out _));
        Assert.False(File.Exists(Path.Combine(_share, "sda")));
        Assert.False(File.Exists(Path.Combine(_share, "mem")));
    }

    [Fact]
    public void A_Directory_Swapped_For_A_Link_After_The_Walk_Leads_Nowhere()
    {
        Check(_c.WalkPath("sub/inner/file", 2));
        Check(_c.WalkPath("sub/inner", 3));
        Check(_c.WalkPath("sub", 4));
        // Another host process replaces sub with a link to the outside, where the same names exist.
        Directory.Move(Path.Combine(_share, "sub"), Path.Combine(_top, "sub-moved"));
        File.CreateSymbolicLink(Path.Combine(_share, "sub"), _outside);
        Assert.Equal(ENOTDIR, _c.Lopen(2, 0, out _));
        Assert.Equal(ENOTDIR, _c.GetAttr(2, out _));
        Assert.Equal(ENOTDIR, _c.Lcreate(3, "planted", NinePOpenFlags.WriteOnly, 0x1A4, out _));
        Assert.Equal(ENOTDIR, _c.UnlinkAt(3, "file"));
        Assert.Equal(ENOTDIR, _c.SetAttr(2, SetAttributesRequest.Size, size: 0));
        Assert.Equal(ENOTDIR, _c.Walk(4, 5, out _, "inner"));
        Check(_c.GetAttr(4, out var a));
        Assert.Equal(LinuxFileMode.SymbolicLink, a.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(ELOOP, _c.Lopen(4, 0, out _));
    }

    [Fact]
    public void Renames_Stay_Inside()
    {
        Check(_c.WalkPath("sub", 2));
        Assert.Equal(0, _c.RenameAt(RootFid, "victim", 2, "moved"));
        Assert.True(File.Exists(Path.Combine(_share, "sub", "moved")));
        Check(_c.WalkPath("", 3));
        Assert.Equal(EBUSY, _c.Rename(3, 2, "root-moved")); // the root cannot be renamed
        Assert.Equal(EINVAL, _c.RenameAt(RootFid, "sub", 2, "self")); // nor a directory below itself
        Assert.True(Directory.Exists(Path.Combine(_share, "sub")));
    }
}
