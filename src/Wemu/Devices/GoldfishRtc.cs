using Wemu.Snapshot;
using Wemu.Memory;

namespace Wemu.Devices;

/// <summary>
/// Google goldfish real-time clock as QEMU's hw/rtc/goldfish_rtc.c (<c>compatible = "google,goldfish-rtc"</c>,
/// Linux drivers/rtc/rtc-goldfish.c). Time is nanoseconds since the Unix epoch: the start time given to the
/// constructor plus the time elapsed on the <see cref="MachineClock"/>, plus an offset the guest sets by writing
/// TIME_LOW/TIME_HIGH. One alarm; the machine calls <see cref="Update"/> each time slice to fire it.
/// </summary>
public sealed class GoldfishRtc : IMmioDevice, IStateful<GoldfishRtc>
{
    /// <summary>
    /// The guest's wall time when saved (it goes on from there, as in a paused machine: the clock it counts from is
    /// restored too), the alarm and the interrupt state.
    /// </summary>
    static VmState<GoldfishRtc> IStateful<GoldfishRtc>.State { get; } = new VmState<GoldfishRtc>("goldfish-rtc", 1)
        .Field("time", (t, w) => w.U64(t.Nanoseconds), (t, r) =>
        {
            ulong saved = r.U64();
            t._offset = 0;
            t._offset = saved - t.Nanoseconds;   // wraps as the guest's own writes do
        })
        .U32("time-high", t => ref t._timeHigh)
        .U64("alarm", t => ref t._alarm)
        .Bool("alarm-running", t => ref t._alarmRunning)
        .Bool("irq-enabled", t => ref t._irqEnabled)
        .Bool("irq-pending", t => ref t._irqPending)
        .Field("irq", (t, w) => w.Bool(t._irq.Level), (t, r) => t._irq.RestoreLevel(r.Bool()));

    public const ulong WindowSize = 0x1000;

    private const ulong RegTimeLow = 0x00, RegTimeHigh = 0x04, RegAlarmLow = 0x08, RegAlarmHigh = 0x0C,
        RegIrqEnabled = 0x10, RegClearAlarm = 0x14, RegAlarmStatus = 0x18, RegClearInterrupt = 0x1C;

    private const ulong NanosecondsPerSecond = 1_000_000_000;

    private readonly MachineClock _clock;
    private readonly IrqLine _irq;
    private readonly ulong _startNanoseconds;
    private ulong _offset;
    private uint _timeHigh;
    private ulong _alarm;
    private bool _alarmRunning;
    private bool _irqEnabled;
    private bool _irqPending;

    /// <param name="clock">Machine time base.</param>
    /// <param name="irq">Interrupt output (PLIC source 11 on QEMU virt).</param>
    /// <param name="start">Wall-clock time at machine clock 0 (the host passes <c>DateTimeOffset.UtcNow</c>).</param>
    public GoldfishRtc(MachineClock clock, IrqLine irq, DateTimeOffset start)
    {
        _clock = clock;
        _irq = irq;
        long ticks = start.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        _startNanoseconds = ticks <= 0 ? 0 : (ulong)ticks * 100;
    }

    /// <summary>Current guest time in nanoseconds since the Unix epoch.</summary>
    public ulong Nanoseconds => _startNanoseconds + ClockNanoseconds(_clock.Now) + _offset;

    public bool AlarmRunning => _alarmRunning;

    /// <summary>
    /// The <see cref="MachineClock.Now"/> value at which the armed alarm fires, or <see cref="ulong.MaxValue"/>.
    /// </summary>
    public ulong NextDeadline
    {
        get
        {
            if (!_alarmRunning)
                return ulong.MaxValue;
            ulong now = Nanoseconds;
            if (_alarm <= now)
                return _clock.Now;
            ulong ticks = (ulong)UInt128.Min((UInt128)(_alarm - now) * _clock.Frequency / NanosecondsPerSecond + 1, ulong.MaxValue);
            ulong clockNow = _clock.Now;
            return clockNow > ulong.MaxValue - ticks ? ulong.MaxValue : clockNow + ticks;
        }
    }

    /// <summary>Fires the alarm if its time has come.</summary>
    public void Update()
    {
        if (_alarmRunning && Nanoseconds >= _alarm)
            RaiseAlarm();
    }

    public ulong Read(ulong offset, int size)
    {
        if (size != 4 || (offset & 3) != 0)
            return 0; // 32-bit registers only
        switch (offset)
        {
            case RegTimeLow:
            {
                // Reading TIME_LOW latches the high half, so the 64-bit value is consistent.
                ulong now = Nanoseconds;
                _timeHigh = (uint)(now >> 32);
                return (uint)now;
            }
            case RegTimeHigh:
                return _timeHigh;
            case RegAlarmLow:
                return (uint)_alarm;
            case RegAlarmHigh:
                return (uint)(_alarm >> 32);
            case RegIrqEnabled:
                return _irqEnabled ? 1u : 0u;
            case RegAlarmStatus:
                return _alarmRunning ? 1u : 0u;
            default:
                return 0;
        }
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (size != 4 || (offset & 3) != 0)
            return;
        uint v = (uint)value;
        switch (offset)
        {
            case RegTimeLow:
            {
                ulong now = Nanoseconds;
                _offset += ((now & 0xFFFF_FFFF_0000_0000) | v) - now;
                break;
            }
            case RegTimeHigh:
            {
                ulong now = Nanoseconds;
                _offset += ((now & 0xFFFF_FFFF) | ((ulong)v << 32)) - now;
                break;
            }
            case RegAlarmLow:
                // Writing the low half arms the alarm (Linux writes ALARM_HIGH first).
                _alarm = (_alarm & 0xFFFF_FFFF_0000_0000) | v;
                _alarmRunning = true;
                Update();
                break;
            case RegAlarmHigh:
                _alarm = (_alarm & 0xFFFF_FFFF) | ((ulong)v << 32);
                break;
            case RegIrqEnabled:
                _irqEnabled = (v & 1) != 0;
                UpdateIrq();
                break;
            case RegClearAlarm:
                _alarmRunning = false;
                break;
            case RegClearInterrupt:
                _irqPending = false;
                UpdateIrq();
                break;
        }
    }

    private ulong ClockNanoseconds(ulong ticks) =>
        (ulong)UInt128.Min((UInt128)ticks * NanosecondsPerSecond / _clock.Frequency, ulong.MaxValue);

    private void RaiseAlarm()
    {
        _alarmRunning = false;
        _irqPending = true;
        UpdateIrq();
    }

    private void UpdateIrq() => _irq.Set(_irqPending && _irqEnabled);
}
