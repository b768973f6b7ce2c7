namespace Wemu.Machines;

/// <summary>
/// The bundled guest of a board (Linux and a BusyBox initramfs under <c>images/</c>, and OpenSBI on
/// RISC-V virt) that runs when no kernel is given, from <see cref="BoardCatalog"/>: one table for every host.
/// </summary>
public static class DefaultGuest
{
    /// <summary>
    /// The firmware, kernel and initrd locations for <paramref name="config"/>: its own paths, and the
    /// bundled images (through <paramref name="locate"/>, which maps a path under <c>images/</c> to a
    /// file or URL) where it asks for the defaults. Sets the default kernel command line too.
    /// </summary>
    public static (string? Firmware, string? Kernel, string? Initrd) Images(MachineConfig config, Func<string, string> locate)
    {
        string? firmware = config.Bios, kernel = config.Kernel, initrd = config.Initrd;
        var board = BoardCatalog.Find(config.Arch, config.MachineType);
        if (board?.Firmware != null && !config.NoFirmware && firmware == null)
            firmware = locate(board.Firmware);
        if (config.UsesDefaultGuest && board?.Kernel != null)
        {
            kernel = locate(board.Kernel);
            if (board.Initrd != null)
                initrd ??= locate(board.Initrd);
            config.Append ??= board.Append;
        }
        return (firmware, kernel, initrd);
    }
}
