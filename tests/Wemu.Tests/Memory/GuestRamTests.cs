using System.Runtime.InteropServices;
using Wemu.Memory;
using Xunit;

namespace Wemu.Tests.Memory;

public sealed unsafe class GuestRamTests
{
    /// <summary>
    /// With <see cref="GuestRam.HeapEnd"/> set (the page's path: malloc, then clear what lies below the
    /// heap's end), RAM made from a just-freed, dirty block of the same size must still read as zero.
    /// </summary>
    [Fact]
    public void HeapEnd_ClearsReusedMemoryBelowTheEnd()
    {
        const ulong size = 60 << 10;   // + the 4 KiB alignment slack: a 64 KiB heap block, reused after free
        GuestRam.HeapEnd = () => nuint.MaxValue;   // everything is below the end: all of it may be dirty
        try
        {
            for (int round = 0; round < 8; round++)
            {
                byte* dirty = (byte*)NativeMemory.Alloc((nuint)size + 4096);
                new Span<byte>(dirty, (int)size + 4096).Fill(0xFF);
                NativeMemory.Free(dirty);
                using var ram = new GuestRam(0x8000_0000, size);
                Assert.True(ram.AsSpan().IndexOfAnyExcept((byte)0) < 0, "guest RAM is not zero");
            }
        }
        finally
        {
            GuestRam.HeapEnd = null;
        }
    }

    [Fact]
    public void Native_RamIsZero()
    {
        using var ram = new GuestRam(0x8000_0000, 1 << 20);
        Assert.True(ram.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }
}
