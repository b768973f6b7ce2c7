using Wemu.Devices;
using Wemu.Devices.X86;
using Wemu.Memory;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>
/// Every port, size and value is guest-controlled: no access to the x86 platform devices may throw, and the
/// per-access paths must not allocate.
/// </summary>
public class X86DeviceRobustnessTests
{
    private static readonly uint[] s_values = [0, 0xffff_ffff, 0x5555_aaaa, 0x8000_0001];
    private static readonly int[] s_portSizes = [1, 2, 4, 0, 3, 8];
    private static readonly int[] s_mmioSizes = [1, 2, 4, 8];

    private readonly ManualClock _time = new();
    private readonly PortIoBus _ports = new();
    private readonly ApicBus _apicBus = new();
    private readonly I8259Pair _pic = new();
    private readonly IoApic _ioApic;
    private readonly LocalApic _lapic;
    private readonly I8254Pit _pit;
    private readonly Mc146818Rtc _rtc;

    public X86DeviceRobustnessTests()
    {
        _ioApic = new IoApic(_apicBus);
        _lapic = new LocalApic(_time.Clock, _apicBus, 0, true);
        _lapic.ConnectPic(_pic);
        var isa = new IsaInterruptRouter(_pic, _ioApic);
        _pit = new I8254Pit(_time.Clock, new IrqLine(isa, 0));
        _rtc = new Mc146818Rtc(_time.Clock, new IrqLine(isa, 8), () => DateTimeOffset.UnixEpoch);
        _ports.Map(0x20, 2, _pic);
        _ports.Map(0xa0, 2, _pic);
        _ports.Map(0x4d0, 1, _pic);
        _ports.Map(0x4d1, 1, _pic);
        _ports.Map(0x40, 4, _pit);
        _ports.Map(0x61, 1, new SystemControlPortB(_pit));
        _ports.Map(0x70, 2, _rtc);
    }

    private void TickAll()
    {
        _pit.Tick();
        _rtc.Tick();
        _lapic.Tick();
        _ = _pit.NextDeadline;
        _ = _rtc.NextDeadline;
        _ = _lapic.NextDeadline;
        while (_lapic.HasMaskableInterrupt)
        {
            _lapic.AcknowledgeMaskableInterrupt();
            _lapic.Write(0xb0, 4, 0);
        }
    }

    [Fact]
    public void EveryPortSizeAndValueIsHandled()
    {
        for (int port = 0; port < 0x10000; port++)
            foreach (int size in s_portSizes)
                _ports.Read((ushort)port, size);
        foreach (uint value in s_values)
        {
            for (int port = 0; port < 0x10000; port++)
                foreach (int size in s_portSizes)
                {
                    _ports.Write((ushort)port, size, value);
                    _ports.Read((ushort)port, size);
                }
            _time.Advance(123_457);
            TickAll();
        }
    }

    [Fact]
    public void EveryDeviceRegisterIndexAndValue()
    {
        // All 256 RTC indexes (index port keeps 7 bits), all PIT control words, all PIC command bytes.
        for (int index = 0; index < 256; index++)
            foreach (uint value in s_values)
            {
                _rtc.Write(0x70, 1, (uint)index);
                _rtc.Write(0x71, 1, value);
                _rtc.Read(0x71, 1);
                _pit.Write(0x43, 1, (uint)index);
                _pit.Write((ushort)(0x40 + (index & 3)), 1, value);
                _pit.Read((ushort)(0x40 + (index & 3)), 1);
                _pic.Write((ushort)(index % 2 == 0 ? 0x20 : 0xa0), 1, (uint)index);
                _pic.Write((ushort)(index % 2 == 0 ? 0x21 : 0xa1), 1, value);
                _pic.Acknowledge();
                _time.Advance(997);
                TickAll();
            }
    }

    [Fact]
    public void EveryApicOffsetSizeAndValue()
    {
        foreach (var (device, size) in new (IMmioDevice, ulong)[] { (_lapic, LocalApic.WindowSize), (_ioApic, IoApic.WindowSize) })
        {
            foreach (uint value in s_values)
                for (ulong offset = 0; offset < size; offset++)
                    foreach (int width in s_mmioSizes)
                    {
                        if (offset + (ulong)width > size)
                            continue;
                        device.Read(offset, width);
                        device.Write(offset, width, value | ((ulong)value << 32));
                    }
            // Every IOAPIC register index through IOWIN.
            for (int index = 0; index < 256; index++)
                foreach (uint value in s_values)
                {
                    _ioApic.Write(0, 4, (uint)index);
                    _ioApic.Write(0x10, 4, value);
                    _ioApic.Read(0x10, 4);
                }
            for (int gsi = -1; gsi < 40; gsi++)
            {
                _ioApic.SetIrq(gsi, true);
                _ioApic.SetIrq(gsi, false);
                _pic.SetIrq(gsi, true);
                _pic.SetIrq(gsi, false);
                _lapic.SetIrq(gsi, true);
                _lapic.SetIrq(gsi, false);
            }
            _time.Advance(1_000_003);
            TickAll();
        }
    }

    [Fact]
    public void AccessesDoNotAllocate()
    {
        _lapic.Write(0xf0, 4, 0x1ff);
        _lapic.Write(0x320, 4, 0x20040);
        _lapic.Write(0x380, 4, 1000);
        _rtc.Write(0x70, 1, 0x0b);
        _rtc.Write(0x71, 1, 0x52);
        void Loop(int n)
        {
            for (int i = 0; i < n; i++)
            {
                _ports.Write(0x43, 1, 0x34);
                _ports.Write(0x40, 1, 0x10);
                _ports.Write(0x40, 1, 0x00);
                _ports.Read(0x40, 2);
                _ports.Read(0x61, 1);
                _ports.Write(0x70, 1, (uint)(i & 0x0f));
                _ports.Read(0x71, 1);
                _ports.Read(0x20, 2);
                _ports.Read(0x1234, 4);
                _ioApic.Write(0, 4, 0x10);
                _ioApic.Read(0x10, 4);
                _lapic.Read(0x390, 4);
                _time.Advance(1000);
                TickAll();
            }
        }
        Loop(100);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Loop(10_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
