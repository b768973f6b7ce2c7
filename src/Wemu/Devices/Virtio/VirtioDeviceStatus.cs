namespace Wemu.Devices.Virtio;

/// <summary>Device status field bits (virtio spec 1.2 section 2.1).</summary>
[Flags]
public enum VirtioDeviceStatus : uint
{
    None = 0,
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    DeviceNeedsReset = 64,
    Failed = 128,
}
