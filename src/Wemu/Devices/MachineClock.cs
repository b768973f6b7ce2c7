using System.Diagnostics;

namespace Wemu.Devices;

/// <summary>
/// The machine's notion of time, in ticks of <see cref="Frequency"/> (RISC-V mtime, x86 TSC base...).
/// Host mode follows the host's monotonic clock; deterministic mode derives time from the number of
/// guest instructions retired, so runs, snapshots and tests are reproducible. In both modes an idle
/// machine (all harts in WFI) may skip ahead to the next timer deadline with <see cref="SkipTo"/>.
/// </summary>
public sealed class MachineClock : Snapshot.IStateful<MachineClock>
{
    /// <summary>
    /// The guest's time when saved; on load the clock goes on from there (QEMU's timers_state: virtual time does
    /// not jump by the time the file lay on disk). In deterministic mode it follows the restored instruction count,
    /// which is loaded first.
    /// </summary>
    static Snapshot.VmState<MachineClock> Snapshot.IStateful<MachineClock>.State { get; } = new Snapshot.VmState<MachineClock>("clock", 1)
        .Field("frequency", (c, w) => w.U64(c.Frequency), (c, r) =>
        {
            if (r.U64() != c.Frequency)
                throw new Snapshot.SnapshotException("snapshot: the machine's clock ran at another frequency");
        })
        .Field("now", (c, w) => w.U64(c.Now), (c, r) =>
        {
            ulong saved = r.U64();
            c._offset = 0;
            c._offset = saved - c.Now;
        });

    private readonly long _hostStart = Stopwatch.GetTimestamp();
    private readonly ulong _hostTicksPerTick;
    private ulong _offset;
    private Func<ulong>? _instructionCounter;

    public MachineClock(ulong frequency = 10_000_000, bool deterministic = false, int instructionsPerTickShift = 4)
    {
        Frequency = frequency;
        _hostTicksPerTick = frequency != 0 && (ulong)Stopwatch.Frequency % frequency == 0 ? (ulong)Stopwatch.Frequency / frequency : 0;
        Deterministic = deterministic;
        InstructionsPerTickShift = instructionsPerTickShift;
    }

    public ulong Frequency { get; }

    public bool Deterministic { get; }

    /// <summary>In deterministic mode, one tick per 2^shift instructions.</summary>
    public int InstructionsPerTickShift { get; }

    /// <summary>Connects the retired-instruction counter used by deterministic mode.</summary>
    public void AttachInstructionCounter(Func<ulong> counter) => _instructionCounter = counter;

    public ulong Now
    {
        get
        {
            if (Deterministic)
                return _offset + ((_instructionCounter?.Invoke() ?? 0) >> InstructionsPerTickShift);
            long elapsed = Stopwatch.GetTimestamp() - _hostStart;
            // (read for every timer check: one 64-bit division when the host clock is a whole multiple of the guest's)
            if (_hostTicksPerTick != 0)
                return _offset + (ulong)elapsed / _hostTicksPerTick;
            return _offset + (ulong)((UInt128)(ulong)elapsed * Frequency / (ulong)Stopwatch.Frequency);
        }
    }

    /// <summary>Moves time forward to <paramref name="ticks"/> (never backward), e.g. while idle.</summary>
    public void SkipTo(ulong ticks)
    {
        ulong now = Now;
        if (ticks > now)
            _offset += ticks - now;
    }

    /// <summary>Converts ticks to host time for sleeping while the guest idles.</summary>
    public TimeSpan ToTimeSpan(ulong ticks) => TimeSpan.FromTicks((long)Math.Min((ulong)((UInt128)ticks * TimeSpan.TicksPerSecond / Frequency), long.MaxValue));
}
