using Wemu.Devices.X86;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>
/// 8259A pair against the Intel 8259A datasheet and QEMU hw/intc/i8259.c, driven the way Linux's
/// arch/x86/kernel/i8259.c drives it (init_8259A, mask_and_ack_8259A, i8259A_irq_real, probe_8259A).
/// </summary>
public class I8259PairTests
{
    private readonly I8259Pair _pic = new();
    private readonly EdgeCountingSink _cpu = new();

    public I8259PairTests()
    {
        _pic.ConnectOutput(_cpu, 0);
    }

    private void Out(ushort port, byte value) => _pic.Write(port, 1, value);

    private byte In(ushort port) => (byte)_pic.Read(port, 1);

    /// <summary>Linux init_8259A(auto_eoi) with ISA_IRQ_VECTOR(0) = 0x30, then all lines unmasked.</summary>
    private void LinuxInit(bool autoEoi = false)
    {
        Out(0x21, 0xff);
        Out(0xa1, 0xff);
        Out(0x20, 0x11); // ICW1: edge, cascade, ICW4 needed
        Out(0x21, 0x30); // ICW2: vectors 0x30..0x37
        Out(0x21, 1 << 2); // ICW3: slave on IR2
        Out(0x21, (byte)(autoEoi ? 0x03 : 0x01)); // ICW4: 8086 mode (+AEOI)
        Out(0xa0, 0x11);
        Out(0xa1, 0x38);
        Out(0xa1, 2); // ICW3: slave ID 2
        Out(0xa1, 0x01);
        Out(0x21, 0x00);
        Out(0xa1, 0x00);
    }

    private byte ReadMasterIsr()
    {
        // i8259A_irq_real: OCW3 0x0b selects ISR, 0x0a back to IRR.
        Out(0x20, 0x0b);
        byte isr = In(0x20);
        Out(0x20, 0x0a);
        return isr;
    }

    [Fact]
    public void ProbeReadsBackTheMaskRegister()
    {
        // probe_8259A: writes 0xa5 to the master IMR and expects it back.
        Out(0x21, 0xa5);
        Assert.Equal(0xa5, In(0x21));
    }

    [Fact]
    public void Irq1DeliversVectorBasePlus1AndSpecificEoiClearsIsr()
    {
        LinuxInit();
        _pic.SetIrq(1, true);
        Assert.True(_pic.InterruptRequested);
        Assert.True(_cpu.Levels[0]);
        Assert.Equal(0x02, In(0x20)); // IRR (OCW3 default read register)
        Assert.Equal(0x31, _pic.Acknowledge());
        Assert.False(_pic.InterruptRequested);
        Assert.False(_cpu.Levels[0]);
        Assert.Equal(0x02, ReadMasterIsr());
        Assert.Equal(0x00, In(0x20)); // edge request left IRR at INTA
        Out(0x20, 0x61); // specific EOI for IR1 (mask_and_ack_8259A)
        Assert.Equal(0x00, ReadMasterIsr());
    }

    [Fact]
    public void EdgeInputNeedsANewRisingEdge()
    {
        LinuxInit();
        _pic.SetIrq(4, true);
        Assert.Equal(0x34, _pic.Acknowledge());
        Out(0x20, 0x20); // non-specific EOI
        _pic.SetIrq(4, true); // still high: no edge
        Assert.False(_pic.InterruptRequested);
        _pic.SetIrq(4, false);
        _pic.SetIrq(4, true);
        Assert.True(_pic.InterruptRequested);
    }

    [Fact]
    public void ImrMasksRequestsAndUnmaskingReleasesLatchedEdge()
    {
        LinuxInit();
        Out(0x21, 0x08);
        _pic.SetIrq(3, true);
        Assert.False(_pic.InterruptRequested);
        Assert.Equal(0x08, In(0x20)); // IRR holds it
        Out(0x21, 0x00);
        Assert.True(_pic.InterruptRequested);
        Assert.Equal(0x33, _pic.Acknowledge());
    }

    [Fact]
    public void ElcrWritableBitsAreMasked()
    {
        // QEMU i8259_init_chip: elcr_mask 0xf8 (master) and 0xde (slave): IRQ 0, 1, 2, 8, 13 are always edge.
        Out(0xd0 | 0x00, 0); // unrelated port: nothing
        _pic.Write(0x4d0, 1, 0xff);
        _pic.Write(0x4d1, 1, 0xff);
        Assert.Equal(0xf8u, _pic.Read(0x4d0, 1));
        Assert.Equal(0xdeu, _pic.Read(0x4d1, 1));
    }

    [Fact]
    public void LevelTriggeredInputStaysRequestedWhileHigh()
    {
        LinuxInit();
        _pic.Write(0x4d1, 1, 0x04); // IRQ 10 level-triggered
        _pic.SetIrq(10, true);
        Assert.Equal(0x3a, _pic.Acknowledge());
        Out(0xa0, 0x62); // specific EOI slave IR2
        Out(0x20, 0x62); // specific EOI master IR2 (cascade)
        Assert.True(_pic.InterruptRequested); // line still high: requested again
        _pic.SetIrq(10, false);
        Assert.Equal(0, _pic.SlaveIrr);
        // The master latched the re-raised cascade edge in IRR bit 2; with the slave's request gone the INTA cycle
        // is a spurious IRQ 15 (QEMU pic_read_irq), which Linux's spurious check then ignores.
        Assert.Equal(0x3f, _pic.Acknowledge());
        Assert.Equal(0, _pic.SlaveIsr);
    }

    [Fact]
    public void SlaveIrqGoesThroughTheCascade()
    {
        LinuxInit();
        _pic.SetIrq(12, true);
        Assert.True(_pic.InterruptRequested);
        Assert.Equal(0x3c, _pic.Acknowledge());
        Assert.Equal(1 << 2, _pic.MasterIsr);
        Assert.Equal(1 << 4, _pic.SlaveIsr);
        Out(0xa0, 0x64);
        Out(0x20, 0x62);
        Assert.Equal(0, _pic.MasterIsr);
        Assert.Equal(0, _pic.SlaveIsr);
    }

    [Fact]
    public void FullyNestedPriorityLetsOnlyHigherPriorityPreempt()
    {
        LinuxInit();
        _pic.SetIrq(3, true);
        Assert.Equal(0x33, _pic.Acknowledge());
        _pic.SetIrq(5, true);
        Assert.False(_pic.InterruptRequested); // IR5 is below IR3 in service
        _pic.SetIrq(1, true);
        Assert.True(_pic.InterruptRequested);
        Assert.Equal(0x31, _pic.Acknowledge());
        Out(0x20, 0x20); // non-specific EOI clears the highest in service: IR1
        Assert.Equal(0x08, ReadMasterIsr());
        Out(0x20, 0x20);
        Assert.Equal(0x35, _pic.Acknowledge());
    }

    [Fact]
    public void AcknowledgeWithoutRequestIsSpuriousIrq7WithoutIsr()
    {
        // 8259A datasheet / QEMU pic_read_irq: no request at INTA gives IR7's vector and leaves ISR clear;
        // Linux's spurious check reads ISR to tell.
        LinuxInit();
        Assert.Equal(0x37, _pic.Acknowledge());
        Assert.Equal(0, ReadMasterIsr());
    }

    [Fact]
    public void VanishedSlaveRequestIsSpuriousIrq15()
    {
        LinuxInit();
        _pic.SetIrq(10, true); // edge latched in the master's IRR bit 2 through the cascade
        Out(0xa1, 0x04); // mask it at the slave: slave output drops, master IRR bit 2 stays latched
        Assert.True(_pic.InterruptRequested);
        Assert.Equal(0x3f, _pic.Acknowledge());
        Assert.Equal(0, _pic.SlaveIsr);
        Assert.Equal(1 << 2, _pic.MasterIsr);
    }

    [Fact]
    public void AutoEoiLeavesIsrClear()
    {
        LinuxInit(autoEoi: true);
        _pic.SetIrq(0, true);
        Assert.Equal(0x30, _pic.Acknowledge());
        Assert.Equal(0, ReadMasterIsr());
        _pic.SetIrq(0, false);
        _pic.SetIrq(0, true);
        Assert.Equal(0x30, _pic.Acknowledge());
    }

    [Fact]
    public void RotateOnNonSpecificEoiMakesTheServicedLineLowest()
    {
        LinuxInit();
        _pic.SetIrq(3, true);
        Assert.Equal(0x33, _pic.Acknowledge());
        Out(0x20, 0xa0); // OCW2 rotate on non-specific EOI: IR3 lowest, IR4 highest
        _pic.SetIrq(3, false);
        _pic.SetIrq(3, true);
        _pic.SetIrq(1, true);
        _pic.SetIrq(5, true);
        Assert.Equal(0x35, _pic.Acknowledge()); // order 4, 5, 6, 7, 0, 1, 2, 3
        Out(0x20, 0x20);
        Assert.Equal(0x31, _pic.Acknowledge());
        Out(0x20, 0x20);
        Assert.Equal(0x33, _pic.Acknowledge());
    }

    [Fact]
    public void PollCommandReturnsTheRequestAndAcknowledgesIt()
    {
        LinuxInit();
        _pic.SetIrq(6, true);
        Out(0x20, 0x0c); // OCW3 poll
        Assert.Equal(0x86, In(0x20));
        Assert.Equal(0x40, ReadMasterIsr());
    }

    [Fact]
    public void Icw1ClearsImrAndIsr()
    {
        LinuxInit();
        Out(0x21, 0xff);
        _pic.SetIrq(12, true);
        Out(0x20, 0x11);
        Assert.Equal(0, _pic.MasterImr);
        Assert.Equal(0, _pic.MasterIsr);
    }

    [Fact]
    public void OutputLineFollowsTheRequest()
    {
        LinuxInit();
        _pic.SetIrq(7, true);
        Assert.Equal(1, _cpu.RisingEdges[0]);
        _pic.Acknowledge();
        Assert.False(_cpu.Levels[0]);
    }
}
