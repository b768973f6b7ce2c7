using Wemu.Devices.NineP;
using Xunit;
using static Wemu.Devices.NineP.LinuxErrno;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices.NineP;

/// <summary>The in-memory tree's host API (the page's vm.writeFile/readFile/listFiles) and its limits.</summary>
public class MemoryFileSystemTests
{
    [Fact]
    public void WriteFile_ReadFile_ListFiles_Round_Trip_And_The_Guest_Sees_Them()
    {
        var fs = new MemoryFileSystem();
        fs.WriteFile("/hello.txt", "hi from the page"u8);
        fs.WriteFile("docs/deep/a.bin", new byte[70_000]);
        Assert.Equal("hi from the page"u8.ToArray(), fs.ReadFile("hello.txt"));
        var top = fs.ListFiles("/");
        Assert.Equal(["docs", "hello.txt"], top.Select(f => f.Name));
        Assert.True(top[0].IsDirectory);
        Assert.Equal(16, top[1].Length);
        Assert.Equal(70_000, fs.ListFiles("/docs/deep").Single().Length);

        var c = new NinePTestClient(fs).Start();
        Assert.Equal("hi from the page"u8.ToArray(), c.ReadAll("hello.txt"));
        c.CreateFile("docs", "from-guest.txt", "guest wrote this"u8.ToArray());
        Assert.Equal("guest wrote this"u8.ToArray(), fs.ReadFile("/docs/from-guest.txt"));

        fs.WriteFile("/hello.txt", "v2"u8); // replaces
        Assert.Equal("v2"u8.ToArray(), c.ReadAll("hello.txt"));
        Assert.True(fs.Delete("/docs"));
        Assert.False(fs.Exists("/docs/deep/a.bin"));
        Assert.False(fs.Delete("/docs"));
    }

    [Fact]
    public void Host_API_Errors_Are_Exceptions()
    {
        var fs = new MemoryFileSystem();
        fs.WriteFile("/f", "x"u8);
        Assert.Throws<FileNotFoundException>(() => fs.ReadFile("/missing"));
        Assert.Throws<DirectoryNotFoundException>(() => fs.ListFiles("/f"));
        Assert.Throws<IOException>(() => fs.WriteFile("/f/child", "x"u8));
        Assert.Throws<IOException>(() => fs.WriteFile("/", "x"u8));
        Assert.Throws<ArgumentException>(() => fs.WriteFile("/../x", "x"u8));
    }

    [Fact]
    public void Capacity_Bounds_What_The_Guest_Can_Store()
    {
        var fs = new MemoryFileSystem(capacity: 1 << 20);
        var c = new NinePTestClient(fs).Start();
        Check(c.WalkPath("", 2));
        Check(c.Lcreate(2, "fill", NinePOpenFlags.WriteOnly, 0x1A4, out _));
        var chunk = new byte[256 * 1024];
        ulong offset = 0;
        int e;
        while ((e = c.Write(2, offset, chunk, out uint n)) == 0 && n == chunk.Length)
            offset += n;
        Assert.True(e == ENOSPC || offset < 1 << 20);
        Assert.True(fs.UsedBytes <= fs.Capacity);
        Assert.Equal(ENOSPC, c.Write(2, offset + 1_000_000, [1], out _));
        Check(c.Clunk(2));
        Check(c.UnlinkAt(RootFid, "fill"));
        Assert.True(fs.UsedBytes < 4096); // freed
        Assert.Throws<IOException>(() => fs.WriteFile("/big", new byte[2 << 20]));
    }

    [Fact]
    public void Sparse_Files_Cost_Only_What_Is_Written()
    {
        var fs = new MemoryFileSystem();
        var c = new NinePTestClient(fs).Start();
        Check(c.WalkPath("", 2));
        Check(c.Lcreate(2, "sparse", NinePOpenFlags.ReadWrite, 0x1A4, out _));
        Check(c.Write(2, 100L << 30, "end"u8.ToArray(), out _));
        Check(c.GetAttr(2, out var a));
        Assert.Equal((100UL << 30) + 3, a.Size);
        Assert.True(fs.UsedBytes < 1 << 20);
        Check(c.Read(2, 50L << 30, 16, out var hole));
        Assert.Equal(new byte[16], hole);
        Assert.Equal(EFBIG, c.Write(2, 1UL << 41, [1], out _));
    }

    [Fact]
    public void Non_Root_Users_Get_EACCES_Where_Modes_Forbid()
    {
        var fs = new MemoryFileSystem();
        var root = new NinePTestClient(fs).Start(uid: 0);
        root.CreateFile("", "private", "root only"u8.ToArray(), mode: 0x180 /* 0600 */);
        Check(root.Mkdir(RootFid, "locked", 0x1ED /* 0755 */, out _));
        root.CreateFile("", "public", "anyone"u8.ToArray(), mode: 0x1A4 /* 0644 */);

        var user = new NinePTestClient(fs).Start(uid: 1000);
        Check(user.WalkPath("private", 2));
        Assert.Equal(EACCES, user.Lopen(2, NinePOpenFlags.ReadOnly, out _));
        Check(user.WalkPath("public", 3));
        Assert.Equal(EACCES, user.Lopen(3, NinePOpenFlags.WriteOnly, out _));
        Assert.Equal(0, user.Lopen(3, NinePOpenFlags.ReadOnly, out _));
        Check(user.WalkPath("locked", 4));
        Assert.Equal(EACCES, user.Lcreate(4, "x", NinePOpenFlags.WriteOnly, 0x1A4, out _));
        Assert.Equal(EACCES, user.Mkdir(4, "x", 0x1ED, out _));
        Assert.Equal(EACCES, user.Mkdir(RootFid, "mine", 0x1ED, out _)); // the root is 0755, owned by root
        Check(root.WalkPath("private", 9));
        Assert.Equal(0, root.Lopen(9, NinePOpenFlags.ReadWrite, out _)); // root may
    }

    [Fact]
    public void Device_Nodes_Are_Kept_With_Their_Numbers()
    {
        var fs = new MemoryFileSystem();
        var c = new NinePTestClient(fs).Start();
        Assert.Equal(0, c.Mknod(RootFid, "null", LinuxFileMode.CharacterDevice | 0x1B6, 1, 3, out _));
        Check(c.WalkPath("null", 2));
        Check(c.GetAttr(2, out var a));
        Assert.Equal(LinuxFileMode.CharacterDevice, a.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(FileStat.MakeDevice(1, 3), a.Rdev);
        Assert.Equal(0x103UL, a.Rdev);
    }

    // --- accounting (SECURITY-REVIEW F4, F17, case 11) ------------------------------------------------------

    [Fact]
    public void Hard_Links_Are_Charged_And_Run_Out_Of_Space()
    {
        var fs = new MemoryFileSystem(capacity: 1 << 20);
        var c = new NinePTestClient(fs).Start();
        c.CreateFile("", "f", [1]);
        Check(c.WalkPath("f", 2));
        long before = fs.UsedBytes;
        string Name(int i) => i.ToString("D250");
        Check(c.Link(RootFid, 2, Name(0)));
        Assert.True(fs.UsedBytes >= before + 500, $"a link with a 250-character name charged {fs.UsedBytes - before} bytes");
        int made = 1, e = 0;
        for (; made < 100_000; made++)
        {
            e = c.Link(RootFid, 2, Name(made));
            if (e != 0)
                break;
        }
        Assert.Equal(ENOSPC, e);
        Assert.True(made < (1 << 20) / 500, $"{made} links fitted in 1 MiB");
        Assert.True(fs.UsedBytes <= fs.Capacity);
        // Unlinking gives the bytes back, down to what the file itself costs.
        for (int i = 0; i < made; i++)
            Check(c.UnlinkAt(RootFid, Name(i)));
        Assert.Equal(before, fs.UsedBytes);
    }

    [Fact]
    public void Symlink_Targets_Are_Charged_Per_Byte()
    {
        var fs = new MemoryFileSystem(capacity: 1 << 20);
        var c = new NinePTestClient(fs).Start();
        string target = new('t', 4095);
        long before = fs.UsedBytes;
        Check(c.Symlink(RootFid, "l0", target, out _));
        Assert.True(fs.UsedBytes - before >= 2 * 4095, $"a 4095-byte target charged {fs.UsedBytes - before} bytes");
        int made = 1, e = 0;
        for (; made < 1000; made++)
        {
            e = c.Symlink(RootFid, $"l{made}", target, out _);
            if (e != 0)
                break;
        }
        Assert.Equal(ENOSPC, e);
        Assert.True(made < (1 << 20) / 8190 + 1, $"{made} symlinks fitted in 1 MiB");
        for (int i = 0; i < made; i++)
            Check(c.UnlinkAt(RootFid, $"l{i}"));
        Assert.Equal(before, fs.UsedBytes);
    }

    [Fact]
    public void Names_Are_Charged_And_Renames_Recharge_Them()
    {
        var fs = new MemoryFileSystem();
        var c = new NinePTestClient(fs).Start();
        long start = fs.UsedBytes;
        c.CreateFile("", "a", []);
        long shortName = fs.UsedBytes - start;
        c.CreateFile("", new string('b', 255), []);
        long longName = fs.UsedBytes - start - shortName;
        Assert.Equal(2 * 254, longName - shortName);
        Check(c.RenameAt(RootFid, "a", RootFid, new string('c', 200)));
        Assert.Equal(start + 2 * longName - 2 * 55, fs.UsedBytes);
        Check(c.RenameAt(RootFid, new string('c', 200), RootFid, new string('b', 255))); // replaces: one entry left
        Assert.Equal(start + longName, fs.UsedBytes);
        Check(c.UnlinkAt(RootFid, new string('b', 255)));
        Assert.Equal(start, fs.UsedBytes);
    }

    [Fact]
    public void A_Rename_To_A_Longer_Name_Fails_With_ENOSPC_When_Full_And_Changes_Nothing()
    {
        var fs = new MemoryFileSystem(capacity: 4096);
        var c = new NinePTestClient(fs).Start();
        c.CreateFile("", "a", []);
        int i = 0;
        while (c.Mkdir(RootFid, $"d{i}", 0x1ED, out _) == 0)
            i++;
        Assert.Equal(ENOSPC, c.RenameAt(RootFid, "a", RootFid, new string('z', 255)));
        Assert.True(fs.Exists("/a"));
        Assert.True(fs.UsedBytes <= fs.Capacity);
    }

    [Fact]
    public void Host_ReadFile_Refuses_A_Sparse_File_Larger_Than_The_Share()
    {
        var fs = new MemoryFileSystem(capacity: 1 << 20);
        var c = new NinePTestClient(fs).Start();
        c.CreateFile("", "sparse", []);
        Check(c.WalkPath("sparse", 2));
        Check(c.SetAttr(2, SetAttributesRequest.Size, size: 1UL << 30)); // one truncate: 1 GiB that holds nothing
        Assert.True(fs.UsedBytes < 1 << 20);
        Assert.Throws<IOException>(() => fs.ReadFile("/sparse"));
        Check(c.SetAttr(2, SetAttributesRequest.Size, size: 1000));
        Assert.Equal(new byte[1000], fs.ReadFile("/sparse"));
    }

    [Fact]
    public void Host_WriteFile_Refuses_Contents_Larger_Than_The_Share_And_Overlong_Names()
    {
        var fs = new MemoryFileSystem(capacity: 1 << 20);
        Assert.Throws<IOException>(() => fs.WriteFile("/big", new byte[(1 << 20) + 1]));
        Assert.False(fs.Exists("/big"));
        Assert.Throws<ArgumentException>(() => fs.WriteFile("/" + new string('n', 256), [1]));
        Assert.Throws<ArgumentException>(() => fs.WriteFile("/" + new string('\u00e9', 128), [1])); // 256 UTF-8 bytes
        Assert.Throws<ArgumentException>(() => fs.WriteFile("/" + new string('n', 70_000), [1]));
        Assert.Throws<ArgumentException>(() => fs.CreateDirectory(string.Join('/', Enumerable.Repeat(new string('d', 255), 17))));
        fs.WriteFile("/" + new string('n', 255), [1]);
        Assert.Single(fs.ListFiles());
        // Every name the page can make fits in a directory-listing reply.
        var c = new NinePTestClient(fs).Start();
        Assert.Contains(c.List(""), e => e.Name == new string('n', 255));
    }

    [Fact]
    public void A_Listing_Entry_Larger_Than_The_Count_Is_EINVAL_Not_The_End_Of_The_Directory()
    {
        var fs = new MemoryFileSystem();
        fs.WriteFile("/d/" + new string('n', 255), []);
        var c = new NinePTestClient(fs).Start();
        Check(c.WalkPath("d", 2));
        Check(c.Lopen(2, NinePOpenFlags.ReadOnly, out _));
        Check(c.ReadDir(2, 0, 100, out var dots)); // "." and ".." fit
        Assert.Equal([".", ".."], dots.Select(e => e.Name));
        // getdents(2): the next entry needs 24 + 255 bytes; an empty reply would tell the guest the listing ended.
        Assert.Equal(EINVAL, c.ReadDir(2, dots[^1].Offset, 100, out _));
        Check(c.ReadDir(2, dots[^1].Offset, 300, out var rest));
        Assert.Equal(new string('n', 255), Assert.Single(rest).Name);
    }

    [Fact]
    public void Host_Delete_Removes_A_Tree_Deeper_Than_Any_Path_Without_Recursion()
    {
        // Chains of 1000 one-letter directories (PATH_MAX would allow ~2047), each moved below the previous one's bottom:
        // 6,000 levels, far deeper than a recursive delete's stack allows in 256 KiB.
        var fs = new MemoryFileSystem(capacity: 1L << 30);
        var c = new NinePTestClient(fs).Start();
        const int Chains = 6, Depth = 1000;
        for (int chain = 0; chain < Chains; chain++)
        {
            string top = $"c{chain}";
            Check(c.Mkdir(RootFid, top, 0x1ED, out _));
            Check(c.WalkPath(top, 2));
            for (int i = 1; i < Depth; i++)
            {
                Check(c.Mkdir(2, "d", 0x1ED, out _));
                Check(c.Walk(2, 2, out _, "d"));
            }
            if (chain > 0)
                Check(c.Rename(3, 2, top)); // the whole previous tree moves below this chain's bottom
            Check(c.Clunk(2));
            if (chain > 0)
                Check(c.Clunk(3));
            Check(c.WalkPath(top, 3));
        }
        Check(c.Clunk(3));
        long empty = new MemoryFileSystem().UsedBytes;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                fs.Delete($"/c{Chains - 1}");
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, 256 * 1024); // a small stack, as in a browser tab
        thread.Start();
        thread.Join();
        Assert.Null(failure);
        Assert.Empty(fs.ListFiles());
        Assert.Equal(empty, fs.UsedBytes);
    }
}
