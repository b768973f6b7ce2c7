namespace Wemu.Devices.Virtio;

/// <summary>
/// A virtio device type (virtio spec 1.2 chapter 5): block, rng, and later net, console, 9p. It knows nothing of
/// the transport's registers; the transport calls it on queue notifications and resets, and the device reaches
/// its queues, interrupts and error state through the <see cref="IVirtioTransport"/> given to <see cref="Attach"/>.
/// </summary>
public interface IVirtioDevice
{
    /// <summary>Virtio device ID (spec 5, e.g. 2 block, 4 entropy).</summary>
    uint DeviceId { get; }

    /// <summary>
    /// Device-specific feature bits offered to the driver. The transport adds the bits it implements itself
    /// (VIRTIO_F_VERSION_1, VIRTIO_F_RING_INDIRECT_DESC).
    /// </summary>
    ulong DeviceFeatures { get; }

    int QueueCount { get; }

    /// <summary>Largest queue size the device accepts (QueueNumMax), a power of two.</summary>
    ushort MaxQueueSize { get; }

    /// <summary>Length of the device-specific configuration space (spec 5.x.4).</summary>
    int ConfigSize { get; }

    /// <summary>Copies configuration bytes; the transport keeps the range inside <see cref="ConfigSize"/>.</summary>
    void ReadConfig(int offset, Span<byte> destination);

    /// <summary>Driver writes to the configuration space; the transport keeps the range inside <see cref="ConfigSize"/>.</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> source);

    /// <summary>Called once by the transport the device is plugged into.</summary>
    void Attach(IVirtioTransport transport);

    /// <summary>The driver made buffers available in queue <paramref name="queue"/> (a ready queue, after DRIVER_OK).</summary>
    void OnQueueNotify(int queue);

    /// <summary>Device reset (spec 2.4): forget negotiated state and in-flight requests.</summary>
    void Reset();
}
