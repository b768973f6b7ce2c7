using System.Buffers.Binary;
using Wemu.Net;

namespace Wemu.Devices.Virtio;

/// <summary>
/// virtio network device (virtio spec 1.2 section 5.1), device ID 1, on an <see cref="IEthernetLink"/> (the local
/// NAT, <see cref="UserNetwork"/>, or a link to a relay): queue 0 is
/// receiveq1, queue 1 transmitq1 (no control queue, no multiqueue). Offered: VIRTIO_NET_F_MAC,
/// VIRTIO_NET_F_STATUS (the link is always up), checksum offload both ways: VIRTIO_NET_F_CSUM (the device
/// finishes the TCP/UDP checksum of a frame the guest marks NEEDS_CSUM, so the guest does not sum every byte it
/// sends) and VIRTIO_NET_F_GUEST_CSUM (frames to the guest are marked DATA_VALID: the stack built them, so the
/// guest need not verify them), and VIRTIO_NET_F_MRG_RXBUF (a frame may span several receive buffers, the first
/// one's header saying how many; Linux then posts page fragments sized to the traffic instead of whole
/// 1518-byte buffers). No segmentation offload, so every frame is a whole Ethernet frame of at most 1514 bytes
/// each way. Every buffer starts with the 12-byte struct virtio_net_hdr (5.1.6: num_buffers is part of it in
/// virtio 1.x).
/// </summary>
public sealed class VirtioNetDevice : IVirtioDevice, IDisposable
{
    public const uint Id = 1;

    /// <summary>VIRTIO_NET_F_CSUM (bit 0): the device takes frames with a partial checksum.</summary>
    public const ulong FeatureCsum = 1UL << 0;

    /// <summary>VIRTIO_NET_F_GUEST_CSUM (bit 1): the driver takes frames marked DATA_VALID.</summary>
    public const ulong FeatureGuestCsum = 1UL << 1;

    /// <summary>VIRTIO_NET_F_MAC (bit 5): the configuration space holds the MAC address.</summary>
    public const ulong FeatureMac = 1UL << 5;

    /// <summary>VIRTIO_NET_F_MRG_RXBUF (bit 15): the driver merges receive buffers (num_buffers in the first one's header).</summary>
    public const ulong FeatureMergeRxBuffers = 1UL << 15;

    /// <summary>VIRTIO_NET_F_STATUS (bit 16): the configuration space holds the link status.</summary>
    public const ulong FeatureStatus = 1UL << 16;

    /// <summary>struct virtio_net_hdr with num_buffers (spec 5.1.6).</summary>
    public const int HeaderSize = 12;

    private const int ReceiveQueue = 0, TransmitQueue = 1;
    private const ushort LinkUp = 1;   // VIRTIO_NET_S_LINK_UP
    private const byte NeedsCsum = 1, DataValid = 2;   // VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_DATA_VALID

    private readonly IEthernetLink _network;
    private readonly byte[] _config = new byte[8];
    private readonly byte[] _frame = new byte[UserNetwork.MaxFrameSize + 4];
    private readonly byte[] _header = new byte[HeaderSize];   // the header of the frame being transmitted
    private IVirtioTransport? _transport;

    /// <param name="network">The backend frames go to and come from.</param>
    /// <param name="mac">The NIC's MAC address (QEMU's default 52:54:00:12:34:56).</param>
    /// <param name="queueSize">QueueNumMax of each queue (QEMU: 256).</param>
    public VirtioNetDevice(IEthernetLink network, ReadOnlySpan<byte> mac, ushort queueSize = 256)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (mac.Length != 6)
            throw new ArgumentException("a MAC address is 6 bytes", nameof(mac));
        if (queueSize == 0 || (queueSize & (queueSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(queueSize), "queue size must be a power of two");
        _network = network;
        MaxQueueSize = queueSize;
        // Spec 5.1.4: mac[6], then le16 status.
        mac.CopyTo(_config);
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(6), LinkUp);
    }

    public IEthernetLink Network => _network;

    /// <summary>Frames the guest sent that were not frames (too short or too long): dropped.</summary>
    public long DroppedTransmits { get; private set; }

    /// <summary>Frames for the guest that did not fit the receive buffer it posted: dropped.</summary>
    public long DroppedReceives { get; private set; }

    public uint DeviceId => Id;

    public ulong DeviceFeatures => FeatureCsum | FeatureGuestCsum | FeatureMac | FeatureMergeRxBuffers | FeatureStatus;

    public int QueueCount => 2;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => _config.Length;

    public void Attach(IVirtioTransport transport) => _transport = transport;

    public void ReadConfig(int offset, Span<byte> destination) => _config.AsSpan(offset, destination.Length).CopyTo(destination);

    public void WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
        // Spec 5.1.4.2: without VIRTIO_NET_F_CTRL_MAC_ADDR the driver does not write the MAC; nothing is writable.
    }

    /// <summary>A reset drops the frames waiting for the guest; connections stay (the guest's TCP will reset them).</summary>
    public void Reset()
    {
        while (_network.QueuedFrames > 0)
            _network.DequeueFrame();
    }

    public void OnQueueNotify(int queue)
    {
        if (_transport == null)
            return;
        if (queue == TransmitQueue)
            Transmit();
        // New receive buffers, or frames the transmitted ones produced (ARP, DHCP answers): deliver.
        Deliver();
    }

    /// <summary>Called from the board's tick: host sockets and timers, then whatever they produced for the guest.</summary>
    public void Poll()
    {
        _network.Poll();
        if (_transport != null && _network.QueuedFrames > 0)
            Deliver();
    }

    /// <summary>Spec 5.1.6.2: each transmit chain is a header and one frame in its driver-readable part.</summary>
    private void Transmit()
    {
        var vq = _transport!.GetQueue(TransmitQueue);
        while (vq.TryPop(out var chain))
        {
            ulong length = chain.ReadableLength;
            if (length < HeaderSize + 14 || length - HeaderSize > (ulong)_frame.Length)
                DroppedTransmits++;
            else
            {
                int n = (int)(length - HeaderSize);
                chain.Read(0, _header.AsSpan(0, HeaderSize));
                chain.Read(HeaderSize, _frame.AsSpan(0, n));
                if ((_header[0] & NeedsCsum) == 0 || CompleteChecksum(_frame.AsSpan(0, n)))
                    _network.ReceiveFrame(_frame.AsSpan(0, n));
                else
                    DroppedTransmits++;
            }
            vq.Push(chain, 0);
        }
        vq.NotifyDriver();
    }

    /// <summary>
    /// Spec 5.1.6.2: NEEDS_CSUM: the checksum from csum_start to the end of the frame goes at csum_start + csum_offset
    /// (the guest already put the pseudo-header's sum there). False if the offsets do not lie in the frame.
    /// </summary>
    private bool CompleteChecksum(Span<byte> frame)
    {
        if ((_transport!.NegotiatedFeatures & FeatureCsum) == 0)
            return false;   // spec 5.1.6.2.1: the driver must not set NEEDS_CSUM unless CSUM was negotiated
        int start = BinaryPrimitives.ReadUInt16LittleEndian(_header.AsSpan(6));
        int offset = BinaryPrimitives.ReadUInt16LittleEndian(_header.AsSpan(8));
        if (start >= frame.Length || offset > frame.Length - start - 2)
            return false;
        var field = frame.Slice(start + offset, 2);
        BinaryPrimitives.WriteUInt16BigEndian(field, InternetChecksum.Finish(InternetChecksum.Add(0, frame[start..])));
        return true;
    }

    /// <summary>Spec 5.1.6.3: each queued frame into the next receive buffer(s), while the guest has buffers posted.</summary>
    private void Deliver()
    {
        var vq = _transport!.GetQueue(ReceiveQueue);
        if (!vq.IsReady)
            return;
        bool merge = (_transport.NegotiatedFeatures & FeatureMergeRxBuffers) != 0;
        // Spec 5.1.6.4: with VIRTIO_NET_F_GUEST_CSUM the device may say the checksums were checked.
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        header[0] = (_transport.NegotiatedFeatures & FeatureGuestCsum) != 0 ? DataValid : (byte)0;
        while (_network.QueuedFrames > 0)
        {
            var frame = _network.PeekFrame();
            var outcome = merge ? DeliverMerged(vq, header, frame) : DeliverWhole(vq, header, frame);
            if (outcome == Outcome.Wait)
                break;
            if (outcome == Outcome.Dropped)
                DroppedReceives++;
            _network.DequeueFrame();
        }
        vq.NotifyDriver();
        // Queue space freed: connections that waited for it may send now.
        if (_network.QueuedFrames < UserNetwork.MaxQueuedFrames / 2)
            _network.Poll();
    }

    private enum Outcome { Delivered, Dropped, Wait }

    /// <summary>Without MRG_RXBUF: the frame goes into one buffer, or is dropped if the next buffer is too small.</summary>
    private static Outcome DeliverWhole(VirtQueue vq, Span<byte> header, ReadOnlySpan<byte> frame)
    {
        if (!vq.TryPop(out var chain))
            return Outcome.Wait;
        if (chain.WritableLength < (ulong)(HeaderSize + frame.Length))
        {
            vq.Push(chain, 0);
            return Outcome.Dropped;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 1);   // num_buffers (5.1.6.3.1)
        chain.Write(0, header);
        chain.Write(HeaderSize, frame);
        vq.Push(chain, (uint)(HeaderSize + frame.Length));
        return Outcome.Delivered;
    }

    /// <summary>
    /// With MRG_RXBUF (spec 5.1.6.3.2): the header and the frame fill as many buffers as they need, num_buffers in
    /// the first buffer's header saying how many. A frame that fits its first buffer (the usual case: Linux's
    /// mergeable buffers hold a whole frame) goes in at once. Otherwise the buffers it needs are counted first and
    /// given back, then taken again and filled, so num_buffers is written with the header before any buffer is
    /// used. A frame waits while the guest has posted too few buffers; one that a full queue of buffers could not
    /// hold is dropped (its buffers stay posted); a first buffer too small for the header is used empty and the frame
    /// dropped.
    /// </summary>
    private Outcome DeliverMerged(VirtQueue vq, Span<byte> header, ReadOnlySpan<byte> frame)
    {
        ulong total = (ulong)(HeaderSize + frame.Length);
        int available = vq.AvailableCount;
        if (available == 0 || !vq.TryPop(out var chain))
            return Outcome.Wait;
        if (chain.WritableLength < HeaderSize)
        {
            vq.Push(chain, 0);   // Linux counts a used buffer shorter than a header as a length error and frees it
            return Outcome.Dropped;
        }
        if (chain.WritableLength >= total)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 1);
            chain.Write(0, header);
            chain.Write(HeaderSize, frame);
            vq.Push(chain, (uint)total);
            return Outcome.Delivered;
        }
        // Count the buffers the frame needs.
        int needed = 1;
        ulong room = chain.WritableLength;
        while (room < total && needed < available && vq.TryPop(out chain))
        {
            room += chain.WritableLength;
            needed++;
        }
        vq.Unpop(needed);
        if (room < total)
            return needed == vq.Size ? Outcome.Dropped : Outcome.Wait;
        // Fill them: the header (with num_buffers) and the frame's first bytes, then the rest in order.
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], (ushort)needed);
        if (_mergedHeads.Length < needed)
        {
            _mergedHeads = new ushort[vq.Size];
            _mergedLengths = new uint[vq.Size];
        }
        int taken = 0, done = -HeaderSize;   // bytes of the frame written so far (negative: the header's part)
        while (taken < needed && vq.TryPop(out chain))
        {
            uint written = 0;
            if (taken == 0)
                written += (uint)chain.Write(0, header);
            if (done + (int)written >= 0 && done + (int)written < frame.Length)
            {
                int from = done + (int)written;
                written += (uint)chain.Write(written, frame[from..]);
            }
            done += (int)written;
            _mergedHeads[taken] = chain.Head;
            _mergedLengths[taken] = written;
            taken++;
        }
        for (int i = 0; i < taken; i++)
            vq.Push(_mergedHeads[i], _mergedLengths[i]);
        return Outcome.Delivered;
    }

    private ushort[] _mergedHeads = [];
    private uint[] _mergedLengths = [];

    public void Dispose() => _network.Dispose();
}
