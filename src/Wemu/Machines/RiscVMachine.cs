using Wemu.Cpu.RiscV;
using Wemu.Devices;

namespace Wemu.Machines;

/// <summary>
/// What every RISC-V board shares: one hart (SMP comes later), an execution engine, and the
/// slice loop that interleaves guest execution with timer and input updates.
/// </summary>
public abstract class RiscVMachine : Machine
{
    /// <summary>Instructions between device updates (timers, serial input).</summary>
    public const long TickInterval = 8192;

    private long _untilTick = TickInterval;
    private MachineStatus? _stop;

    protected RiscVMachine(MachineClock clock, IRiscVEngine? engine) : base(clock)
    {
        Hart = new RiscVHart(Bus);
        Engine = engine ?? new RiscVInterpreter();
        clock.AttachInstructionCounter(() => Hart.InstructionsRetired);
    }

    public RiscVHart Hart { get; }

    /// <summary>The engine <paramref name="config"/> asks for (<c>-accel</c>).</summary>
    public static IRiscVEngine CreateEngine(MachineConfig config, MachineImages images) =>
        config.Accelerator == "interp"
            ? new RiscVInterpreter()
            : config.JitBackend == "il" && images.WasmLoader == null && !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported
                ? throw new ConfigException("-accel backend=il needs the .NET JIT runtime; this wemu is compiled ahead of time (use backend=native)")
            : new RiscVJitEngine(new Jit.JitOptions
            {
                Threshold = config.JitThreshold,
                NativeCode = config.JitBackend == "native",
                CacheBytes = (long)config.JitCacheMegabytes << 20,
                Background = images.BackgroundWorker,
                WasmLoader = images.WasmLoader,
            });

    public IRiscVEngine Engine { get; set; }

    public override ulong InstructionsRetired => Hart.InstructionsRetired;

    /// <summary>Called every <see cref="TickInterval"/> instructions and when idle: timers, input.</summary>
    protected abstract void Tick();

    /// <summary>Boards call this when the guest powers off or resets.</summary>
    protected void RequestStop(MachineStatus status, int exitCode)
    {
        _stop = status;
        ExitCode = exitCode;
    }

    public override MachineStatus RunSlice(long budget)
    {
        long done = 0;
        while (done < budget)
        {
            if (_stop is { } stop)
                return stop;
            if (Hart.IsWaiting)
            {
                Tick();
                if (!Hart.HasWakeUpInterrupt)
                    return _stop ?? MachineStatus.Idle;
                Hart.IsWaiting = false;
            }
            if (Hart.HasWakeUpInterrupt)
                Hart.CheckInterrupts();
            long chunk = Math.Min(budget - done, _untilTick);
            if (Clock.Deterministic)
                chunk = Math.Min(chunk, InstructionsUntilDeadline());
            long n = Engine.Run(Hart, Math.Max(chunk, 1));
            done += n;
            _untilTick -= n;
            if (_untilTick <= 0 || (Clock.Deterministic && InstructionsUntilDeadline() <= 0))
            {
                _untilTick = TickInterval;
                Tick();
            }
        }
        return _stop ?? MachineStatus.Running;
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

    public override void Dispose()
    {
        (Engine as IDisposable)?.Dispose();
        Hart.Dispose();
        base.Dispose();
    }
}
