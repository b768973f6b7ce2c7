using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

public class OverlayBlockBackendTests
{
    private static byte[] Pattern(int length)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
            data[i] = (byte)(i % 251);
        return data;
    }

    [Fact]
    public void ReadsComeFromBaseUntilWritten()
    {
        var image = Pattern(16384);
        using var overlay = new OverlayBlockBackend(new MemoryBlockBackend(image, readOnly: true));
        Assert.False(overlay.IsReadOnly);
        Assert.Equal(image.Length, overlay.Length);
        var back = new byte[image.Length];
        overlay.Read(0, back);
        Assert.Equal(image, back);
    }

    [Fact]
    public void PartialWriteKeepsBaseBytesAroundIt()
    {
        var image = Pattern(16384);
        var baseDisk = new MemoryBlockBackend(image, readOnly: true);
        using var overlay = new OverlayBlockBackend(baseDisk);
        overlay.Write(4100, new byte[] { 0xAA, 0xBB });
        var back = new byte[image.Length];
        overlay.Read(0, back);
        var expected = (byte[])image.Clone();
        expected[4100] = 0xAA;
        expected[4101] = 0xBB;
        Assert.Equal(expected, back);
        Assert.Equal(1, overlay.DirtyClusterCount);
        Assert.Equal(image, baseDisk.ToArray()); // base untouched
    }

    [Fact]
    public void ReadSpanningDirtyAndCleanClusters()
    {
        var image = Pattern(5 * 4096);
        using var overlay = new OverlayBlockBackend(new MemoryBlockBackend(image));
        var patch = new byte[4096];
        patch.AsSpan().Fill(0x5A);
        overlay.Write(2 * 4096, patch);
        var back = new byte[3 * 4096 + 100];
        overlay.Read(4096 - 50, back);
        var expected = image.AsSpan(4096 - 50, back.Length).ToArray();
        patch.CopyTo(expected, 4096 + 50);
        Assert.Equal(expected, back);
    }

    [Fact]
    public void WriteInShortLastClusterWorks()
    {
        var image = Pattern(4096 + 512);
        using var overlay = new OverlayBlockBackend(new MemoryBlockBackend(image));
        overlay.Write(4096 + 100, new byte[] { 1 });
        var back = new byte[512];
        overlay.Read(4096, back);
        Assert.Equal(1, back[100]);
        Assert.Equal(image[4096 + 101], back[101]);
    }

    [Fact]
    public void FlushAndDisposeNeverWriteBase()
    {
        var counting = new CountingBlockBackend(new MemoryBlockBackend(Pattern(8192)));
        var overlay = new OverlayBlockBackend(counting);
        overlay.Write(0, new byte[8192]);
        overlay.Flush();
        Assert.Equal(0, counting.Writes);
        Assert.Equal(0, counting.Flushes);
        overlay.Dispose();
        Assert.True(counting.Disposed);
    }

    [Fact]
    public void BaseNotDisposedWhenNotOwned()
    {
        var counting = new CountingBlockBackend(new MemoryBlockBackend(512));
        new OverlayBlockBackend(counting, ownsBase: false).Dispose();
        Assert.False(counting.Disposed);
    }

    [Fact]
    public void DiscardRevertsToBase()
    {
        var image = Pattern(4096);
        using var overlay = new OverlayBlockBackend(new MemoryBlockBackend(image));
        overlay.Write(0, new byte[4096]);
        overlay.Discard();
        var back = new byte[4096];
        overlay.Read(0, back);
        Assert.Equal(image, back);
    }

    /// <summary>A scratch store that can run out of room, like a temporary file on a full host disk.</summary>
    private sealed class FullScratch : IOverlayScratch
    {
        private readonly MemoryOverlayScratch _inner = new();

        public bool Full { get; set; }

        public void Read(long offset, Span<byte> destination) => _inner.Read(offset, destination);

        public void Write(long offset, ReadOnlySpan<byte> source)
        {
            if (Full)
                throw new IOException("No space left on device");
            _inner.Write(offset, source);
        }

        public void Dispose() => _inner.Dispose();
    }

    [Fact]
    public void Failed_Scratch_Write_Leaves_The_Cluster_As_It_Was()
    {
        var image = Pattern(3 * 4096);
        var counting = new CountingBlockBackend(new MemoryBlockBackend(image, readOnly: true));
        var scratch = new FullScratch();
        using var overlay = new OverlayBlockBackend(counting, scratch: scratch);
        overlay.Write(0, new byte[] { 1, 2, 3 });
        scratch.Full = true;
        Assert.Throws<IOException>(() => overlay.Write(4096 + 10, new byte[] { 9 }));
        Assert.Equal(1, overlay.DirtyClusterCount);
        scratch.Full = false;
        var back = new byte[image.Length];
        overlay.Read(0, back);
        Assert.Equal(new byte[] { 1, 2, 3 }, back[..3]);
        Assert.Equal(image[3..], back[3..]);
        Assert.Equal(0, counting.Writes);
        // The failed slot is reused: the next new cluster lands where the failed one would have.
        overlay.Write(2 * 4096, new byte[] { 7 });
        overlay.Read(2 * 4096, back.AsSpan(0, 2));
        Assert.Equal(7, back[0]);
        Assert.Equal(image[2 * 4096 + 1], back[1]);
        Assert.Equal(2, overlay.DirtyClusterCount);
    }
}
