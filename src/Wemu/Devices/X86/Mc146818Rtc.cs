using Wemu.Snapshot;
namespace Wemu.Devices.X86;

/// <summary>
/// The Motorola MC146818 real-time clock and 128-byte CMOS RAM at ports 0x70 (index) / 0x71 (data), ISA IRQ 8, as
/// QEMU 7.2's hw/rtc/mc146818rtc.c with base year 0 (microvm and pc pass 2000, which QEMU turns into 0: the century
/// byte 0x32 holds year / 100). This is what Linux's rtc-cmos driver and mc146818_get_time/set_time use.
/// </summary>
/// <remarks>
/// <para>Time is kept as QEMU does: a base (Unix seconds) set when the guest writes the time, plus the
/// <see cref="MachineClock"/> time since then, plus a sub-second offset; the time/date registers are recomputed on
/// read (BCD or binary per register B bit 2 DM, 24 h or 12 h with bit 7 = PM per bit 1). The start time comes from an
/// injectable <c>Func&lt;DateTimeOffset&gt;</c>, read at construction and <see cref="SetTimeFromHost"/>, in UTC.</para>
/// <para>Register A: UIP (bit 7) reads 1 during the last 244 µs of each second (QEMU UIP_HOLD_LENGTH, 8 cycles of
/// 32.768 kHz), DV bits 6..4 (DV = 11x holds the divider in reset: the clock stops; time resumes half a second
/// after the reset is released, as the datasheet and QEMU say), RS bits 3..0 (periodic rate: 32768 Hz &gt;&gt;
/// (RS − 1), RS 1 and 2 as 8 and 9). Register B: SET stops updates of the time registers (and clears UIE), PIE,
/// AIE, UIE, SQWE (stored), DM, 24/12, DSE (stored, no daylight saving). Register C: IRQF, PF, AF, UF; reading
/// clears it and lowers IRQ 8. Register D: VRT = 1, read-only.</para>
/// <para>Interrupts: the update-ended flag UF is set every second (while the divider runs), the alarm flag AF when
/// the time matches the alarm bytes 1, 3, 5 (a value with bits 7..6 = 11 is "don't care"); the periodic flag PF at
/// the RS rate while PIE is set (as QEMU, which runs the periodic timer only with PIE). A flag whose enable bit is set
/// in B sets IRQF and raises IRQ 8, which stays high until C is read (an edge at the 8259/IOAPIC). The machine calls
/// <see cref="Tick"/> at <see cref="NextDeadline"/> (next second boundary when UIE or AIE is set, next periodic
/// tick). Periodic ticks missed between two Tick calls are dropped (QEMU's default lost_tick_policy=discard) and
/// counted in <see cref="LostPeriodicInterrupts"/>.</para>
/// <para>The index port ignores bit 7 (the NMI mask on a PC) and reads 0xff, as QEMU; index 0x37 (the IBM PS/2
/// century byte) is an alias of 0x32. Guest-written dates are converted without range checks (QEMU's
/// mktimegm formula), so no guest value can throw.</para>
/// </remarks>
public sealed class Mc146818Rtc : IPortDevice, IStateful<Mc146818Rtc>
{
    /// <summary>CMOS, the index, the clock's base (guest seconds at a machine-clock tick: it goes on with the restored clock), the periodic timer and the IRQ level.</summary>
    static VmState<Mc146818Rtc> IStateful<Mc146818Rtc>.State { get; } = new VmState<Mc146818Rtc>("mc146818", 1)
        .Bytes("cmos", t => t._cmos)
        .U8("index", t => ref t._index)
        .Field("base-seconds", (t, w) => w.I64(t._baseSeconds), (t, r) => t._baseSeconds = r.I64())
        .U64("last-update", t => ref t._lastUpdate)
        .Field("offset-ns", (t, w) => w.I64(t._offsetNanoseconds), (t, r) => t._offsetNanoseconds = r.I64())
        .Field("last-second", (t, w) => w.I64(t._lastSecond), (t, r) => t._lastSecond = r.I64())
        .U32("period", t => ref t._period)
        .U64("next-periodic", t => ref t._nextPeriodic)
        .Field("irq", (t, w) => w.Bool(t._irq.Level), (t, r) => t._irq.RestoreLevel(r.Bool()));

    public const ushort IndexPort = 0x70, DataPort = 0x71;
    public const int Irq = 8;

    public const int RegSeconds = 0x00, RegSecondsAlarm = 0x01, RegMinutes = 0x02, RegMinutesAlarm = 0x03,
        RegHours = 0x04, RegHoursAlarm = 0x05, RegDayOfWeek = 0x06, RegDayOfMonth = 0x07, RegMonth = 0x08,
        RegYear = 0x09, RegA = 0x0a, RegB = 0x0b, RegC = 0x0c, RegD = 0x0d, RegCentury = 0x32, RegPs2Century = 0x37;

    private const byte AUip = 0x80;
    private const byte BSet = 0x80, BPie = 0x40, BAie = 0x20, BUie = 0x10, BDm = 0x04, B24h = 0x02;
    private const byte CIrqf = 0x80, CPf = 0x40, CAf = 0x20, CUf = 0x10, CFlags = 0x70;

    private const long NanosecondsPerSecond = 1_000_000_000;
    private const long UipHoldNanoseconds = 8 * NanosecondsPerSecond / 32768;
    private const ulong Crystal = 32768;

    private readonly MachineClock _clock;
    private readonly IrqLine _irq;
    private readonly Func<DateTimeOffset> _wallClock;
    private readonly byte[] _cmos = new byte[128];
    private byte _index;

    private long _baseSeconds; // Unix time of the registers at _lastUpdate
    private ulong _lastUpdate; // MachineClock tick at which _baseSeconds was set
    private long _offsetNanoseconds; // sub-second phase added to the clock
    private long _lastSecond; // the guest second up to which UF/AF were accounted
    private uint _period; // periodic interval in 32.768 kHz cycles, 0 = off
    private ulong _nextPeriodic; // in 32.768 kHz cycles of machine time

    /// <param name="clock">Machine time base.</param>
    /// <param name="irq">ISA IRQ 8.</param>
    /// <param name="wallClock">Wall-clock source for the initial time (the host passes <c>() =&gt; DateTimeOffset.UtcNow</c>).</param>
    public Mc146818Rtc(MachineClock clock, IrqLine irq, Func<DateTimeOffset> wallClock)
    {
        _clock = clock;
        _irq = irq;
        _wallClock = wallClock;
        // QEMU rtc_realizefn: A = 0x26 (32.768 kHz divider, 1024 Hz rate), B = 0x02 (24 h, BCD), D = 0x80 (VRT).
        _cmos[RegA] = 0x26;
        _cmos[RegB] = B24h;
        _cmos[RegC] = 0;
        _cmos[RegD] = 0x80;
        SetTimeFromHost();
    }

    /// <summary>Periodic interrupts that fell between two <see cref="Tick"/> calls and were dropped.</summary>
    public ulong LostPeriodicInterrupts { get; private set; }

    /// <summary>The RTC's current time as Unix seconds (what the guest would read, in UTC).</summary>
    public long UnixSeconds => GuestNanoseconds(_clock.Now) / NanosecondsPerSecond;

    /// <summary>Sets the clock from the wall-clock source (QEMU rtc_set_date_from_host).</summary>
    public void SetTimeFromHost()
    {
        _baseSeconds = _wallClock().ToUnixTimeSeconds();
        _lastUpdate = _clock.Now;
        _offsetNanoseconds = 0;
        WriteTimeRegisters(_baseSeconds);
        _lastSecond = _baseSeconds;
    }

    /// <summary>A CMOS byte as the machine or firmware set it (0..127; others read 0).</summary>
    public byte GetCmosByte(int index) => (uint)index < 128 ? _cmos[index] : (byte)0;

    /// <summary>Sets a CMOS byte directly (QEMU rtc_set_memory); out-of-range indexes are ignored.</summary>
    public void SetCmosByte(int index, byte value)
    {
        if ((uint)index < 128)
            _cmos[index] = value;
    }

    /// <summary>The memory-size bytes as QEMU's microvm_set_rtc writes them (0x15–0x18, 0x30/0x31, 0x34/0x35, 0x5b–0x5d).</summary>
    public void SetMemorySize(ulong below4G, ulong above4G)
    {
        const ulong KiB = 1024, MiB = 1024 * KiB;
        ulong val = Math.Min(below4G / KiB, 640);
        _cmos[0x15] = (byte)val;
        _cmos[0x16] = (byte)(val >> 8);
        val = below4G > MiB ? Math.Min((below4G - MiB) / KiB, 65535) : 0; // extended memory (next 64 MiB)
        _cmos[0x17] = (byte)val;
        _cmos[0x18] = (byte)(val >> 8);
        _cmos[0x30] = (byte)val;
        _cmos[0x31] = (byte)(val >> 8);
        val = below4G > 16 * MiB ? Math.Min((below4G - 16 * MiB) / (64 * KiB), 65535) : 0; // 16 MiB..4 GiB in 64 KiB
        _cmos[0x34] = (byte)val;
        _cmos[0x35] = (byte)(val >> 8);
        val = above4G / 65536; // above 4 GiB in 64 KiB
        _cmos[0x5b] = (byte)val;
        _cmos[0x5c] = (byte)(val >> 8);
        _cmos[0x5d] = (byte)(val >> 16);
    }

    /// <summary>
    /// The <see cref="MachineClock.Now"/> value at which an interrupt flag may next be set (the next second boundary
    /// while UIE or AIE is set, the next periodic tick while PIE is set), or <see cref="ulong.MaxValue"/>.
    /// </summary>
    public ulong NextDeadline
    {
        get
        {
            ulong now = _clock.Now;
            ulong best = ulong.MaxValue;
            if (_period != 0)
            {
                UInt128 t = ((UInt128)_nextPeriodic * _clock.Frequency + Crystal - 1) / Crystal;
                best = t > ulong.MaxValue ? ulong.MaxValue : (ulong)t;
            }
            if ((_cmos[RegB] & (BUie | BAie)) != 0 && !DividerInReset)
            {
                long ns = GuestNanoseconds(now);
                long remaining = NanosecondsPerSecond - Mod(ns, NanosecondsPerSecond);
                UInt128 ticks = ((UInt128)(ulong)remaining * _clock.Frequency + NanosecondsPerSecond - 1) / NanosecondsPerSecond;
                ulong next = ticks > ulong.MaxValue - now ? ulong.MaxValue : now + (ulong)ticks;
                best = Math.Min(best, next);
            }
            return best;
        }
    }

    /// <summary>Sets the flags due by now and raises IRQ 8 for the enabled ones.</summary>
    public void Tick() => Sync(_clock.Now);

    /// <summary>Byte-wide registers (QEMU impl.max_access_size = 1): a wider access is one byte access per byte, low first.</summary>
    public uint Read(ushort port, int size)
    {
        uint value = 0;
        for (int i = 0; i < size && i < 4; i++)
            value |= (ReadByte((ushort)(port + i)) & 0xff) << (8 * i);
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size && i < 4; i++)
            WriteByte((ushort)(port + i), (byte)(value >> (8 * i)));
    }

    private uint ReadByte(ushort port)
    {
        if ((port & 1) == 0)
            return 0xff; // the index register is write-only
        ulong now = _clock.Now;
        Sync(now);
        int index = _index == RegPs2Century ? RegCentury : _index;
        switch (index)
        {
            case RegSeconds or RegMinutes or RegHours or RegDayOfWeek or RegDayOfMonth or RegMonth or RegYear or RegCentury:
                if (Running)
                    WriteTimeRegisters(GuestNanoseconds(now) / NanosecondsPerSecond);
                return _cmos[index];
            case RegA:
                return (uint)(_cmos[RegA] | (UpdateInProgress(now) ? AUip : 0));
            case RegC:
                byte c = _cmos[RegC];
                _cmos[RegC] = 0;
                _irq.Lower();
                return c;
            default:
                return _cmos[index];
        }
    }

    private void WriteByte(ushort port, byte data)
    {
        if ((port & 1) == 0)
        {
            _index = (byte)(data & 0x7f); // bit 7 is the NMI mask on a PC, not part of the index
            return;
        }
        ulong now = _clock.Now;
        Sync(now);
        int index = _index == RegPs2Century ? RegCentury : _index;
        switch (index)
        {
            case RegSeconds or RegMinutes or RegHours or RegDayOfWeek or RegDayOfMonth or RegMonth or RegYear or RegCentury:
                _cmos[index] = data;
                if (Running)
                    SetTimeFromRegisters(now);
                break;
            case RegA:
            {
                uint oldPeriod = _period;
                byte oldA = _cmos[RegA];
                if ((data & 0x60) == 0x60)
                {
                    // Divider reset: freeze the registers at the current time.
                    if (Running)
                        WriteTimeRegisters(GuestNanoseconds(now) / NanosecondsPerSecond);
                }
                else if ((oldA & 0x60) == 0x60 && (data & 0x70) <= 0x20 && (_cmos[RegB] & BSet) == 0)
                {
                    // Datasheet: the first update after the divider reset is released comes half a second later.
                    _cmos[RegA] = (byte)(data & 0x7f);
                    _offsetNanoseconds = 500_000_000;
                    SetTimeFromRegisters(now);
                }
                _cmos[RegA] = (byte)(data & 0x7f); // UIP is read-only
                UpdatePeriodic(now, oldPeriod);
                break;
            }
            case RegB:
            {
                uint oldPeriod = _period;
                byte oldB = _cmos[RegB];
                if ((data & BSet) != 0)
                {
                    if (Running)
                        WriteTimeRegisters(GuestNanoseconds(now) / NanosecondsPerSecond);
                    data = (byte)(data & ~BUie); // datasheet: SET clears UIE
                }
                else if ((oldB & BSet) != 0 && (_cmos[RegA] & 0x70) <= 0x20)
                {
                    // Leaving SET: the written registers become the time, keeping the sub-second phase (QEMU).
                    _offsetNanoseconds = Mod(GuestNanoseconds(now), NanosecondsPerSecond);
                    _cmos[RegB] = data;
                    SetTimeFromRegisters(now);
                }
                // A flag already set when its interrupt becomes enabled raises IRQ 8 at once (QEMU).
                if ((data & _cmos[RegC] & CFlags) != 0)
                {
                    _cmos[RegC] |= CIrqf;
                    _irq.Raise();
                }
                else
                {
                    _cmos[RegC] &= unchecked((byte)~CIrqf);
                    _irq.Lower();
                }
                _cmos[RegB] = data;
                UpdatePeriodic(now, oldPeriod);
                break;
            }
            case RegC:
            case RegD:
                break; // read-only
            default:
                _cmos[index] = data;
                break;
        }
    }

    private bool DividerInReset => (_cmos[RegA] & 0x60) == 0x60;

    /// <summary>The time registers follow the clock (QEMU rtc_running): SET clear and a running divider.</summary>
    private bool Running => (_cmos[RegB] & BSet) == 0 && (_cmos[RegA] & 0x70) <= 0x20;

    private long GuestNanoseconds(ulong now)
    {
        ulong elapsed = now - _lastUpdate;
        ulong ns = (ulong)UInt128.Min((UInt128)elapsed * NanosecondsPerSecond / _clock.Frequency, (UInt128)(long.MaxValue / 4));
        return unchecked(_baseSeconds * NanosecondsPerSecond + (long)ns + _offsetNanoseconds);
    }

    private bool UpdateInProgress(ulong now) =>
        Running && Mod(GuestNanoseconds(now), NanosecondsPerSecond) >= NanosecondsPerSecond - UipHoldNanoseconds;

    private void Sync(ulong now)
    {
        // Update-ended and alarm flags for every second boundary crossed since the last sync.
        if (DividerInReset)
        {
            _lastSecond = FloorDiv(GuestNanoseconds(now), NanosecondsPerSecond);
        }
        else
        {
            long second = FloorDiv(GuestNanoseconds(now), NanosecondsPerSecond);
            if (second > _lastSecond)
            {
                byte flags = CUf;
                if ((_cmos[RegB] & BSet) == 0 && AlarmMatchesBetween(_lastSecond, second))
                    flags |= CAf;
                _lastSecond = second;
                RaiseFlags(flags);
            }
            else if (second < _lastSecond)
            {
                _lastSecond = second;
            }
        }
        // Periodic flag.
        if (_period != 0)
        {
            ulong clk = Crystal32k(now);
            if (clk >= _nextPeriodic)
            {
                ulong missed = (clk - _nextPeriodic) / _period;
                LostPeriodicInterrupts += missed;
                _nextPeriodic += (missed + 1) * _period;
                RaiseFlags(CPf);
            }
        }
    }

    private void RaiseFlags(byte flags)
    {
        byte newFlags = (byte)(flags & ~_cmos[RegC]);
        _cmos[RegC] |= flags;
        if ((newFlags & _cmos[RegB] & CFlags) != 0)
        {
            _cmos[RegC] |= CIrqf;
            _irq.Raise();
        }
    }

    /// <summary>QEMU periodic_timer_update: starts, stops or re-rates the periodic tick, keeping its phase.</summary>
    private void UpdatePeriodic(ulong now, uint oldPeriod)
    {
        uint period = 0;
        if ((_cmos[RegB] & BPie) != 0)
        {
            int code = _cmos[RegA] & 0x0f;
            if (code != 0)
                period = 1u << ((code <= 2 ? code + 7 : code) - 1);
        }
        if (period == oldPeriod)
            return;
        _period = period;
        if (period == 0)
            return;
        ulong clk = Crystal32k(now);
        ulong lost = 0;
        if (oldPeriod != 0 && _nextPeriodic >= oldPeriod && clk >= _nextPeriodic - oldPeriod)
            lost = Math.Min(clk - (_nextPeriodic - oldPeriod), period);
        _nextPeriodic = clk + period - lost;
    }

    private ulong Crystal32k(ulong now) => (ulong)((UInt128)now * Crystal / _clock.Frequency);

    /// <summary>Does the alarm match any second in (<paramref name="from"/>, <paramref name="to"/>]? (At most one day is scanned.)</summary>
    private bool AlarmMatchesBetween(long from, long to)
    {
        int alarmSec = FromBcd(_cmos[RegSecondsAlarm]);
        int alarmMin = FromBcd(_cmos[RegMinutesAlarm]);
        int alarmHour = AlarmHour();
        long first = Math.Max(from + 1, to - 86400 + 1);
        for (long s = first; s <= to; s++)
        {
            long secondOfDay = Mod(s, 86400);
            if ((alarmSec < 0 || alarmSec == secondOfDay % 60) &&
                (alarmMin < 0 || alarmMin == secondOfDay / 60 % 60) &&
                (alarmHour < 0 || alarmHour == secondOfDay / 3600))
                return true;
        }
        return false;
    }

    private int AlarmHour()
    {
        byte raw = _cmos[RegHoursAlarm];
        if ((raw & 0xc0) == 0xc0)
            return -1;
        if ((_cmos[RegB] & B24h) != 0)
            return FromBcd(raw);
        // 12-hour mode: bit 7 is PM, 12 means 0 (datasheet table 3).
        return FromBcd((byte)(raw & 0x7f)) % 12 + ((raw & 0x80) != 0 ? 12 : 0);
    }

    /// <summary>Register value to number; -1 for a "don't care" value (bits 7..6 = 11), as QEMU rtc_from_bcd.</summary>
    private int FromBcd(byte value)
    {
        if ((value & 0xc0) == 0xc0)
            return -1;
        return (_cmos[RegB] & BDm) != 0 ? value : (value >> 4) * 10 + (value & 0x0f);
    }

    private byte ToBcd(int value) => (_cmos[RegB] & BDm) != 0 ? (byte)value : (byte)(((value / 10) << 4) | (value % 10));

    /// <summary>QEMU rtc_set_time: the registers become the time from now on.</summary>
    private void SetTimeFromRegisters(ulong now)
    {
        int sec = FromBcd(_cmos[RegSeconds]);
        int min = FromBcd(_cmos[RegMinutes]);
        int hour = FromBcd((byte)(_cmos[RegHours] & 0x7f));
        if ((_cmos[RegB] & B24h) == 0)
            hour = hour % 12 + ((_cmos[RegHours] & 0x80) != 0 ? 12 : 0);
        int mday = FromBcd(_cmos[RegDayOfMonth]);
        int month = FromBcd(_cmos[RegMonth]);
        long year = FromBcd(_cmos[RegYear]) + FromBcd(_cmos[RegCentury]) * 100L;
        // QEMU mktimegm: days from the civil date, without range checks.
        long y = year, m = month;
        if (m < 3)
        {
            m += 12;
            y--;
        }
        long days = mday + (153 * m - 457) / 5 + 365 * y + FloorDiv(y, 4) - FloorDiv(y, 100) + FloorDiv(y, 400) - 719469;
        _baseSeconds = 86400 * days + 3600L * hour + 60L * min + sec;
        _lastUpdate = now;
        _lastSecond = FloorDiv(GuestNanoseconds(now), NanosecondsPerSecond);
    }

    /// <summary>QEMU rtc_set_cmos: the time/date registers from Unix seconds (UTC).</summary>
    private void WriteTimeRegisters(long unixSeconds)
    {
        long days = FloorDiv(unixSeconds, 86400);
        long secondOfDay = unixSeconds - days * 86400;
        int hour = (int)(secondOfDay / 3600);
        _cmos[RegSeconds] = ToBcd((int)(secondOfDay % 60));
        _cmos[RegMinutes] = ToBcd((int)(secondOfDay / 60 % 60));
        if ((_cmos[RegB] & B24h) != 0)
        {
            _cmos[RegHours] = ToBcd(hour);
        }
        else
        {
            int h12 = hour % 12 == 0 ? 12 : hour % 12;
            _cmos[RegHours] = (byte)(ToBcd(h12) | (hour >= 12 ? 0x80 : 0));
        }
        _cmos[RegDayOfWeek] = ToBcd((int)Mod(days + 4, 7) + 1); // 1970-01-01 was a Thursday; Sunday = 1
        // Civil date from days since 1970-01-01 (H. Hinnant's civil_from_days).
        long z = days + 719468;
        long era = FloorDiv(z, 146097);
        long doe = z - era * 146097;
        long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long year = yoe + era * 400;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        int day = (int)(doy - (153 * mp + 2) / 5 + 1);
        int month = (int)(mp < 10 ? mp + 3 : mp - 9);
        if (month <= 2)
            year++;
        _cmos[RegDayOfMonth] = ToBcd(day);
        _cmos[RegMonth] = ToBcd(month);
        long yearInRange = Mod(year, 10000);
        _cmos[RegYear] = ToBcd((int)(yearInRange % 100));
        _cmos[RegCentury] = ToBcd((int)(yearInRange / 100));
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private static long Mod(long a, long b) => a - FloorDiv(a, b) * b;
}
