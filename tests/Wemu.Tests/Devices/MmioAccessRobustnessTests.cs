using Wemu.Devices;
using Wemu.Devices.Virtio;
using Wemu.Memory;
using Xunit;

namespace Wemu.Tests.Devices;

/// <summary>
/// IMmioDevice contract: a guest may read or write any offset with any size and value; devices must never throw.
/// Every offset of each window (sampled at the register areas of the PLIC's 2 MiB+ window) with sizes 1, 2, 4, 8,
/// reads first, then writes of all-ones, zero and a pattern, then reads again.
/// </summary>
public class MmioAccessRobustnessTests
{
    private static readonly int[] s_sizes = [1, 2, 4, 8];
    private static readonly ulong[] s_values = [ulong.MaxValue, 0, 0x5555_3333_7777_AAAA];

    private static void Hammer(IMmioDevice device, ulong windowSize, IEnumerable<ulong> offsets)
    {
        var list = offsets.Where(o => o < windowSize).ToArray();
        foreach (ulong offset in list)
            foreach (int size in s_sizes)
                if (offset + (ulong)size <= windowSize)
                    device.Read(offset, size);
        foreach (ulong value in s_values)
            foreach (ulong offset in list)
                foreach (int size in s_sizes)
                    if (offset + (ulong)size <= windowSize)
                        device.Write(offset, size, value);
        foreach (ulong offset in list)
            foreach (int size in s_sizes)
                if (offset + (ulong)size <= windowSize)
                    device.Read(offset, size);
    }

    private static IEnumerable<ulong> Every(ulong size)
    {
        for (ulong o = 0; o < size; o++)
            yield return o;
    }

    private static IEnumerable<ulong> Range(ulong start, ulong length) => Every(length).Select(o => start + o);

    [Fact]
    public void Uart16550NeverThrows()
    {
        var line = new TestCharBackend();
        line.Type("hello world, more than sixteen bytes");
        var uart = new Uart16550(line, new IrqLine(new TestInterruptSink(), 10));
        uart.Poll();
        Hammer(uart, Uart16550.WindowSize, Every(Uart16550.WindowSize));
        uart.Poll();
    }

    [Fact]
    public void PlicNeverThrows()
    {
        var plic = new Plic([new TestHartPins(), new TestHartPins()]);
        for (int s = 1; s <= 95; s += 7)
            plic.SetIrq(s, true);
        ulong size = Plic.WindowSize(1024);
        var offsets = Range(0, 0x200).Concat(Range(0x170, 0x20)).Concat(Range(0xFF0, 0x20))
            .Concat(Range(0x1000, 0x100)).Concat(Range(0x1FF0, 0x400)).Concat(Range(0x1FFFF0, 0x10))
            .Concat(Range(0x200000, 0x10)).Concat(Range(0x200FF8, 0x20)).Concat(Range(0x203FF8, 0x20))
            .Concat(Range(size - 0x20, 0x20));
        Hammer(plic, size, offsets);
    }

    [Fact]
    public void AclintNeverThrows()
    {
        var time = new ManualClock();
        var clint = new Aclint(time.Clock, [new TestHartPins(), new TestHartPins()]);
        var offsets = Range(0, 0x40).Concat(Range(0x3FF0, 0x40)).Concat(Range(0xBFE0, 0x40)).Concat(Range(0xFFE0, 0x20));
        Hammer(clint, Aclint.WindowSize, offsets);
        time.Advance(1000);
        clint.Update();
        _ = clint.NextDeadline;
    }

    [Fact]
    public void GoldfishRtcNeverThrows()
    {
        var time = new ManualClock();
        var rtc = new GoldfishRtc(time.Clock, new IrqLine(new TestInterruptSink(), 11), DateTimeOffset.UnixEpoch);
        Hammer(rtc, 0x100, Every(0x100));
        rtc.Update();
        _ = rtc.NextDeadline;
    }

    [Fact]
    public void SifiveTestNeverThrows()
    {
        var test = new SifiveTest();
        int requests = 0;
        test.PowerRequested += (_, _) => requests++;
        Hammer(test, 0x100, Every(0x100));
    }

    [Fact]
    public void VirtioMmioTransportWithBlockDeviceNeverThrows()
    {
        var bus = new PhysicalBus();
        bus.AddRam(0x8000_0000, 0x10000);
        var device = new VirtioBlockDevice(new MemoryBlockBackend(4096), "x", 8);
        var transport = new VirtioMmioTransport(bus, new IrqLine(new TestInterruptSink(), 1), device);
        Hammer(transport, VirtioMmioTransport.WindowSize, Every(0x200).Concat(Range(0xFF0, 0x10)));
        // Bring a queue up on garbage RAM contents and notify: whatever is in the rings must not throw.
        transport.Write(0x70, 4, 0);
        bus.Load(0x8000_0000, Enumerable.Range(0, 0x10000).Select(i => (byte)(i * 37 + 11)).ToArray());
        foreach (var (reg, val) in new (ulong, uint)[]
            { (0x70, 1), (0x70, 3), (0x24, 1), (0x20, 1), (0x70, 11), (0x30, 0), (0x38, 8),
              (0x80, 0x8000_0000), (0x90, 0x8000_1000), (0xA0, 0x8000_2000), (0x44, 1), (0x70, 15) })
            transport.Write(reg, 4, val);
        for (int i = 0; i < 4; i++)
            transport.Write(0x50, 4, 0);
    }

    [Fact]
    public void EmptyVirtioSlotNeverThrows()
    {
        var bus = new PhysicalBus();
        var transport = new VirtioMmioTransport(bus, new IrqLine(new TestInterruptSink(), 1));
        Hammer(transport, VirtioMmioTransport.WindowSize, Every(0x200).Concat(Range(0xFF0, 0x10)));
        Assert.Equal(0UL, transport.Read(0x008, 4));
    }

    [Fact]
    public void UartTransmitDoesNotAllocate()
    {
        var uart = new Uart16550(new NullCharBackend(), new IrqLine(new TestInterruptSink(), 10));
        uart.Write(1, 1, 0x02);
        uart.Write(0, 1, (byte)'x');
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            uart.Write(0, 1, (byte)'x');
            uart.Read(5, 1);
            uart.Read(2, 1);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    private sealed class NullCharBackend : ICharBackend
    {
        public void Write(ReadOnlySpan<byte> data)
        {
        }

        public bool TryRead(out byte value)
        {
            value = 0;
            return false;
        }
    }
}
