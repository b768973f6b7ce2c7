using Wemu.Devices.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>I/O APIC against the 82093AA datasheet and QEMU 7.2 hw/intc/ioapic.c, programmed as Linux's io_apic.c does.</summary>
public class IoApicTests
{
    private readonly ManualClock _time = new();
    private readonly ApicBus _bus = new();
    private readonly IoApic _ioApic;
    private readonly LocalApic _cpu0;
    private readonly LocalApic _cpu1;

    public IoApicTests()
    {
        _ioApic = new IoApic(_bus);
        _cpu0 = new LocalApic(_time.Clock, _bus, 0, true);
        _cpu1 = new LocalApic(_time.Clock, _bus, 1, false);
        _cpu0.Write(0xf0, 4, 0x1ff);
        _cpu1.Write(0xf0, 4, 0x1ff);
    }

    private uint ReadRegister(int index)
    {
        _ioApic.Write(0x00, 4, (uint)index);
        return (uint)_ioApic.Read(0x10, 4);
    }

    private void WriteRegister(int index, uint value)
    {
        _ioApic.Write(0x00, 4, (uint)index);
        _ioApic.Write(0x10, 4, value);
    }

    /// <summary>Linux ioapic_write_entry: high half first, then low.</summary>
    private void WriteEntry(int pin, ulong entry)
    {
        WriteRegister(0x11 + 2 * pin, (uint)(entry >> 32));
        WriteRegister(0x10 + 2 * pin, (uint)entry);
    }

    private ulong ReadEntry(int pin) => ReadRegister(0x10 + 2 * pin) | ((ulong)ReadRegister(0x11 + 2 * pin) << 32);

    [Fact]
    public void IdentificationRegisters()
    {
        Assert.Equal(0x0017_0020u, ReadRegister(1)); // 24 entries (max redirection entry 23), version 0x20
        Assert.Equal(0u, ReadRegister(0));
        WriteRegister(0, 0x0f00_0000 | 0x00ff_ffff);
        Assert.Equal(0x0f00_0000u, ReadRegister(0)); // ID bits 27..24 only
        Assert.Equal(0x0f00_0000u, ReadRegister(2)); // arbitration ID reads the ID (QEMU)
        WriteRegister(1, 0);
        Assert.Equal(0x0017_0020u, ReadRegister(1));
    }

    [Fact]
    public void EntriesResetMaskedAndReadBack()
    {
        for (int pin = 0; pin < 24; pin++)
            Assert.Equal(0x1_0000ul, ReadEntry(pin));
        WriteEntry(5, 0x0100_0000_0000_a931);
        Assert.Equal(0x0100_0000_0000_a931ul & ~(1ul << 14 | 1ul << 12), ReadEntry(5)); // remote IRR / delivery status read-only
        Assert.Equal(0u, ReadRegister(0x10 + 48)); // past the last entry
    }

    [Fact]
    public void EdgePinDeliversFixedInterruptToPhysicalDestination()
    {
        WriteEntry(4, 0x0100_0000_0000_0024); // dest APIC 1, physical, fixed, edge, vector 0x24
        _ioApic.SetIrq(4, true);
        Assert.True(_cpu1.IsRequested(0x24));
        Assert.False(_cpu0.IsRequested(0x24));
        Assert.False(_cpu1.IsLevelTriggered(0x24));
    }

    [Fact]
    public void EdgesOnAMaskedPinAreLost()
    {
        // 82093AA: edge-sensitive interrupts on a masked pin are ignored (QEMU ioapic_set_irq).
        WriteEntry(4, 0x1_0024);
        _ioApic.SetIrq(4, true);
        _ioApic.SetIrq(4, false);
        WriteEntry(4, 0x0024);
        Assert.False(_cpu0.IsRequested(0x24));
    }

    [Fact]
    public void IsaIrq0IsRoutedToPin2()
    {
        WriteEntry(2, 0x0030);
        _ioApic.SetIrq(0, true);
        Assert.True(_cpu0.IsRequested(0x30));
    }

    [Fact]
    public void LevelPinSetsRemoteIrrUntilTheLocalApicEoi()
    {
        WriteEntry(10, 0x0000_0000_0000_8041); // level, vector 0x41, dest 0
        _ioApic.SetIrq(10, true);
        Assert.True(_cpu0.IsLevelTriggered(0x41));
        Assert.NotEqual(0ul, ReadEntry(10) & (1ul << 14)); // Remote IRR
        Assert.Equal(0x41, _cpu0.AcknowledgeMaskableInterrupt());
        // The line is still high: EOI clears Remote IRR and the IOAPIC sends the interrupt again.
        _cpu0.Write(0xb0, 4, 0);
        Assert.True(_cpu0.IsRequested(0x41));
        Assert.NotEqual(0ul, ReadEntry(10) & (1ul << 14));
        Assert.Equal(0x41, _cpu0.AcknowledgeMaskableInterrupt());
        _ioApic.SetIrq(10, false);
        _cpu0.Write(0xb0, 4, 0);
        Assert.False(_cpu0.IsRequested(0x41));
        Assert.Equal(0ul, ReadEntry(10) & (1ul << 14));
    }

    [Fact]
    public void EoiRegisterClearsRemoteIrr()
    {
        WriteEntry(11, 0x1_8042); // masked so the message does not matter
        WriteEntry(11, 0x8042);
        _ioApic.SetIrq(11, true);
        Assert.NotEqual(0ul, ReadEntry(11) & (1ul << 14));
        _ioApic.SetIrq(11, false);
        _ioApic.Write(0x40, 4, 0x42); // version 0x20 EOI register
        Assert.Equal(0ul, ReadEntry(11) & (1ul << 14));
    }

    [Fact]
    public void SwitchingToEdgeClearsRemoteIrr()
    {
        // Linux __eoi_ioapic_pin without an EOI register: mask, set edge, restore level (QEMU ioapic_fix_edge_remote_irr).
        WriteEntry(9, 0x8043);
        _ioApic.SetIrq(9, true);
        _ioApic.SetIrq(9, false);
        WriteEntry(9, 0x1_0043);
        WriteEntry(9, 0x1_8043);
        Assert.Equal(0ul, ReadEntry(9) & (1ul << 14));
    }

    [Fact]
    public void LogicalFlatDestination()
    {
        _cpu0.Write(0xd0, 4, 0x0100_0000);
        _cpu1.Write(0xd0, 4, 0x0200_0000);
        WriteEntry(3, 0x0300_0000_0000_0833); // logical dest 0x03: both CPUs, fixed
        _ioApic.SetIrq(3, true);
        Assert.True(_cpu0.IsRequested(0x33));
        Assert.True(_cpu1.IsRequested(0x33));
    }

    [Fact]
    public void LowestPriorityGoesToOneApic()
    {
        _cpu0.Write(0xd0, 4, 0x0100_0000);
        _cpu1.Write(0xd0, 4, 0x0200_0000);
        WriteEntry(3, 0x0300_0000_0000_0933); // logical, lowest priority
        _ioApic.SetIrq(3, true);
        Assert.True(_cpu0.IsRequested(0x33) ^ _cpu1.IsRequested(0x33));
    }

    [Fact]
    public void NmiDeliveryMode()
    {
        WriteEntry(7, 0x0100_0000_0000_0400);
        _ioApic.SetIrq(7, true);
        Assert.True(_cpu1.HasNmi);
        Assert.False(_cpu0.HasNmi);
    }

    [Fact]
    public void WindowRegisterNeeds32BitAccesses()
    {
        _ioApic.Write(0x00, 1, 1);
        Assert.Equal(1ul, _ioApic.Read(0x00, 1)); // IOREGSEL takes any size
        Assert.Equal(0ul, _ioApic.Read(0x10, 2));
        Assert.Equal(0x0017_0020ul, _ioApic.Read(0x10, 4));
    }
}
