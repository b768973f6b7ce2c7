using Wemu.Cpu.RiscV;
using Wemu.Machines;
using Wemu.Memory;

namespace Wemu.Tests.Jit;

/// <summary>
/// The smallest machine a lockstep run needs: one hart on RAM at 0x80000000, a
/// <see cref="ProbeDevice"/>, no clock and no interrupts (so nothing outside the program can make
/// two runs differ). Programs end with WFI or by
/// writing the HTIF <c>tohost</c> word, as the <see cref="Cpu.RiscV.BareMetal"/> programs do.
/// </summary>
internal sealed unsafe class BareHart : IDisposable
{
    public const ulong RamBase = 0x8000_0000;

    public BareHart(ulong ramSize)
    {
        Bus = new PhysicalBus();
        Ram = Bus.AddRam(RamBase, ramSize);
        Hart = new RiscVHart(Bus);
        Hart.Reset(RamBase);
        Probe = new ProbeDevice(Hart);
        Bus.Map(ProbeDevice.Base, ProbeDevice.Size, Probe);
    }

    /// <summary>A machine with an ELF's segments loaded, at its entry; <see cref="ToHost"/> set if it has HTIF.</summary>
    public static BareHart FromElf(ElfImage elf, ulong ramSize = 4 << 20)
    {
        var m = new BareHart(ramSize);
        foreach (var s in elf.Segments)
            m.Bus.Load(s.PhysicalAddress, s.Data);
        m.Hart.Reset(elf.Entry);
        if (elf.Symbols.TryGetValue("tohost", out ulong tohost))
            m.ToHost = tohost;
        return m;
    }

    public PhysicalBus Bus { get; }

    public GuestRam Ram { get; }

    public RiscVHart Hart { get; }

    /// <summary>The one device, at <see cref="ProbeDevice.Base"/>.</summary>
    public ProbeDevice Probe { get; }

    /// <summary>Physical address of the HTIF tohost word, or 0.</summary>
    public ulong ToHost { get; set; }

    public ulong Read64(ulong address) => *(ulong*)(Ram.Pointer + (address - RamBase));

    public void Write(ulong address, ReadOnlySpan<byte> data) => Bus.Load(address, data);

    /// <summary>The program is done: WFI with nothing pending, a value in tohost, or the probe device's halt register written.</summary>
    public bool Finished => Hart.IsWaiting || Probe.Halted || (ToHost != 0 && Read64(ToHost) != 0);

    /// <summary>The HTIF exit code (0 = pass, otherwise the failing test number), or -1 if none.</summary>
    public int ExitCode
    {
        get
        {
            ulong v = ToHost != 0 ? Read64(ToHost) : 0;
            return (v & 1) != 0 ? (int)(v >> 1) : -1;
        }
    }

    public void Dispose()
    {
        Hart.Dispose();
        Ram.Dispose();
    }
}
