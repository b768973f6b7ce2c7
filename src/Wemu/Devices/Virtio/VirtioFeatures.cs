namespace Wemu.Devices.Virtio;

/// <summary>Reserved (device-independent) feature bits, virtio spec 1.2 chapter 6.</summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_F_INDIRECT_DESC (bit 28): descriptors may point to indirect tables (spec 2.7.5.3).</summary>
    public const ulong RingIndirectDesc = 1UL << 28;

    /// <summary>VIRTIO_F_EVENT_IDX (bit 29): not offered.</summary>
    public const ulong RingEventIdx = 1UL << 29;

    /// <summary>VIRTIO_F_VERSION_1 (bit 32): compliant with virtio 1.x, not legacy.</summary>
    public const ulong Version1 = 1UL << 32;
}
