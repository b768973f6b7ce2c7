using System.Text;
using Wemu.Devices.NineP;
using Wemu.Snapshot;
using Xunit;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// The 9P session in a snapshot: fids saved by path and state; a new server on the same files takes them back, with
/// open files opened again (reads and writes through the old fid numbers work), and refuses a session whose files
/// are gone or whose paths leave the share.
/// </summary>
public sealed class NinePSessionSnapshotTests
{
    private static MemoryFileSystem Files()
    {
        var fs = new MemoryFileSystem();
        fs.WriteFile("/dir/data.txt", "0123456789"u8);
        return fs;
    }

    private static byte[] SavedSession(MemoryFileSystem fs)
    {
        var c = new NinePTestClient(fs).Start();
        NinePTestClient.Check(c.WalkPath("dir/data.txt", 2));
        NinePTestClient.Check(c.Lopen(2, NinePOpenFlags.ReadWrite | NinePOpenFlags.Truncate, out _));
        NinePTestClient.Check(c.Write(2, 0, "ABCDEFGHIJ"u8.ToArray(), out _));
        NinePTestClient.Check(c.WalkPath("dir", 3));
        var w = new StateWriter();
        c.Server.SaveState(w);
        return w.WrittenSpan.ToArray();
    }

    [Fact]
    public void A_Saved_Session_Resumes_On_A_New_Server_With_Its_Open_File_Opened_Again()
    {
        var fs = Files();
        var saved = SavedSession(fs);
        var resumed = new NinePTestClient(fs);
        resumed.Server.LoadState(new StateReader(saved, "virtio0.device"));
        Assert.Equal(3, resumed.Server.FidCount);   // the root, the open file, the directory
        Assert.Equal(1, resumed.Server.OpenFileCount);
        NinePTestClient.Check(resumed.Read(2, 0, 10, out var data));
        Assert.Equal("ABCDEFGHIJ", Encoding.ASCII.GetString(data));   // not truncated again by the re-open
        NinePTestClient.Check(resumed.Write(2, 10, "KL"u8.ToArray(), out _));
        NinePTestClient.Check(resumed.Walk(3, 4, out _, "data.txt"));
        Assert.Equal("ABCDEFGHIJKL", Encoding.ASCII.GetString(fs.ReadFile("/dir/data.txt")));
    }

    [Fact]
    public void A_Session_Whose_Files_Are_Gone_Or_Whose_Paths_Leave_The_Share_Is_Refused()
    {
        var saved = SavedSession(Files());
        var empty = new NinePTestClient(new MemoryFileSystem());
        Assert.Contains("is not in this share", Assert.Throws<SnapshotException>(() => empty.Server.LoadState(new StateReader(saved, "s"))).Message);

        var evil = new StateWriter();
        evil.Bool(true);
        evil.U32(NinePServer.DefaultMaxMessageSize);
        evil.U32(1);
        evil.U32(7);
        evil.String("dir/../../etc");
        evil.U32(0);
        evil.U8(0);
        evil.I32(0);
        var server = new NinePTestClient(Files()).Server;
        Assert.Contains("not a path in the share", Assert.Throws<SnapshotException>(() => server.LoadState(new StateReader(evil.WrittenSpan.ToArray(), "s"))).Message);
    }
}
