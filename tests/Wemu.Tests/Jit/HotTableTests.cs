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
        ulong a = 0xFFFF_FFFF_8020_1000;
        AssertBothGetHot(hot, a, a + distance);
    }

    /// <summary>200 alternating arrivals at <paramref name="a"/> and <paramref name="b"/> (threshold 100) make both hot.</summary>
    private static void AssertBothGetHot(HotTable hot, ulong a, ulong b)
    {
        bool aHot = false, bHot = false;
        for (int i = 0; i < 200; i++)
        {
            aHot |= hot.Bump(a);
            bHot |= hot.Bump(b);
        }
        Assert.True(aHot && bHot, $"after 200 arrivals each: a hot {aHot}, b hot {bHot}");
    }

    /// <summary>
    /// x86 pcs are byte-aligned: code at the same offset of 64 KiB-aligned places (a library in two processes, the
    /// kernel against a library) must not share an entry, so the index folds the higher bits in.
    /// </summary>
    [Theory]
    [InlineData(0x7F33_BA65_E990UL, 0x7F33_BA66_E990UL)]
    [InlineData(0x7F33_BA65_E990UL, 0x0000_0000_005E_E990UL)]
    [InlineData(0xFFFF_FFFF_8117_2990UL, 0xFFFF_FFFF_8118_2990UL)]
    public void Byte_Aligned_Targets_64_KiB_Apart_Both_Get_Hot(ulong a, ulong b)
    {
        using var hot = new HotTable(100, pcShift: 0);
        Assert.NotEqual(HotTable.Index(a, 0), HotTable.Index(b, 0));
        AssertBothGetHot(hot, a, b);
    }

    /// <summary>
    /// Any two targets of one set that alternate both get hot (two ways, the most recent first): x86 kernel pcs in
    /// pairs whose 16-bit groups XOR alike (the index before: 0xffffffff810ef7d3 and 0xffffffff8131f7ec) shared a
    /// direct-mapped entry and never got hot. A third target of the set that arrives between takes the older way only.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Two_Targets_Of_One_Set_Both_Get_Hot(int pcShift)
    {
        using var hot = new HotTable(100, pcShift);
        ulong a = 0xFFFF_FFFF_810E_F7D2, b = a + 2;
        while (HotTable.Index(b, pcShift) != HotTable.Index(a, pcShift))
            b += 2;
        AssertBothGetHot(hot, a, b);
        using var again = new HotTable(100, pcShift);
        Assert.False(again.Bump(a, 60));
        Assert.False(again.Bump(b, 60));
        Assert.True(again.Bump(a, 60), "a's count went when b took the set's other way");
        Assert.True(HotTable.Index(0xFFFF_FFFF_810E_F7D3, 0) != HotTable.Index(0xFFFF_FFFF_8131_F7EC, 0));
    }

    /// <summary>A weighted arrival counts for its weight, also as a target's first (which takes the entry over).</summary>
    [Fact]
    public void A_Weighted_Arrival_Counts_For_Its_Weight()
    {
        using var hot = new HotTable(100, pcShift: 0);
        const ulong Pc = 0x40_1000;
        Assert.False(hot.Bump(Pc, 32));
        Assert.False(hot.Bump(Pc, 32));
        Assert.False(hot.Bump(Pc, 32));
        Assert.True(hot.Bump(Pc, 32));
        Assert.True(new HotTable(100, pcShift: 0).Bump(Pc, 100), "a first arrival of the threshold's weight is hot");
    }
}
