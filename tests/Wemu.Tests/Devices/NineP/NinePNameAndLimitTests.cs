using System.Runtime.InteropServices;
using System.Text;
using Wemu.Cli;
using Wemu.Devices.NineP;
using Xunit;
using static Wemu.Devices.NineP.LinuxErrno;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// SECURITY-REVIEW cases 12 to 15 on a host-directory share: PATH_MAX and NAME_MAX in every message, bad names in
/// every message that takes one, msize and count edges, host names that are not UTF-8, and a directory moved
/// out of the share under a fid. Each must give an errno (never EIO, the sign of an exception in the server)
/// and leave the host as it was.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class NinePNameAndLimitTests : IDisposable
{
    private const uint DirMode = 0x1ED, FileMode = 0x1A4;
    private readonly string _top = Directory.CreateTempSubdirectory("wemu-9p-names-").FullName;
    private readonly string _share;
    private readonly HostDirectoryFileSystem _fs;

    public NinePNameAndLimitTests()
    {
        _share = Path.Combine(_top, "share");
        Directory.CreateDirectory(Path.Combine(_share, "d"));
        File.WriteAllText(Path.Combine(_share, "f"), "file");
        _fs = new HostDirectoryFileSystem(_share);
    }

    public void Dispose()
    {
        _fs.Dispose();
        // The deep tree of the PATH_MAX test is longer than PATH_MAX from here, which Directory.Delete cannot take.
        using var rm = System.Diagnostics.Process.Start("rm", ["-rf", "--", _top]);
        rm.WaitForExit();
    }

    private NinePTestClient Client(uint msize = NinePServer.DefaultMaxMessageSize) =>
        new NinePTestClient(_fs, msize).Start(msize: msize);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true)]
    private static partial int MkdirAt(int dirFd, byte[] path, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static partial int UnlinkAt(int dirFd, byte[] path, int flags);

    private const int AtFdCwd = -100, AtRemoveDir = 0x200;

    private static byte[] CPath(string directory, byte[] name) =>
        [.. Encoding.UTF8.GetBytes(directory + "/"), .. name, 0];

    /// <summary>Names, types and sizes of everything below the share (raw bytes, so non-UTF-8 names count too).</summary>
    private string Snapshot()
    {
        var sb = new StringBuilder();
        foreach (var e in new DirectoryInfo(_share).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).OrderBy(e => e.FullName, StringComparer.Ordinal))
            sb.Append(e.FullName).Append(' ').Append(e.Attributes.HasFlag(FileAttributes.Directory) ? -1 : ((FileInfo)e).Length).Append('\n');
        return sb.ToString();
    }

    private static void AssertRefused(int errno, string what, params int[] allowed)
    {
        Assert.True(errno != 0, $"{what} succeeded");
        Assert.True(errno != EIO, $"{what}: EIO (an exception inside the server)");
        Assert.True(allowed.Length == 0 || allowed.Contains(errno), $"{what}: errno {errno}");
    }

    // --- case 12: path limits ------------------------------------------------------------------------------

    [Fact]
    public void Path_Max_Holds_For_Create_Walk_Symlink_And_Readlink()
    {
        var c = Client();
        string n = new('n', 255);
        Check(c.Walk(RootFid, 2, out _));
        for (int depth = 0; depth < 15; depth++)
        {
            Check(c.Mkdir(2, n, DirMode, out _));
            Check(c.Walk(2, 2, out _, n));
        }
        // 15 × 255 + 14 slashes = 3839 bytes: one more 255-byte name is 4095 (PATH_MAX - 1), two are too long.
        Assert.Equal(ENAMETOOLONG, c.Lcreate(2, n + "x", NinePOpenFlags.WriteOnly, FileMode, out _)); // NAME_MAX
        Check(c.Mkdir(2, n, DirMode, out _)); // exactly 4095 bytes
        Check(c.Walk(2, 3, out _, n));
        Assert.Equal(ENAMETOOLONG, c.Walk(3, 9, out _, "x"));
        Check(c.Walk(3, 4, out _));
        Assert.Equal(ENAMETOOLONG, c.Lcreate(4, "x", NinePOpenFlags.WriteOnly, FileMode, out _));
        Assert.Equal(ENAMETOOLONG, c.Mkdir(4, n, DirMode, out _));
        Assert.Equal(ENAMETOOLONG, c.Symlink(4, n, "t", out _));
        Assert.Equal(ENAMETOOLONG, c.Mknod(4, n, LinuxFileMode.Regular | FileMode, 0, 0, out _));
        Assert.Equal(ENAMETOOLONG, c.Link(4, 3, n));
        Assert.Equal(ENAMETOOLONG, c.RenameAt(RootFid, "f", 4, n));

        // 16 × 255-byte names from the root reach the deepest directory (4095 bytes); from one level down the
        // walk stops where the path gets too long: a partial walk, and no new fid.
        var names = Enumerable.Repeat(n, 16).ToArray();
        Check(c.Walk(RootFid, 5, out var qids, names));
        Assert.Equal(16, qids.Length);
        Check(c.Walk(RootFid, 6, out _, n));
        Check(c.Walk(6, 7, out qids, names));
        Assert.Equal(15, qids.Length);
        Assert.Equal(EBADF, c.Clunk(7));

        Assert.Equal(ENAMETOOLONG, c.Symlink(RootFid, "long", new string('t', 4096), out _));
        Check(c.Symlink(RootFid, "longest", new string('t', 4095), out _));

        // A 4095-byte target does not fit a 4096-byte message: a well-formed EMSGSIZE.
        var small = Client(4096);
        Check(small.WalkPath("longest", 2));
        Assert.Equal(EMSGSIZE, small.Readlink(2, out _));
        Assert.Equal(0, small.Walk(RootFid, 3, out _)); // still serving
    }

    // --- case 13: bad names in every message ---------------------------------------------------------------

    public static TheoryData<string, byte[]> BadNames() => new()
    {
        { "NUL", "a\0b"u8.ToArray() },
        { "slash", "a/b"u8.ToArray() },
        { "dot", "."u8.ToArray() },
        { "dotdot", ".."u8.ToArray() },
        { "empty", [] },
        { "256 bytes", Encoding.ASCII.GetBytes(new string('x', 256)) },
        { "0xFF", [0xFF] },
        { "overlong UTF-8 slash", [0xC0, 0xAF] },
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public void A_Bad_Name_Is_Refused_By_Every_Message_And_Changes_Nothing(string label, byte[] name)
    {
        _ = label;
        var c = Client();
        Check(c.WalkPath("f", 2));
        Check(c.WalkPath("d", 3));
        Check(c.Walk(RootFid, 4, out _));
        string before = Snapshot();
        int fidsBefore = c.Server.FidCount;
        var msgs = new (string What, NinePMessageType Type, Action<Message> Body)[]
        {
            ("Tlcreate", NinePMessageType.Tlcreate, m => m.U32(4).RawStr(name).U32(NinePOpenFlags.WriteOnly).U32(FileMode).U32(0)),
            ("Tmkdir", NinePMessageType.Tmkdir, m => m.U32(RootFid).RawStr(name).U32(DirMode).U32(0)),
            ("Tsymlink name", NinePMessageType.Tsymlink, m => m.U32(RootFid).RawStr(name).Str("target").U32(0)),
            ("Tmknod", NinePMessageType.Tmknod, m => m.U32(RootFid).RawStr(name).U32(LinuxFileMode.Regular | FileMode).U32(0).U32(0).U32(0)),
            ("Tlink", NinePMessageType.Tlink, m => m.U32(RootFid).U32(2).RawStr(name)),
            ("Trenameat old", NinePMessageType.Trenameat, m => m.U32(RootFid).RawStr(name).U32(3).Str("moved")),
            ("Trenameat new", NinePMessageType.Trenameat, m => m.U32(RootFid).Str("f").U32(3).RawStr(name)),
            ("Trename", NinePMessageType.Trename, m => m.U32(2).U32(3).RawStr(name)),
            ("Tunlinkat", NinePMessageType.Tunlinkat, m => m.U32(RootFid).RawStr(name).U32(0)),
            ("Tunlinkat dir", NinePMessageType.Tunlinkat, m => m.U32(RootFid).RawStr(name).U32(AtRemoveDir)),
            ("Twalk", NinePMessageType.Twalk, m => m.U32(RootFid).U32(50).U16(2).Str("d").RawStr(name)),
        };
        foreach (var (what, type, body) in msgs)
        {
            var r = c.Send(type, body);
            // "." and ".." are walkable names (resolved by the server); a walk of d/. or d/.. is fine.
            if (type == NinePMessageType.Twalk && name is [(byte)'.'] or [(byte)'.', (byte)'.'])
            {
                Assert.Equal(NinePMessageType.Rwalk, r.Type);
                c.Clunk(50);
                continue;
            }
            if (type == NinePMessageType.Twalk && r.Type == NinePMessageType.Rwalk)
            {
                Assert.Equal(1, r.U16()); // stopped at the bad name: no new fid
                continue;
            }
            AssertRefused(r.Errno, $"{what} with {label}", EINVAL, ENOENT, ENAMETOOLONG, EPROTO, EEXIST, EBUSY, EISDIR, ENOTEMPTY);
        }
        // Symlink targets: empty, NUL, too long, not UTF-8.
        foreach (var target in new[] { ""u8.ToArray(), "a\0b"u8.ToArray(), new byte[4096].Select(_ => (byte)'t').ToArray(), [0xFF] })
        {
            var r = c.Send(NinePMessageType.Tsymlink, m => m.U32(RootFid).Str("s").RawStr(target).U32(0));
            AssertRefused(r.Errno, "Tsymlink target", EINVAL, ENOENT, ENAMETOOLONG, EPROTO);
        }
        // An attribute name is only looked up (the share has none).
        var x = c.Send(NinePMessageType.Txattrwalk, m => m.U32(3).U32(60).RawStr(name));
        if (name.Length == 0)
            Assert.Equal(0, x.Errno); // the (empty) list
        else
            AssertRefused(x.Errno, "Txattrwalk", ENODATA, EPROTO);
        c.Clunk(60);
        Assert.Equal(before, Snapshot());
        Assert.Equal(fidsBefore, c.Server.FidCount);
    }

    // --- case 14: msize and count edges --------------------------------------------------------------------

    [Fact]
    public void Msize_And_Count_Edges()
    {
        var c = Client();
        Check(c.WalkPath("f", 2));
        var r = c.Send(NinePMessageType.Tversion, m => m.U32(4095).Str("9P2000.L"));
        Assert.Equal(EINVAL, r.Errno);
        Assert.Equal(2, c.Server.FidCount); // the session goes on
        Assert.Equal(NinePServer.DefaultMaxMessageSize, c.Server.MessageSize);
        r = c.Send(NinePMessageType.Tversion, m => m.U32(4096).Str("9P2000.L"));
        Assert.Equal(4096u, r.U32());
        Check(c.Attach(RootFid, 0, out _));

        File.WriteAllBytes(Path.Combine(_share, "big"), new byte[10_000]);
        Check(c.WalkPath("big", 2));
        Check(c.Lopen(2, NinePOpenFlags.ReadWrite, out _));
        Check(c.Read(2, 0, 0xFFFF_FFFF, out var data));
        Assert.Equal(4096 - 11, data.Length);
        Assert.Equal(EPROTO, c.Write(2, 0, new byte[4096 - 23 + 1], out _)); // a 4097-byte Twrite
        r = c.Send(NinePMessageType.Twrite, m => m.U32(2).U64(0).U32(0x8000_0000).Data(new byte[16]));
        Assert.Equal(EPROTO, r.Errno);
        Assert.Equal(new byte[10_000], File.ReadAllBytes(Path.Combine(_share, "big")));

        Check(c.WalkPath("d", 3));
        Check(c.Lopen(3, NinePOpenFlags.ReadOnly, out _));
        foreach (var (offset, count) in new (ulong, uint)[] { (0, 0), (0, 12), (ulong.MaxValue, 4096), (1UL << 40, 4096) })
        {
            Check(c.ReadDir(3, offset, count, out var entries));
            Assert.Empty(entries);
        }
    }

    // --- case 15: hostile host names and races -------------------------------------------------------------

    [Fact]
    public void Host_Names_That_Are_Not_Utf8_Are_Listed_With_U_FFFD_And_Lead_Nowhere()
    {
        byte[][] names = [[0xFF, 0xFE], Enumerable.Repeat((byte)0x80, 255).ToArray(), [(byte)'o', (byte)'k', 0xC3]];
        foreach (var n in names)
            Assert.Equal(0, MkdirAt(AtFdCwd, CPath(_share, n), DirMode));
        try
        {
            var c = Client();
            var listed = c.List("").Select(e => e.Name).ToList();
            Assert.Contains("\uFFFD\uFFFD", listed);
            Assert.Contains(new string('\uFFFD', 255), listed);
            Assert.Contains("ok\uFFFD", listed);
            foreach (var name in listed.Where(n => n.Contains('\uFFFD')))
            {
                int e = c.Walk(RootFid, 2, out _, name);
                Assert.True(e is ENOENT or ENAMETOOLONG, $"walk of {name.Length} chars: errno {e}");
            }
            var mapped = new HostDirectoryFileSystem(_share, new HostShareOptions { MappedXattr = true });
            try
            {
                Assert.Equal(listed.Count, new NinePTestClient(mapped).Start().List("").Count);
            }
            finally
            {
                mapped.Dispose();
            }
        }
        finally
        {
            foreach (var n in names)
                UnlinkAt(AtFdCwd, CPath(_share, n), AtRemoveDir);
        }
    }

    [Fact]
    public void A_Directory_Moved_Out_Of_The_Share_Under_A_Fid_Is_Gone_For_The_Guest()
    {
        string outside = Path.Combine(_top, "outside");
        Directory.CreateDirectory(Path.Combine(_share, "d", "sub"));
        File.WriteAllText(Path.Combine(_share, "d", "secret"), "moved away");
        var c = Client();
        Check(c.WalkPath("d", 2));
        Check(c.WalkPath("d/sub", 3));
        Directory.Move(Path.Combine(_share, "d"), outside);
        Assert.Equal(ENOENT, c.Walk(2, 4, out _, "secret"));
        Assert.Equal(ENOENT, c.Walk(3, 4, out _, ".."));
        Assert.Equal(ENOENT, c.Lopen(2, NinePOpenFlags.ReadOnly, out _));
        Assert.Equal(ENOENT, c.Lcreate(2, "planted", NinePOpenFlags.WriteOnly, FileMode, out _));
        Assert.Equal(ENOENT, c.Mkdir(3, "planted", DirMode, out _));
        Assert.Equal(ENOENT, c.GetAttr(2, out _));
        Assert.Equal(["secret", "sub"], Directory.EnumerateFileSystemEntries(outside).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(outside, "sub")));
        Assert.DoesNotContain(c.Replies, b => b.AsSpan().IndexOf("moved away"u8) >= 0);
    }
}
