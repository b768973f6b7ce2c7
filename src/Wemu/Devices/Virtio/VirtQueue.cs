using System.Buffers.Binary;
using Wemu.Memory;

namespace Wemu.Devices.Virtio;

/// <summary>
/// A split virtqueue (virtio spec 1.2 section 2.7): descriptor table, driver (available) ring, device (used) ring.
/// Every guest-supplied address, length and index is checked before use: ring addresses against RAM when the
/// queue is enabled and at every access, descriptors and indirect tables against RAM through
/// <see cref="PhysicalBus.TryGetDmaSpan"/>, next indices against the table size, and chains are capped at the
/// queue size, which also ends descriptor loops. Anything malformed puts the device in DEVICE_NEEDS_RESET.
/// </summary>
public sealed class VirtQueue
{
    // Descriptor flags (spec 2.7.5).
    private const ushort DescFlagNext = 1, DescFlagWrite = 2, DescFlagIndirect = 4;

    // Driver area flags (spec 2.7.6).
    private const ushort AvailFlagNoInterrupt = 1;

    private const int DescriptorSize = 16;

    private readonly PhysicalBus _bus;
    private readonly IVirtioTransport _transport;
    private readonly DescriptorChain _chain;
    private ushort _lastAvailIndex;
    private ushort _usedIndex;
    private bool _usedSinceNotify;

    internal VirtQueue(PhysicalBus bus, IVirtioTransport transport, int index, ushort maxSize)
    {
        _bus = bus;
        _transport = transport;
        Index = index;
        MaxSize = maxSize;
        _chain = new DescriptorChain(bus, Math.Max((int)maxSize, 1));
    }

    public int Index { get; }

    /// <summary>QueueNumMax.</summary>
    public ushort MaxSize { get; }

    /// <summary>QueueNum as the driver wrote it (validated when the queue is made ready).</summary>
    public uint Size { get; internal set; }

    public bool IsReady { get; private set; }

    public ulong DescriptorTableAddress { get; internal set; }

    public ulong DriverAreaAddress { get; internal set; }

    public ulong DeviceAreaAddress { get; internal set; }

    /// <summary>Index of the next available ring entry the device will take.</summary>
    public ushort LastAvailIndex => _lastAvailIndex;

    /// <summary>Index the device wrote last to the used ring's idx field.</summary>
    public ushort UsedIndex => _usedIndex;

    /// <summary>
    /// Takes the next available descriptor chain. False when the ring is empty, the queue is not ready, or the
    /// driver supplied something malformed (then the transport is already in DEVICE_NEEDS_RESET).
    /// </summary>
    public bool TryPop(out DescriptorChain chain)
    {
        chain = _chain;
        if (!IsReady || _transport.NeedsReset)
            return false;
        if (!TryReadU16(DriverAreaAddress + 2, out ushort availIndex))
            return Fail();
        ushort waiting = (ushort)(availIndex - _lastAvailIndex);
        if (waiting == 0)
            return false;
        // Spec 2.7.13.3: the driver can never be more than a queue size ahead of the device.
        if (waiting > Size)
            return Fail();
        if (!TryReadU16(DriverAreaAddress + 4 + 2 * (ulong)(_lastAvailIndex % Size), out ushort head))
            return Fail();
        _lastAvailIndex++;
        if (head >= Size)
            return Fail();
        return WalkChain(head) || Fail();
    }

    /// <summary>
    /// Chains the driver made available that the device has not taken yet (0 when the queue is not ready or the
    /// driver's index is malformed: then the transport is in DEVICE_NEEDS_RESET).
    /// </summary>
    public int AvailableCount
    {
        get
        {
            if (!IsReady || _transport.NeedsReset)
                return 0;
            // Spec 2.7.13.3, as in TryPop: the driver is never more than a queue size ahead.
            if (!TryReadU16(DriverAreaAddress + 2, out ushort availIndex) || (ushort)(availIndex - _lastAvailIndex) > Size)
            {
                Fail();
                return 0;
            }
            return (ushort)(availIndex - _lastAvailIndex);
        }
    }

    /// <summary>
    /// Gives back the last <paramref name="count"/> chains taken and not yet pushed (QEMU's virtqueue_unpop): the next
    /// <see cref="TryPop"/> takes them again. For a device that found it cannot use them now (a frame that needs more
    /// receive buffers than are posted).
    /// </summary>
    public void Unpop(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, (int)Size);
        _lastAvailIndex -= (ushort)count;
    }

    /// <summary>
    /// Returns a chain to the driver through the used ring (spec 2.7.8) with the number of bytes written into its
    /// writable part. Call <see cref="NotifyDriver"/> after a batch.
    /// </summary>
    public void Push(DescriptorChain chain, uint writtenLength) => Push(chain.Head, (uint)Math.Min(writtenLength, chain.WritableLength));

    /// <summary>Puts a used ring entry for head descriptor <paramref name="head"/>.</summary>
    public void Push(ushort head, uint writtenLength)
    {
        if (!IsReady || _transport.NeedsReset)
            return;
        ulong element = DeviceAreaAddress + 4 + 8 * (ulong)(_usedIndex % Size);
        if (!_bus.TryGetDmaSpan(element, 8, out var span))
        {
            Fail();
            return;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span, head);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], writtenLength);
        _usedIndex++;
        // The element is written before idx (spec 2.7.8.2: "the device MUST ... update idx" after the entry).
        if (!_bus.TryGetDmaSpan(DeviceAreaAddress + 2, 2, out span))
        {
            Fail();
            return;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(span, _usedIndex);
        _usedSinceNotify = true;
    }

    /// <summary>
    /// Sends a used buffer notification if entries were pushed since the last one, unless the driver set
    /// VIRTQ_AVAIL_F_NO_INTERRUPT (spec 2.7.7.1; VIRTIO_F_EVENT_IDX is not offered).
    /// </summary>
    public void NotifyDriver()
    {
        if (!_usedSinceNotify || !IsReady)
            return;
        _usedSinceNotify = false;
        if (TryReadU16(DriverAreaAddress, out ushort flags) && (flags & AvailFlagNoInterrupt) != 0)
            return;
        _transport.RaiseUsedBufferNotification();
    }

    /// <summary>
    /// QueueReady written with 1: checks the size (1..QueueNumMax, a power of two for split queues, spec 2.7) and
    /// that the three areas are aligned (spec 2.7, table "Virtqueue Part Alignment") and lie in RAM.
    /// </summary>
    internal bool TryEnable()
    {
        uint size = Size;
        if (size == 0 || size > MaxSize || (size & (size - 1)) != 0)
            return false;
        if ((DescriptorTableAddress & 15) != 0 || (DriverAreaAddress & 1) != 0 || (DeviceAreaAddress & 3) != 0)
            return false;
        if (!_bus.TryGetDmaSpan(DescriptorTableAddress, DescriptorSize * size, out _)
            || !_bus.TryGetDmaSpan(DriverAreaAddress, 6 + 2 * size, out _)
            || !_bus.TryGetDmaSpan(DeviceAreaAddress, 6 + 8 * size, out _))
            return false;
        _lastAvailIndex = 0;
        _usedIndex = 0;
        _usedSinceNotify = false;
        IsReady = true;
        return true;
    }

    internal void Disable() => IsReady = false;

    internal void Reset()
    {
        IsReady = false;
        Size = 0;
        DescriptorTableAddress = 0;
        DriverAreaAddress = 0;
        DeviceAreaAddress = 0;
        _lastAvailIndex = 0;
        _usedIndex = 0;
        _usedSinceNotify = false;
    }

    /// <summary>The driver's queue setup and the device's positions in it (for a snapshot; the chain being walked is not kept).</summary>
    internal void SaveState(Snapshot.StateWriter w)
    {
        w.U32(Size);
        w.Bool(IsReady);
        w.U64(DescriptorTableAddress);
        w.U64(DriverAreaAddress);
        w.U64(DeviceAreaAddress);
        w.U16(_lastAvailIndex);
        w.U16(_usedIndex);
        w.Bool(_usedSinceNotify);
    }

    /// <summary>Restores <see cref="SaveState"/>'s fields; a ready queue is checked as when the driver enabled it.</summary>
    internal void LoadState(Snapshot.StateReader r)
    {
        Reset();
        Size = r.U32();
        bool ready = r.Bool();
        DescriptorTableAddress = r.U64();
        DriverAreaAddress = r.U64();
        DeviceAreaAddress = r.U64();
        ushort lastAvail = r.U16(), used = r.U16();
        bool usedSinceNotify = r.Bool();
        if (ready && !TryEnable())
            throw new Snapshot.SnapshotException($"snapshot: {r.Where}: queue {Index} is not a queue this machine could have enabled");
        _lastAvailIndex = lastAvail;
        _usedIndex = used;
        _usedSinceNotify = usedSinceNotify;
    }

    /// <summary>Walks the chain at <paramref name="head"/> into the reusable chain object (spec 2.7.5, 2.7.5.3).</summary>
    private bool WalkChain(ushort head)
    {
        var chain = _chain;
        chain.Start(head);
        ulong table = DescriptorTableAddress;
        uint tableSize = Size;
        bool indirect = false;
        uint index = head;
        // Every buffer descriptor counts: a chain longer than the queue size is malformed (spec 2.7.5.3.1:
        // "The driver MUST NOT create a descriptor chain longer than the Queue Size"), which also ends loops.
        // The one indirect descriptor a chain may hold is not counted; a second one is refused.
        int visited = 0;
        int limit = (int)Size;
        while (true)
        {
            if (!_bus.TryGetDmaSpan(table + DescriptorSize * (ulong)index, DescriptorSize, out var d))
                return false;
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(d);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(d[8..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(d[12..]);
            ushort next = BinaryPrimitives.ReadUInt16LittleEndian(d[14..]);
            if ((flags & DescFlagIndirect) != 0)
            {
                // Spec 2.7.5.3.1: no INDIRECT inside an indirect table, never INDIRECT with NEXT; the table is a
                // whole number of descriptors, in RAM, and not longer than the queue size.
                if (indirect || (flags & DescFlagNext) != 0 || length == 0 || length % DescriptorSize != 0)
                    return false;
                if (length / DescriptorSize > (uint)limit || !_bus.TryGetDmaSpan(address, length, out _))
                    return false;
                table = address;
                tableSize = length / DescriptorSize;
                indirect = true;
                index = 0;
                continue;
            }
            if (++visited > limit || !_bus.TryGetDmaSpan(address, length, out _))
                return false;
            if (!chain.TryAdd(address, length, (flags & DescFlagWrite) != 0))
                return false;
            if ((flags & DescFlagNext) == 0)
                return true;
            if (next >= tableSize)
                return false;
            index = next;
        }
    }

    private bool TryReadU16(ulong address, out ushort value)
    {
        if (_bus.TryGetDmaSpan(address, 2, out var span))
        {
            value = BinaryPrimitives.ReadUInt16LittleEndian(span);
            return true;
        }
        value = 0;
        return false;
    }

    private bool Fail()
    {
        _transport.SetNeedsReset();
        return false;
    }
}
