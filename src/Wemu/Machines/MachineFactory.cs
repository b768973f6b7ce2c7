using Wemu.Cpu;
using Wemu.Cpu.RiscV;

namespace Wemu.Machines;

/// <summary>Creates the board a <see cref="MachineConfig"/> names.</summary>
public static class MachineFactory
{
    public static Machine Create(MachineConfig config, MachineImages images, ICpuEngine<RiscVHart>? engine = null) =>
        (config.Arch, config.MachineType) switch
        {
            ("riscv64", "spike") => new SpikeMachine(config, images, engine),
            ("riscv64", "virt") => new RiscVVirtMachine(config, images, engine),
            ("x86_64", "microvm") => engine == null ? new X86.MicrovmMachine(config, images) : throw new ArgumentException("an x86 board takes no RISC-V engine"),
            _ => throw new ConfigException($"unknown machine '{config.MachineType}' for {config.Arch}"),
        };
}
