using Wemu.Cpu;
using Wemu.Cpu.RiscV;
using Wemu.Devices;

namespace Wemu.Machines;

/// <summary>
/// What every RISC-V board shares: one hart (SMP comes later), an execution engine, and the
/// slice loop that interleaves guest execution with timer and input updates.
/// </summary>
public abstract class RiscVMachine : Machine
{
    protected RiscVMachine(MachineClock clock, ICpuEngine<RiscVHart>? engine) : base(clock)
    {
        Hart = new RiscVHart(Bus);
        Engine = engine ?? new RiscVInterpreter();
        clock.AttachInstructionCounter(() => Hart.InstructionsRetired);
    }

    public RiscVHart Hart { get; }

    /// <summary>The engine <paramref name="config"/> asks for (<c>-accel</c>).</summary>
    public static ICpuEngine<RiscVHart> CreateEngine(MachineConfig config, MachineImages images) =>
        config.Accelerator == "interp" ? new RiscVInterpreter() : new RiscVJitEngine(JitOptionsFor(config, images));

    public ICpuEngine<RiscVHart> Engine { get; set; }

    public override ulong InstructionsRetired => Hart.InstructionsRetired;

    public override string EngineName => Engine.Name;

    public override Jit.JitStatistics? JitStatistics => (Engine as RiscVJitEngine)?.Statistics;

    public override bool JitInterpretsInWasm => Engine is RiscVJitEngine { InterpretsInWasm: true };

    public override string? JitBackend => Engine is RiscVJitEngine jit ? jit.Backend switch { Jit.JitBackendKind.Wasm => "wasm", Jit.JitBackendKind.X64 => "native", _ => "il" } : null;

    public override string DescribeState()
    {
        var h = Hart;
        h.TryReadCsr(0x344, out ulong mip);
        h.TryReadCsr(0x304, out ulong mie);
        h.TryReadCsr(0x300, out ulong ms);
        return $"pc={h.ProgramCounter:x} priv={h.Privilege} wait={h.IsWaiting} mip={mip:x} mie={mie:x} mstatus={ms:x} {base.DescribeState()}";
    }

    protected override bool CpuWaiting => Hart.IsWaiting;

    protected override bool CpuHasWakeUp => Hart.HasWakeUpInterrupt;

    protected override void WakeCpu() => Hart.IsWaiting = false;

    protected override long RunCpu(long budget)
    {
        if (Hart.HasWakeUpInterrupt)
            Hart.CheckInterrupts();
        return Engine.Run(Hart, budget);
    }

    public override void Dispose()
    {
        (Engine as IDisposable)?.Dispose();
        Hart.Dispose();
        base.Dispose();
    }
}
