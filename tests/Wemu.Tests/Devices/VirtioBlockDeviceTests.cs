using System.Buffers.Binary;
using Wemu.Devices;
using Wemu.Devices.Virtio;
using Xunit;

namespace Wemu.Tests.Devices;

public class VirtioBlockDeviceTests
{
    private const int Sectors = 64;
    private const ulong Header = VirtioTestDriver.DataBase;
    private const ulong Data = VirtioTestDriver.DataBase + 0x1000;
    private const ulong StatusByte = VirtioTestDriver.DataBase + 0x100;

    private readonly byte[] _image;
    private readonly CountingBlockBackend _backend;
    private readonly VirtioTestDriver _d;

    public VirtioBlockDeviceTests() : this(readOnly: false)
    {
    }

    private VirtioBlockDeviceTests(bool readOnly)
    {
        _image = new byte[Sectors * 512];
        for (int i = 0; i < _image.Length; i++)
            _image[i] = (byte)(i * 7 + i / 512);
        _backend = new CountingBlockBackend(new MemoryBlockBackend(_image, readOnly));
        _d = new VirtioTestDriver(new VirtioBlockDevice(_backend, "wemu-disk-0", queueSize: 16));
        _d.Initialize();
    }

    private static VirtioBlockDeviceTests ReadOnlyDisk() => new(readOnly: true);

    private void WriteHeader(uint type, ulong sector)
    {
        var h = _d.Memory(Header, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], sector);
        _d.Memory(StatusByte, 1)[0] = 0xFF;
    }

    /// <summary>header | data (direction by type) | status, as Linux's virtio_blk builds it.</summary>
    private byte Request(uint type, ulong sector, uint dataLength, bool dataWritable)
    {
        WriteHeader(type, sector);
        _d.WriteDescriptor(0, Header, 16, VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Data, dataLength, (ushort)(VirtioTestDriver.Next | (dataWritable ? VirtioTestDriver.WriteFlag : 0)), next: 2);
        _d.WriteDescriptor(2, StatusByte, 1, VirtioTestDriver.WriteFlag);
        ushort before = _d.UsedIndex;
        _d.Submit(0);
        Assert.Equal(before + 1, _d.UsedIndex);
        return _d.Memory(StatusByte, 1)[0];
    }

    private uint Config32(ulong offset) => _d.R(VirtioTestDriver.Config + offset);

    [Fact]
    public void ConfigHasCapacitySegMaxAndBlockSize()
    {
        Assert.Equal((uint)Sectors, Config32(0));
        Assert.Equal(0u, Config32(4));
        Assert.Equal((ulong)Sectors, _d.Transport.Read(VirtioTestDriver.Config, 8));
        Assert.Equal(14u, Config32(12)); // seg_max = queue size - 2
        Assert.Equal(512u, Config32(20));
        Assert.Equal(0x02UL, _d.Transport.Read(VirtioTestDriver.Config + 21, 1)); // byte access inside blk_size
        Assert.Equal(0u, Config32(0x100)); // past the config space
    }

    [Fact]
    public void ConfigWritesAreIgnored()
    {
        _d.Transport.Write(VirtioTestDriver.Config, 4, 0xFFFF_FFFF);
        Assert.Equal((uint)Sectors, Config32(0));
    }

    [Fact]
    public void FeaturesOfferBlkSizeSegMaxFlushButNotReadOnly()
    {
        ulong f = _d.ReadDeviceFeatures();
        Assert.NotEqual(0UL, f & VirtioBlockDevice.FeatureBlockSize);
        Assert.NotEqual(0UL, f & VirtioBlockDevice.FeatureSegMax);
        Assert.NotEqual(0UL, f & VirtioBlockDevice.FeatureFlush);
        Assert.Equal(0UL, f & VirtioBlockDevice.FeatureReadOnly);
        Assert.Equal(2u, _d.R(0x008));
    }

    [Fact]
    public void ReadOnlyBackendOffersRo()
    {
        var t = ReadOnlyDisk();
        Assert.NotEqual(0UL, t._d.ReadDeviceFeatures() & VirtioBlockDevice.FeatureReadOnly);
    }

    [Fact]
    public void InReadsSectors()
    {
        Assert.Equal(VirtioBlockDevice.StatusOk, Request(VirtioBlockDevice.RequestIn, 3, 1024, dataWritable: true));
        Assert.Equal(_image.AsSpan(3 * 512, 1024).ToArray(), _d.Memory(Data, 1024).ToArray());
        Assert.Equal((0u, 1025u), _d.UsedElement(0));
        Assert.True(_d.Irq);
        Assert.Equal(1u, _d.R(VirtioTestDriver.InterruptStatus));
    }

    [Fact]
    public void InLastSectorSucceeds()
    {
        Assert.Equal(VirtioBlockDevice.StatusOk, Request(VirtioBlockDevice.RequestIn, Sectors - 1, 512, dataWritable: true));
    }

    [Fact]
    public void InBeyondCapacityIsIoError()
    {
        Assert.Equal(VirtioBlockDevice.StatusIoError, Request(VirtioBlockDevice.RequestIn, Sectors - 1, 1024, dataWritable: true));
        Assert.Equal(VirtioBlockDevice.StatusIoError, Request(VirtioBlockDevice.RequestIn, Sectors, 512, dataWritable: true));
        Assert.Equal(0, _backend.Reads);
    }

    [Fact]
    public void InWithOverflowingSectorIsIoError()
    {
        Assert.Equal(VirtioBlockDevice.StatusIoError, Request(VirtioBlockDevice.RequestIn, ulong.MaxValue, 512, dataWritable: true));
        Assert.Equal(VirtioBlockDevice.StatusIoError, Request(VirtioBlockDevice.RequestIn, ulong.MaxValue / 512 + 1, 512, dataWritable: true));
    }

    [Fact]
    public void InOfPartialSectorIsIoError()
    {
        Assert.Equal(VirtioBlockDevice.StatusIoError, Request(VirtioBlockDevice.RequestIn, 0, 100, dataWritable: true));
    }

    [Fact]
    public void InScatteredOverManyDescriptorsAndOddFraming()
    {
        // Header split 5 + 11, data in 3 pieces (300 + 700 + 24), status in the same descriptor as the last data.
        WriteHeader(VirtioBlockDevice.RequestIn, 2);
        _d.WriteDescriptor(0, Header, 5, VirtioTestDriver.Next, next: 5);
        _d.WriteDescriptor(5, Header + 5, 11, VirtioTestDriver.Next, next: 2);
        _d.WriteDescriptor(2, Data, 300, VirtioTestDriver.Next | VirtioTestDriver.WriteFlag, next: 7);
        _d.WriteDescriptor(7, Data + 0x800, 700, VirtioTestDriver.Next | VirtioTestDriver.WriteFlag, next: 1);
        _d.WriteDescriptor(1, Data + 0x1000, 25, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        var expected = _image.AsSpan(2 * 512, 1024);
        Assert.Equal(expected[..300].ToArray(), _d.Memory(Data, 300).ToArray());
        Assert.Equal(expected[300..1000].ToArray(), _d.Memory(Data + 0x800, 700).ToArray());
        Assert.Equal(expected[1000..].ToArray(), _d.Memory(Data + 0x1000, 24).ToArray());
        Assert.Equal(VirtioBlockDevice.StatusOk, _d.Memory(Data + 0x1000 + 24, 1)[0]);
        Assert.Equal((0u, 1025u), _d.UsedElement(0));
    }

    [Fact]
    public void InThroughIndirectTable()
    {
        ulong table = VirtioTestDriver.DataBase + 0x8000;
        WriteHeader(VirtioBlockDevice.RequestIn, 5);
        _d.WriteTableDescriptor(table, 0, Header, 16, VirtioTestDriver.Next, next: 1);
        _d.WriteTableDescriptor(table, 1, Data, 512, VirtioTestDriver.Next | VirtioTestDriver.WriteFlag, next: 2);
        _d.WriteTableDescriptor(table, 2, StatusByte, 1, VirtioTestDriver.WriteFlag);
        _d.WriteDescriptor(0, table, 48, VirtioTestDriver.Indirect);
        _d.Submit(0);
        Assert.Equal(VirtioBlockDevice.StatusOk, _d.Memory(StatusByte, 1)[0]);
        Assert.Equal(_image.AsSpan(5 * 512, 512).ToArray(), _d.Memory(Data, 512).ToArray());
    }

    [Fact]
    public void OutWritesSectors()
    {
        var data = _d.Memory(Data, 1024);
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(0xC0 ^ i);
        Assert.Equal(VirtioBlockDevice.StatusOk, Request(VirtioBlockDevice.RequestOut, 10, 1024, dataWritable: false));
        var disk = new byte[1024];
        _backend.Read(10 * 512, disk);
        Assert.Equal(data.ToArray(), disk);
        Assert.Equal((0u, 1u), _d.UsedElement(0));
    }

    [Fact]
    public void OutBeyondCapacityIsIoError()
    {
        Assert.Equal(VirtioBlockDevice.StatusIoError, Request(VirtioBlockDevice.RequestOut, Sectors, 512, dataWritable: false));
        Assert.Equal(0, _backend.Writes);
    }

    [Fact]
    public void OutOnReadOnlyDiskIsIoError()
    {
        var t = ReadOnlyDisk();
        t._d.Memory(Data, 512).Fill(0x11);
        Assert.Equal(VirtioBlockDevice.StatusIoError, t.Request(VirtioBlockDevice.RequestOut, 0, 512, dataWritable: false));
        Assert.Equal(0, t._backend.Writes);
        var disk = new byte[512];
        t._backend.Read(0, disk);
        Assert.Equal(t._image.AsSpan(0, 512).ToArray(), disk);
    }

    [Fact]
    public void FlushFlushesBackend()
    {
        WriteHeader(VirtioBlockDevice.RequestFlush, 0);
        _d.WriteDescriptor(0, Header, 16, VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, StatusByte, 1, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.Equal(VirtioBlockDevice.StatusOk, _d.Memory(StatusByte, 1)[0]);
        Assert.Equal(1, _backend.Flushes);
    }

    [Fact]
    public void GetIdReturnsSerialPaddedToTwentyBytes()
    {
        _d.Memory(Data, 20).Fill(0xEE);
        Assert.Equal(VirtioBlockDevice.StatusOk, Request(VirtioBlockDevice.RequestGetId, 0, 20, dataWritable: true));
        var expected = new byte[20];
        "wemu-disk-0"u8.CopyTo(expected);
        Assert.Equal(expected, _d.Memory(Data, 20).ToArray());
    }

    [Fact]
    public void UnsupportedTypeReturnsUnsupp()
    {
        Assert.Equal(VirtioBlockDevice.StatusUnsupported, Request(11 /* DISCARD */, 0, 16, dataWritable: false));
        Assert.Equal(VirtioBlockDevice.StatusUnsupported, Request(0xDEAD, 0, 16, dataWritable: true));
    }

    [Fact]
    public void MissingStatusByteNeedsReset()
    {
        WriteHeader(VirtioBlockDevice.RequestIn, 0);
        _d.WriteDescriptor(0, Header, 16);
        _d.Submit(0);
        Assert.True(_d.NeedsReset);
        Assert.Equal(0, _d.UsedIndex);
    }

    [Fact]
    public void ShortHeaderNeedsReset()
    {
        WriteHeader(VirtioBlockDevice.RequestIn, 0);
        _d.WriteDescriptor(0, Header, 8, VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, StatusByte, 1, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.True(_d.NeedsReset);
    }

    [Fact]
    public void SeveralRequestsInOneNotify()
    {
        for (int r = 0; r < 3; r++)
        {
            ulong header = Header + 0x20 * (ulong)r;
            var h = _d.Memory(header, 16);
            BinaryPrimitives.WriteUInt32LittleEndian(h, VirtioBlockDevice.RequestIn);
            BinaryPrimitives.WriteUInt64LittleEndian(h[8..], (ulong)r);
            int head = r * 3;
            _d.WriteDescriptor(head, header, 16, VirtioTestDriver.Next, (ushort)(head + 1));
            _d.WriteDescriptor(head + 1, Data + 0x200 * (ulong)r, 512, VirtioTestDriver.Next | VirtioTestDriver.WriteFlag, (ushort)(head + 2));
            _d.WriteDescriptor(head + 2, StatusByte + (ulong)r, 1, VirtioTestDriver.WriteFlag);
            _d.MakeAvailable((ushort)head);
        }
        _d.Notify();
        Assert.Equal(3, _d.UsedIndex);
        Assert.Equal((6u, 513u), _d.UsedElement(2));
        Assert.Equal(_image.AsSpan(0, 1536).ToArray(), _d.Memory(Data, 1536).ToArray());
    }
}
