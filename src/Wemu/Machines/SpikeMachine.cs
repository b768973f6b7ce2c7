using Wemu.Cpu;
using Wemu.Cpu.RiscV;
using Wemu.Devices;

namespace Wemu.Machines;

/// <summary>
/// QEMU's <c>-M spike</c>: RAM at 0x80000000 and HTIF through the ELF's tohost/fromhost symbols.
/// With <c>-bios none -kernel test.elf</c> a bare-metal test runs from its entry point in M-mode.
/// </summary>
public sealed unsafe class SpikeMachine : RiscVMachine
{
    public const ulong DramBase = 0x8000_0000;

    private readonly HtifDevice? _htif;

    public SpikeMachine(MachineConfig config, MachineImages images, ICpuEngine<RiscVHart>? engine = null)
        : base(new MachineClock(10_000_000, config.Deterministic, config.IcountShift), engine ?? CreateEngine(config, images))
    {
        Bus.AddRam(DramBase, config.MemorySize);
        if (images.Kernel == null)
            throw new ConfigException("machine spike needs -kernel");
        if (!ElfImage.IsElf(images.Kernel))
            throw new ConfigException("machine spike runs ELF executables only (-kernel is not an ELF file)");
        ElfImage elf;
        try
        {
            elf = ElfImage.Parse(images.Kernel);
        }
        catch (FormatException e)
        {
            throw new ConfigException($"kernel: {e.Message}");
        }
        if (elf.Machine != ElfImage.MachineRiscV)
            throw new ConfigException("kernel: ELF file is not for RISC-V");
        foreach (var s in elf.Segments)
        {
            if (!Bus.TryGetRam(s.PhysicalAddress, s.MemorySize, out _))
                throw new ConfigException($"kernel: segment at 0x{s.PhysicalAddress:x} does not fit in RAM");
            Bus.Load(s.PhysicalAddress, s.Data);
        }
        if (elf.Symbols.TryGetValue("tohost", out ulong tohost))
        {
            elf.Symbols.TryGetValue("fromhost", out ulong fromhost);
            _htif = new HtifDevice(Bus, tohost, fromhost, images.Serial);
        }
        Hart.Reset(elf.Entry);
        Hart.ReadTime = () => Clock.Now;
    }

    public override ulong NextDeadline => ulong.MaxValue;

    protected override void Tick()
    {
        _htif?.Poll();
        if (_htif?.ExitCode is int code)
            RequestStop(MachineStatus.PoweredOff, code);
    }

    public override void Flush()
    {
    }
}
