using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

public class MemoryBlockBackendTests
{
    [Fact]
    public void UnwrittenDiskReadsZerosAndAllocatesNothing()
    {
        using var disk = new MemoryBlockBackend(8L << 30); // 8 GiB, beyond a byte[]
        var buffer = new byte[4096];
        buffer.AsSpan().Fill(0xFF);
        disk.Read((8L << 30) - 4096, buffer);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(0, disk.AllocatedBytes);
    }

    [Fact]
    public void WriteAcrossChunkBoundaryReadsBack()
    {
        using var disk = new MemoryBlockBackend(1 << 20);
        var data = new byte[1000];
        new Random(1).NextBytes(data);
        disk.Write(65536 - 300, data);
        var back = new byte[1000];
        disk.Read(65536 - 300, back);
        Assert.Equal(data, back);
        Assert.Equal(2 * 65536, disk.AllocatedBytes);
    }

    [Fact]
    public void ImageConstructorCopiesContents()
    {
        var image = new byte[3000];
        image[0] = 1;
        image[2999] = 2;
        using var disk = new MemoryBlockBackend(image);
        Assert.Equal(3000, disk.Length);
        Assert.Equal(image, disk.ToArray());
    }

    [Fact]
    public void ReadOnlyDiskRefusesWrites()
    {
        using var disk = new MemoryBlockBackend(new byte[512], readOnly: true);
        Assert.True(disk.IsReadOnly);
        Assert.Throws<InvalidOperationException>(() => disk.Write(0, new byte[1]));
    }

    [Fact]
    public void AccessOutsideDiskThrows()
    {
        using var disk = new MemoryBlockBackend(1024);
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read(1000, new byte[100]));
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Write(-1, new byte[1]));
    }

    [Fact]
    public void ResizeGrowsWithZerosAndForgetsCutOffData()
    {
        using var disk = new MemoryBlockBackend(1024);
        disk.Write(512, new byte[] { 9, 9, 9 });
        disk.Resize(513);
        disk.Resize(200_000);
        var back = new byte[3];
        disk.Read(512, back);
        Assert.Equal(new byte[] { 9, 0, 0 }, back);
        disk.Write(199_000, new byte[] { 5 });
        Assert.Equal(200_000, disk.Length);
    }
}
