namespace Wemu.Machines;

/// <summary>
/// The bundled guest (OpenSBI, Linux, BusyBox initramfs, under <c>images/</c>) that runs when no
/// kernel is given, and the firmware the virt board loads without <c>-bios</c>: one table for every host.
/// </summary>
public static class DefaultGuest
{
    public const string Firmware = "riscv64/fw_dynamic.bin";
    public const string Kernel = "riscv64/Image";
    public const string Initrd = "riscv64/initramfs.cpio.gz";
    public const string Append = "console=ttyS0";

    /// <summary>
    /// The firmware, kernel and initrd locations for <paramref name="config"/>: its own paths, and the
    /// bundled images (through <paramref name="locate"/>, which maps a path under <c>images/</c> to a
    /// file or URL) where it asks for the defaults. Sets the default kernel command line too.
    /// </summary>
    public static (string? Firmware, string? Kernel, string? Initrd) Images(MachineConfig config, Func<string, string> locate)
    {
        string? firmware = config.Bios, kernel = config.Kernel, initrd = config.Initrd;
        if (config.Arch == "riscv64" && config.MachineType == "virt" && !config.NoFirmware && firmware == null)
            firmware = locate(Firmware);
        if (config.UsesDefaultGuest)
        {
            kernel = locate(Kernel);
            initrd ??= locate(Initrd);
            config.Append ??= Append;
        }
        return (firmware, kernel, initrd);
    }
}
