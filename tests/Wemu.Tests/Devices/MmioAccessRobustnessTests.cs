using Wemu.Devices;
using Wemu.Devices.NineP;
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

    /// <summary>
    /// SECURITY-REVIEW case 17: a virtio transport hammered register by register, then queues brought up over
    /// garbage RAM (all zeros, all ones, random bytes, and "plausible" rings whose descriptors point into RAM with
    /// random lengths, flags and next indexes), with rings at the start, on top of each other and at or past the
    /// end of RAM, every queue size, notified repeatedly while the guest scribbles on them, reset halfway and
    /// brought up again. Nothing may throw. Returns how many rounds got a queue ready and how many of those had
    /// chains served (the used index moved), so the test knows the device itself was reached.
    /// </summary>
    private static (int Ready, int Served) HammerVirtio(IVirtioDevice device, Action afterRound)
    {
        const ulong Ram = 0x8000_0000, RamSize = 0x10000;
        var bus = new PhysicalBus();
        bus.AddRam(Ram, RamSize);
        var transport = new VirtioMmioTransport(bus, new IrqLine(new TestInterruptSink(), 1), device);
        Hammer(transport, VirtioMmioTransport.WindowSize, Every(0x200).Concat(Range(0xFF0, 0x10)));
        afterRound();
        var placements = new (ulong Desc, ulong Avail, ulong Used)[]
        {
            (Ram, Ram + 0x1000, Ram + 0x2000),
            (Ram + 0x8000, Ram + 0x8000, Ram + 0x8000),              // all three rings on top of each other
            (Ram + RamSize - 0x400, Ram + RamSize - 0x100, Ram + RamSize - 0x90), // ending at the end of RAM
            (Ram + RamSize - 0x10, Ram, Ram + 0x10),                 // a table that runs off the end
        };
        uint[] queueSizes = [1, 2, 8, device.MaxQueueSize, (uint)device.MaxQueueSize + 1, 0xFFFF];
        int ready = 0, served = 0;
        for (int seed = 0; seed < 24; seed++)
        {
            var random = new Random(seed);
            var ram = new byte[RamSize];
            if (seed == 1)
                Array.Fill(ram, (byte)0xFF);
            else if (seed > 1)
                random.NextBytes(ram);
            var (desc, avail, used) = placements[seed % placements.Length];
            uint size = queueSizes[seed % 5 == 4 ? 4 + seed % 2 : seed % 4];
            if (seed >= 4 && size <= device.MaxQueueSize)
            {
                // Plausible rings: descriptors inside RAM, avail entries mostly in range, the index ahead by up to 3 rings.
                for (int i = 0; i < size; i++)
                {
                    var d = ram.AsSpan((int)(desc - Ram) + 16 * i);
                    if (d.Length < 16)
                        break;
                    BitConverter.TryWriteBytes(d, Ram + (ulong)random.Next(0, (int)RamSize));
                    BitConverter.TryWriteBytes(d[8..], (uint)random.Next(0, 0x3000));
                    BitConverter.TryWriteBytes(d[12..], (ushort)random.Next(0, 8)); // NEXT, WRITE, INDIRECT
                    BitConverter.TryWriteBytes(d[14..], (ushort)random.Next(0, (int)size + 2));
                }
                var a = ram.AsSpan((int)(avail - Ram));
                BitConverter.TryWriteBytes(a, (ushort)0);
                BitConverter.TryWriteBytes(a[2..], (ushort)random.Next(1, 3 * (int)size + 1));
                for (int i = 0; i < size && 4 + 2 * i + 2 <= a.Length; i++)
                    BitConverter.TryWriteBytes(a[(4 + 2 * i)..], (ushort)random.Next(0, (int)size + 1));
                BitConverter.TryWriteBytes(ram.AsSpan((int)(used - Ram) + 2), (ushort)0);
            }
            bus.Load(Ram, ram);
            foreach (var (reg, val) in new (ulong, uint)[]
                { (0x70, 0), (0x70, 1), (0x70, 3), (0x24, 1), (0x20, 1), (0x70, 11), (0x30, 0), (0x38, size),
                  (0x80, (uint)desc), (0x84, (uint)(desc >> 32)), (0x90, (uint)avail), (0x94, (uint)(avail >> 32)),
                  (0xA0, (uint)used), (0xA4, (uint)(used >> 32)), (0x44, 1), (0x70, 15) })
                transport.Write(reg, 4, val);
            bool isReady = transport.Read(0x44, 4) == 1;
            if (isReady)
                ready++;
            for (int i = 0; i < 8; i++)
            {
                transport.Write(0x50, 4, 0);
                transport.Write(0x50, 4, (ulong)i); // queues that do not exist
                transport.Read(0x60, 4);
                transport.Write(0x64, 4, 0xFFFF_FFFF); // InterruptACK
                // The guest keeps scribbling on the rings while the device serves them.
                var scribble = new byte[64];
                random.NextBytes(scribble);
                bus.Load(Ram + (ulong)random.Next(0, (int)RamSize - 64), scribble);
            }
            if (isReady && bus.TryGetDmaSpan(used + 2, 2, out var usedIndex) && (usedIndex[0] | usedIndex[1]) != 0)
                served++;
            if (seed % 7 == 3)
                transport.Write(0x70, 4, 0); // reset in the middle, then the next round sets the queue up again
            afterRound();
        }
        return (ready, served);
    }

    [Fact]
    public void VirtioMmioTransportWithNinePDeviceNeverThrows()
    {
        var device = new VirtioNinePDevice(new MemoryFileSystem(capacity: 1 << 20), "host", maxMessageSize: 8192, queueSize: 16);
        var (ready, served) = HammerVirtio(device, () => Assert.True(device.Server.FidCount <= 16, $"{device.Server.FidCount} fids from garbage"));
        Assert.True(ready >= 8 && served >= 4, $"only {ready} rounds got a queue ready, {served} were served");
        device.Reset();
        Assert.Equal(0, device.Server.FidCount);
        Assert.Equal(0, device.Server.OpenFileCount);
    }

    [Fact]
    public void VirtioMmioTransportWithNetDeviceNeverThrows()
    {
        var network = new Wemu.Net.UserNetwork(new Wemu.Net.UserNetworkOptions(), new Net.FakeNetworkHost());
        var device = new VirtioNetDevice(network, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], queueSize: 16);
        // Each round the stack has ARP replies queued for the guest, so garbage receive rings are written to.
        var (ready, served) = HammerVirtio(device, () =>
        {
            for (int i = 0; i < 4; i++)
                network.ReceiveFrame(Net.GuestSide.ArpRequest(Net.GuestSide.Gateway));
            Assert.InRange(network.QueuedFrames, 0, Wemu.Net.UserNetwork.MaxQueuedFrames);
        });
        // Receive chains are only used when a frame is waiting, and most garbage chains are malformed: a few served
        // rounds show the device was reached.
        Assert.True(ready >= 8 && served >= 1, $"only {ready} rounds got a queue ready, {served} were served");
    }

    [Fact]
    public void VirtioMmioTransportWithRngDeviceNeverThrows()
    {
        long bytes = 0;
        var device = new VirtioRngDevice(span =>
        {
            bytes += span.Length;
            span.Fill(0x5A);
        }, queueSize: 16);
        var (ready, served) = HammerVirtio(device, () => { });
        Assert.True(ready >= 8 && served >= 4, $"only {ready} rounds got a queue ready, {served} were served");
        // Garbage chains may ask for entropy, but never more than 16 descriptors of at most all of RAM each per pop.
        Assert.True(bytes > 0, "no garbage chain ever reached the device");
        // At most a queue's worth of chains per notify, each at most 16 descriptors within 64 KiB of RAM.
        Assert.True(bytes <= 24L * 8 * 16 * 16 * 0x10000, $"{bytes} bytes of entropy");
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
