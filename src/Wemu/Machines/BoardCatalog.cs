namespace Wemu.Machines;

/// <summary>
/// Every board, once: the command-line parser validates <c>-M</c>, <c>-cpu</c> and device counts
/// against it, <see cref="DefaultGuest"/> finds the bundled images in it, <see cref="MachineFactory"/>
/// builds from it, and the usage text lists it. The first board of an architecture is its default.
/// </summary>
public static class BoardCatalog
{
    public static readonly BoardInfo[] Boards =
    [
        new("riscv64", "virt", "QEMU's RISC-V virt board (OpenSBI firmware, virtio-mmio disks, 9p shares)",
            RiscVVirtMachine.VirtioSlots, "riscv64/fw_dynamic.bin", "riscv64/Image", "riscv64/initramfs.cpio.gz", "console=ttyS0", ["rv64"]),
        new("riscv64", "spike", "Spike with HTIF (bare-metal ELF tests with -bios none)", 0, null, null, null, null, ["rv64"]),
        new("x86_64", "microvm", "QEMU's x86 microvm (no firmware: Linux's 64-bit boot protocol; ACPI or acpi=off)",
            24, null, "x86_64/bzImage", "x86_64/initramfs.cpio.gz", "console=ttyS0", ["qemu64", "max"]),
    ];

    public static IEnumerable<string> Architectures => Boards.Select(b => b.Arch).Distinct();

    public static BoardInfo? Find(string arch, string name) => Boards.FirstOrDefault(b => b.Arch == arch && b.Name == name);

    public static BoardInfo Default(string arch) => Boards.First(b => b.Arch == arch);

    public static IEnumerable<string> Names(string arch) => Boards.Where(b => b.Arch == arch).Select(b => b.Name);
}
