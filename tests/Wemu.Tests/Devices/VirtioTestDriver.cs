using System.Buffers.Binary;
using Wemu.Devices;
using Wemu.Devices.Virtio;
using Wemu.Memory;

namespace Wemu.Tests.Devices;

/// <summary>
/// A minimal virtio-mmio driver for tests, doing what Linux's virtio_mmio and virtio_ring do: the init sequence of
/// spec 3.1.1, one split queue in 1 MiB of guest RAM at 0x80000000, descriptors written by hand.
/// </summary>
internal sealed class VirtioTestDriver
{
    public const ulong RamBase = 0x8000_0000;
    public const ulong RamSize = 0x10_0000;
    public const ulong RamEnd = RamBase + RamSize;
    public const int IrqNumber = 1;

    // Register offsets (virtio spec 1.2, 4.2.2).
    public const ulong DeviceFeatures = 0x10, DeviceFeaturesSel = 0x14, DriverFeatures = 0x20, DriverFeaturesSel = 0x24,
        QueueSel = 0x30, QueueNumMax = 0x34, QueueNum = 0x38, QueueReady = 0x44, QueueNotify = 0x50,
        InterruptStatus = 0x60, InterruptAck = 0x64, Status = 0x70, QueueDescLow = 0x80, QueueDescHigh = 0x84,
        QueueDriverLow = 0x90, QueueDriverHigh = 0x94, QueueDeviceLow = 0xA0, QueueDeviceHigh = 0xA4, Config = 0x100;

    public const ushort Next = 1, WriteFlag = 2, Indirect = 4;

    public readonly ulong DescTable = RamBase + 0x1000;
    public readonly ulong AvailRing = RamBase + 0x2000;
    public readonly ulong UsedRing = RamBase + 0x3000;
    public const ulong DataBase = RamBase + 0x10000;

    private ushort _availIndex;

    /// <param name="ramSize">Guest RAM at <see cref="RamBase"/> (default <see cref="RamSize"/>).</param>
    public VirtioTestDriver(IVirtioDevice? device, ulong ramSize = RamSize)
    {
        Bus = new PhysicalBus();
        Ram = Bus.AddRam(RamBase, ramSize);
        Transport = new VirtioMmioTransport(Bus, new IrqLine(Sink, IrqNumber), device);
    }

    public PhysicalBus Bus { get; }

    public GuestRam Ram { get; }

    public TestInterruptSink Sink { get; } = new();

    public VirtioMmioTransport Transport { get; }

    public bool Irq => Sink.Levels[IrqNumber];

    public ushort QueueSize { get; private set; }

    public uint R(ulong offset) => (uint)Transport.Read(offset, 4);

    public void W(ulong offset, uint value) => Transport.Write(offset, 4, value);

    public VirtioDeviceStatus DeviceStatus => (VirtioDeviceStatus)R(Status);

    public bool NeedsReset => (DeviceStatus & VirtioDeviceStatus.DeviceNeedsReset) != 0;

    public ulong ReadDeviceFeatures()
    {
        W(DeviceFeaturesSel, 0);
        ulong low = R(DeviceFeatures);
        W(DeviceFeaturesSel, 1);
        return low | ((ulong)R(DeviceFeatures) << 32);
    }

    /// <summary>Spec 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK. True if accepted.</summary>
    public bool Negotiate(ulong? features = null)
    {
        W(Status, 0);
        W(Status, 1);
        W(Status, 1 | 2);
        ulong accept = features ?? ReadDeviceFeatures();
        W(DriverFeaturesSel, 0);
        W(DriverFeatures, (uint)accept);
        W(DriverFeaturesSel, 1);
        W(DriverFeatures, (uint)(accept >> 32));
        W(Status, 1 | 2 | 8);
        return (R(Status) & 8) != 0;
    }

    /// <summary>Sets up queue 0 with <paramref name="size"/> entries at the default ring addresses.</summary>
    public void SetupQueue(ushort size, ulong? desc = null, ulong? avail = null, ulong? used = null)
    {
        W(QueueSel, 0);
        QueueSize = size;
        W(QueueNum, size);
        SetAddress(QueueDescLow, desc ?? DescTable);
        SetAddress(QueueDriverLow, avail ?? AvailRing);
        SetAddress(QueueDeviceLow, used ?? UsedRing);
        W(QueueReady, 1);
    }

    public void SetAddress(ulong lowRegister, ulong address)
    {
        W(lowRegister, (uint)address);
        W(lowRegister + 4, (uint)(address >> 32));
    }

    /// <summary>
    /// The whole init sequence with queue 0 of <paramref name="size"/> entries, ending in DRIVER_OK, accepting
    /// <paramref name="features"/> (all the device offers by default).
    /// </summary>
    public void Initialize(ushort size = 16, ulong? features = null)
    {
        if (!Negotiate(features))
            throw new InvalidOperationException("features refused");
        SetupQueue(size);
        W(Status, 1 | 2 | 8 | 4);
    }

    public Span<byte> Memory(ulong address, int length) => Ram.Slice(address, length);

    public void WriteTableDescriptor(ulong table, int index, ulong address, uint length, ushort flags = 0, ushort next = 0)
    {
        var d = Memory(table + 16 * (ulong)index, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    public void WriteDescriptor(int index, ulong address, uint length, ushort flags = 0, ushort next = 0) =>
        WriteTableDescriptor(DescTable, index, address, length, flags, next);

    /// <summary>Puts head descriptor <paramref name="head"/> in the available ring and bumps idx (no notify).</summary>
    public void MakeAvailable(ushort head)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(Memory(AvailRing + 4 + 2 * (ulong)(_availIndex % QueueSize), 2), head);
        _availIndex++;
        SetAvailIndex(_availIndex);
    }

    public void SetAvailIndex(ushort index) => BinaryPrimitives.WriteUInt16LittleEndian(Memory(AvailRing + 2, 2), index);

    public void SetAvailFlags(ushort flags) => BinaryPrimitives.WriteUInt16LittleEndian(Memory(AvailRing, 2), flags);

    public void Notify(int queue = 0) => W(QueueNotify, (uint)queue);

    public void Submit(ushort head)
    {
        MakeAvailable(head);
        Notify();
    }

    public ushort UsedIndex => BinaryPrimitives.ReadUInt16LittleEndian(Memory(UsedRing + 2, 2));

    public (uint Id, uint Length) UsedElement(int index)
    {
        var e = Memory(UsedRing + 4 + 8 * (ulong)(index % QueueSize), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    public void Acknowledge() => W(InterruptAck, R(InterruptStatus));
}
