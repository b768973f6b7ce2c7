using Wemu.Devices;
using Wemu.Devices.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>
/// 8254 PIT and port 0x61 against the Intel 8254 datasheet and QEMU hw/timer/i8254*.c, including replays of Linux's
/// PIT code: the periodic tick (arch/x86/kernel/i8253.c / drivers/clocksource/i8253.c) and the TSC calibration
/// in arch/x86/kernel/tsc.c (pit_calibrate_tsc, quick_pit_calibrate).
/// </summary>
public class I8254PitTests
{
    private const ulong ClockHz = 10_000_000; // ManualClock: one tick = 100 ns
    private const ulong Pit = I8254Pit.InputFrequency;

    private readonly ManualClock _time = new(ClockHz);
    private readonly EdgeCountingSink _sink = new();
    private readonly I8254Pit _pit;
    private readonly SystemControlPortB _port61;
    private readonly PortIoBus _bus = new();

    public I8254PitTests()
    {
        _pit = new I8254Pit(_time.Clock, new IrqLine(_sink, 0));
        _port61 = new SystemControlPortB(_pit);
        _bus.Map(0x40, 4, _pit);
        _bus.Map(0x61, 1, _port61);
    }

    private void Out(ushort port, byte value) => _bus.Write(port, 1, value);

    private byte In(ushort port) => (byte)_bus.Read(port, 1);

    /// <summary>Advances the clock to the PIT tick <paramref name="pitTicks"/> after now (rounded up to a clock tick).</summary>
    private void AdvancePit(ulong pitTicks)
    {
        ulong target = (ulong)(((UInt128)(_pit.PitNow + pitTicks) * ClockHz + Pit - 1) / Pit);
        _time.Advance(target - _time.Clock.Now);
    }

    [Fact]
    public void ResetStateIsMode3CountingFullRangeOnChannel0()
    {
        // QEMU pit_reset_common: mode 3, count 0x10000: IRQ 0 at 1193182 / 65536 = 18.2 Hz.
        ulong expected = (ulong)(((UInt128)65536 * ClockHz + Pit - 1) / Pit);
        Assert.Equal(expected, _pit.NextDeadline);
    }

    [Fact]
    public void LinuxPeriodicTickMode2RaisesIrq0AtHz()
    {
        // init_pit_timer / pit_set_periodic: outb_p(0x34, PIT_MODE); LATCH low, high. HZ = 250.
        const int latch = (int)((Pit + 125) / 250); // 4773
        Out(0x43, 0x34);
        Out(0x40, latch & 0xff);
        Out(0x40, latch >> 8);
        ulong oneSecond = ClockHz;
        while (_pit.NextDeadline <= oneSecond)
        {
            _time.Advance(_pit.NextDeadline - _time.Clock.Now);
            _pit.Tick();
        }
        // Edges at k * 4773 PIT ticks for k = 1..249 within 1193182 ticks.
        Assert.Equal(249, _sink.RisingEdges[0]);
        Assert.Equal(0ul, _pit.CoalescedTicks);
        Assert.False(_sink.Levels[0]); // each edge is a pulse
    }

    [Fact]
    public void TickBeforeTheDeadlineRaisesNothing()
    {
        Out(0x43, 0x34);
        Out(0x40, 100);
        Out(0x40, 0);
        _time.Advance(_pit.NextDeadline - 1);
        _pit.Tick();
        Assert.Equal(0, _sink.RisingEdges[0]);
        _time.Advance(1);
        _pit.Tick();
        Assert.Equal(1, _sink.RisingEdges[0]);
    }

    [Fact]
    public void MissedPeriodsAreCoalescedAndCounted()
    {
        Out(0x43, 0x34);
        Out(0x40, 0xe8);
        Out(0x40, 0x03); // 1000
        AdvancePit(10_500);
        _pit.Tick();
        Assert.Equal(1, _sink.RisingEdges[0]);
        Assert.Equal(9ul, _pit.CoalescedTicks);
        // The next deadline is the next period boundary, not in the past.
        Assert.True(_pit.NextDeadline > _time.Clock.Now);
    }

    [Fact]
    public void Mode0OneShotFiresOnceAtTerminalCount()
    {
        // 8254 datasheet mode 0: OUT goes high when the count reaches 0 and stays high (Linux pit_shutdown writes 0x30).
        Out(0x43, 0x30); // channel 0, lo/hi, mode 0
        Out(0x40, 0x10);
        Out(0x40, 0x00); // 16
        AdvancePit(15);
        _pit.Tick();
        Assert.Equal(0, _sink.RisingEdges[0]);
        AdvancePit(1);
        _pit.Tick();
        Assert.Equal(1, _sink.RisingEdges[0]);
        Assert.Equal(ulong.MaxValue, _pit.NextDeadline);
        AdvancePit(100_000);
        _pit.Tick();
        Assert.Equal(1, _sink.RisingEdges[0]);
    }

    [Fact]
    public void Mode4SoftwareStrobeFiresOnce()
    {
        // Linux's PIT clockevent oneshot: outb_p(0x38, PIT_MODE) = channel 0, lo/hi, mode 4.
        Out(0x43, 0x38);
        Out(0x40, 50);
        Out(0x40, 0);
        AdvancePit(51); // 8254 datasheet mode 4: OUT pulses low for one clock at terminal count, edge after it
        _pit.Tick();
        Assert.Equal(1, _sink.RisingEdges[0]);
        Assert.Equal(ulong.MaxValue, _pit.NextDeadline);
    }

    [Fact]
    public void Mode3SquareWaveOutputIsHighForTheFirstHalf()
    {
        Out(0x43, 0x36); // channel 0, lo/hi, mode 3
        Out(0x40, 100);
        Out(0x40, 0);
        Assert.True(_pit.GetOut(0));
        AdvancePit(49);
        Assert.True(_pit.GetOut(0));
        AdvancePit(1);
        Assert.False(_pit.GetOut(0));
        AdvancePit(50);
        Assert.True(_pit.GetOut(0));
    }

    [Fact]
    public void LoHiReadsAlternateBytesOfTheCurrentCount()
    {
        Out(0x43, 0xb0); // channel 2, lo/hi, mode 0
        Out(0x42, 0x34);
        Out(0x42, 0x12); // 0x1234
        Out(0x61, 0x01); // gate 2 high
        AdvancePit(0x34);
        Assert.Equal(0x00, In(0x42));
        Assert.Equal(0x12, In(0x42));
    }

    [Fact]
    public void LatchCommandFreezesTheCountUntilBothBytesAreRead()
    {
        Out(0x61, 0x01);
        Out(0x43, 0xb0);
        Out(0x42, 0x00);
        Out(0x42, 0x10); // 0x1000
        AdvancePit(0x10);
        Out(0x43, 0x80); // counter latch, channel 2
        AdvancePit(0x100);
        Assert.Equal(0xf0, In(0x42));
        Out(0x43, 0x80); // a second latch before the read completes is ignored
        Assert.Equal(0x0f, In(0x42));
        Assert.Equal(0xf0, In(0x42)); // live again: 0x1000 - 0x110 = 0x0ef0
        Assert.Equal(0x0e, In(0x42));
    }

    [Fact]
    public void LobyteOnlyAndHibyteOnlyAccessModes()
    {
        Out(0x61, 0x01);
        Out(0x43, 0x90); // channel 2, LSB only, mode 0
        Out(0x42, 0x80);
        Assert.Equal(0x80, In(0x42));
        Assert.Equal(0x80, In(0x42));
        Out(0x43, 0xa0); // channel 2, MSB only, mode 0
        Out(0x42, 0x02); // count 0x0200
        Assert.Equal(0x02, In(0x42));
    }

    [Fact]
    public void ReadBackStatusReportsOutNullCountAccessAndMode()
    {
        Out(0x43, 0xb0); // channel 2, lo/hi, mode 0, binary
        Out(0x43, 0xe8); // read-back: status only (COUNT bit 5 = 1), channel 2
        // 8254 datasheet figure 10: OUT = 0, NULL COUNT = 1, RW = 11, mode 000, BCD 0.
        Assert.Equal(0x70, In(0x42));
        Out(0x42, 0x05);
        Out(0x42, 0x00);
        Out(0x61, 0x01);
        Out(0x43, 0xe8);
        Assert.Equal(0x30, In(0x42));
        AdvancePit(5);
        Out(0x43, 0xe8);
        Assert.Equal(0xb0, In(0x42)); // OUT high at terminal count
    }

    [Fact]
    public void ReadBackLatchesCountAndStatusStatusFirst()
    {
        Out(0x61, 0x01);
        Out(0x43, 0xb0);
        Out(0x42, 0x00);
        Out(0x42, 0x20); // 0x2000
        Out(0x43, 0xc8); // read-back: latch count and status of channel 2
        AdvancePit(0x500);
        Assert.Equal(0x30, In(0x42));
        Assert.Equal(0x00, In(0x42));
        Assert.Equal(0x20, In(0x42));
    }

    [Fact]
    public void GateLowHoldsMode0CountingOnChannel2()
    {
        Out(0x61, 0x00); // gate 2 low
        Out(0x43, 0xb0);
        Out(0x42, 0xff);
        Out(0x42, 0xff);
        AdvancePit(1000);
        In(0x42);
        Assert.Equal(0xff, In(0x42)); // not counting (8254 datasheet mode 0: GATE = 0 disables counting)
        Out(0x61, 0x01);
        AdvancePit(0x100);
        In(0x42);
        Assert.Equal(0xfe, In(0x42));
    }

    [Fact]
    public void Port61ReportsGateSpeakerRefreshToggleAndOut2()
    {
        Out(0x61, 0x03);
        byte a = In(0x61);
        byte b = In(0x61);
        Assert.Equal(0x03, a & 0x03);
        Assert.NotEqual(a & 0x10, b & 0x10); // refresh bit toggles on each read (QEMU)
        Out(0x61, 0x01);
        Assert.Equal(0x00, In(0x61) & 0x02);
        Out(0x43, 0xb0);
        Out(0x42, 10);
        Out(0x42, 0);
        Assert.Equal(0, In(0x61) & 0x20);
        AdvancePit(10);
        Assert.Equal(0x20, In(0x61) & 0x20);
    }

    [Fact]
    public void LinuxPitCalibrateTscSeesOut2RiseAfterTheLatch()
    {
        // pit_calibrate_tsc(latch = CLOCK_TICK_RATE / (1000 / 10), ms = 10, loopmin):
        //   outb((inb(0x61) & ~0x02) | 0x01, 0x61); outb(0xb0, 0x43); outb(latch & 0xff, 0x42); outb(latch >> 8, 0x42);
        //   while ((inb(0x61) & 0x20) == 0) { t2 = get_cycles(); ... }
        const int latch = (int)(Pit / 100);
        Out(0x61, (byte)((In(0x61) & ~0x02) | 0x01));
        Out(0x43, 0xb0);
        Out(0x42, latch & 0xff);
        Out(0x42, latch >> 8);
        ulong start = _time.Clock.Now;
        int loops = 0;
        while ((In(0x61) & 0x20) == 0)
        {
            _time.Advance(3); // the loop body's cost in clock ticks
            loops++;
            Assert.True(loops < 1_000_000);
        }
        // OUT2 rises once 11931 PIT ticks passed: 11931 / 1193182 s = 9.9993 ms = 99993 ticks of 100 ns.
        ulong elapsed = _time.Clock.Now - start;
        ulong expected = (ulong)(((UInt128)latch * ClockHz + Pit - 1) / Pit);
        Assert.InRange(elapsed, expected, expected + 3);
    }

    [Fact]
    public void LinuxQuickPitCalibrateMeasuresTheTscWithin500Ppm()
    {
        // The TSC of this replay runs at 1 GHz: 100 cycles per clock tick. Every IN costs 2 clock ticks.
        const ulong tscPerTick = 100;
        ulong Cycles() => _time.Clock.Now * tscPerTick;
        byte Inb(ushort port)
        {
            _time.Advance(2);
            return In(port);
        }
        bool VerifyMsb(byte val)
        {
            Inb(0x42); // ignore LSB
            return Inb(0x42) == val;
        }
        bool ExpectMsb(byte val, out ulong tscp, out ulong deltap)
        {
            int count;
            ulong tsc = 0, prevTsc = 0;
            for (count = 0; count < 50000; count++)
            {
                if (!VerifyMsb(val))
                    break;
                prevTsc = tsc;
                tsc = Cycles();
            }
            deltap = Cycles() - prevTsc;
            tscp = tsc;
            return count > 5;
        }

        // quick_pit_calibrate():
        Out(0x61, (byte)((Inb(0x61) & ~0x02) | 0x01));
        Out(0x43, 0xb0);
        Out(0x42, 0xff);
        Out(0x42, 0xff);
        VerifyMsb(0);
        const int maxIterations = (int)(50 * Pit / 1000 / 256);
        ulong khz = 0;
        Assert.True(ExpectMsb(0xff, out ulong tsc0, out ulong d1));
        for (int i = 1; i <= maxIterations; i++)
        {
            Assert.True(ExpectMsb((byte)(0xff - i), out ulong delta, out ulong d2), $"MSB 0x{0xff - i:x2} not seen");
            delta -= tsc0;
            if (i == 1)
                Assert.False(d1 + d2 >= (delta * maxIterations) >> 11, "error would never get below 500 ppm");
            if (d1 + d2 >= delta >> 11)
                continue;
            Assert.True(VerifyMsb((byte)(0xfe - i)));
            khz = delta * Pit / (ulong)(i * 256 * 1000);
            break;
        }
        Assert.InRange(khz, 999_500ul, 1_000_500ul); // "Fast TSC calibration using PIT"
    }

    [Fact]
    public void RisingGateRestartsMode2()
    {
        // 8254 datasheet mode 2: GATE low forces OUT high and stops; the rising edge reloads the count.
        Out(0x43, 0xb4); // channel 2, lo/hi, mode 2
        Out(0x42, 100);
        Out(0x42, 0);
        Out(0x61, 0x01);
        AdvancePit(30);
        Assert.Equal(70, In(0x42));
        In(0x42);
        Out(0x61, 0x00);
        Assert.True(_pit.GetOut(2));
        AdvancePit(10);
        Out(0x61, 0x01);
        Assert.Equal(100 & 0xff, In(0x42));
    }
}
