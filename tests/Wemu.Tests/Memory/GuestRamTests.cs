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

    /// <summary>
    /// Natively on Linux, guest RAM asks for transparent huge pages (as QEMU's RAM blocks do): the kernel's mapping
    /// of its 2 MiB-aligned interior carries the MADV_HUGEPAGE flag ("hg" in /proc/self/smaps), and it still reads as zero.
    /// </summary>
    [Fact]
    public void Native_Ram_On_Linux_Asks_For_Huge_Pages()
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/sys/kernel/mm/transparent_hugepage"))
            return;   // (advice only a Linux kernel with huge pages takes: elsewhere there is nothing to look at)
        using var ram = new GuestRam(0x8000_0000, 16 << 20);
        ulong inside = ((ulong)ram.Pointer + (4 << 20)) & ~((2UL << 20) - 1);
        string? flags = null;
        bool found = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, null, out ulong lo)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), System.Globalization.NumberStyles.HexNumber, null, out ulong hi))
            {
                found = inside >= lo && inside < hi;
            }
            else if (found && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                flags = line;
                break;
            }
        }
        Assert.NotNull(flags);
        Assert.Contains(" hg", flags);
        Assert.True(ram.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Native_RamIsZero()
    {
        using var ram = new GuestRam(0x8000_0000, 1 << 20);
        Assert.True(ram.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }
}
