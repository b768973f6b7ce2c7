using Wemu.Snapshot;
using System.Buffers.Binary;
using Wemu.Memory;

namespace Wemu.Devices.Virtio;

/// <summary>
/// The virtio-mmio transport, version 2 (virtio spec 1.2 section 4.2.2), with split virtqueues. A slot with no
/// device reads as QEMU's empty virtio-mmio slot: magic, version and vendor ID, device ID 0 (Linux then skips it).
/// </summary>
public sealed class VirtioMmioTransport : IMmioDevice, IVirtioTransport, IStateful<VirtioMmioTransport>
{
    /// <summary>
    /// The transport's registers, each queue's rings and positions, and the device's own state if it has any. The
    /// device ID is saved to refuse a file whose slot held another device.
    /// </summary>
    /// <summary>The slot's layout: the transport and the type of device on it (0: an empty slot).</summary>
    string IStateful.StateLayout => $"virtio-mmio/{_device?.DeviceId ?? 0}";

    static VmState<VirtioMmioTransport> IStateful<VirtioMmioTransport>.State { get; } = new VmState<VirtioMmioTransport>("virtio-mmio", 1)
        .Field("device-id", (t, w) => w.U32(t._device?.DeviceId ?? 0), (t, r) =>
        {
            uint id = r.U32();
            if (id != (t._device?.DeviceId ?? 0))
                throw new SnapshotException($"snapshot: {r.Where} held a device of type {id} where this machine has type {t._device?.DeviceId ?? 0}");
        })
        .U32("device-features-sel", t => ref t._deviceFeaturesSel)
        .U32("driver-features-sel", t => ref t._driverFeaturesSel)
        .U64("driver-features", t => ref t._driverFeatures)
        .U32("queue-sel", t => ref t._queueSel)
        .U32("interrupt-status", t => ref t._interruptStatus)
        .Field("status", (t, w) => w.U32((uint)t._status), (t, r) => t._status = (VirtioDeviceStatus)r.U32())
        .U32("config-generation", t => ref t._configGeneration)
        .Field("irq", (t, w) => w.Bool(t._irq.Level), (t, r) => t._irq.RestoreLevel(r.Bool()))
        .Field("queues", (t, w) =>
        {
            w.U32((uint)t._queues.Length);
            foreach (var q in t._queues)
                q.SaveState(w);
        }, (t, r) =>
        {
            if (r.U32() != (uint)t._queues.Length)
                throw new SnapshotException($"snapshot: {r.Where} has another number of queues");
            foreach (var q in t._queues)
                q.LoadState(r);
        })
        .Field("device", (t, w) =>
        {
            if (t._device is IStateful s)
                s.SaveState(w);
        }, (t, r) =>
        {
            if (t._device is IStateful s)
                s.LoadState(r);
        });

    /// <summary>Window size of one virtio-mmio slot on QEMU virt.</summary>
    public const ulong WindowSize = 0x1000;

    public const uint MagicValue = 0x74726976; // "virt"
    public const uint VendorId = 0x554D4551;   // "QEMU"

    // Register offsets (spec 4.2.2, table "MMIO Device Register Layout").
    private const ulong RegMagicValue = 0x000, RegVersion = 0x004, RegDeviceId = 0x008, RegVendorId = 0x00C,
        RegDeviceFeatures = 0x010, RegDeviceFeaturesSel = 0x014, RegDriverFeatures = 0x020, RegDriverFeaturesSel = 0x024,
        RegQueueSel = 0x030, RegQueueNumMax = 0x034, RegQueueNum = 0x038, RegQueueReady = 0x044, RegQueueNotify = 0x050,
        RegInterruptStatus = 0x060, RegInterruptAck = 0x064, RegStatus = 0x070,
        RegQueueDescLow = 0x080, RegQueueDescHigh = 0x084, RegQueueDriverLow = 0x090, RegQueueDriverHigh = 0x094,
        RegQueueDeviceLow = 0x0A0, RegQueueDeviceHigh = 0x0A4, RegShmSel = 0x0AC, RegShmLenLow = 0x0B0,
        RegShmLenHigh = 0x0B4, RegShmBaseLow = 0x0B8, RegShmBaseHigh = 0x0BC, RegConfigGeneration = 0x0FC,
        ConfigBase = 0x100;

    private const uint InterruptUsedBuffer = 1, InterruptConfigChange = 2;

    /// <summary>Feature bits the transport and <see cref="VirtQueue"/> implement for every device.</summary>
    private const ulong TransportFeatures = VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDesc;

    private readonly IrqLine _irq;
    private readonly IVirtioDevice? _device;
    private readonly VirtQueue[] _queues;
    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private uint _interruptStatus;
    private VirtioDeviceStatus _status;
    private uint _configGeneration;

    /// <param name="bus">Guest physical memory the queues live in.</param>
    /// <param name="irq">Interrupt output (PLIC sources 1..8 on QEMU virt).</param>
    /// <param name="device">The device in this slot, or null for an empty slot.</param>
    public VirtioMmioTransport(PhysicalBus bus, IrqLine irq, IVirtioDevice? device = null)
    {
        Bus = bus;
        _irq = irq;
        _device = device;
        int count = device?.QueueCount ?? 0;
        _queues = new VirtQueue[count];
        for (int i = 0; i < count; i++)
            _queues[i] = new VirtQueue(bus, this, i, device!.MaxQueueSize);
        device?.Attach(this);
    }

    public PhysicalBus Bus { get; }

    public IVirtioDevice? Device => _device;

    public VirtioDeviceStatus Status => _status;

    public uint InterruptStatus => _interruptStatus;

    public ulong NegotiatedFeatures => _driverFeatures;

    public bool NeedsReset => (_status & VirtioDeviceStatus.DeviceNeedsReset) != 0;

    /// <summary>Everything the driver may accept: the device's features and the transport's.</summary>
    public ulong OfferedFeatures => _device == null ? 0 : _device.DeviceFeatures | TransportFeatures;

    public VirtQueue GetQueue(int index) => _queues[index];

    public void RaiseUsedBufferNotification()
    {
        _interruptStatus |= InterruptUsedBuffer;
        _irq.Raise();
    }

    public void NotifyConfigChanged()
    {
        _configGeneration++;
        if ((_status & VirtioDeviceStatus.DriverOk) != 0)
        {
            _interruptStatus |= InterruptConfigChange;
            _irq.Raise();
        }
    }

    public void SetNeedsReset()
    {
        if (NeedsReset)
            return;
        _status |= VirtioDeviceStatus.DeviceNeedsReset;
        // Spec 2.1.2: after DEVICE_NEEDS_RESET with DRIVER_OK set, the device sends a configuration change notification.
        if ((_status & VirtioDeviceStatus.DriverOk) != 0)
        {
            _interruptStatus |= InterruptConfigChange;
            _irq.Raise();
        }
    }

    public ulong Read(ulong offset, int size)
    {
        if (offset >= ConfigBase)
            return ReadConfig(offset - ConfigBase, size);
        // Spec 4.2.2.2: control registers are accessed with 32-bit aligned accesses only; others read zero.
        if (size != 4 || (offset & 3) != 0)
            return 0;
        if (_device == null)
        {
            return offset switch
            {
                RegMagicValue => MagicValue,
                RegVersion => 2,
                RegVendorId => VendorId,
                _ => 0,
            };
        }
        var queue = SelectedQueue;
        return offset switch
        {
            RegMagicValue => MagicValue,
            RegVersion => 2,
            RegDeviceId => _device.DeviceId,
            RegVendorId => VendorId,
            RegDeviceFeatures => _deviceFeaturesSel switch
            {
                0 => (uint)OfferedFeatures,
                1 => (uint)(OfferedFeatures >> 32),
                _ => 0,
            },
            RegQueueNumMax => queue?.MaxSize ?? 0u,
            RegQueueReady => queue?.IsReady == true ? 1u : 0u,
            RegInterruptStatus => _interruptStatus,
            RegStatus => (uint)_status,
            RegQueueDescLow => (uint)(queue?.DescriptorTableAddress ?? 0),
            RegQueueDescHigh => (uint)((queue?.DescriptorTableAddress ?? 0) >> 32),
            RegQueueDriverLow => (uint)(queue?.DriverAreaAddress ?? 0),
            RegQueueDriverHigh => (uint)((queue?.DriverAreaAddress ?? 0) >> 32),
            RegQueueDeviceLow => (uint)(queue?.DeviceAreaAddress ?? 0),
            RegQueueDeviceHigh => (uint)((queue?.DeviceAreaAddress ?? 0) >> 32),
            // No shared memory regions: "reading from a non-existent region results in a length of -1".
            RegShmLenLow or RegShmLenHigh or RegShmBaseLow or RegShmBaseHigh => uint.MaxValue,
            RegConfigGeneration => _configGeneration,
            _ => 0,
        };
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (_device == null)
            return;
        if (offset >= ConfigBase)
        {
            WriteConfig(offset - ConfigBase, size, value);
            return;
        }
        if (size != 4 || (offset & 3) != 0)
            return;
        uint v = (uint)value;
        var queue = SelectedQueue;
        switch (offset)
        {
            case RegDeviceFeaturesSel:
                _deviceFeaturesSel = v;
                break;
            case RegDriverFeatures:
                // Features are fixed once FEATURES_OK is set (spec 3.1.1 step 5).
                if ((_status & VirtioDeviceStatus.FeaturesOk) != 0)
                    break;
                if (_driverFeaturesSel == 0)
                    _driverFeatures = (_driverFeatures & 0xFFFF_FFFF_0000_0000) | v;
                else if (_driverFeaturesSel == 1)
                    _driverFeatures = (_driverFeatures & 0xFFFF_FFFF) | ((ulong)v << 32);
                break;
            case RegDriverFeaturesSel:
                _driverFeaturesSel = v;
                break;
            case RegQueueSel:
                _queueSel = v;
                break;
            case RegQueueNum:
                if (queue != null && !queue.IsReady)
                    queue.Size = v;
                break;
            case RegQueueReady:
                if (queue == null)
                    break;
                if ((v & 1) == 0)
                    queue.Disable();
                else if (!queue.IsReady && !queue.TryEnable())
                    SetNeedsReset(); // zero or oversized queue, ring outside RAM or misaligned
                break;
            case RegQueueNotify:
                // Spec 2.1.2/3.1.1: buffers are consumed only after DRIVER_OK, and never while the device needs reset.
                if (v < (uint)_queues.Length && _queues[v].IsReady
                    && (_status & VirtioDeviceStatus.DriverOk) != 0 && !NeedsReset)
                    _device.OnQueueNotify((int)v);
                break;
            case RegInterruptAck:
                _interruptStatus &= ~v;
                _irq.Set(_interruptStatus != 0);
                break;
            case RegStatus:
                WriteStatus(v);
                break;
            case RegQueueDescLow:
            case RegQueueDescHigh:
                if (queue != null && !queue.IsReady)
                    queue.DescriptorTableAddress = SetHalf(queue.DescriptorTableAddress, offset == RegQueueDescHigh, v);
                break;
            case RegQueueDriverLow:
            case RegQueueDriverHigh:
                if (queue != null && !queue.IsReady)
                    queue.DriverAreaAddress = SetHalf(queue.DriverAreaAddress, offset == RegQueueDriverHigh, v);
                break;
            case RegQueueDeviceLow:
            case RegQueueDeviceHigh:
                if (queue != null && !queue.IsReady)
                    queue.DeviceAreaAddress = SetHalf(queue.DeviceAreaAddress, offset == RegQueueDeviceHigh, v);
                break;
            case RegShmSel:
                break;
        }
    }

    /// <summary>Device reset (spec 2.4, 4.2.2.1): status, interrupts, queues and negotiation state start over.</summary>
    public void Reset()
    {
        _status = VirtioDeviceStatus.None;
        _interruptStatus = 0;
        _irq.Lower();
        _deviceFeaturesSel = 0;
        _driverFeaturesSel = 0;
        _driverFeatures = 0;
        _queueSel = 0;
        foreach (var q in _queues)
            q.Reset();
        _device?.Reset();
    }

    private VirtQueue? SelectedQueue => _queueSel < (uint)_queues.Length ? _queues[_queueSel] : null;

    private static ulong SetHalf(ulong current, bool high, uint value) =>
        high ? (current & 0xFFFF_FFFF) | ((ulong)value << 32) : (current & 0xFFFF_FFFF_0000_0000) | value;

    private void WriteStatus(uint value)
    {
        if (value == 0)
        {
            Reset();
            return;
        }
        var old = _status;
        // DEVICE_NEEDS_RESET belongs to the device: the driver can neither set nor clear it.
        var requested = (VirtioDeviceStatus)(value & 0xFF) & ~VirtioDeviceStatus.DeviceNeedsReset;
        if ((requested & VirtioDeviceStatus.FeaturesOk) != 0 && (old & VirtioDeviceStatus.FeaturesOk) == 0 && !FeaturesAcceptable())
            requested &= ~VirtioDeviceStatus.FeaturesOk; // spec 3.1.1 step 6: the driver re-reads and sees it refused
        _status = requested | (old & VirtioDeviceStatus.DeviceNeedsReset);
        // Buffers made available before DRIVER_OK are processed now (spec 3.1.1 step 8).
        if ((_status & VirtioDeviceStatus.DriverOk) != 0 && (old & VirtioDeviceStatus.DriverOk) == 0 && !NeedsReset)
        {
            for (int i = 0; i < _queues.Length && !NeedsReset; i++)
                if (_queues[i].IsReady)
                    _device!.OnQueueNotify(i);
        }
    }

    /// <summary>Spec 6.1: a version 2 device must refuse a driver that did not accept VIRTIO_F_VERSION_1.</summary>
    private bool FeaturesAcceptable() =>
        (_driverFeatures & ~OfferedFeatures) == 0 && (_driverFeatures & VirtioFeatures.Version1) != 0;

    private ulong ReadConfig(ulong offset, int size)
    {
        if (_device == null || size is not (1 or 2 or 4 or 8))
            return 0;
        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        int configSize = _device.ConfigSize;
        if (offset < (ulong)configSize)
        {
            int length = (int)Math.Min((ulong)size, (ulong)configSize - offset);
            _device.ReadConfig((int)offset, bytes[..length]);
        }
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    private void WriteConfig(ulong offset, int size, ulong value)
    {
        if (size is not (1 or 2 or 4 or 8))
            return;
        int configSize = _device!.ConfigSize;
        if (offset >= (ulong)configSize)
            return;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        int length = (int)Math.Min((ulong)size, (ulong)configSize - offset);
        _device.WriteConfig((int)offset, bytes[..length]);
    }
}
