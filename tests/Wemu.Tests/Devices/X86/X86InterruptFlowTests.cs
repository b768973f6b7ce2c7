using Wemu.Devices;
using Wemu.Devices.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>
/// The microvm interrupt wiring end to end, as Linux uses it: ISA IRQs fan out to the 8259 pair and the I/O APIC
/// (QEMU gsi_handler), the PIT on ISA IRQ 0 = IOAPIC pin 2 (the MP-table override), COM1 on IRQ 4 = pin 4, and the
/// 8259 output in the BSP's LINT0 (ExtINT, virtual wire) for the boot before the IOAPIC is set up.
/// </summary>
public class X86InterruptFlowTests
{
    private const ulong ClockHz = 10_000_000;

    private readonly ManualClock _time = new(ClockHz);
    private readonly PortIoBus _ports = new();
    private readonly ApicBus _apicBus = new();
    private readonly I8259Pair _pic = new();
    private readonly IoApic _ioApic;
    private readonly LocalApic _lapic;
    private readonly I8254Pit _pit;
    private readonly Uart16550 _uart;

    public X86InterruptFlowTests()
    {
        _ioApic = new IoApic(_apicBus);
        _lapic = new LocalApic(_time.Clock, _apicBus, 0, true);
        _lapic.ConnectPic(_pic);
        var isa = new IsaInterruptRouter(_pic, _ioApic);
        _pit = new I8254Pit(_time.Clock, new IrqLine(isa, 0));
        _uart = new Uart16550(new TestCharBackend(), new IrqLine(isa, 4));
        _ports.Map(0x20, 2, _pic);
        _ports.Map(0xa0, 2, _pic);
        _ports.Map(0x4d0, 1, _pic);
        _ports.Map(0x4d1, 1, _pic);
        _ports.Map(0x40, 4, _pit);
        _ports.Map(0x61, 1, new SystemControlPortB(_pit));
        _ports.Map(0x3f8, 8, new PortWindow(_uart, 0x3f8));
    }

    private void Out(ushort port, byte value) => _ports.Write(port, 1, value);

    private void InitPic()
    {
        Out(0x20, 0x11);
        Out(0x21, 0x30);
        Out(0x21, 0x04);
        Out(0x21, 0x01);
        Out(0xa0, 0x11);
        Out(0xa1, 0x38);
        Out(0xa1, 0x02);
        Out(0xa1, 0x01);
    }

    private void StartPitPeriodic(int latch)
    {
        Out(0x43, 0x34);
        Out(0x40, (byte)latch);
        Out(0x40, (byte)(latch >> 8));
    }

    private void RunToPitEdge()
    {
        _time.Advance(_pit.NextDeadline - _time.Clock.Now);
        _pit.Tick();
    }

    private void WriteIoApicEntry(int pin, ulong entry)
    {
        _ioApic.Write(0x00, 4, (uint)(0x11 + 2 * pin));
        _ioApic.Write(0x10, 4, (uint)(entry >> 32));
        _ioApic.Write(0x00, 4, (uint)(0x10 + 2 * pin));
        _ioApic.Write(0x10, 4, (uint)entry);
    }

    [Fact]
    public void PitTickThroughIoApicPin2ReachesTheCpuWithVector0x30AndRearmsAfterEoi()
    {
        InitPic();
        Out(0x21, 0xff); // legacy PIC fully masked once the IOAPIC is in use
        Out(0xa1, 0xff);
        _lapic.Write(0xf0, 4, 0x1ff); // SVR: enable, spurious 0xff
        _lapic.Write(0x350, 4, 0x10700); // LINT0 masked ExtINT (Linux after switching to the IOAPIC)
        WriteIoApicEntry(2, 0x0000_0000_0000_0030); // "..TIMER: vector=0x30 apic1=0 pin1=2": edge, fixed, dest 0
        StartPitPeriodic(4773);

        RunToPitEdge();
        Assert.True(_lapic.HasMaskableInterrupt);
        Assert.Equal(0x30, _lapic.AcknowledgeMaskableInterrupt());
        Assert.False(_lapic.HasMaskableInterrupt);

        // Next tick while the handler runs: requested but blocked by the in-service vector of the same class.
        RunToPitEdge();
        Assert.True(_lapic.IsRequested(0x30));
        Assert.False(_lapic.HasMaskableInterrupt);
        _lapic.Write(0xb0, 4, 0); // EOI
        Assert.True(_lapic.HasMaskableInterrupt);
        Assert.Equal(0x30, _lapic.AcknowledgeMaskableInterrupt());
        _lapic.Write(0xb0, 4, 0);
        Assert.False(_lapic.HasMaskableInterrupt);
        Assert.Equal(0, _pic.MasterIsr); // the PIC saw IRQ 0 but is masked and never acknowledged
    }

    [Fact]
    public void SerialInterruptOnIrq4ReachesTheCpuThroughIoApicPin4()
    {
        _lapic.Write(0xf0, 4, 0x1ff);
        _lapic.Write(0x350, 4, 0x10700);
        WriteIoApicEntry(4, 0x0000_0000_0000_0024);
        Out(0x3fc, 0x08); // MCR.OUT2: the PC wires the 8250's interrupt through OUT2 (QEMU models it always connected)
        Out(0x3f9, 0x02); // IER.ETBEI: THR empty interrupt
        Assert.True(_lapic.HasMaskableInterrupt);
        Assert.Equal(0x24, _lapic.AcknowledgeMaskableInterrupt());
        Assert.Equal(0x02u, _ports.Read(0x3fa, 1) & 0x0f); // IIR: THRE interrupt, clears it
        _lapic.Write(0xb0, 4, 0);
        Assert.False(_lapic.HasMaskableInterrupt);
    }

    [Fact]
    public void PitTickThroughThePicAndLint0ExtIntBeforeTheIoApicIsUsed()
    {
        // Early boot: APIC software-disabled, LINT0 = ExtINT (virtual wire), PIC delivers vectors 0x30..0x3f.
        InitPic();
        Out(0x21, 0xfe); // only IRQ 0
        Out(0xa1, 0xff);
        StartPitPeriodic(1193);
        RunToPitEdge();
        Assert.True(_lapic.HasMaskableInterrupt);
        Assert.Equal(0x30, _lapic.AcknowledgeMaskableInterrupt());
        Assert.Equal(1, _pic.MasterIsr);
        Assert.False(_lapic.HasMaskableInterrupt);
        RunToPitEdge();
        Assert.False(_lapic.HasMaskableInterrupt); // IR0 in service blocks IR0
        Out(0x20, 0x60); // specific EOI IR0
        Assert.True(_lapic.HasMaskableInterrupt);
        Assert.Equal(0x30, _lapic.AcknowledgeMaskableInterrupt());
    }

    [Fact]
    public void MaskingLint0StopsExtIntDelivery()
    {
        InitPic();
        Out(0x21, 0xfe);
        StartPitPeriodic(1193);
        _lapic.Write(0x350, 4, 0x10700);
        RunToPitEdge();
        Assert.True(_pic.InterruptRequested);
        Assert.False(_lapic.HasMaskableInterrupt);
    }

    [Fact]
    public void WithTheApicGloballyDisabledThePicDrivesIntrDirectly()
    {
        InitPic();
        Out(0x21, 0xfe);
        _lapic.Write(0x350, 4, 0x10700); // even with LINT0 masked: SDM 10.4.3, no APIC in the path
        _lapic.WriteApicBaseMsr(0xfee0_0000);
        StartPitPeriodic(1193);
        RunToPitEdge();
        Assert.True(_lapic.HasMaskableInterrupt);
        Assert.Equal(0x30, _lapic.AcknowledgeMaskableInterrupt());
    }

    [Fact]
    public void RtcUpdateInterruptOnIrq8ThroughTheSlavePic()
    {
        var isa = new IsaInterruptRouter(_pic, _ioApic);
        var rtc = new Mc146818Rtc(_time.Clock, new IrqLine(isa, 8), () => new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero));
        _ports.Map(0x70, 2, rtc);
        InitPic();
        Out(0x21, 0xfb); // cascade only
        Out(0xa1, 0xfe); // IRQ 8 only
        Out(0x70, 0x0b);
        Out(0x71, 0x12); // UIE
        _time.Advance(rtc.NextDeadline - _time.Clock.Now);
        rtc.Tick();
        Assert.True(_lapic.HasMaskableInterrupt);
        Assert.Equal(0x38, _lapic.AcknowledgeMaskableInterrupt());
        Out(0x70, 0x0c);
        Assert.Equal(0x90u, _ports.Read(0x71, 1));
    }
}
