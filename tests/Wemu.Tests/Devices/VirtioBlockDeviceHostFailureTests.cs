using System.Buffers.Binary;
using Wemu.Devices;
using Wemu.Devices.Virtio;
using Xunit;

namespace Wemu.Tests.Devices;

/// <summary>
/// What the host can do wrong under a virtio-blk disk (full disk, EFBIG, EACCES after a permission change, a
/// closed file) is the guest's I/O error, never the emulator's crash; and one request cannot be made
/// arbitrarily large by descriptors that alias the same guest memory.
/// </summary>
public class VirtioBlockDeviceHostFailureTests
{
    private const ulong Header = VirtioTestDriver.DataBase;
    private const ulong StatusByte = VirtioTestDriver.DataBase + 0x100;
    private const ulong Data = VirtioTestDriver.DataBase + 0x1000;

    public static TheoryData<string, string> Failures()
    {
        var data = new TheoryData<string, string>();
        foreach (string op in new[] { "Read", "Write", "Flush" })
            foreach (string e in new[] { "UnauthorizedAccess", "ArgumentOutOfRange", "InvalidOperation", "IO", "ObjectDisposed", "NotSupported" })
                data.Add(op, e);
        return data;
    }

    private static Exception Make(string name) => name switch
    {
        "UnauthorizedAccess" => new UnauthorizedAccessException("EACCES"),
        "ArgumentOutOfRange" => new ArgumentOutOfRangeException("offset", "EFBIG"),
        "InvalidOperation" => new InvalidOperationException("read-only"),
        "IO" => new IOException("No space left on device"),
        "ObjectDisposed" => new ObjectDisposedException("disk"),
        "NotSupported" => new NotSupportedException("seek"),
        "OutOfMemory" => new OutOfMemoryException(),
        _ => throw new ArgumentException(name),
    };

    private static byte Request(VirtioTestDriver d, uint type, uint dataLength, bool dataWritable)
    {
        var h = d.Memory(Header, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], 2);
        d.Memory(StatusByte, 1)[0] = 0xFF;
        if (dataLength == 0)
        {
            d.WriteDescriptor(0, Header, 16, VirtioTestDriver.Next, next: 2);
        }
        else
        {
            d.WriteDescriptor(0, Header, 16, VirtioTestDriver.Next, next: 1);
            d.WriteDescriptor(1, Data, dataLength, (ushort)(VirtioTestDriver.Next | (dataWritable ? VirtioTestDriver.WriteFlag : 0)), next: 2);
        }
        d.WriteDescriptor(2, StatusByte, 1, VirtioTestDriver.WriteFlag);
        ushort before = d.UsedIndex;
        d.Submit(0);
        Assert.Equal(before + 1, d.UsedIndex);
        return d.Memory(StatusByte, 1)[0];
    }

    private static byte Request(VirtioTestDriver d, string op) => op switch
    {
        "Read" => Request(d, VirtioBlockDevice.RequestIn, 1024, dataWritable: true),
        "Write" => Request(d, VirtioBlockDevice.RequestOut, 1024, dataWritable: false),
        _ => Request(d, VirtioBlockDevice.RequestFlush, 0, dataWritable: false),
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Backend_Exception_Is_IoError_And_The_Device_Keeps_Serving(string operation, string exception)
    {
        var backend = new FailingBlockBackend(new MemoryBlockBackend(64 * 512), operation, () => Make(exception));
        var d = new VirtioTestDriver(new VirtioBlockDevice(backend, queueSize: 16));
        d.Initialize();
        Assert.Equal(VirtioBlockDevice.StatusIoError, Request(d, operation));
        Assert.False(d.NeedsReset);
        backend.Failing = false;
        Assert.Equal(VirtioBlockDevice.StatusOk, Request(d, operation));
    }

    [Fact]
    public void Host_Out_Of_Memory_Is_Not_Swallowed()
    {
        var backend = new FailingBlockBackend(new MemoryBlockBackend(64 * 512), "Write", () => Make("OutOfMemory"));
        var d = new VirtioTestDriver(new VirtioBlockDevice(backend, queueSize: 16));
        d.Initialize();
        Assert.Throws<OutOfMemoryException>(() => Request(d, "Write"));
    }

    /// <summary>header | <paramref name="segments"/> writable descriptors all over the same guest memory | status.</summary>
    private static (byte Status, HugeBlockBackend Disk) AliasedRead(int segments, uint segmentLength)
    {
        var disk = new HugeBlockBackend(1L << 40);
        var d = new VirtioTestDriver(new VirtioBlockDevice(disk, queueSize: 16), ramSize: 64UL << 20);
        d.Initialize(16);
        var h = d.Memory(Header, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(h, VirtioBlockDevice.RequestIn);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], 0);
        d.Memory(StatusByte, 1)[0] = 0xFF;
        d.WriteDescriptor(0, Header, 16, VirtioTestDriver.Next, next: 1);
        for (int i = 1; i <= segments; i++)
            d.WriteDescriptor(i, VirtioTestDriver.DataBase + 0x10_0000, segmentLength, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: (ushort)(i + 1));
        d.WriteDescriptor(segments + 1, StatusByte, 1, VirtioTestDriver.WriteFlag);
        d.Submit(0);
        Assert.Equal(1, d.UsedIndex);
        return (d.Memory(StatusByte, 1)[0], disk);
    }

    [Fact]
    public void Aliased_Request_Beyond_Seg_Max_Times_Size_Max_Is_Refused_Without_Disk_Io()
    {
        // 14 segments of 60 MiB over the same guest memory: 840 MiB asked of the disk by one request.
        var (status, disk) = AliasedRead(14, 60u << 20);
        Assert.Equal(VirtioBlockDevice.StatusIoError, status);
        Assert.Equal(0, disk.BytesRead);
    }

    [Fact]
    public void Request_Within_Seg_Max_Times_Size_Max_Is_Served()
    {
        // seg_max (14 for a 16-entry queue) segments of size_max (read from config space) each.
        var disk = new HugeBlockBackend(1L << 40);
        var probe = new VirtioTestDriver(new VirtioBlockDevice(disk, queueSize: 16));
        uint sizeMax = probe.R(VirtioTestDriver.Config + 8), segMax = probe.R(VirtioTestDriver.Config + 12);
        Assert.NotEqual(0UL, probe.ReadDeviceFeatures() & VirtioBlockDevice.FeatureSizeMax);
        Assert.Equal(14u, segMax);
        var (status, served) = AliasedRead((int)segMax, sizeMax);
        Assert.Equal(VirtioBlockDevice.StatusOk, status);
        Assert.Equal((long)segMax * sizeMax, served.BytesRead);
    }
}
