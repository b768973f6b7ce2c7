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
        Assert.Equal(0UL, features & (1UL << 15));   // no mergeable receive buffers
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
    public void A_Frame_Waits_For_A_Receive_Buffer_And_One_Too_Small_Is_Skipped()
    {
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
}
