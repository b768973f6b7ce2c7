using System.Buffers.Binary;
using Wemu.Devices.Virtio;
using Wemu.Net;
using Wemu.Tests.Net;
using Xunit;

namespace Wemu.Tests.Devices;

/// <summary>virtio-net (spec 5.1) on the test driver: features, configuration space, a frame out and its answer in.</summary>
public class VirtioNetDeviceTests
{
    private const ulong RxBuffer = VirtioTestDriver.DataBase, TxBuffer = VirtioTestDriver.DataBase + 0x8000;
    private const ulong TxDesc = VirtioTestDriver.RamBase + 0x4000, TxAvail = VirtioTestDriver.RamBase + 0x5000, TxUsed = VirtioTestDriver.RamBase + 0x6000;

    private readonly VirtioTestDriver _d;
    private readonly VirtioNetDevice _net;
    private ushort _txAvail;

    public VirtioNetDeviceTests()
    {
        _net = new VirtioNetDevice(new UserNetwork(new UserNetworkOptions(), new FakeNetworkHost()), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        _d = new VirtioTestDriver(_net);
        _d.Initialize();   // queue 0: receiveq1
        SetUpTransmitQueue();
    }

    private void SetUpTransmitQueue()
    {
        _d.W(VirtioTestDriver.QueueSel, 1);   // queue 1: transmitq1
        _d.W(VirtioTestDriver.QueueNum, 16);
        _d.SetAddress(VirtioTestDriver.QueueDescLow, TxDesc);
        _d.SetAddress(VirtioTestDriver.QueueDriverLow, TxAvail);
        _d.SetAddress(VirtioTestDriver.QueueDeviceLow, TxUsed);
        _d.W(VirtioTestDriver.QueueReady, 1);
    }

    private void Transmit(ReadOnlySpan<byte> frame, int headerLength = VirtioNetDevice.HeaderSize, ReadOnlySpan<byte> header = default)
    {
        // Linux's layout: the header and the frame in one readable descriptor.
        _d.Memory(TxBuffer, headerLength).Clear();
        header.CopyTo(_d.Memory(TxBuffer, header.Length));
        frame.CopyTo(_d.Memory(TxBuffer + (ulong)headerLength, frame.Length));
        _d.WriteTableDescriptor(TxDesc, 0, TxBuffer, (uint)(headerLength + frame.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(_d.Memory(TxAvail + 4 + 2 * (ulong)(_txAvail % 16), 2), 0);
        _txAvail++;
        BinaryPrimitives.WriteUInt16LittleEndian(_d.Memory(TxAvail + 2, 2), _txAvail);
        _d.Notify(1);
    }

    private ushort TxUsedIndex => BinaryPrimitives.ReadUInt16LittleEndian(_d.Memory(TxUsed + 2, 2));

    [Fact]
    public void Offers_Mac_And_Status_And_Shows_Them_In_Its_Configuration()
    {
        Assert.Equal(1u, _d.R(0x008));
        ulong features = _d.ReadDeviceFeatures();
        Assert.NotEqual(0UL, features & VirtioNetDevice.FeatureMac);
        Assert.NotEqual(0UL, features & VirtioNetDevice.FeatureStatus);
        Assert.NotEqual(0UL, features & VirtioNetDevice.FeatureMergeRxBuffers);
        Assert.Equal(0UL, features & (0xFUL << 7));  // no segmentation offload (GUEST_TSO4/6, GUEST_ECN, GUEST_UFO)
        Assert.NotEqual(0UL, features & VirtioNetDevice.FeatureCsum);
        Assert.NotEqual(0UL, features & VirtioNetDevice.FeatureGuestCsum);
        var config = Enumerable.Range(0, 8).Select(i => (byte)_d.Transport.Read(VirtioTestDriver.Config + (ulong)i, 1)).ToArray();
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0 }, config);
    }

    [Fact]
    public void An_Arp_Request_Out_Brings_The_Reply_Into_A_Receive_Buffer()
    {
        _d.WriteDescriptor(0, RxBuffer, 1526, VirtioTestDriver.WriteFlag);
        _d.Submit(0);   // a receive buffer, before anything arrives: nothing used yet
        Assert.Equal(0, _d.UsedIndex);
        Transmit(GuestSide.ArpRequest(GuestSide.Gateway));
        Assert.Equal(1, TxUsedIndex);
        Assert.Equal(1, _d.UsedIndex);
        var (id, length) = _d.UsedElement(0);
        Assert.Equal(0u, id);
        Assert.Equal((uint)(VirtioNetDevice.HeaderSize + 42), length);
        var header = _d.Memory(RxBuffer, VirtioNetDevice.HeaderSize).ToArray();
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, header);   // DATA_VALID (GUEST_CSUM), num_buffers = 1
        var frame = _d.Memory(RxBuffer + VirtioNetDevice.HeaderSize, 42);
        Assert.Equal(0x0806, BinaryPrimitives.ReadUInt16BigEndian(frame[12..]));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(frame[20..]));
        Assert.True(_d.Irq);
    }

    [Fact]
    public void Without_Merged_Buffers_A_Frame_Waits_For_A_Receive_Buffer_And_One_Too_Small_Is_Skipped()
    {
        _d.Initialize(features: _d.ReadDeviceFeatures() & ~VirtioNetDevice.FeatureMergeRxBuffers);
        SetUpTransmitQueue();
        Transmit(GuestSide.ArpRequest(GuestSide.Gateway));
        Assert.Equal(1, _net.Network.QueuedFrames);   // no buffer posted yet: kept
        _d.WriteDescriptor(0, RxBuffer, 20, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.Equal(1, _net.DroppedReceives);
        Assert.Equal((0u, 0u), _d.UsedElement(0));
        Assert.False(_d.NeedsReset);
    }

    [Fact]
    public void Transmit_Chains_Too_Short_Or_Too_Long_Are_Dropped_Not_Fatal()
    {
        Transmit([], headerLength: 6);
        Transmit(new byte[3000]);
        Assert.Equal(2, TxUsedIndex);
        Assert.Equal(2, _net.DroppedTransmits);
        Assert.False(_d.NeedsReset);
    }

    /// <summary>A UDP datagram with NEEDS_CSUM (the pseudo-header sum in its checksum field, as Linux leaves it).</summary>
    private static (byte[] Frame, byte[] Header) PartialChecksumFrame(ushort csumStart, ushort csumOffset)
    {
        var frame = GuestSide.Udp(GuestSide.Guest, 5555, GuestSide.Gateway, 7000, "offloaded"u8);
        var udp = frame.AsSpan(34);
        // Replace the full checksum with the folded pseudo-header sum, not complemented.
        uint sum = (GuestSide.Guest >> 16) + (GuestSide.Guest & 0xFFFF) + (GuestSide.Gateway >> 16) + (GuestSide.Gateway & 0xFFFF) + 17 + (uint)udp.Length;
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], (ushort)sum);
        var header = new byte[VirtioNetDevice.HeaderSize];
        header[0] = 1;   // VIRTIO_NET_HDR_F_NEEDS_CSUM
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), csumOffset);
        return (frame, header);
    }

    [Fact]
    public void Partial_Checksums_Are_Completed_And_Bad_Offsets_Dropped()
    {
        var host = new FakeNetworkHost();
        var net = new VirtioNetDevice(new UserNetwork(new UserNetworkOptions(), host), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        var d = new VirtioTestDriver(net);
        d.Initialize();
        d.W(VirtioTestDriver.QueueSel, 1);
        d.W(VirtioTestDriver.QueueNum, 16);
        d.SetAddress(VirtioTestDriver.QueueDescLow, TxDesc);
        d.SetAddress(VirtioTestDriver.QueueDriverLow, TxAvail);
        d.SetAddress(VirtioTestDriver.QueueDeviceLow, TxUsed);
        d.W(VirtioTestDriver.QueueReady, 1);
        ushort avail = 0;
        void Send(byte[] frame, byte[] header)
        {
            header.CopyTo(d.Memory(TxBuffer, header.Length));
            frame.CopyTo(d.Memory(TxBuffer + VirtioNetDevice.HeaderSize, frame.Length));
            d.WriteTableDescriptor(TxDesc, avail % 16, TxBuffer, (uint)(VirtioNetDevice.HeaderSize + frame.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(d.Memory(TxAvail + 4 + 2 * (ulong)(avail % 16), 2), (ushort)(avail % 16));
            avail++;
            BinaryPrimitives.WriteUInt16LittleEndian(d.Memory(TxAvail + 2, 2), avail);
            d.Notify(1);
        }
        var (good, goodHeader) = PartialChecksumFrame(34, 6);
        Send(good, goodHeader);
        // The stack verifies the UDP checksum: the datagram reaching the host shows the device completed it.
        Assert.Equal("offloaded"u8.ToArray(), Assert.Single(Assert.Single(host.UdpSockets).SentTo).Data);
        var (bad, badHeader) = PartialChecksumFrame(34, 200);   // the checksum field would lie past the frame
        Send(bad, badHeader);
        var (bad2, badHeader2) = PartialChecksumFrame(60000, 0);
        Send(bad2, badHeader2);
        Assert.Equal(2, net.DroppedTransmits);
        Assert.Single(host.UdpSockets[0].SentTo);
        Assert.False(d.NeedsReset);
    }

    /// <summary>A link whose frames toward the guest the test puts in.</summary>
    private sealed class FrameLink : IEthernetLink
    {
        public Queue<byte[]> ToGuest { get; } = new();

        public void ReceiveFrame(ReadOnlySpan<byte> frame)
        {
        }

        public int QueuedFrames => ToGuest.Count;

        public ReadOnlySpan<byte> PeekFrame() => ToGuest.Peek();

        public void DequeueFrame() => ToGuest.Dequeue();

        public void Poll()
        {
        }

        public void Dispose()
        {
        }
    }

    private static byte[] TestFrame(int length)
    {
        var frame = new byte[length];
        for (int i = 0; i < length; i++)
            frame[i] = (byte)(i * 7 + length);
        return frame;
    }

    /// <summary>A device on a <see cref="FrameLink"/> with MRG_RXBUF negotiated, its receive queue of <paramref name="size"/>.</summary>
    private static (VirtioTestDriver Driver, FrameLink Link, VirtioNetDevice Net) Merging(ushort size = 16)
    {
        var link = new FrameLink();
        var net = new VirtioNetDevice(link, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        var d = new VirtioTestDriver(net);
        d.Initialize(size);
        Assert.NotEqual(0UL, d.Transport.NegotiatedFeatures & VirtioNetDevice.FeatureMergeRxBuffers);
        return (d, link, net);
    }

    /// <summary>Posts receive buffers of the given sizes (descriptor i at RxBuffer + i * 0x800), then notifies.</summary>
    private static void PostBuffers(VirtioTestDriver d, int first, params uint[] sizes)
    {
        for (int i = 0; i < sizes.Length; i++)
        {
            d.WriteDescriptor(first + i, RxBuffer + 0x800 * (ulong)(first + i), sizes[i], VirtioTestDriver.WriteFlag);
            d.MakeAvailable((ushort)(first + i));
        }
        d.Notify();
    }

    /// <summary>The header's num_buffers and the frame read back from used entries <paramref name="from"/>..</summary>
    private static (ushort NumBuffers, byte[] Frame) ReadMerged(VirtioTestDriver d, int from)
    {
        var (head, length) = d.UsedElement(from);
        ulong address = RxBuffer + 0x800 * (ulong)head;
        ushort numBuffers = BinaryPrimitives.ReadUInt16LittleEndian(d.Memory(address + 10, 2));
        var bytes = new List<byte>(d.Memory(address + VirtioNetDevice.HeaderSize, (int)length - VirtioNetDevice.HeaderSize).ToArray());
        for (int i = 1; i < numBuffers; i++)
        {
            (head, length) = d.UsedElement(from + i);
            bytes.AddRange(d.Memory(RxBuffer + 0x800 * (ulong)head, (int)length).ToArray());
        }
        return (numBuffers, bytes.ToArray());
    }

    private static void AssertMerged(VirtioTestDriver d, int from, int numBuffers, byte[] frame)
    {
        var (n, got) = ReadMerged(d, from);
        Assert.Equal(numBuffers, n);
        Assert.Equal(frame, got);
    }

    [Fact]
    public void Merged_Buffers_Carry_A_Frame_Across_Several_With_Num_Buffers_In_The_First()
    {
        var (d, link, net) = Merging();
        var frame = TestFrame(1000);
        link.ToGuest.Enqueue(frame);
        PostBuffers(d, 0, 400, 400, 400, 400);
        Assert.Equal(3, d.UsedIndex);   // 12 + 1000 bytes: 400 + 400 + 212
        Assert.Equal((0u, 400u), d.UsedElement(0));
        Assert.Equal((1u, 400u), d.UsedElement(1));
        Assert.Equal((2u, 212u), d.UsedElement(2));
        AssertMerged(d, 0, 3, frame);
        Assert.Equal(0, net.DroppedReceives);
        Assert.True(d.Irq);
        // The next frame fits the one buffer left: num_buffers 1.
        var small = TestFrame(100);
        link.ToGuest.Enqueue(small);
        d.Notify();
        Assert.Equal(4, d.UsedIndex);
        Assert.Equal((3u, 112u), d.UsedElement(3));
        AssertMerged(d, 3, 1, small);
        Assert.False(d.NeedsReset);
    }

    [Fact]
    public void Merged_Buffers_A_Frame_Waits_Until_Enough_Are_Posted_Then_Goes_In_Whole()
    {
        var (d, link, _) = Merging();
        var frame = TestFrame(1514);
        link.ToGuest.Enqueue(frame);
        PostBuffers(d, 0, 600, 600);   // 1200 bytes: not enough for 12 + 1514
        Assert.Equal(0, d.UsedIndex);
        Assert.Single(link.ToGuest);
        PostBuffers(d, 2, 600);
        Assert.Equal(3, d.UsedIndex);
        AssertMerged(d, 0, 3, frame);
        Assert.Empty(link.ToGuest);
    }

    [Fact]
    public void Merged_Buffers_A_Frame_No_Full_Queue_Could_Hold_Is_Dropped_And_The_Buffers_Stay()
    {
        var (d, link, net) = Merging(size: 4);
        link.ToGuest.Enqueue(TestFrame(1514));
        link.ToGuest.Enqueue(TestFrame(60));
        PostBuffers(d, 0, 100, 100, 100, 100);   // the whole queue: 400 bytes
        Assert.Equal(1, net.DroppedReceives);
        Assert.Equal(1, d.UsedIndex);   // the second frame went into the first buffer
        AssertMerged(d, 0, 1, TestFrame(60));
        Assert.False(d.NeedsReset);
    }

    [Fact]
    public void Merged_Buffers_A_First_Buffer_Shorter_Than_The_Header_Is_Used_Empty()
    {
        var (d, link, net) = Merging();
        link.ToGuest.Enqueue(TestFrame(60));
        link.ToGuest.Enqueue(TestFrame(61));
        PostBuffers(d, 0, 8, 1526);
        Assert.Equal(1, net.DroppedReceives);
        Assert.Equal(2, d.UsedIndex);
        Assert.Equal((0u, 0u), d.UsedElement(0));
        Assert.Equal((1u, 73u), d.UsedElement(1));
        AssertMerged(d, 1, 1, TestFrame(61));
    }

    [Fact]
    public void Merged_Buffers_Chains_Of_Several_Descriptors_And_A_Header_Split_Across_Them()
    {
        // One chain of 5 + 300 bytes (the header straddles its descriptors), then a chain of 2000.
        var (d, link, _) = Merging();
        var frame = TestFrame(1200);
        link.ToGuest.Enqueue(frame);
        d.WriteDescriptor(0, RxBuffer, 5, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 1);
        d.WriteDescriptor(1, RxBuffer + 0x100, 300, VirtioTestDriver.WriteFlag);
        d.WriteDescriptor(2, RxBuffer + 0x800, 2000, VirtioTestDriver.WriteFlag);
        d.MakeAvailable(0);
        d.MakeAvailable(2);
        d.Notify();
        Assert.Equal(2, d.UsedIndex);
        Assert.Equal((0u, 305u), d.UsedElement(0));
        Assert.Equal((2u, 12u + 1200 - 305), d.UsedElement(1));
        var header = d.Memory(RxBuffer, 5).ToArray().Concat(d.Memory(RxBuffer + 0x100, 7).ToArray()).ToArray();
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(10)));
        var got = d.Memory(RxBuffer + 0x100 + 7, 293).ToArray().Concat(d.Memory(RxBuffer + 0x800, 1200 - 293).ToArray());
        Assert.Equal(frame, got.ToArray());
    }
}
