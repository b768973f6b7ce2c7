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
    public void AlignedWideAccessGoesWholeToTheDeviceHoldingItsFirstPort()
    {
        // QEMU flatview_read_continue: MMIO/IO sections are not clipped, so a dword at 0x20 reaches the 2-port
        // PIC region with offsets 0..3 (QEMU then splits it into byte reads inside the region).
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0x20, 2, dev);
        bus.Read(0x20, 4);
        bus.Write(0x20, 2, 0x1234);
        Assert.Equal([((ushort)0x20, 4, 0u, false), ((ushort)0x20, 2, 0x1234u, true)], dev.Log);
    }

    [Fact]
    public void MisalignedAccessIsSplitByTheAlignmentOfTheOffsetInTheMapping()
    {
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0x20, 2, dev);
        // word at 0x21: offset 1 allows one byte, then 0x22 is unassigned and reads 0xff (QEMU: inw 0x21 = 0xff00).
        Assert.Equal(0xffA1u, bus.Read(0x21, 2));
        Assert.Equal([((ushort)0x21, 1, 0u, false)], dev.Log);
    }

    [Fact]
    public void UnassignedPieceIsSizedByThePortAlignmentAndNotCutAtTheNextMapping()
    {
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0x21, 1, dev);
        // dword at 0x20: the unassigned piece at 0x20 covers all four bytes, as QEMU's io root region does.
        Assert.Equal(0xffff_ffffu, bus.Read(0x20, 4));
        Assert.Empty(dev.Log);
        // dword at 0x1f: unassigned pieces of 1 (0x1f), 2 (0x20, three bytes left) and 1 (0x22) byte.
        Assert.Equal(0xffff_ffffu, bus.Read(0x1f, 4));
        // word at 0x21 starts in the mapping: the device gets it whole.
        bus.Read(0x21, 2);
        Assert.Equal([((ushort)0x21, 2, 0u, false)], dev.Log);
    }

    [Fact]
    public void WideDeviceGetsWholeAlignedAccessesAndSplitsMisalignedOnes()
    {
        var bus = new PortIoBus();
        var dev = new RecordingDevice();
        bus.Map(0xcf8, 8, dev);
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
    public void PortWindowSplitsWideAccessesIntoByteRegisters()
    {
        var uart = new Uart16550(new TestCharBackend(), new IrqLine(new TestInterruptSink(), 4));
        var bus = new PortIoBus();
        bus.Map(0x3f8, 8, new PortWindow(uart, 0x3f8));
        bus.Write(0x3fb, 1, 0x03); // LCR 8N1
        bus.Write(0x3fc, 4, 0x5a00_0000); // MCR 0, LSR (read-only), MSR, SCR = 0x5a
        Assert.Equal(0x5au, bus.Read(0x3ff, 1));
        Assert.Equal(0x0003u, bus.Read(0x3fb, 1) | (bus.Read(0x3fc, 1) << 8));
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
