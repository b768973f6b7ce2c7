using Wemu.Devices;
using Wemu.Devices.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>
/// MC146818 RTC/CMOS against the Motorola MC146818A datasheet and QEMU hw/rtc/mc146818rtc.c, driven as Linux's
/// drivers/rtc/rtc-mc146818-lib.c (mc146818_get_time / mc146818_set_time) and rtc-cmos.c do.
/// </summary>
public class Mc146818RtcTests
{
    private const ulong ClockHz = 10_000_000;

    // Thursday 2024-02-29 13:45:56 UTC.
    private static readonly DateTimeOffset s_start = new(2024, 2, 29, 13, 45, 56, TimeSpan.Zero);

    private readonly ManualClock _time = new(ClockHz);
    private readonly EdgeCountingSink _sink = new();
    private readonly Mc146818Rtc _rtc;

    public Mc146818RtcTests()
    {
        _rtc = new Mc146818Rtc(_time.Clock, new IrqLine(_sink, 8), () => s_start);
    }

    private bool Irq => _sink.Levels[8];

    private byte ReadCmos(int index)
    {
        _rtc.Write(0x70, 1, (uint)index);
        return (byte)_rtc.Read(0x71, 1);
    }

    private void WriteCmos(int index, byte value)
    {
        _rtc.Write(0x70, 1, (uint)index);
        _rtc.Write(0x71, 1, value);
    }

    private void AdvanceSeconds(double seconds) => _time.Advance((ulong)(seconds * ClockHz));

    [Fact]
    public void PowerOnRegistersAsQemu()
    {
        Assert.Equal(0x26, ReadCmos(0x0a) & 0x7f); // 32.768 kHz time base, 1024 Hz rate
        Assert.Equal(0x02, ReadCmos(0x0b)); // 24 h, BCD
        Assert.Equal(0x00, ReadCmos(0x0c));
        Assert.Equal(0x80, ReadCmos(0x0d)); // VRT: valid RAM and time
    }

    [Fact]
    public void TimeAndDateReadInBcdFromTheWallClock()
    {
        Assert.Equal(0x56, ReadCmos(0x00));
        Assert.Equal(0x45, ReadCmos(0x02));
        Assert.Equal(0x13, ReadCmos(0x04));
        Assert.Equal(0x05, ReadCmos(0x06)); // Thursday, with Sunday = 1
        Assert.Equal(0x29, ReadCmos(0x07));
        Assert.Equal(0x02, ReadCmos(0x08));
        Assert.Equal(0x24, ReadCmos(0x09));
        Assert.Equal(0x20, ReadCmos(0x32)); // century (QEMU base_year 0)
        Assert.Equal(0x20, ReadCmos(0x37)); // IBM PS/2 century alias
    }

    [Fact]
    public void TimeAdvancesWithTheMachineClockAcrossMidnightAndLeapDay()
    {
        AdvanceSeconds(10 * 3600 + 14 * 60 + 4); // 2024-03-01 00:00:00
        Assert.Equal(0x00, ReadCmos(0x00));
        Assert.Equal(0x00, ReadCmos(0x02));
        Assert.Equal(0x00, ReadCmos(0x04));
        Assert.Equal(0x01, ReadCmos(0x07));
        Assert.Equal(0x03, ReadCmos(0x08));
        Assert.Equal(0x06, ReadCmos(0x06)); // Friday
    }

    [Fact]
    public void BinaryModeAndTwelveHourMode()
    {
        WriteCmos(0x0b, 0x06); // DM = binary, 24 h
        Assert.Equal(56, ReadCmos(0x00));
        Assert.Equal(13, ReadCmos(0x04));
        Assert.Equal(24, ReadCmos(0x09));
        WriteCmos(0x0b, 0x00); // BCD, 12 h: 13:45 is 1 PM = 0x81
        Assert.Equal(0x81, ReadCmos(0x04));
    }

    [Fact]
    public void LinuxSetTimeTakesEffectAndFirstUpdateIsHalfASecondLater()
    {
        // mc146818_set_time: SET in B, divider reset (RTC_DIV_RESET2 = 0x70) in A, write the fields, restore B, then A.
        byte control = ReadCmos(0x0b);
        WriteCmos(0x0b, (byte)(control | 0x80));
        byte freq = ReadCmos(0x0a);
        WriteCmos(0x0a, (byte)(freq | 0x70));
        WriteCmos(0x09, 0x99);
        WriteCmos(0x08, 0x12);
        WriteCmos(0x07, 0x31);
        WriteCmos(0x04, 0x23);
        WriteCmos(0x02, 0x59);
        WriteCmos(0x00, 0x58);
        WriteCmos(0x32, 0x19);
        WriteCmos(0x0b, control);
        WriteCmos(0x0a, freq);
        AdvanceSeconds(0.4);
        Assert.Equal(0x58, ReadCmos(0x00));
        AdvanceSeconds(0.2); // datasheet: the first update after the divider reset comes 500 ms later
        Assert.Equal(0x59, ReadCmos(0x00));
        AdvanceSeconds(1);
        Assert.Equal(0x00, ReadCmos(0x00));
        Assert.Equal(0x00, ReadCmos(0x04));
        Assert.Equal(0x01, ReadCmos(0x07));
        Assert.Equal(0x01, ReadCmos(0x08));
        Assert.Equal(0x00, ReadCmos(0x09));
        Assert.Equal(0x20, ReadCmos(0x32)); // 1999-12-31 23:59:59 + 1 s = 2000-01-01
    }

    [Fact]
    public void SetBitFreezesTheRegisters()
    {
        WriteCmos(0x0b, 0x82);
        AdvanceSeconds(5);
        Assert.Equal(0x56, ReadCmos(0x00));
    }

    [Fact]
    public void UipIsSetDuringTheLast244MicrosecondsOfASecond()
    {
        Assert.Equal(0, ReadCmos(0x0a) & 0x80);
        _time.Advance(ClockHz - 2000); // 200 µs before the update
        Assert.Equal(0x80, ReadCmos(0x0a) & 0x80);
        _time.Advance(2000);
        Assert.Equal(0, ReadCmos(0x0a) & 0x80);
    }

    [Fact]
    public void UpdateEndedInterruptEverySecondAndRegisterCReadClearsIt()
    {
        WriteCmos(0x0b, 0x12); // UIE
        Assert.Equal(ClockHz, _rtc.NextDeadline);
        _time.Advance(_rtc.NextDeadline - 1);
        _rtc.Tick();
        Assert.False(Irq);
        _time.Advance(1);
        _rtc.Tick();
        Assert.True(Irq);
        Assert.Equal(0x90, ReadCmos(0x0c)); // IRQF | UF
        Assert.False(Irq);
        Assert.Equal(0x00, ReadCmos(0x0c));
    }

    [Fact]
    public void UpdateFlagIsSetEvenWithoutItsInterruptEnabled()
    {
        AdvanceSeconds(1.1);
        Assert.Equal(0x10, ReadCmos(0x0c)); // UF without IRQF
        Assert.False(Irq);
        Assert.Equal(0, _sink.RisingEdges[8]);
    }

    [Fact]
    public void EnablingAnInterruptWhoseFlagIsSetRaisesAtOnce()
    {
        AdvanceSeconds(1.1);
        _rtc.Tick();
        WriteCmos(0x0b, 0x12);
        Assert.True(Irq);
    }

    [Fact]
    public void PeriodicInterruptAt1024Hz()
    {
        // rtc-cmos: rate 6 in A (0x26) = 32768 >> 5 = 1024 Hz, then PIE.
        WriteCmos(0x0b, 0x42);
        int interrupts = 0;
        while (_rtc.NextDeadline <= ClockHz)
        {
            _time.Advance(_rtc.NextDeadline - _time.Clock.Now);
            _rtc.Tick();
            if (Irq)
            {
                interrupts++;
                Assert.Equal(0xc0, ReadCmos(0x0c) & 0xc0); // IRQF | PF (plus UF at the second boundary)
            }
        }
        Assert.Equal(1024, interrupts);
        Assert.Equal(0ul, _rtc.LostPeriodicInterrupts);
    }

    [Fact]
    public void PeriodicRatesOneAndTwoAreThe256And128HzRates()
    {
        // Datasheet table 5 (32.768 kHz base): RS = 1 gives 256 Hz, RS = 2 gives 128 Hz, RS = 3 gives 8192 Hz.
        WriteCmos(0x0a, 0x21);
        WriteCmos(0x0b, 0x42);
        // First clock tick at or after 128 cycles of 32.768 kHz (39062.5 ticks of 100 ns).
        Assert.Equal((128 * ClockHz + 32767) / 32768, _rtc.NextDeadline);
        WriteCmos(0x0b, 0x02);
        WriteCmos(0x0a, 0x23);
        WriteCmos(0x0b, 0x42);
        Assert.Equal((4 * ClockHz + 32767) / 32768, _rtc.NextDeadline);
    }

    [Fact]
    public void AlarmFiresWhenTheTimeMatches()
    {
        // Alarm at 13:46:00 (four seconds after the start).
        WriteCmos(0x01, 0x00);
        WriteCmos(0x03, 0x46);
        WriteCmos(0x05, 0x13);
        WriteCmos(0x0b, 0x22); // AIE
        AdvanceSeconds(3.5);
        _rtc.Tick();
        Assert.False(Irq);
        AdvanceSeconds(0.6);
        _rtc.Tick();
        Assert.True(Irq);
        Assert.Equal(0xb0, ReadCmos(0x0c)); // IRQF | AF | UF
    }

    [Fact]
    public void AlarmMatchingAcrossASkippedIntervalStillFires()
    {
        WriteCmos(0x01, 0x10);
        WriteCmos(0x03, 0x46);
        WriteCmos(0x05, 0x13);
        WriteCmos(0x0b, 0x22);
        AdvanceSeconds(600); // the machine slept past 13:46:10
        _rtc.Tick();
        Assert.True(Irq);
    }

    [Fact]
    public void DontCareAlarmBytesFireEverySecond()
    {
        WriteCmos(0x01, 0xc0);
        WriteCmos(0x03, 0xc0);
        WriteCmos(0x05, 0xc0);
        WriteCmos(0x0b, 0x22);
        for (int i = 0; i < 3; i++)
        {
            _time.Advance(_rtc.NextDeadline - _time.Clock.Now);
            _rtc.Tick();
            Assert.Equal(0xb0, ReadCmos(0x0c));
        }
    }

    [Fact]
    public void IndexPortIgnoresTheNmiBitAndReadsOnes()
    {
        _rtc.Write(0x70, 1, 0x80 | 0x0d);
        Assert.Equal(0x80u, _rtc.Read(0x71, 1));
        Assert.Equal(0xffu, _rtc.Read(0x70, 1));
    }

    [Fact]
    public void CmosRamKeepsWhatIsWrittenAndRegistersCAndDAreReadOnly()
    {
        WriteCmos(0x40, 0x5a);
        Assert.Equal(0x5a, ReadCmos(0x40));
        WriteCmos(0x0d, 0x00);
        Assert.Equal(0x80, ReadCmos(0x0d));
        WriteCmos(0x0c, 0xff);
        Assert.Equal(0x00, ReadCmos(0x0c));
    }

    [Fact]
    public void MemorySizeBytesAsQemuMicrovm()
    {
        // microvm_set_rtc with 512 MiB below 4 GiB and 1 GiB above.
        _rtc.SetMemorySize(512ul << 20, 1ul << 30);
        Assert.Equal(0x80, ReadCmos(0x15)); // 640 KiB = 0x0280
        Assert.Equal(0x02, ReadCmos(0x16));
        Assert.Equal(0xff, ReadCmos(0x30)); // extended memory capped at 65535 KiB
        Assert.Equal(0xff, ReadCmos(0x31));
        Assert.Equal(0x00, ReadCmos(0x34)); // (512 - 16) MiB / 64 KiB = 7936 = 0x1f00
        Assert.Equal(0x1f, ReadCmos(0x35));
        Assert.Equal(0x00, ReadCmos(0x5b)); // 1 GiB / 64 KiB = 16384 = 0x004000
        Assert.Equal(0x40, ReadCmos(0x5c));
        Assert.Equal(0x00, ReadCmos(0x5d));
    }

    [Fact]
    public void GarbageTimeValuesDoNotThrow()
    {
        for (int reg = 0; reg < 10; reg++)
            WriteCmos(reg, 0xff);
        WriteCmos(0x32, 0xff);
        WriteCmos(0x0b, 0x06);
        for (int reg = 0; reg < 10; reg++)
            WriteCmos(reg, 0xfe);
        AdvanceSeconds(3);
        for (int reg = 0; reg < 128; reg++)
            ReadCmos(reg);
        _rtc.Tick();
        _ = _rtc.NextDeadline;
    }
}
