using Wemu.Jit;
using Xunit;

namespace Wemu.Tests.Jit;

public sealed class HotTableTests
{
    /// <summary>
    /// Two branch targets that alternate (a loop and the function it calls) must both get hot. In a
    /// direct-mapped table they reset each other's count when they share an entry: with 2^14 entries
    /// RISC-V pcs 32 KiB apart did, and the page's gzip loop stayed in the interpreter.
    /// </summary>
    [Theory]
    [InlineData(0x8000UL)]
    [InlineData(0x10000UL)]
    public void Alternating_Targets_A_Distance_Apart_Both_Get_Hot(ulong distance)
    {
        using var hot = new HotTable(100, pcShift: 1);
        ulong a = 0xFFFF_FFFF_8020_1000, b = a + distance;
        bool aHot = false, bHot = false;
        for (int i = 0; i < 200; i++)
        {
            aHot |= hot.Bump(a);
            bHot |= hot.Bump(b);
        }
        Assert.True(aHot && bHot, $"after 200 arrivals each: a hot {aHot}, b hot {bHot}");
    }
}
