using Wemu.Machines;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>
/// The gap between device updates (<see cref="Machine"/>'s ticks): the fixed interval while a timer is due or the
/// guest's speed is unknown; with the next deadline far off, half of what the guest would run until it at its recent
/// speed, never more than the board's maximum (so a slower stretch still takes the timer in time).
/// </summary>
public sealed class MachineTickTests
{
    private const long Min = 32_768, Max = 131_072;

    [Fact]
    public void A_Far_Deadline_Gives_The_Maximum()
    {
        // 100 instructions per clock tick, the deadline a second (10 M ticks) away
        Assert.Equal(Max, Machine.TickGap(Min, Max, elapsed: 1_000, ran: 100_000, untilDeadline: 10_000_000, known: true));
    }

    [Fact]
    public void Between_The_Bounds_It_Is_Half_The_Instructions_Until_The_Deadline()
    {
        // 100 instructions per tick, 2,000 ticks to go: 200,000 instructions, half of it
        Assert.Equal(100_000, Machine.TickGap(Min, Max, elapsed: 1_000, ran: 100_000, untilDeadline: 2_000, known: true));
        // twice as fast, the deadline twice as near: the same
        Assert.Equal(100_000, Machine.TickGap(Min, Max, elapsed: 500, ran: 100_000, untilDeadline: 1_000, known: true));
    }

    [Fact]
    public void A_Near_Deadline_Or_An_Unknown_Speed_Gives_The_Interval()
    {
        Assert.Equal(Min, Machine.TickGap(Min, Max, elapsed: 1_000, ran: 100_000, untilDeadline: 100, known: true));
        Assert.Equal(Min, Machine.TickGap(Min, Max, elapsed: 1_000, ran: 100_000, untilDeadline: 0, known: true));
        Assert.Equal(Min, Machine.TickGap(Min, Max, elapsed: 0, ran: 100_000, untilDeadline: 10_000_000, known: true));
        Assert.Equal(Min, Machine.TickGap(Min, Max, elapsed: 1_000, ran: 0, untilDeadline: 10_000_000, known: true));
        Assert.Equal(Min, Machine.TickGap(Min, Max, elapsed: 1_000, ran: 100_000, untilDeadline: 10_000_000, known: false));
    }

    [Fact]
    public void No_Deadline_At_All_Does_Not_Overflow()
    {
        Assert.Equal(Max, Machine.TickGap(Min, Max, elapsed: 1, ran: ulong.MaxValue, untilDeadline: ulong.MaxValue, known: true));
    }
}
