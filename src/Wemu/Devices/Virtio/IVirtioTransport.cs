using Wemu.Memory;

namespace Wemu.Devices.Virtio;

/// <summary>What a virtio device type sees of its transport (virtio-mmio today, PCI later).</summary>
public interface IVirtioTransport
{
    PhysicalBus Bus { get; }

    /// <summary>Features the driver accepted (valid once FEATURES_OK is set).</summary>
    ulong NegotiatedFeatures { get; }

    VirtQueue GetQueue(int index);

    /// <summary>Sends a used buffer notification (spec 2.3): InterruptStatus bit 0 and the IRQ line.</summary>
    void RaiseUsedBufferNotification();

    /// <summary>The device changed its configuration space: bumps ConfigGeneration and notifies the driver (spec 2.5.1).</summary>
    void NotifyConfigChanged();

    /// <summary>
    /// The device hit an error only a reset can clear, e.g. a malformed descriptor chain: sets DEVICE_NEEDS_RESET and
    /// sends a configuration change notification if DRIVER_OK is set (spec 2.1.2). Queues stop until reset.
    /// </summary>
    void SetNeedsReset();

    bool NeedsReset { get; }
}
