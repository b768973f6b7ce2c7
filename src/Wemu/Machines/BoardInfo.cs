namespace Wemu.Machines;

/// <summary>One board Wemu can build: what the CLI, the page, the usage text and the factory know of it.</summary>
/// <param name="Arch">The guest architecture (the CLI's first word).</param>
/// <param name="Name">QEMU's machine name (<c>-M</c>).</param>
/// <param name="Description">One line for the usage text.</param>
/// <param name="VirtioSlots">virtio-mmio transports (0: no virtio devices; the entropy source takes one).</param>
/// <param name="Firmware">Bundled firmware under <c>images/</c> loaded when <c>-bios</c> is absent, if the board uses any.</param>
/// <param name="Kernel">The bundled guest's kernel under <c>images/</c> (null: the board needs <c>-kernel</c>).</param>
/// <param name="Initrd">The bundled guest's initramfs.</param>
/// <param name="Append">The bundled guest's kernel command line.</param>
/// <param name="CpuModels">Accepted <c>-cpu</c> names, the default first.</param>
public sealed record BoardInfo(string Arch, string Name, string Description, int VirtioSlots, string? Firmware, string? Kernel,
    string? Initrd, string? Append, string[] CpuModels);
