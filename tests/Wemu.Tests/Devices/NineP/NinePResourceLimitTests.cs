using Wemu.Cli;
using Wemu.Devices.NineP;
using Xunit;
using static Wemu.Devices.NineP.LinuxErrno;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// SECURITY-REVIEW F3, cases 9 and 10: whatever a guest sends, one 9P session holds a bounded number of fids,
/// open host files, directory-snapshot bytes and path characters, and a Tversion gives all of them back.
/// Most tests lower the caps through <see cref="NinePServerLimits"/> to stay fast; one runs at the defaults.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Collection(MemoryMeasurement.Name)]
public sealed class NinePResourceLimitTests : IDisposable
{
    private const int RdOnly = NinePOpenFlags.ReadOnly;
    private readonly string _root = Directory.CreateTempSubdirectory("wemu-9p-limits-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static void NewSession(NinePTestClient c)
    {
        var r = c.Send(Wemu.Devices.NineP.NinePMessageType.Tversion, m => m.U32(65536).Str("9P2000.L"));
        Assert.Equal(Wemu.Devices.NineP.NinePMessageType.Rversion, r.Type);
    }

    /// <summary>Host descriptors of this process that point into <paramref name="dir"/> (other tests run in parallel).</summary>
    private static int HostDescriptorsUnder(string dir)
    {
        int n = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && (target == dir || target.StartsWith(dir + "/", StringComparison.Ordinal)))
                    n++;
            }
            catch (IOException)
            {
                // closed while listing
            }
        }
        return n;
    }

    [Fact]
    public void Fids_Stop_At_The_Default_Cap_With_EMFILE_And_Version_Releases_Them()
    {
        var c = new NinePTestClient(new MemoryFileSystem()).Start();
        int cap = NinePServerLimits.Default.MaxFids;
        Assert.True(cap <= 64 * 1024);
        int first = 0;
        // Clone the root until the server refuses; far fewer tries than the old 1Mi cap, so today's code fails fast.
        for (uint fid = 2; fid < (uint)cap + 100; fid++)
        {
            int e = c.Walk(RootFid, fid, out _);
            if (e != 0)
            {
                first = e;
                break;
            }
        }
        Assert.Equal(EMFILE, first);
        Assert.Equal(cap, c.Server.FidCount);
        Assert.Equal(EMFILE, c.XattrWalk(RootFid, 0xFFFF_0000, "", out _));
        Assert.Equal(EMFILE, c.Attach(0xFFFF_0001, 0, out _));
        NewSession(c);
        Assert.Equal(0, c.Server.FidCount);
        Assert.Equal(0, c.Server.PathChars);
    }

    [Fact]
    public void Open_Files_Stop_At_The_Default_Cap_With_EMFILE()
    {
        var fs = new MemoryFileSystem();
        fs.WriteFile("/f", [1, 2, 3]);
        var c = new NinePTestClient(fs).Start();
        int cap = NinePServerLimits.Default.MaxOpenFiles;
        Assert.True(cap <= 4096);
        int opened = 0, first = 0;
        for (uint fid = 2; fid < (uint)cap + 50; fid++)
        {
            Check(c.WalkPath("f", fid));
            int e = c.Lopen(fid, RdOnly, out _);
            if (e != 0)
            {
                first = e;
                break;
            }
            opened++;
        }
        Assert.Equal(EMFILE, first);
        Assert.Equal(cap, opened);
        Assert.Equal(cap, c.Server.OpenFileCount);
        // Clunking one makes room for one more (Lcreate counts too).
        Check(c.Clunk(2));
        Check(c.Walk(RootFid, 2, out _));
        Check(c.Lcreate(2, "new", NinePOpenFlags.WriteOnly, 0x1A4, out _));
        Check(c.Walk(RootFid, 100_001, out _));
        Assert.Equal(EMFILE, c.Lcreate(100_001, "newer", NinePOpenFlags.WriteOnly, 0x1A4, out _));
        Assert.False(fs.Exists("/newer"));
        NewSession(c);
        Assert.Equal(0, c.Server.OpenFileCount);
    }

    [Fact]
    public void Host_Share_Open_Files_Are_Capped_And_Version_Closes_Every_Host_Descriptor()
    {
        for (int i = 0; i < 8; i++)
            File.WriteAllText(Path.Combine(_root, $"f{i}"), "data");
        using var fs = new HostDirectoryFileSystem(_root);
        var limits = new NinePServerLimits { MaxFids = 200, MaxOpenFiles = 64 };
        var c = new NinePTestClient(fs, limits: limits).Start();
        int before = HostDescriptorsUnder(_root);
        int opened = 0, first = 0;
        for (uint fid = 2; fid < 190; fid++)
        {
            Check(c.WalkPath($"f{fid % 8}", fid));
            int e = c.Lopen(fid, RdOnly, out _);
            if (e != 0)
            {
                first = e;
                break;
            }
            opened++;
        }
        Assert.Equal(EMFILE, first);
        Assert.Equal(64, opened);
        Assert.Equal(before + 64, HostDescriptorsUnder(_root));
        // Walk fids up to the fid cap as well, then start a new session: nothing of the old one stays open.
        for (uint fid = 1000; c.Walk(RootFid, fid, out _) == 0; fid++)
        {
        }
        Assert.Equal(200, c.Server.FidCount);
        NewSession(c);
        Assert.Equal(0, c.Server.FidCount);
        Assert.Equal(0, c.Server.OpenFileCount);
        Assert.Equal(before, HostDescriptorsUnder(_root));
    }

    [Fact]
    public void Device_Reset_Closes_Every_Host_Descriptor()
    {
        File.WriteAllText(Path.Combine(_root, "f"), "data");
        using var fs = new HostDirectoryFileSystem(_root);
        var c = new NinePTestClient(fs).Start();
        int before = HostDescriptorsUnder(_root);
        for (uint fid = 2; fid < 34; fid++)
        {
            Check(c.WalkPath("f", fid));
            Check(c.Lopen(fid, RdOnly, out _));
        }
        Assert.Equal(before + 32, HostDescriptorsUnder(_root));
        c.Server.Reset();
        Assert.Equal(before, HostDescriptorsUnder(_root));
        Assert.Equal(0, c.Server.FidCount);
    }

    /// <summary>
    /// Case 10, scaled down: many fids each take a snapshot of a large directory. Only the budget's worth stays
    /// in memory, and a fid whose snapshot was dropped still lists every entry exactly once.
    /// </summary>
    [Fact]
    public void Directory_Snapshots_Stay_Within_The_Listing_Budget()
    {
        const int Files = 2000, Fids = 200;
        string big = Path.Combine(_root, "big");
        Directory.CreateDirectory(big);
        for (int i = 0; i < Files; i++)
            File.Create(Path.Combine(big, i.ToString("D255"))).Dispose();
        using var fs = new HostDirectoryFileSystem(_root);
        var limits = new NinePServerLimits { ListingBudgetBytes = 4L << 20 };
        var c = new NinePTestClient(fs, limits: limits).Start();
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (uint fid = 2; fid < 2 + Fids; fid++)
        {
            Check(c.WalkPath("big", fid));
            Check(c.Lopen(fid, RdOnly, out _));
            Check(c.ReadDir(fid, 0, 64, out var first));
            Assert.NotEmpty(first);
            Assert.True(c.Server.ListingBytes <= limits.ListingBudgetBytes);
        }
        c.Replies.Clear();
        long grown = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
        // Each snapshot is about 1.1 MB: 200 of them kept would be over 200 MB.
        Assert.True(grown < 48L << 20, $"{grown} bytes still held after {Fids} directory snapshots");
        Assert.True(c.Server.ListingBytes > 0);

        // Fid 2's snapshot was dropped long ago: reading on re-lists and still yields each name once.
        var names = new HashSet<string>();
        ulong offset = 0;
        while (true)
        {
            Check(c.ReadDir(2, offset, 8192, out var chunk));
            if (chunk.Count == 0)
                break;
            foreach (var e in chunk)
                Assert.True(names.Add(e.Name), $"{e.Name} listed twice");
            offset = chunk[^1].Offset;
        }
        Assert.Equal(Files + 2, names.Count); // with "." and ".."
        NewSession(c);
        Assert.Equal(0, c.Server.ListingBytes);
    }

    [Fact]
    public void A_Listing_Larger_Than_The_Whole_Budget_Is_Kept_Alone()
    {
        var fs = new MemoryFileSystem();
        for (int i = 0; i < 300; i++)
            fs.WriteFile($"/d/{i:D200}", []);
        fs.WriteFile("/small/a", []);
        var limits = new NinePServerLimits { ListingBudgetBytes = 16 * 1024 };
        var c = new NinePTestClient(fs, limits: limits).Start();
        Check(c.WalkPath("small", 2));
        Check(c.Lopen(2, RdOnly, out _));
        Check(c.ReadDir(2, 0, 4096, out _));
        long small = c.Server.ListingBytes;
        Assert.True(small > 0);
        // The big directory needs about 130 KB: the small snapshot goes, the big one stays while it is read.
        Check(c.WalkPath("d", 3));
        Check(c.Lopen(3, RdOnly, out _));
        var all = new List<Entry>();
        ulong offset = 0;
        while (true)
        {
            Check(c.ReadDir(3, offset, 4096, out var chunk));
            if (chunk.Count == 0)
                break;
            all.AddRange(chunk);
            offset = chunk[^1].Offset;
            Assert.True(c.Server.ListingBytes > limits.ListingBudgetBytes && c.Server.ListingBytes < 200_000);
        }
        Assert.Equal(302, all.Select(e => e.Name).Distinct().Count());
        // Taking the small one again drops the big one: back within the budget.
        Check(c.ReadDir(2, 0, 4096, out _));
        Assert.Equal(small, c.Server.ListingBytes);
    }

    /// <summary>
    /// A rename carries the fids below it along, but never past PATH_MAX: otherwise repeated renames could give
    /// one fid a path megabytes long, which every later operation on it would have to resolve.
    /// </summary>
    [Fact]
    public void A_Rename_Never_Carries_A_Fid_Past_Path_Max()
    {
        var fs = new MemoryFileSystem();
        var c = new NinePTestClient(fs).Start();
        string n = new('n', 255);
        Check(c.Mkdir(RootFid, "a", 0x1ED, out _));
        Check(c.WalkPath("a", 2));
        for (int depth = 0; depth < 15; depth++)
        {
            Check(c.Mkdir(2, n, 0x1ED, out _));
            Check(c.Walk(2, 2, out _, n));
        }
        // Fid 2 is at "a" + 15 × "/nnn…": 3827 bytes. Renaming "a" to a 255-byte name would make it 4081: fine.
        // Moving it below a 255-byte directory as well would make it 4337: refused, nothing moves.
        Check(c.Mkdir(RootFid, n, 0x1ED, out _));
        Check(c.WalkPath(n, 3));
        Assert.Equal(ENAMETOOLONG, c.RenameAt(RootFid, "a", 3, "a"));
        Assert.True(fs.Exists("/a"));
        Check(c.RenameAt(RootFid, "a", RootFid, new string('b', 255)));
        Check(c.GetAttr(2, out _)); // still names its directory
        Check(c.Clunk(2));
        Check(c.RenameAt(RootFid, new string('b', 255), 3, "a")); // without the deep fid, the tree may move
        Assert.True(c.Server.PathChars < 1000);
    }

    /// <summary>Fid paths: each is at most PATH_MAX, and all of them together stay within the path budget (ENOMEM beyond).</summary>
    [Fact]
    public void Path_Memory_Stays_Within_The_Path_Budget()
    {
        var fs = new MemoryFileSystem();
        string name = new('n', 255);
        var c = new NinePTestClient(fs, limits: new NinePServerLimits { PathBudgetChars = 100_000 }).Start();
        // A destination directory with a long path, for the rename below, and a fid on the root.
        string other = new('m', 255);
        Check(c.Mkdir(RootFid, "q", 0x1ED, out _));
        Check(c.WalkPath("q", 5000));
        Check(c.Mkdir(5000, other, 0x1ED, out _));
        Check(c.Walk(5000, 5000, out _, other));
        Check(c.Walk(RootFid, 5001, out _));
        Check(c.Walk(RootFid, 2, out _));
        for (int depth = 0; depth < 10; depth++) // 2559 characters: room below PATH_MAX for the move below
        {
            Check(c.Mkdir(2, name, 0x1ED, out _));
            Check(c.Walk(2, 2, out _, name));
        }
        int first = 0;
        uint fid = 3;
        for (; fid < 1000; fid++)
        {
            first = c.Walk(2, fid, out _);
            if (first != 0)
                break;
        }
        Assert.Equal(ENOMEM, first);
        Assert.True(c.Server.PathChars <= 100_000);
        Assert.True(fid - 3 >= 100_000 / (11 * 256) - 3, $"only {fid - 3} deep fids");

        // Moving the tree below q/mmm... would lengthen every deep fid's path by 257 characters: past the budget,
        // so the rename is refused and changes nothing.
        Assert.Equal(ENOMEM, c.RenameAt(5001, name, 5000, name));
        Assert.True(fs.Exists("/" + name));
        Assert.True(c.Server.PathChars <= 100_000);
        // Clunking gives the characters back.
        for (uint f = 3; f < fid; f++)
            Check(c.Clunk(f));
        Assert.Equal(0, c.RenameAt(5001, name, 5000, name));
        Assert.True(fs.Exists($"/q/{other}/{name}"));
        Assert.Equal(0, c.Walk(2, 6000, out _));
    }
}
