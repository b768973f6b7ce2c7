using System.Buffers.Binary;
using Wemu.Devices.NineP;
using Xunit;
using static Wemu.Devices.NineP.LinuxErrno;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// Messages no correct client sends: each gets exactly one well-formed Rlerror (checked by
/// <see cref="NinePTestClient.Raw"/>) and changes nothing.
/// </summary>
public class NinePMalformedMessageTests
{
    private readonly MemoryFileSystem _fs = new();
    private readonly NinePTestClient _c;

    public NinePMalformedMessageTests()
    {
        _fs.WriteFile("/file", "contents"u8);
        _fs.CreateDirectory("/dir");
        _c = new NinePTestClient(_fs).Start();
    }

    private static byte[] Header(uint size, NinePMessageType type, ushort tag, int total)
    {
        var b = new byte[total];
        BinaryPrimitives.WriteUInt32LittleEndian(b, size);
        b[4] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(5), tag);
        return b;
    }

    [Fact]
    public void Shorter_Than_A_Header_Is_EPROTO_On_NOTAG()
    {
        foreach (int n in new[] { 0, 1, 4, 6 })
        {
            var r = _c.Raw(new byte[n]);
            Assert.Equal(NinePMessageType.Rlerror, r.Type);
            Assert.Equal(NinePServer.NoTag, r.Tag);
            Assert.Equal(EPROTO, r.Errno);
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(6u)]
    [InlineData(12u)]      // says more than was sent
    [InlineData(0xFFFF_FFFFu)]
    public void Bad_Size_Field_Is_EPROTO(uint size)
    {
        var b = Header(size, NinePMessageType.Tclunk, 33, 11);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(7), RootFid);
        var r = _c.Raw(b);
        Assert.Equal(EPROTO, r.Errno);
        Assert.Equal(33, r.Tag);
        Assert.Equal(0, _c.GetAttr(RootFid, out _)); // the root fid was not clunked
    }

    [Fact]
    public void Message_Larger_Than_Msize_Is_EPROTO()
    {
        _c.Send(NinePMessageType.Tversion, m => m.U32(4096).Str("9P2000.L"));
        Check(_c.Attach(RootFid, 0, out _));
        var data = new byte[5000];
        Check(_c.WalkPath("file", 2));
        Check(_c.Lopen(2, NinePOpenFlags.WriteOnly, out _));
        Assert.Equal(EPROTO, _c.Write(2, 0, data, out _));
        Assert.Equal("contents"u8.ToArray(), _fs.ReadFile("/file"));
    }

    [Fact]
    public void Anything_Before_Tversion_Is_EPROTO()
    {
        var c = new NinePTestClient(_fs);
        Assert.Equal(EPROTO, c.Attach(1, 0, out _));
        Assert.Equal(EPROTO, c.Clunk(1));
        Assert.Equal(EINVAL, c.Send(NinePMessageType.Tversion, m => m.U32(100).Str("9P2000.L")).Errno); // msize too small
    }

    [Fact]
    public void Truncated_Fields_And_Strings_Are_EPROTO_And_Change_Nothing()
    {
        // Twalk whose second name claims 50 bytes but carries 3.
        var m = new Message().U32(RootFid).U32(2).U16(2).Str("dir").U16(50).Data("abc"u8.ToArray());
        Assert.Equal(EPROTO, _c.Raw(Frame(NinePMessageType.Twalk, 9, m)).Errno);
        Assert.Equal(EBADF, _c.Clunk(2));
        // Tmkdir cut inside its mode field.
        m = new Message().U32(RootFid).Str("newdir").U16(0x1ED);
        Assert.Equal(EPROTO, _c.Raw(Frame(NinePMessageType.Tmkdir, 9, m)).Errno);
        Assert.False(_fs.Exists("/newdir"));
        // Tlcreate with nothing after the fid.
        Assert.Equal(EPROTO, _c.Raw(Frame(NinePMessageType.Tlcreate, 9, new Message().U32(RootFid))).Errno);
        // Tversion with no version string.
        Assert.Equal(EPROTO, _c.Raw(Frame(NinePMessageType.Tversion, 9, new Message().U32(8192))).Errno);
        Assert.Equal(0, _c.GetAttr(RootFid, out _)); // the session survived
    }

    [Fact]
    public void Twrite_Count_Beyond_The_Data_Is_EPROTO()
    {
        Check(_c.WalkPath("file", 2));
        Check(_c.Lopen(2, NinePOpenFlags.ReadWrite, out _));
        var m = new Message().U32(2).U64(0).U32(1000).Data("short"u8.ToArray());
        Assert.Equal(EPROTO, _c.Raw(Frame(NinePMessageType.Twrite, 9, m)).Errno);
        Assert.Equal("contents"u8.ToArray(), _fs.ReadFile("/file"));
    }

    [Fact]
    public void Names_That_Are_Not_Utf8_Are_EPROTO()
    {
        var m = new Message().U32(RootFid).RawStr([0x66, 0xFF, 0xFE]).U32(0x1ED).U32(0);
        Assert.Equal(EPROTO, _c.Raw(Frame(NinePMessageType.Tmkdir, 9, m)).Errno);
        Assert.Equal(2, _fs.ListFiles().Count);
    }

    [Fact]
    public void Unknown_Fids_Are_EBADF_For_Every_Operation()
    {
        const uint Bad = 4242;
        Assert.Equal(EBADF, _c.Walk(Bad, 2, out _));
        Assert.Equal(EBADF, _c.Lopen(Bad, 0, out _));
        Assert.Equal(EBADF, _c.Lcreate(Bad, "x", 1, 0x1A4, out _));
        Assert.Equal(EBADF, _c.Read(Bad, 0, 10, out _));
        Assert.Equal(EBADF, _c.Write(Bad, 0, [1], out _));
        Assert.Equal(EBADF, _c.Clunk(Bad));
        Assert.Equal(EBADF, _c.Remove(Bad));
        Assert.Equal(EBADF, _c.GetAttr(Bad, out _));
        Assert.Equal(EBADF, _c.SetAttr(Bad, SetAttributesRequest.Mode, mode: 0));
        Assert.Equal(EBADF, _c.ReadDir(Bad, 0, 100, out _));
        Assert.Equal(EBADF, _c.Mkdir(Bad, "x", 0x1ED, out _));
        Assert.Equal(EBADF, _c.Symlink(Bad, "x", "y", out _));
        Assert.Equal(EBADF, _c.Mknod(Bad, "x", LinuxFileMode.Fifo, 0, 0, out _));
        Assert.Equal(EBADF, _c.Readlink(Bad, out _));
        Assert.Equal(EBADF, _c.Link(RootFid, Bad, "x"));
        Assert.Equal(EBADF, _c.Link(Bad, RootFid, "x"));
        Assert.Equal(EBADF, _c.Rename(Bad, RootFid, "x"));
        Assert.Equal(EBADF, _c.RenameAt(Bad, "file", RootFid, "x"));
        Assert.Equal(EBADF, _c.RenameAt(RootFid, "file", Bad, "x"));
        Assert.Equal(EBADF, _c.UnlinkAt(Bad, "file"));
        Assert.Equal(EBADF, _c.StatFs(Bad, out _, out _, out _, out _));
        Assert.Equal(EBADF, _c.Fsync(Bad));
        Assert.Equal(EBADF, _c.XattrWalk(Bad, 2, "", out _));
        Assert.Equal(EBADF, _c.Send(NinePMessageType.Tlock, m => m.U32(Bad).U8(0).U32(0).U64(0).U64(0).U32(0).Str("")).Errno);
        Assert.Equal(EBADF, _c.Send(NinePMessageType.Tgetlock, m => m.U32(Bad).U8(0).U64(0).U64(0).U32(0).Str("")).Errno);
        Assert.True(_fs.Exists("/file"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(124)] // Tstat: 9P2000, not .L
    [InlineData(7)]   // an R-message sent to the server
    [InlineData(255)]
    public void Unknown_Message_Types_Are_EOPNOTSUPP(byte type)
    {
        var r = _c.Raw(Frame((NinePMessageType)type, 77, new Message().U32(RootFid)));
        Assert.Equal(NinePMessageType.Rlerror, r.Type);
        Assert.Equal(EOPNOTSUPP, r.Errno);
        Assert.Equal(77, r.Tag);
    }

    [Fact]
    public void A_Reply_Never_Overruns_The_Room_Given()
    {
        Assert.Equal(0, _c.Server.Handle(Frame(NinePMessageType.Tclunk, 1, new Message().U32(RootFid)), new byte[10]));
        Assert.Equal(0, _c.GetAttr(RootFid, out _)); // not even handled
        Check(_c.WalkPath("file", 2));
        Check(_c.Lopen(2, 0, out _));
        var r = _c.Raw(Frame(NinePMessageType.Tread, 1, new Message().U32(2).U64(0).U32(1000)), replyRoom: 15);
        Assert.Equal(4, r.Body.Length - 4);   // count clamped to the 4 bytes of room
        Assert.Equal("cont"u8.ToArray(), r.Body.AsSpan(4).ToArray());
        r = _c.Raw(Frame(NinePMessageType.Tgetattr, 1, new Message().U32(2).U64(0)), replyRoom: 40);
        Assert.Equal(EMSGSIZE, r.Errno);
    }

    [Fact]
    public void A_Failing_Backend_Is_EIO_Not_An_Exception()
    {
        var c = new NinePTestClient(new ThrowingFileSystem());
        c.Send(NinePMessageType.Tversion, m => m.U32(8192).Str("9P2000.L"));
        Assert.Equal(EIO, c.Attach(1, 0, out _));
    }

    /// <summary>Random mutations of valid messages: never an exception, always one well-formed reply with the right tag.</summary>
    [Fact]
    public void Fuzzed_Messages_Always_Get_A_Well_Formed_Reply()
    {
        var rng = new Random(1234);
        var seeds = new List<byte[]>
        {
            Frame(NinePMessageType.Twalk, 5, new Message().U32(RootFid).U32(2).U16(2).Str("dir").Str("..")),
            Frame(NinePMessageType.Tlcreate, 5, new Message().U32(3).Str("f").U32(2).U32(0x1A4).U32(0)),
            Frame(NinePMessageType.Tmkdir, 5, new Message().U32(RootFid).Str("d2").U32(0x1ED).U32(0)),
            Frame(NinePMessageType.Twrite, 5, new Message().U32(3).U64(3).U32(4).Data([1, 2, 3, 4])),
            Frame(NinePMessageType.Tread, 5, new Message().U32(3).U64(0).U32(100)),
            Frame(NinePMessageType.Treaddir, 5, new Message().U32(4).U64(0).U32(500)),
            Frame(NinePMessageType.Trenameat, 5, new Message().U32(RootFid).Str("d2").U32(RootFid).Str("d3")),
            Frame(NinePMessageType.Tsetattr, 5, new Message().U32(3).U32(0x1FF).U32(0x1A4).U32(0).U32(0).U64(9).U64(0).U64(0).U64(0).U64(0)),
            Frame(NinePMessageType.Tsymlink, 5, new Message().U32(RootFid).Str("s").Str("/x").U32(0)),
            Frame(NinePMessageType.Tunlinkat, 5, new Message().U32(RootFid).Str("s").U32(0)),
            Frame(NinePMessageType.Txattrwalk, 5, new Message().U32(RootFid).U32(6).Str("")),
            Frame(NinePMessageType.Tlopen, 5, new Message().U32(4).U32(0)),
            Frame(NinePMessageType.Tclunk, 5, new Message().U32(3)),
        };
        Check(_c.WalkPath("", 3));
        Check(_c.WalkPath("dir", 4));
        for (int i = 0; i < 20000; i++)
        {
            var msg = (byte[])seeds[rng.Next(seeds.Count)].Clone();
            int mutations = rng.Next(1, 4);
            for (int k = 0; k < mutations && msg.Length > 0; k++)
            {
                switch (rng.Next(4))
                {
                    case 0: msg[rng.Next(msg.Length)] = (byte)rng.Next(256); break;
                    case 1: msg = msg[..rng.Next(msg.Length + 1)]; break;
                    case 2: msg[rng.Next(msg.Length)] ^= (byte)(1 << rng.Next(8)); break;
                    case 3:
                        if (msg.Length >= 4)
                            BinaryPrimitives.WriteUInt32LittleEndian(msg, (uint)rng.Next(0, 100));
                        break;
                }
            }
            var r = _c.Raw(msg); // throws if the reply is malformed
            if (msg.Length >= 7)
                Assert.Equal(BinaryPrimitives.ReadUInt16LittleEndian(msg.AsSpan(5)), r.Tag);
        }
        Assert.True(_fs.UsedBytes <= _fs.Capacity);
    }

    private sealed class ThrowingFileSystem : IFileSystem
    {
        public bool IsReadOnly => false;
        public int Stat(string path, out FileStat stat) => throw new InvalidOperationException("backend bug");
        public int StatFileSystem(out FileSystemStats stats) => throw new NotImplementedException();
        public int ReadDirectory(string path, List<DirectoryEntry> entries) => throw new NotImplementedException();
        public int Open(string path, int flags, uint uid, out IOpenFile? file) => throw new NotImplementedException();
        public int Create(string directory, string name, int flags, uint mode, uint uid, uint gid, out IOpenFile? file) => throw new NotImplementedException();
        public int MakeDirectory(string directory, string name, uint mode, uint uid, uint gid) => throw new NotImplementedException();
        public int MakeSymbolicLink(string directory, string name, string target, uint uid, uint gid) => throw new NotImplementedException();
        public int MakeNode(string directory, string name, uint mode, uint major, uint minor, uint uid, uint gid) => throw new NotImplementedException();
        public int ReadSymbolicLink(string path, out string target) => throw new NotImplementedException();
        public int Link(string target, string directory, string name) => throw new NotImplementedException();
        public int Rename(string oldDirectory, string oldName, string newDirectory, string newName) => throw new NotImplementedException();
        public int Remove(string parent, string name, bool directory) => throw new NotImplementedException();
        public int SetAttributes(string path, in SetAttributesRequest request) => throw new NotImplementedException();
    }
}
