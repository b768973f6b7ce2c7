using Wemu.Memory;
using Xunit;

namespace Wemu.Tests;

public class PhysicalBusTests
{
    [Fact]
    public void DmaSpanOutsideRamIsRefused()
    {
        var bus = new PhysicalBus();
        bus.AddRam(0x8000_0000, 0x10000);
        Assert.True(bus.TryGetDmaSpan(0x8000_0000, 0x10000, out var all));
        Assert.Equal(0x10000, all.Length);
        Assert.False(bus.TryGetDmaSpan(0x8000_FFFF, 2, out _));
        Assert.False(bus.TryGetDmaSpan(0x7FFF_FFFF, 1, out _));
        Assert.False(bus.TryGetDmaSpan(ulong.MaxValue, 2, out _));
        Assert.False(bus.TryGetDmaSpan(0x8000_0000, uint.MaxValue, out _));
    }
}
