using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Wemu.Cli;
using Wemu.Devices.NineP;
using Xunit;
using static Wemu.Devices.NineP.LinuxErrno;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// SECURITY-REVIEW F6, cases 7 and 8: the guest cannot use the host share against the host. With
/// security_model=none no setuid/setgid file, root-owned chown, FIFO or socket appears on the host unless the user
/// opted in; with mapped-xattr what the guest asks for lives in user.virtfs.* attributes and the host file stays
/// 0600/0700; and opening a FIFO or socket found in the share never blocks the emulator.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class HostDirectorySecurityTests : IDisposable
{
    private const uint Mode4755 = 0x9ED, Mode6777 = 0xDFF, Mode2777 = 0x5FF;
    private const int WrOnly = NinePOpenFlags.WriteOnly;
    private const UnixFileMode SetId = UnixFileMode.SetUser | UnixFileMode.SetGroup;
    private readonly string _root = Directory.CreateTempSubdirectory("wemu-9p-sec-").FullName;
    private readonly List<HostDirectoryFileSystem> _shares = [];

    public void Dispose()
    {
        foreach (var s in _shares)
            s.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private NinePTestClient Client(HostShareOptions options)
    {
        var fs = new HostDirectoryFileSystem(_root, options);
        _shares.Add(fs);
        return new NinePTestClient(fs).Start();
    }

    private string Host(string name) => Path.Combine(_root, name);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint LGetXattr(string path, string name, byte* value, nuint size);

    private static unsafe ulong? Xattr(string path, string name)
    {
        byte* b = stackalloc byte[8];
        nint n = LGetXattr(path, "user.virtfs." + name, b, 8);
        return n switch
        {
            4 => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(b, 4)),
            8 => BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(b, 8)),
            _ => null,
        };
    }

    // --- security_model=none -------------------------------------------------------------------------------

    [Fact]
    public void Setuid_And_Setgid_Are_Stripped_On_Create_Chmod_Mkdir_And_Mknod()
    {
        var c = Client(new HostShareOptions());
        Check(c.Walk(RootFid, 2, out _));
        Check(c.Lcreate(2, "suid", WrOnly, Mode4755, out _));
        Check(c.Clunk(2));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Host("suid")) & SetId);
        Assert.True(File.GetUnixFileMode(Host("suid")).HasFlag(UnixFileMode.UserExecute)); // the rest of the mode stays

        File.WriteAllText(Host("plain"), "x");
        Check(c.WalkPath("plain", 3));
        Check(c.SetAttr(3, SetAttributesRequest.Mode, mode: Mode6777));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Host("plain")) & SetId);
        Check(c.GetAttr(3, out var a));
        Assert.Equal(0u, a.Mode & LinuxFileMode.SetIdBits);
        Assert.Equal(0x1FFu, a.Mode & 0x1FF);

        Check(c.Mkdir(RootFid, "sgid", Mode2777, out _));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Host("sgid")) & SetId);
        Check(c.Mknod(RootFid, "node", LinuxFileMode.Regular | Mode6777, 0, 0, out _));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Host("node")) & SetId);
    }

    [Fact]
    public void X_Setid_Keeps_The_Guest_Setuid_Bit()
    {
        var c = Client(new HostShareOptions { AllowSetId = true });
        Check(c.Walk(RootFid, 2, out _));
        Check(c.Lcreate(2, "suid", WrOnly, Mode4755, out _));
        Assert.Equal(UnixFileMode.SetUser, File.GetUnixFileMode(Host("suid")) & SetId);
    }

    [Fact]
    public void Chown_To_Root_Is_Ignored_Unless_Opted_In()
    {
        if (GetEuid() != 0)
            return; // only root can give files away; without it nothing can become root-owned anyway
        File.WriteAllText(Host("f"), "x");
        var c = Client(new HostShareOptions());
        Check(c.WalkPath("f", 2));
        Check(c.SetAttr(2, SetAttributesRequest.Uid | SetAttributesRequest.Gid, uid: 1234, gid: 4321));
        Check(c.GetAttr(2, out var a));
        Assert.Equal((1234u, 4321u), (a.Uid, a.Gid)); // ordinary ownership changes still work
        Check(c.SetAttr(2, SetAttributesRequest.Uid | SetAttributesRequest.Gid, uid: 0, gid: 0));
        Check(c.GetAttr(2, out a));
        Assert.Equal((1234u, 4321u), (a.Uid, a.Gid));
        Check(c.SetAttr(2, SetAttributesRequest.Gid, gid: 0));
        Check(c.GetAttr(2, out a));
        Assert.Equal(4321u, a.Gid);

        var opted = Client(new HostShareOptions { AllowRootOwner = true });
        Check(opted.WalkPath("f", 2));
        Check(opted.SetAttr(2, SetAttributesRequest.Uid | SetAttributesRequest.Gid, uid: 0, gid: 0));
        Check(opted.GetAttr(2, out a));
        Assert.Equal((0u, 0u), (a.Uid, a.Gid));
    }

    [Fact]
    public void Fifos_And_Sockets_Are_Not_Created_On_The_Host_Unless_Opted_In()
    {
        var c = Client(new HostShareOptions());
        Assert.Equal(EPERM, c.Mknod(RootFid, "p", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
        Assert.Equal(EPERM, c.Mknod(RootFid, "s", LinuxFileMode.Socket | 0x1A4, 0, 0, out _));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root));

        var opted = Client(new HostShareOptions { AllowSpecialFiles = true });
        Check(opted.Mknod(RootFid, "p", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Host("p")) & SetId);
        Check(opted.WalkPath("p", 2));
        Check(opted.GetAttr(2, out var a));
        Assert.Equal(LinuxFileMode.Fifo, a.Mode & LinuxFileMode.TypeMask);
        Assert.Equal(EPERM, opted.Mknod(RootFid, "mem", LinuxFileMode.CharacterDevice | 0x1B6, 1, 1, out _)); // never devices
    }

    /// <summary>Case 7: every way to open or truncate a FIFO or socket answers at once, and no fid is left behind.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fifo_And_Socket_Opens_Never_Block(bool mapped)
    {
        var c = Client(mapped ? new HostShareOptions { MappedXattr = true } : new HostShareOptions { AllowSpecialFiles = true });
        Check(c.Mknod(RootFid, "p", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
        Assert.Equal(0, MkFifo(Host("hp"), 0x1B6));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Host("hs")));
        socket.Listen();
        int fids = c.Server.FidCount;
        // On a thread of its own (a blocked open would never return, and the thread pool may be busy with other
        // tests): each call must take well under 2 s, and all of them must be over within 30 s.
        var results = new List<(string What, int Errno, TimeSpan Took)>();
        Exception? failure = null;
        var worker = new Thread(() =>
        {
            try
            {
                Probe();
            }
            catch (Exception e)
            {
                failure = e; // an exception on a thread of its own would end the test process
            }
        }) { IsBackground = true };

        void Probe()
        {
            uint fid = 10;
            foreach (string name in new[] { "p", "hp", "hs" })
            {
                foreach (int flags in new[] { NinePOpenFlags.ReadOnly, NinePOpenFlags.WriteOnly, NinePOpenFlags.ReadWrite | NinePOpenFlags.Truncate })
                {
                    Check(c.WalkPath(name, fid));
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    int e = c.Lopen(fid, flags, out _);
                    results.Add(($"Tlopen {name} flags {flags}", e, clock.Elapsed));
                    clock.Restart();
                    e = c.SetAttr(fid, SetAttributesRequest.Size, size: 0);
                    results.Add(($"truncate {name}", e, clock.Elapsed));
                    Check(c.Clunk(fid));
                    fid++;
                }
            }
        }

        worker.Start();
        Assert.True(worker.Join(TimeSpan.FromSeconds(30)), "an open or truncate of a FIFO or socket blocked");
        Assert.Null(failure);
        Assert.Equal(18, results.Count);
        foreach (var (what, errno, took) in results)
        {
            Assert.True(errno is ENXIO or EINVAL, $"{what}: errno {errno}");
            Assert.True(took < TimeSpan.FromSeconds(2), $"{what} took {took}");
        }
        Assert.Equal(fids, c.Server.FidCount);
        Assert.Equal(0, c.Server.OpenFileCount);
        Assert.Equal(0, c.Walk(RootFid, 99, out _)); // still answering
    }

    /// <summary>
    /// SECURITY-REVIEW F17: a user who shares "/" must not hand the guest /proc/PID/mem of the emulator (host code
    /// execution), sysfs or cgroup files. Ordinary files below the same root still work.
    /// </summary>
    [Fact]
    public void Kernel_Interface_Files_Below_A_Shared_Root_Are_Never_Opened_Or_Changed()
    {
        Assert.Throws<IOException>(() => new HostDirectoryFileSystem("/proc"));
        var fs = new HostDirectoryFileSystem("/", new HostShareOptions());
        _shares.Add(fs);
        var c = new NinePTestClient(fs).Start();
        string self = $"proc/{Environment.ProcessId}";
        Check(c.WalkPath(self + "/mem", 2));
        Assert.Equal(EACCES, c.Lopen(2, NinePOpenFlags.ReadWrite, out _));
        Assert.Equal(EACCES, c.Lopen(2, NinePOpenFlags.ReadOnly, out _));
        Check(c.WalkPath(self + "/environ", 3));
        Assert.Equal(EACCES, c.Lopen(3, NinePOpenFlags.ReadOnly, out _));
        Assert.Equal(EACCES, c.SetAttr(3, SetAttributesRequest.Mode, mode: 0x1B6));
        Check(c.WalkPath("proc/sys/kernel", 4));
        Assert.Equal(EACCES, c.Mkdir(4, "x", 0x1ED, out _));
        Assert.Equal(EACCES, c.Lcreate(4, "x", WrOnly, 0x1A4, out _));
        Assert.Equal(EACCES, c.UnlinkAt(4, "hostname"));
        Assert.Equal(EACCES, c.RenameAt(4, "hostname", 4, "x"));
        Assert.Equal(EACCES, c.SetAttr(4, SetAttributesRequest.Mode, mode: 0x1FF));
        if (Directory.Exists("/sys/kernel"))
        {
            Check(c.WalkPath("sys/kernel", 5));
            Assert.Equal(EACCES, c.Mkdir(5, "x", 0x1ED, out _));
        }
        // Listing is fine (names only), and so is an ordinary file on the root's own file system.
        Assert.Contains(c.List("proc"), e => e.Name == "self");
        File.WriteAllText(Host("plain"), "plain");
        Assert.Equal(Encoding.ASCII.GetBytes("plain"), c.ReadAll(Path.GetRelativePath("/", Host("plain"))));
    }

    // --- security_model=mapped-xattr -----------------------------------------------------------------------

    [Fact]
    public void Mapped_Xattr_Keeps_Owner_Mode_And_Type_In_Attributes_Not_On_The_Host_File()
    {
        var c = Client(new HostShareOptions { MappedXattr = true });
        Check(c.Walk(RootFid, 2, out _));
        Check(c.Lcreate(2, "suid", WrOnly, Mode4755, out _, gid: 4321));
        Check(c.Write(2, 0, Encoding.ASCII.GetBytes("#!/bin/sh\n"), out _));
        Check(c.Clunk(2));
        Check(c.WalkPath("suid", 2));
        Check(c.SetAttr(2, SetAttributesRequest.Mode | SetAttributesRequest.Uid, mode: Mode6777, uid: 0));
        // The guest sees its own view...
        Check(c.GetAttr(2, out var a));
        Assert.Equal(LinuxFileMode.Regular | Mode6777, a.Mode);
        Assert.Equal((0u, 4321u), (a.Uid, a.Gid));
        // ...the host file is a plain 0600 file, and QEMU's attributes hold the rest.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Host("suid")));
        Assert.Equal(LinuxFileMode.Regular | Mode6777, Xattr(Host("suid"), "mode"));
        Assert.Equal(0ul, Xattr(Host("suid"), "uid"));
        Assert.Equal(4321ul, Xattr(Host("suid"), "gid"));

        Check(c.Mkdir(RootFid, "dir", Mode2777, out _));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Host("dir")));
        Assert.Equal(LinuxFileMode.Directory | Mode2777, Xattr(Host("dir"), "mode"));
    }

    [Fact]
    public void Mapped_Xattr_Links_And_Nodes_Are_Regular_Host_Files()
    {
        var c = Client(new HostShareOptions { MappedXattr = true });
        Check(c.Symlink(RootFid, "link", "/etc/passwd", out var q));
        Assert.Equal(Qid.TypeSymlink, q.Type);
        var info = new FileInfo(Host("link"));
        Assert.Null(info.LinkTarget); // not a host symbolic link
        Assert.Equal("/etc/passwd", File.ReadAllText(Host("link")));
        Assert.Equal(LinuxFileMode.SymbolicLink | 0x1FF, Xattr(Host("link"), "mode"));
        Check(c.WalkPath("link", 2));
        Check(c.Readlink(2, out string target));
        Assert.Equal("/etc/passwd", target);
        Assert.Equal(ELOOP, c.Lopen(2, NinePOpenFlags.ReadOnly, out _));
        // Even asked directly (past the server's own check), the backend does not open, let alone truncate, it.
        Assert.Equal(ELOOP, c.Server.FileSystem.Open("link", NinePOpenFlags.WriteOnly | NinePOpenFlags.Truncate, 0, out var opened));
        Assert.Null(opened);
        Assert.Equal("/etc/passwd", File.ReadAllText(Host("link")));

        Check(c.Mknod(RootFid, "null", LinuxFileMode.CharacterDevice | 0x1B6, 1, 3, out _));
        Check(c.Mknod(RootFid, "fifo", LinuxFileMode.Fifo | 0x1A4, 0, 0, out _));
        Check(c.Mknod(RootFid, "sock", LinuxFileMode.Socket | 0x1A4, 0, 0, out _));
        foreach (string name in new[] { "null", "fifo", "sock" })
        {
            Assert.True(File.Exists(Host(name)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Host(name)));
            Assert.Equal(0L, new FileInfo(Host(name)).Length);
        }
        Check(c.WalkPath("null", 3));
        Check(c.GetAttr(3, out var a));
        Assert.Equal(LinuxFileMode.CharacterDevice | 0x1B6, a.Mode);
        Assert.Equal(FileStat.MakeDevice(1, 3), a.Rdev);
        Assert.Equal(ENXIO, c.Lopen(3, NinePOpenFlags.ReadWrite, out _)); // never opened as a file either
        var listed = c.List("").ToDictionary(e => e.Name, e => e.Type);
        Assert.Equal(LinuxFileMode.DirectoryEntryType(LinuxFileMode.SymbolicLink), listed["link"]);
        Assert.Equal(LinuxFileMode.DirectoryEntryType(LinuxFileMode.Fifo), listed["fifo"]);
        Assert.Equal(LinuxFileMode.DirectoryEntryType(LinuxFileMode.CharacterDevice), listed["null"]);
    }

    [Fact]
    public void Mapped_Xattr_Shows_Host_Files_Without_Attributes_As_They_Are()
    {
        File.WriteAllText(Host("plain"), "x");
        File.SetUnixFileMode(Host("plain"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        File.CreateSymbolicLink(Host("hostlink"), "/etc");
        var c = Client(new HostShareOptions { MappedXattr = true });
        Check(c.WalkPath("plain", 2));
        Check(c.GetAttr(2, out var a));
        Assert.Equal(LinuxFileMode.Regular | 0x1A0, a.Mode);
        Assert.Equal(Encoding.ASCII.GetBytes("x"), c.ReadAll("plain"));
        Check(c.WalkPath("hostlink", 3));
        Check(c.Readlink(3, out string target));
        Assert.Equal("/etc", target);
        Assert.Equal(ELOOP, c.Lopen(3, NinePOpenFlags.ReadOnly, out _));
    }
}
