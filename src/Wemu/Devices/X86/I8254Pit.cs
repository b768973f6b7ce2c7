using Wemu.Snapshot;
namespace Wemu.Devices.X86;

/// <summary>
/// The Intel 8254 programmable interval timer at ports 0x40–0x43, clocked at 1.193182 MHz derived from
/// <see cref="MachineClock"/>, as QEMU's hw/timer/i8254.c + i8254_common.c: channel 0 drives ISA IRQ 0, channel 2's
/// gate and output are wired to port 0x61 (<see cref="SystemControlPortB"/>), channel 1 (DRAM refresh) is unwired.
/// </summary>
/// <remarks>
/// <para>Counting is computed from the time a count was loaded, never stepped, so the counter read back between
/// instructions is exact: Linux's TSC calibration (arch/x86/kernel/tsc.c, <c>quick_pit_calibrate</c> and
/// <c>pit_calibrate_tsc</c>) programs channel 2 in mode 0 behind the port 0x61 gate and watches the count's MSB or
/// OUT2.</para>
/// <para>Modes 0, 2, 3 and 4 follow the 8254 datasheet (modes 1 and 5 start on the count write as in QEMU instead
/// of waiting for a gate trigger; a rising gate restarts them). The gate (8254 datasheet table 2): modes 0 and 4
/// pause counting while it is low; modes 2 and 3 stop with OUT high and reload on its rising edge. OUT levels are
/// the datasheet's: mode 2 goes low for the one clock where the count is 1, mode 4 for the clock at terminal count
/// (QEMU draws these two inverted; nothing in Linux reads them). The count read back follows QEMU (mode 3 counts
/// down by two). A new count takes effect at once in every mode, as in QEMU. BCD counting is not modelled (the bit
/// is stored and reported in the status byte, as QEMU).</para>
/// <para>IRQ 0: every rising edge of OUT0 is sent as a pulse (raise, lower) on the line when <see cref="Tick"/> runs
/// at or after it; <see cref="NextDeadline"/> is the clock tick of the next edge. If several periods passed between
/// two <see cref="Tick"/> calls one pulse is sent and the others are counted in <see cref="CoalescedTicks"/>
/// (QEMU fires them back to back, which the PIC's single IRR bit merges the same way).</para>
/// </remarks>
public sealed class I8254Pit : IPortDevice, IStateful<I8254Pit>
{
    /// <summary>The three counters (times in PIT ticks of the machine clock, which is restored with them) and channel 0's next edge.</summary>
    static VmState<I8254Pit> IStateful<I8254Pit>.State { get; } = new VmState<I8254Pit>("i8254", 1)
        .Field("channels", (p, w) =>
        {
            foreach (var c in p._channels)
            {
                w.I32(c.Count); w.U16(c.LatchedCount); w.I32(c.CountLatched); w.Bool(c.StatusLatched); w.U8(c.Status);
                w.I32(c.ReadState); w.I32(c.WriteState); w.I32(c.RwMode); w.I32(c.WriteLatch); w.I32(c.Mode);
                w.Bool(c.Bcd); w.Bool(c.Gate); w.Bool(c.Loaded); w.Bool(c.Running); w.U64(c.LoadTime); w.U64(c.FrozenElapsed);
            }
        }, (p, r) =>
        {
            foreach (var c in p._channels)
            {
                c.Count = r.I32(); c.LatchedCount = r.U16(); c.CountLatched = r.I32(); c.StatusLatched = r.Bool(); c.Status = r.U8();
                c.ReadState = r.I32(); c.WriteState = r.I32(); c.RwMode = r.I32(); c.WriteLatch = r.I32(); c.Mode = r.I32();
                c.Bcd = r.Bool(); c.Gate = r.Bool(); c.Loaded = r.Bool(); c.Running = r.Bool(); c.LoadTime = r.U64(); c.FrozenElapsed = r.U64();
                if (c.Count is < 1 or > 0x10000 || (uint)c.Mode > 5)
                    throw new SnapshotException($"snapshot: {r.Where}: a PIT counter is out of range");
            }
        })
        .U64("irq-next-edge", p => ref p._irqNextEdge)
        .Field("irq", (p, w) => w.Bool(p._irq0?.Level ?? false), (p, r) => p._irq0?.RestoreLevel(r.Bool()));

    /// <summary>The PIT input clock, PIT_TICK_RATE in Linux: 14.31818 MHz / 12.</summary>
    public const ulong InputFrequency = 1_193_182;

    public const ushort BasePort = 0x40;

    // Access modes (control word bits 5..4) and read/write sequencing states, as QEMU's RW_STATE_*.
    private const int RwLsb = 1, RwMsb = 2, RwWord0 = 3, RwWord1 = 4;

    private readonly MachineClock _clock;
    private readonly IrqLine? _irq0;
    private readonly Channel[] _channels = [new(), new(), new()];
    private ulong _irqNextEdge = ulong.MaxValue; // channel 0: PIT tick of the next rising edge of OUT0

    public I8254Pit(MachineClock clock, IrqLine? irq0)
    {
        _clock = clock;
        _irq0 = irq0;
        Reset();
    }

    /// <summary>Channel 0 edges that fell between two <see cref="Tick"/> calls and were merged into one pulse.</summary>
    public ulong CoalescedTicks { get; private set; }

    /// <summary>The PIT clock now: <see cref="MachineClock.Now"/> converted to 1.193182 MHz ticks.</summary>
    public ulong PitNow => (ulong)((UInt128)_clock.Now * InputFrequency / _clock.Frequency);

    /// <summary>The <see cref="MachineClock.Now"/> value of channel 0's next rising edge, or <see cref="ulong.MaxValue"/>.</summary>
    public ulong NextDeadline
    {
        get
        {
            if (_irqNextEdge == ulong.MaxValue || _irq0 is null)
                return ulong.MaxValue;
            // The first clock tick t with floor(t * PIT / F) >= edge.
            UInt128 t = ((UInt128)_irqNextEdge * _clock.Frequency + InputFrequency - 1) / InputFrequency;
            return t > ulong.MaxValue ? ulong.MaxValue : (ulong)t;
        }
    }

    /// <summary>Power-on state as QEMU pit_reset_common: every channel in mode 3 counting 0x10000, gates high except channel 2's.</summary>
    public void Reset()
    {
        ulong now = PitNow;
        for (int i = 0; i < 3; i++)
        {
            var s = _channels[i];
            s.Mode = 3;
            s.Gate = i != 2;
            s.Count = 0x10000;
            s.Loaded = true;
            s.Running = s.Gate;
            s.LoadTime = now;
            s.FrozenElapsed = 0;
            s.CountLatched = 0;
            s.StatusLatched = false;
            s.RwMode = s.ReadState = s.WriteState = 0;
        }
        UpdateIrqTimer(now);
    }

    /// <summary>Sends IRQ 0 pulses for channel 0 edges that are due.</summary>
    public void Tick()
    {
        if (_irqNextEdge == ulong.MaxValue)
            return;
        ulong now = PitNow;
        if (now < _irqNextEdge)
            return;
        var s = _channels[0];
        int mode = s.Mode & 3;
        if (mode is 2 or 3)
            CoalescedTicks += (now - _irqNextEdge) / (ulong)s.Count;
        _irq0?.Raise();
        _irq0?.Lower();
        UpdateIrqTimer(now);
    }

    /// <summary>Sets the gate input of <paramref name="channel"/> (channel 2: port 0x61 bit 0).</summary>
    public void SetGate(int channel, bool level)
    {
        var s = _channels[channel];
        if (s.Gate == level)
            return;
        ulong now = PitNow;
        switch (s.Mode)
        {
            case 0:
            case 4:
                // Datasheet: GATE = 0 disables counting, GATE = 1 enables it.
                if (!level && s.Running)
                {
                    s.FrozenElapsed = now - s.LoadTime;
                    s.Running = false;
                }
                else if (level && s.Loaded)
                {
                    s.LoadTime = now - s.FrozenElapsed;
                    s.Running = true;
                }
                break;
            case 2:
            case 3:
            case 6:
            case 7:
                // Datasheet: GATE low stops counting and sets OUT high; the rising edge reloads the count.
                if (!level)
                {
                    s.Running = false;
                    s.FrozenElapsed = 0;
                }
                else if (s.Loaded)
                {
                    s.LoadTime = now;
                    s.Running = true;
                }
                break;
            default:
                // Modes 1 and 5: a rising edge (re)triggers.
                if (level && s.Loaded)
                {
                    s.LoadTime = now;
                    s.Running = true;
                    s.FrozenElapsed = 0;
                }
                break;
        }
        s.Gate = level;
        if (channel == 0)
            UpdateIrqTimer(now);
    }

    public bool GetGate(int channel) => _channels[channel].Gate;

    /// <summary>The OUT pin of <paramref name="channel"/> now (channel 2: port 0x61 bit 5).</summary>
    public bool GetOut(int channel) => Out(_channels[channel], PitNow);

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
        int addr = port & 3;
        if (addr == 3)
            return 0; // the control word register is write-only; QEMU reads 0
        var s = _channels[addr];
        if (s.StatusLatched)
        {
            s.StatusLatched = false;
            return s.Status;
        }
        if (s.CountLatched != 0)
        {
            switch (s.CountLatched)
            {
                case RwMsb:
                    s.CountLatched = 0;
                    return (uint)(s.LatchedCount >> 8);
                case RwWord0:
                    s.CountLatched = RwMsb;
                    return (uint)(s.LatchedCount & 0xff);
                default:
                    s.CountLatched = 0;
                    return (uint)(s.LatchedCount & 0xff);
            }
        }
        int count = CurrentCount(s, PitNow);
        switch (s.ReadState)
        {
            case RwMsb:
                return (uint)((count >> 8) & 0xff);
            case RwWord0:
                s.ReadState = RwWord1;
                return (uint)(count & 0xff);
            case RwWord1:
                s.ReadState = RwWord0;
                return (uint)((count >> 8) & 0xff);
            default:
                return (uint)(count & 0xff);
        }
    }

    private void WriteByte(ushort port, byte val)
    {
        int addr = port & 3;
        ulong now = PitNow;
        if (addr == 3)
        {
            int channel = val >> 6;
            if (channel == 3)
            {
                // Read-back command (datasheet figure 9): bit 5 = 0 latches counts, bit 4 = 0 latches status,
                // bits 3..1 select channels 2..0.
                for (int c = 0; c < 3; c++)
                {
                    if ((val & (2 << c)) == 0)
                        continue;
                    var ch = _channels[c];
                    if ((val & 0x20) == 0)
                        LatchCount(ch, now);
                    if ((val & 0x10) == 0 && !ch.StatusLatched)
                    {
                        // Status byte (datasheet figure 10): OUT, NULL COUNT, RW1 RW0, M2 M1 M0, BCD.
                        ch.Status = (byte)((Out(ch, now) ? 0x80 : 0) | (ch.Loaded ? 0 : 0x40) |
                            (ch.RwMode << 4) | (ch.Mode << 1) | (ch.Bcd ? 1 : 0));
                        ch.StatusLatched = true;
                    }
                }
                return;
            }
            var s = _channels[channel];
            int access = (val >> 4) & 3;
            if (access == 0)
            {
                LatchCount(s, now); // counter latch command
                return;
            }
            s.RwMode = access;
            s.ReadState = access;
            s.WriteState = access;
            s.Mode = (val >> 1) & 7;
            s.Bcd = (val & 1) != 0;
            // Datasheet: writing a control word resets the counter logic and sets OUT to its initial state
            // (low in mode 0, high otherwise); counting waits for a new count.
            s.Loaded = false;
            s.Running = false;
            s.FrozenElapsed = 0;
            if (channel == 0)
                UpdateIrqTimer(now);
            return;
        }
        var t = _channels[addr];
        switch (t.WriteState)
        {
            case RwMsb:
                LoadCount(addr, val << 8, now);
                break;
            case RwWord0:
                t.WriteLatch = val;
                t.WriteState = RwWord1;
                break;
            case RwWord1:
                t.WriteState = RwWord0;
                LoadCount(addr, t.WriteLatch | (val << 8), now);
                break;
            default:
                LoadCount(addr, val, now);
                break;
        }
    }

    private void LoadCount(int channel, int value, ulong now)
    {
        var s = _channels[channel];
        s.Count = value == 0 ? 0x10000 : value; // 0 stands for 2^16 (datasheet)
        s.Loaded = true;
        s.FrozenElapsed = 0;
        bool pausedByGate = !s.Gate && s.Mode is 0 or 4 or 2 or 3 or 6 or 7;
        s.Running = !pausedByGate;
        s.LoadTime = now;
        if (channel == 0)
            UpdateIrqTimer(now);
    }

    private static void LatchCount(Channel s, ulong now)
    {
        if (s.CountLatched != 0)
            return; // already latched: a second latch command is ignored until it is read
        s.LatchedCount = (ushort)CurrentCount(s, now);
        s.CountLatched = s.RwMode;
    }

    private static ulong Elapsed(Channel s, ulong now) => s.Running ? now - s.LoadTime : s.FrozenElapsed;

    private static int CurrentCount(Channel s, ulong now)
    {
        ulong d = Elapsed(s, now);
        ulong n = (ulong)s.Count;
        return (s.Mode & 3) switch // 4 counts as 0, 5 as 1, 6 as 2, 7 as 3
        {
            2 => (int)((n - d % n) & 0xffff), // modes 2 and 6
            3 => (int)((n - (2 * d) % n) & 0xffff),
            _ => (int)((n - d) & 0xffff),
        };
    }

    private static bool Out(Channel s, ulong now)
    {
        if (!s.Loaded)
            return s.Mode != 0;
        int mode = s.Mode > 5 ? s.Mode & 3 : s.Mode;
        if (!s.Running && !s.Gate && mode is 2 or 3)
            return true;
        ulong d = Elapsed(s, now);
        ulong n = (ulong)s.Count;
        return mode switch
        {
            0 or 1 => d >= n,
            2 => d % n != n - 1,
            3 => d % n < (n + 1) >> 1,
            _ => d != n,
        };
    }

    /// <summary>The PIT tick of channel 0's next rising OUT edge after <paramref name="now"/>.</summary>
    private void UpdateIrqTimer(ulong now)
    {
        var s = _channels[0];
        if (!s.Running)
        {
            _irqNextEdge = ulong.MaxValue;
            return;
        }
        int mode = s.Mode > 5 ? s.Mode & 3 : s.Mode;
        ulong d = now - s.LoadTime;
        ulong n = (ulong)s.Count;
        ulong next = mode switch
        {
            0 or 1 => d < n ? n : ulong.MaxValue,
            2 or 3 => (d / n + 1) * n,
            _ => d < n + 1 ? n + 1 : ulong.MaxValue,
        };
        _irqNextEdge = next == ulong.MaxValue ? ulong.MaxValue : s.LoadTime + next;
    }

    /// <summary>One counter's state, in plain fields (QEMU PITChannelState).</summary>
    private sealed class Channel
    {
        public int Count; // 1..0x10000
        public ushort LatchedCount;
        public int CountLatched; // 0 or the RW state of the latched value still to be read
        public bool StatusLatched;
        public byte Status;
        public int ReadState, WriteState, RwMode;
        public int WriteLatch;
        public int Mode;
        public bool Bcd;
        public bool Gate;
        public bool Loaded; // a count was written since the last control word
        public bool Running; // counting (loaded and not held by the gate)
        public ulong LoadTime; // PIT tick at which counting (re)started, minus any paused time
        public ulong FrozenElapsed; // elapsed ticks while held by the gate
    }
}
