using System.Buffers.Binary;
using Wemu.Devices.NineP;
using Wemu.Devices.Virtio;
using Wemu.Tests.Devices.NineP;
using Xunit;
using static Wemu.Tests.Devices.NineP.NinePTestClient;

namespace Wemu.Tests.Devices;

/// <summary>virtio-9p at register and queue level: what Linux's 9pnet_virtio does, descriptor by descriptor.</summary>
public class VirtioNinePDeviceTests
{
    private const ulong Request = VirtioTestDriver.DataBase;
    private const ulong Reply = VirtioTestDriver.DataBase + 0x1000;
    private const ulong PageA = VirtioTestDriver.DataBase + 0x3000;
    private const ulong PageB = VirtioTestDriver.DataBase + 0x5000;

    private readonly MemoryFileSystem _fs = new();
    private readonly VirtioNinePDevice _device;
    private readonly VirtioTestDriver _d;

    public VirtioNinePDeviceTests()
    {
        _fs.WriteFile("/file", "0123456789abcdef"u8);
        _device = new VirtioNinePDevice(_fs, "host");
        _d = new VirtioTestDriver(_device);
        _d.Initialize();
    }

    private byte[] Put(ulong address, byte[] bytes)
    {
        bytes.CopyTo(_d.Memory(address, bytes.Length));
        return bytes;
    }

    /// <summary>One request in one readable descriptor, the reply in one writable one (Linux's p9_virtio_request).</summary>
    private (uint Length, byte[] Reply) Exchange(byte[] request, uint replyRoom = 8192)
    {
        Put(Request, request);
        _d.WriteDescriptor(0, Request, (uint)request.Length, VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Reply, replyRoom, VirtioTestDriver.WriteFlag);
        int before = _d.UsedIndex;
        _d.Submit(0);
        Assert.Equal(before + 1, _d.UsedIndex);
        var (id, length) = _d.UsedElement(before);
        Assert.Equal(0u, id);
        return (length, _d.Memory(Reply, (int)length).ToArray());
    }

    private void Session()
    {
        var (_, r) = Exchange(Frame(NinePMessageType.Tversion, 0xFFFF, new Message().U32(512 * 1024).Str("9P2000.L")));
        Assert.Equal((byte)NinePMessageType.Rversion, r[4]);
        (_, r) = Exchange(Frame(NinePMessageType.Tattach, 1, new Message().U32(RootFid).U32(NinePServer.NoFid).Str("").Str("").U32(0)));
        Assert.Equal((byte)NinePMessageType.Rattach, r[4]);
        (_, r) = Exchange(Frame(NinePMessageType.Twalk, 2, new Message().U32(RootFid).U32(2).U16(1).Str("file")));
        Assert.Equal((byte)NinePMessageType.Rwalk, r[4]);
        (_, r) = Exchange(Frame(NinePMessageType.Tlopen, 3, new Message().U32(2).U32(NinePOpenFlags.ReadWrite)));
        Assert.Equal((byte)NinePMessageType.Rlopen, r[4]);
    }

    [Fact]
    public void Identifies_As_9p_With_The_Mount_Tag_In_Config_Space()
    {
        Assert.Equal(9u, _d.R(0x008));
        Assert.NotEqual(0UL, _d.ReadDeviceFeatures() & VirtioNinePDevice.FeatureMountTag);
        Assert.Equal(4UL, _d.Transport.Read(VirtioTestDriver.Config, 2)); // tag_len
        Assert.Equal((ulong)'h', _d.Transport.Read(VirtioTestDriver.Config + 2, 1));
        Assert.Equal(0x74736F68UL, _d.Transport.Read(VirtioTestDriver.Config + 2, 4)); // "host"
        Assert.Equal(0UL, _d.Transport.Read(VirtioTestDriver.Config + 6, 1)); // past the config space
        _d.Transport.Write(VirtioTestDriver.Config, 2, 99);
        Assert.Equal(4UL, _d.Transport.Read(VirtioTestDriver.Config, 2)); // read-only
    }

    [Fact]
    public void A_Request_Gets_Its_Reply_And_The_Used_Length_Is_The_Reply_Size()
    {
        var (length, reply) = Exchange(Frame(NinePMessageType.Tversion, 0xFFFF, new Message().U32(8192).Str("9P2000.L")));
        Assert.Equal((uint)BinaryPrimitives.ReadUInt32LittleEndian(reply), length);
        Assert.Equal(21u, length); // size[4] type[1] tag[2] msize[4] version[2+8]
        Assert.Equal(8192u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(7)));
        Assert.True(_d.Irq);
    }

    [Fact]
    public void Zero_Copy_Write_With_Data_In_Separate_Pages()
    {
        Session();
        // Linux p9_virtio_zc_request: the 23-byte Twrite header, then the user pages; size counts both.
        var header = Frame(NinePMessageType.Twrite, 7, new Message().U32(2).U64(4).U32(6));
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)header.Length + 6);
        Put(Request, header);
        Put(PageA, "WRI"u8.ToArray());
        Put(PageB, "TES"u8.ToArray());
        _d.WriteDescriptor(0, Request, (uint)header.Length, VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, PageA, 3, VirtioTestDriver.Next, next: 2);
        _d.WriteDescriptor(2, PageB, 3, VirtioTestDriver.Next, next: 3);
        _d.WriteDescriptor(3, Reply, 11, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        var r = _d.Memory(Reply, 11).ToArray();
        Assert.Equal((byte)NinePMessageType.Rwrite, r[4]);
        Assert.Equal(6u, BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(7)));
        Assert.Equal("0123WRITESabcdef"u8.ToArray(), _fs.ReadFile("/file"));
    }

    [Fact]
    public void Zero_Copy_Read_Fills_The_Header_Then_The_Pages()
    {
        Session();
        // Linux: in_hdr_len 11 (size type tag count), then the user's pages.
        Put(Request, Frame(NinePMessageType.Tread, 8, new Message().U32(2).U64(2).U32(10)));
        _d.WriteDescriptor(0, Request, 23, VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Reply, 11, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 2);
        _d.WriteDescriptor(2, PageA, 4, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 3);
        _d.WriteDescriptor(3, PageB, 6, VirtioTestDriver.WriteFlag);
        int before = _d.UsedIndex;
        _d.Submit(0);
        Assert.Equal(21u, _d.UsedElement(before).Length);
        var h = _d.Memory(Reply, 11).ToArray();
        Assert.Equal((byte)NinePMessageType.Rread, h[4]);
        Assert.Equal(10u, BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(7)));
        Assert.Equal("2345"u8.ToArray(), _d.Memory(PageA, 4).ToArray());
        Assert.Equal("6789ab"u8.ToArray(), _d.Memory(PageB, 6).ToArray());
    }

    [Fact]
    public void A_Chain_Without_A_Request_Gets_EPROTO_And_One_Without_Room_Gets_Nothing()
    {
        _d.WriteDescriptor(0, Reply, 64, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        var r = _d.Memory(Reply, 11).ToArray();
        Assert.Equal((byte)NinePMessageType.Rlerror, r[4]);
        Assert.Equal((uint)LinuxErrno.EPROTO, BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(7)));

        var req = Put(Request, Frame(NinePMessageType.Tversion, 1, new Message().U32(8192).Str("9P2000.L")));
        _d.WriteDescriptor(0, Request, (uint)req.Length);
        int before = _d.UsedIndex;
        _d.Submit(0);
        Assert.Equal(before + 1, _d.UsedIndex);
        Assert.Equal(0u, _d.UsedElement(before).Length);
        Assert.False(_d.NeedsReset);
    }

    [Fact]
    public void Device_Reset_Clunks_Every_Fid()
    {
        Session();
        Assert.Equal(2, _device.Server.FidCount);
        _d.W(VirtioTestDriver.Status, 0);
        Assert.Equal(0, _device.Server.FidCount);
    }

    [Fact]
    public void Mount_Tag_Must_Be_Usable()
    {
        Assert.Throws<ArgumentException>(() => new VirtioNinePDevice(_fs, ""));
        Assert.Throws<ArgumentException>(() => new VirtioNinePDevice(_fs, "a\0b"));
        Assert.Throws<ArgumentException>(() => new VirtioNinePDevice(_fs, new string('t', 256)));
    }
}
