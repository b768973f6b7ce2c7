using System.Diagnostics;
using Wemu.Devices;
using Wemu.Memory;

namespace Wemu.Machines;

/// <summary>
/// A whole emulated computer, driven by its host in slices: no threads, no host I/O. Hosts
/// (CLI, web worker, tests) call <see cref="RunSlice"/> in a loop and idle when told to.
/// </summary>
public abstract class Machine : IDisposable, Snapshot.IStateful<Machine>
{
    /// <summary>The slice loop's own state: where the next device tick falls.</summary>
    static Snapshot.VmState<Machine> Snapshot.IStateful<Machine>.State { get; } = new Snapshot.VmState<Machine>("machine", 1)
        .Field("until-tick", (m, w) => w.I64(m._untilTick), (m, r) => m._untilTick = Math.Clamp(r.I64(), 1, Math.Max(m.TickInstructions, m.MaxTickInstructions)));

    /// <summary>
    /// True while guest RAM is as allocated (all zero): a board built for <c>-incoming</c> loads no images, and a
    /// snapshot loaded into it need not clear the pages it does not hold.
    /// </summary>
    public bool RamUnwritten { get; set; }

    /// <summary>The board a snapshot of this machine belongs to ("riscv64-virt"), or null if it cannot be saved yet.</summary>
    public virtual string? SnapshotBoard => null;

    /// <summary>
    /// Every part with state, in a fixed order (a snapshot's sections): CPUs first, then the clock (which follows
    /// the restored instruction count), then the devices. Guest RAM is saved apart (<see cref="Bus"/>).
    /// </summary>
    public virtual IEnumerable<(string Section, Snapshot.IStateful Part)> StateParts() => [];

    /// <summary>Instructions between device updates (timers, serial input).</summary>
    public const long TickInterval = 8192;

    /// <summary>This machine's instructions between device updates (<see cref="TickInterval"/> unless a board says otherwise).</summary>
    protected virtual long TickInstructions => TickInterval;

    /// <summary>
    /// The most instructions between device updates while no timer is due (see <see cref="NextTickInstructions"/>):
    /// <see cref="TickInstructions"/> unless a board allows more. Every update is an exit from compiled code back to
    /// the machine loop, which in the page runs under Mono's interpreter.
    /// </summary>
    protected virtual long MaxTickInstructions => TickInstructions;

    private long _untilTick = TickInterval;
    /// <summary>The clock and the instruction count at the last device update (the guest's recent speed).</summary>
    private ulong _tickClock, _tickInstructions;
    private MachineStatus? _stop;

    protected Machine(MachineClock clock)
    {
        Clock = clock;
        Bus = new PhysicalBus();
    }

    /// <summary>The execution engine's name (-d stats): "interpreter", "jit (x86-64)"...</summary>
    public abstract string EngineName { get; }

    /// <summary>The JIT's counters, if a JIT runs this machine.</summary>
    public virtual Jit.JitStatistics? JitStatistics => null;

    /// <summary>Which backend the JIT compiles to ("native", "il", "wasm"), if a JIT runs this machine.</summary>
    public virtual string? JitBackend => null;

    /// <summary>True when the JIT runs cold code in the guest's interpreter written in WebAssembly (the page, RISC-V).</summary>
    public virtual bool JitInterpretsInWasm => false;

    /// <summary>
    /// The JIT's options <paramref name="config"/> asks for (<c>-accel tcg,backend=...,tb-size=...</c>, the
    /// JIT threshold); <paramref name="wasmThreshold"/>: the board's own default threshold in the page.
    /// </summary>
    protected static Jit.JitOptions JitOptionsFor(MachineConfig config, MachineImages images, int? wasmThreshold = null) =>
        config.JitBackend == "il" && images.WasmLoader == null && !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported
            ? throw new ConfigException("-accel backend=il needs the .NET JIT runtime; this wemu is compiled ahead of time (use backend=native)")
            : new Jit.JitOptions
            {
                Threshold = config.JitThreshold ?? (images.WasmLoader != null ? wasmThreshold : null),
                NativeCode = config.JitBackend == "native",
                CacheBytes = (long)config.JitCacheMegabytes << 20,
                Background = images.BackgroundWorker,
                WasmLoader = images.WasmLoader,
                WasmInterpreter = config.JitWasmInterpreter,
                PerfMap = config.PerfMap ? Jit.PerfMapWriter.ForThisProcess() : null,
            };

    /// <summary>One line about the CPU and interrupt state, for WEMU_TRACE_STATE debugging.</summary>
    public virtual string DescribeState() => $"instret={InstructionsRetired} now={Clock.Now} deadline={NextDeadline}";

    /// <summary>True while the CPU waits for an interrupt (WFI, HLT).</summary>
    protected abstract bool CpuWaiting { get; }

    /// <summary>True when an interrupt would wake the waiting CPU.</summary>
    protected abstract bool CpuHasWakeUp { get; }

    /// <summary>Ends the CPU's wait (an interrupt is pending).</summary>
    protected abstract void WakeCpu();

    /// <summary>Runs the CPU for at most <paramref name="budget"/> instructions; returns how many ran.</summary>
    protected abstract long RunCpu(long budget);

    /// <summary>Called every <see cref="TickInterval"/> instructions and when idle: timers, input.</summary>
    protected abstract void Tick();

    /// <summary>Boards call this when the guest powers off or resets.</summary>
    protected void RequestStop(MachineStatus status, int exitCode)
    {
        _stop = status;
        ExitCode = exitCode;
    }

    /// <summary>Slices that ended at their time bound rather than their budget (the page's <c>stats().slicesEndedByTime</c>).</summary>
    public long SlicesEndedByTime { get; private set; }

    /// <summary>
    /// Runs up to about <paramref name="budget"/> guest instructions, servicing devices between chunks; with
    /// <paramref name="endTimestamp"/> (a <see cref="Stopwatch"/> timestamp) the slice also ends at the first device
    /// update at or after that time. A host that delivers input and output only between slices (the page's worker)
    /// bounds their delay so: the instructions a slice takes in time vary a hundredfold between compiled code and
    /// code still being interpreted and compiled.
    /// </summary>
    public virtual MachineStatus RunSlice(long budget, long endTimestamp = long.MaxValue)
    {
        long done = 0;
        while (done < budget)
        {
            if (_stop is { } stop)
                return stop;
            if (CpuWaiting)
            {
                Tick();
                if (!CpuHasWakeUp)
                    return _stop ?? MachineStatus.Idle;
                WakeCpu();
            }
            long chunk = Math.Min(budget - done, _untilTick);
            if (Clock.Deterministic)
                chunk = Math.Min(chunk, InstructionsUntilDeadline());
            long n = RunCpu(Math.Max(chunk, 1));
            done += n;
            _untilTick -= n;
            if (_untilTick <= 0 || (Clock.Deterministic && InstructionsUntilDeadline() <= 0))
            {
                Tick();
                _untilTick = NextTickInstructions();
                if (endTimestamp != long.MaxValue && Stopwatch.GetTimestamp() >= endTimestamp)
                {
                    SlicesEndedByTime++;
                    break;
                }
            }
            if (n == 0 && !CpuWaiting)
                break; // the CPU stopped itself (e.g. shut down): let the board report it
        }
        return _stop ?? MachineStatus.Running;
    }

    /// <summary>
    /// Instructions until the next device update: <see cref="TickInstructions"/>, or up to <see cref="MaxTickInstructions"/>
    /// when the next timer deadline is further off than that at half the speed the guest ran since the last update (so
    /// a timer is not taken late for a slower stretch). Deterministic clocks keep the fixed interval: their chunks end
    /// at the deadline anyway.
    /// </summary>
    private long NextTickInstructions()
    {
        long min = TickInstructions, max = MaxTickInstructions;
        if (max <= min || Clock.Deterministic)
            return min;
        ulong now = Clock.Now, retired = InstructionsRetired, deadline = NextDeadline;
        long gap = TickGap(min, max, now - _tickClock, retired - _tickInstructions, deadline - now,
            known: deadline > now && now > _tickClock && retired >= _tickInstructions);
        _tickClock = now;
        _tickInstructions = retired;
        return gap;
    }

    /// <summary>
    /// The instructions to the next device update: half of what the guest would retire until the deadline <paramref name="untilDeadline"/>
    /// clock ticks away at the speed it had over the last <paramref name="elapsed"/> ticks (<paramref name="ran"/> instructions),
    /// within [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="min"/> unless all of it is <paramref name="known"/>
    /// (a timer due, no time measured, or a restored machine's counts).
    /// </summary>
    internal static long TickGap(long min, long max, ulong elapsed, ulong ran, ulong untilDeadline, bool known)
    {
        if (!known || elapsed == 0)
            return min;
        UInt128 until = (UInt128)untilDeadline * ran / elapsed / 2;
        return until >= (ulong)max ? max : Math.Max(min, (long)(ulong)until);
    }

    private long InstructionsUntilDeadline()
    {
        ulong deadline = NextDeadline;
        ulong now = Clock.Now;
        if (deadline <= now)
            return 0;
        ulong ticks = deadline - now;
        return ticks >= (ulong)(long.MaxValue >> (Clock.InstructionsPerTickShift + 1)) ? long.MaxValue : (long)(ticks << Clock.InstructionsPerTickShift);
    }

    /// <summary>Idle hosts skip virtual time to the next deadline in deterministic mode.</summary>
    public void SkipIdleTime()
    {
        if (NextDeadline != ulong.MaxValue)
            Clock.SkipTo(NextDeadline);
    }

    public PhysicalBus Bus { get; }

    public MachineClock Clock { get; }

    /// <summary>The status the guest asked for when it powered off (0 = success).</summary>
    public int ExitCode { get; protected set; }

    /// <summary>Instructions retired by all harts.</summary>
    public abstract ulong InstructionsRetired { get; }

    /// <summary>Clock tick of the next timer event (ulong.MaxValue if none), for idling hosts.</summary>
    public abstract ulong NextDeadline { get; }

    /// <summary>Makes every completed disk write durable (called on flush requests and at exit).</summary>
    public abstract void Flush();

    public virtual void Dispose()
    {
        foreach (var ram in Bus.RamRegions)
            ram.Dispose();
        GC.SuppressFinalize(this);
    }
}
