using Wemu.Memory;

namespace Wemu.Devices.X86;

/// <summary>
/// QEMU's ACPI generic event device as microvm maps it (hw/acpi/generic_event_device.c): the event
/// selector at offset 0 and, at offset 0x200, the hardware-reduced sleep control, sleep status and
/// reset registers the FADT points at (ACPI 6.4, 4.8.3.7). Writing SLP_TYP = 5 with SLP_EN powers off;
/// writing the reset value resets. Everything else reads as zero and ignores writes.
/// </summary>
public sealed class AcpiGedRegisters : IMmioDevice
{
    public const ulong WindowSize = 0x300;
    private const ulong SleepControl = 0x200, SleepStatus = 0x201, ResetRegister = 0x202;
    private const int SleepEnable = 1 << 5;

    private readonly byte _resetValue;
    private readonly int _poweroffSleepType;

    public AcpiGedRegisters(byte resetValue, int poweroffSleepType)
    {
        _resetValue = resetValue;
        _poweroffSleepType = poweroffSleepType;
    }

    /// <summary>Raised when the guest powers off or resets through these registers.</summary>
    public event Action<PowerRequest>? PowerRequested;

    public ulong Read(ulong offset, int size) => 0;

    public void Write(ulong offset, int size, ulong value)
    {
        if (offset == SleepControl && (value & SleepEnable) != 0 && (int)((value >> 2) & 7) == _poweroffSleepType)
            PowerRequested?.Invoke(PowerRequest.PowerOff);
        else if (offset == ResetRegister && (byte)value == _resetValue)
            PowerRequested?.Invoke(PowerRequest.Reset);
        _ = SleepStatus;
    }
}
