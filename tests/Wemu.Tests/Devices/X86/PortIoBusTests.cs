using Wemu.Devices;
using Wemu.Devices.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

public class PortIoBusTests
{
    /// <summary>Records every access it receives; reads return a per-port pattern.</summary>
    private sealed class RecordingDevice : IPortDevice
    {
        public List<(ushort Port, int Size, uint Value, bool IsWrite)> Log { get; } = [];

        public uint Read(ushort port, int size)
        {
            Log.Add((port, size, 0, false));
            return 0xA0u + (uint)(port & 0xf) | 0xFFFF_FF00u; // upper bits must be cut to the access size by the bus
        }

        public void Write(ushort port, int size, uint value) => Log.Add((port, size, value, true));
    }

    [Fact]
    public void UnassignedPortsReadAllOnesOfTheAccessSize()
    {
        // QEMU unassigned_io_ops: reads -1 truncated to the access size.
        var bus = new PortIoBus();
        Assert.Equal(0xffu, bus.Read(0x1234, 1));
        Assert.Equal(0xffffu, bus.Read(0x1234, 2));
        Assert.Equal(0xffff_ffffu, bus.Read(0x1234, 4));
        bus.Write(0x1234, 4, 0); // ignored, no exception
    }

    [Fact]
    public void Port80IsANoOpDelayPort()
    {
        // Linux's outb_p/inb_p write port 0x80 as a delay; QEMU pc's ioport80 reads all ones and ignores writes.
        var bus = new PortIoBus();
        bus.Write(0x80, 1, 0x5a);
        Assert.Equal(0xffu, bus.Read(0x80, 1));
    }

    [Fact]
    public void WordAccessToByteDeviceIsSplitIntoTwoByteAccessesLittleEndian()
    {
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0x20, 2, dev);
        Assert.Equal(0xA1A0u, bus.Read(0x20, 2));
        Assert.Equal([(0x20, 1, 0u, false), (0x21, 1, 0u, false)], dev.Log.Select(l => (l.Port, l.Size, l.Value, l.IsWrite)));
        dev.Log.Clear();
        bus.Write(0x20, 2, 0x1234);
        Assert.Equal([((ushort)0x20, 1, 0x34u, true), ((ushort)0x21, 1, 0x12u, true)], dev.Log);
    }

    [Fact]
    public void AccessCrossingTheEndOfAMappingReadsUnassignedBytesAsOnes()
    {
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0x21, 1, dev);
        // dword at 0x20: 0x20 unassigned, 0x21 device, 0x22/0x23 unassigned.
        Assert.Equal(0xffff_A1ffu, bus.Read(0x20, 4));
        Assert.Single(dev.Log);
        bus.Write(0x20, 4, 0x44332211);
        Assert.Equal((ushort)0x21, dev.Log[1].Port);
        Assert.Equal(0x22u, dev.Log[1].Value);
    }

    [Fact]
    public void WideDeviceGetsWholeAlignedAccessesAndSplitsMisalignedOnes()
    {
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0xcf8, 8, dev, maxAccessSize: 4);
        bus.Read(0xcf8, 4);
        bus.Read(0xcfa, 2);
        bus.Read(0xcf9, 4); // QEMU: split by alignment into 1 + 2 + 1
        Assert.Equal([(0xcf8, 4), (0xcfa, 2), (0xcf9, 1), (0xcfa, 2), (0xcfc, 1)], dev.Log.Select(l => ((int)l.Port, l.Size)));
    }

    [Fact]
    public void OverlappingMapIsRejected()
    {
        var bus = new PortIoBus();
        bus.Map(0x40, 4, new RecordingDevice());
        Assert.Throws<InvalidOperationException>(() => bus.Map(0x43, 2, new RecordingDevice()));
        bus.Map(0x44, 1, new RecordingDevice()); // adjacent is fine
    }

    [Fact]
    public void AccessAtTheTopOfThePortSpaceDoesNotWrap()
    {
        var bus = new PortIoBus();
        var low = new RecordingDevice();
        bus.Map(0, 1, low);
        bus.Map(0xffff, 1, new RecordingDevice());
        Assert.Equal(0xffff_ffAFu, bus.Read(0xffff, 4));
        Assert.Empty(low.Log);
    }

    [Fact]
    public void InvalidSizesReadAllOnesAndWritesAreIgnored()
    {
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0x70, 2, dev);
        foreach (int size in new[] { 0, 3, 8, -1, int.MaxValue })
        {
            Assert.Equal(uint.MaxValue, bus.Read(0x70, size));
            bus.Write(0x70, size, 1);
        }
        Assert.Empty(dev.Log);
    }

    [Fact]
    public void PortWindowPutsTheUartAtCom1()
    {
        // 8250 scratch register (offset 7) at 0x3ff; LSR (offset 5) at 0x3fd reads THRE|TEMT after reset.
        var uart = new Uart16550(new TestCharBackend(), new IrqLine(new TestInterruptSink(), 4));
        var bus = new PortIoBus();
        bus.Map(0x3f8, 8, new PortWindow(uart, 0x3f8));
        bus.Write(0x3ff, 1, 0xa5);
        Assert.Equal(0xa5u, bus.Read(0x3ff, 1));
        Assert.Equal(0x60u, bus.Read(0x3fd, 1));
    }
}
