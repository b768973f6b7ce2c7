using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

public class GoldfishRtcTests
{
    private const ulong TimeLow = 0x00, TimeHigh = 0x04, AlarmLow = 0x08, AlarmHigh = 0x0C, IrqEnabled = 0x10,
        ClearAlarm = 0x14, AlarmStatus = 0x18, ClearInterrupt = 0x1C;
    private const int IrqNumber = 11;

    // 2024-01-01T00:00:00Z = 1704067200 s since the epoch.
    private static readonly DateTimeOffset s_start = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const ulong StartNs = 1_704_067_200UL * 1_000_000_000;

    private readonly ManualClock _time = new(); // 10 MHz: one tick = 100 ns
    private readonly TestInterruptSink _sink = new();
    private readonly GoldfishRtc _rtc;

    public GoldfishRtcTests()
    {
        _rtc = new GoldfishRtc(_time.Clock, new IrqLine(_sink, IrqNumber), s_start);
    }

    private bool Irq => _sink.Levels[IrqNumber];

    private ulong ReadTime()
    {
        ulong low = _rtc.Read(TimeLow, 4);
        ulong high = _rtc.Read(TimeHigh, 4);
        return (high << 32) | low;
    }

    [Fact]
    public void TimeIsStartPlusElapsedNanoseconds()
    {
        Assert.Equal(StartNs, ReadTime());
        _time.Advance(10_000_000); // one second
        Assert.Equal(StartNs + 1_000_000_000, ReadTime());
    }

    [Fact]
    public void ReadingTimeLowLatchesTimeHigh()
    {
        ulong low = _rtc.Read(TimeLow, 4);
        _time.Advance(100_000_000_000); // far enough to change the high word
        ulong high = _rtc.Read(TimeHigh, 4);
        Assert.Equal(StartNs, (high << 32) | low);
    }

    [Fact]
    public void WritingTimeSetsClock()
    {
        ulong target = 0x1234_5678_9ABC_DEF0;
        _rtc.Write(TimeHigh, 4, target >> 32);
        _rtc.Write(TimeLow, 4, target & 0xFFFF_FFFF);
        Assert.Equal(target, ReadTime());
        _time.Advance(10);
        Assert.Equal(target + 1000, ReadTime());
    }

    [Fact]
    public void AlarmFiresOnUpdateWhenDue()
    {
        ulong alarm = StartNs + 1_000_000; // 1 ms later
        _rtc.Write(IrqEnabled, 4, 1);
        _rtc.Write(AlarmHigh, 4, alarm >> 32);
        _rtc.Write(AlarmLow, 4, alarm & 0xFFFF_FFFF);
        Assert.Equal(1UL, _rtc.Read(AlarmStatus, 4));
        Assert.Equal(alarm, (_rtc.Read(AlarmHigh, 4) << 32) | _rtc.Read(AlarmLow, 4));
        _time.Advance(9_999);
        _rtc.Update();
        Assert.False(Irq);
        _time.Advance(1);
        _rtc.Update();
        Assert.True(Irq);
        Assert.Equal(0UL, _rtc.Read(AlarmStatus, 4));
        _rtc.Write(ClearInterrupt, 4, 1);
        Assert.False(Irq);
    }

    [Fact]
    public void AlarmInThePastFiresAtOnce()
    {
        _rtc.Write(IrqEnabled, 4, 1);
        _rtc.Write(AlarmHigh, 4, 0);
        _rtc.Write(AlarmLow, 4, 5);
        Assert.True(Irq);
        Assert.Equal(0UL, _rtc.Read(AlarmStatus, 4));
    }

    [Fact]
    public void DisabledInterruptStaysLowUntilEnabled()
    {
        _rtc.Write(AlarmLow, 4, 1);
        Assert.False(Irq);
        _rtc.Write(IrqEnabled, 4, 1);
        Assert.True(Irq);
        Assert.Equal(1UL, _rtc.Read(IrqEnabled, 4));
    }

    [Fact]
    public void ClearAlarmDisarms()
    {
        ulong alarm = StartNs + 1000;
        _rtc.Write(IrqEnabled, 4, 1);
        _rtc.Write(AlarmHigh, 4, alarm >> 32);
        _rtc.Write(AlarmLow, 4, alarm & 0xFFFF_FFFF);
        _rtc.Write(ClearAlarm, 4, 1);
        Assert.Equal(0UL, _rtc.Read(AlarmStatus, 4));
        _time.Advance(1_000_000);
        _rtc.Update();
        Assert.False(Irq);
    }

    [Fact]
    public void NextDeadlineIsAlarmTimeInClockTicks()
    {
        Assert.Equal(ulong.MaxValue, _rtc.NextDeadline);
        ulong alarm = StartNs + 1_000_000;
        _rtc.Write(AlarmHigh, 4, alarm >> 32);
        _rtc.Write(AlarmLow, 4, alarm & 0xFFFF_FFFF);
        ulong deadline = _rtc.NextDeadline;
        Assert.InRange(deadline, 10_000UL, 10_001UL);
        _time.Clock.SkipTo(deadline);
        _rtc.Write(IrqEnabled, 4, 1);
        _rtc.Update();
        Assert.True(Irq);
    }

    [Fact]
    public void NarrowAccessesReadZeroAndAreIgnored()
    {
        Assert.Equal(0UL, _rtc.Read(TimeLow, 1));
        _rtc.Write(IrqEnabled, 2, 1);
        Assert.Equal(0UL, _rtc.Read(IrqEnabled, 4));
    }
}
