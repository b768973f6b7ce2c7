namespace Wemu.Machines.X86;

/// <summary>
/// A populated virtio-mmio transport as the firmware tables describe it: QEMU's microvm puts slot
/// <c>i</c> at 0xfeb00000 + 0x200·i (hw/i386/microvm.c VIRTIO_MMIO_BASE) on GSI virtio_irq_base + i.
/// </summary>
/// <param name="Index">The slot number: the DSDT names the device VR<i>nn</i> with _UID <i>nn</i>, as QEMU does.</param>
/// <param name="BaseAddress">Physical address of the register block.</param>
/// <param name="Gsi">The interrupt: an ISA IRQ / GSI below 16 with acpi=off, a GSI of an IOAPIC with ACPI.</param>
public sealed record VirtioMmioTransport(int Index, ulong BaseAddress, uint Gsi)
{
    /// <summary>Size of the register block (QEMU hw/i386/acpi-microvm.c: 512).</summary>
    public const ulong Size = 0x200;

    /// <summary>QEMU microvm's address of virtio-mmio slot 0.</summary>
    public const ulong QemuBase = 0xfeb00000;

    /// <summary>
    /// QEMU 7.2 microvm's slot <paramref name="index"/>: with ACPI 24 slots on GSI 24-47 (the second
    /// IOAPIC), with acpi=off 8 slots on IRQ 5-12 (microvm_devices_init). QEMU fills them from the top:
    /// the first -device gets the last slot (observed: 0xfeb00e00:12 with acpi=off, VR23 with ACPI).
    /// </summary>
    public static VirtioMmioTransport QemuSlot(int index, bool acpi)
    {
        if ((uint)index >= QemuSlots(acpi))
            throw new ArgumentOutOfRangeException(nameof(index), $"microvm has {QemuSlots(acpi)} virtio-mmio slots");
        return new VirtioMmioTransport(index, QemuBase + (ulong)index * Size, (uint)((acpi ? 24 : 5) + index));
    }

    /// <summary>How many virtio-mmio transports QEMU's microvm creates.</summary>
    public static int QemuSlots(bool acpi) => acpi ? 24 : 8;
}
