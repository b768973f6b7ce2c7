namespace Wemu.Machines.X86;

/// <summary>An I/O APIC as the MP table and the MADT describe it.</summary>
/// <param name="Id">Its APIC ID (what its ID register reports).</param>
/// <param name="Address">Physical address of its register window.</param>
/// <param name="GsiBase">The first global system interrupt its pin 0 receives.</param>
public sealed record IoApicDescription(byte Id, ulong Address, uint GsiBase)
{
    /// <summary>QEMU's IOAPIC (hw/intc/ioapic.c): 24 pins, version register 0x20.</summary>
    public const int Pins = 24;

    public const byte Version = 0x20;

    /// <summary>QEMU microvm's IOAPICs: one at 0xfec00000; with ACPI a second at 0xfec10000 for GSIs 24-47.</summary>
    public static IReadOnlyList<IoApicDescription> Qemu(bool acpi) =>
        acpi ? [new(0, 0xfec00000, 0), new(1, 0xfec10000, 24)] : [new(0, 0xfec00000, 0)];
}
