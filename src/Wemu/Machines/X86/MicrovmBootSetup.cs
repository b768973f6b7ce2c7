namespace Wemu.Machines.X86;

/// <summary>
/// What <see cref="X86LinuxLoader"/> needs to boot Linux on a microvm board without firmware: the
/// images from <c>-kernel</c>/<c>-initrd</c>/<c>-append</c> and the devices the firmware tables describe.
/// </summary>
public sealed class MicrovmBootSetup
{
    /// <summary>A bzImage (64-bit boot protocol, 2.12 or later) or an uncompressed x86-64 vmlinux ELF.</summary>
    public required byte[] Kernel { get; init; }

    public byte[]? Initrd { get; init; }

    public string CommandLine { get; init; } = "";

    /// <summary>
    /// QEMU 7.2's microvm default: HW-reduced ACPI tables (RSDP, XSDT, FADT, MADT, DSDT). Off
    /// (<c>-M microvm,acpi=off</c>): only the MP table, and the caller adds virtio_mmio.device= to the
    /// command line itself as QEMU does (<see cref="VirtioCommandLine"/>).
    /// </summary>
    public bool Acpi { get; init; } = true;

    /// <summary>The populated virtio-mmio transports (the DSDT lists them; the MP table does not).</summary>
    public IReadOnlyList<VirtioMmioTransport> VirtioMmio { get; init; } = [];

    /// <summary>
    /// The I/O APICs; the first one receives the ISA IRQs (IRQ0 on pin 2). Unset: QEMU's for the
    /// <see cref="Acpi"/> setting (<see cref="IoApicDescription.Qemu"/>).
    /// </summary>
    public IReadOnlyList<IoApicDescription>? IoApics { get; init; }

    /// <summary>Processors (local APIC IDs 0..n-1, 0 the bootstrap processor) in the MP table and the MADT.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>The DSDT lists COM1 (PNP0501, 0x3f8, IRQ 4) as QEMU does when a serial port exists.</summary>
    public bool Com1 { get; init; } = true;

    /// <summary>The DSDT lists the MC146818 RTC (PNP0B00, 0x70, IRQ 8) as QEMU's microvm does (rtc=on).</summary>
    public bool Rtc { get; init; } = true;

    /// <summary>
    /// QEMU's acpi=off command-line suffix (hw/i386/microvm.c microvm_machine_reset / microvm_fix_kernel_cmdline):
    /// " virtio_mmio.device=512@0x&lt;base&gt;:&lt;irq&gt;" for every transport.
    /// </summary>
    public static string VirtioCommandLine(IEnumerable<VirtioMmioTransport> transports)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var t in transports)
            sb.Append($" virtio_mmio.device={VirtioMmioTransport.Size}@0x{t.BaseAddress:x}:{t.Gsi}");
        return sb.ToString();
    }
}
