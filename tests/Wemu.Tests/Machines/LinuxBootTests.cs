using System.Diagnostics;
using System.Security.Cryptography;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>
/// Boots the default guest (OpenSBI + Linux 6.1 + BusyBox initramfs) on the virt machine through
/// the real CLI and drives its shell over the serial line.
/// </summary>
[Collection("Boot")]
public class LinuxBootTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private static string CopyRootDisk()
    {
        string copy = Path.Combine(Directory.CreateTempSubdirectory("wemu-boot-").FullName, "disk.ext2");
        File.Copy(Path.Combine(WemuProcess.RepoRoot, "images", "riscv64", "rootfs.ext2"), copy);
        return copy;
    }

    [Fact]
    public void Default_Guest_Boots_Runs_Commands_Writes_Disk_And_Powers_Off()
    {
        string disk = CopyRootDisk();
        using var wemu = new WemuProcess("-drive", $"file={disk},if=virtio,format=raw");
        wemu.WaitFor("/ # ", BootTimeout);

        wemu.Send("uname -m\n");
        Assert.Contains("riscv64", wemu.WaitFor("/ # ", CommandTimeout));

        wemu.Send("cat /proc/cpuinfo\n");
        string cpuinfo = wemu.WaitFor("/ # ", CommandTimeout);
        Assert.Contains("rv64imafdc", cpuinfo);
        Assert.Contains("sv48", cpuinfo);

        wemu.Send("mount -t ext2 /dev/vda /mnt/disk && echo wemu-disk-$((6*7)) > /mnt/disk/hello.txt && sync && cat /mnt/disk/hello.txt && umount /mnt/disk && echo un\"\"mounted\n");
        string diskOut = wemu.WaitFor("unmounted", CommandTimeout);
        Assert.Contains("wemu-disk-42", diskOut);
        wemu.WaitFor("/ # ", CommandTimeout);

        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));

        // The write reached the backing file: read it back on the host with e2fsprogs.
        var psi = new ProcessStartInfo("debugfs", ["-R", "cat /hello.txt", disk]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var debugfs = Process.Start(psi)!;
        string fromHost = debugfs.StandardOutput.ReadToEnd();
        debugfs.WaitForExit();
        Assert.Equal("wemu-disk-42\n", fromHost);
    }

    [Fact]
    public void Snapshot_On_Never_Touches_The_Base_Image()
    {
        string disk = CopyRootDisk();
        byte[] before = SHA256.HashData(File.ReadAllBytes(disk));
        using var wemu = new WemuProcess("-drive", $"file={disk},if=virtio,format=raw,snapshot=on", "-no-reboot");
        wemu.WaitFor("/ # ", BootTimeout);
        wemu.Send("mount /dev/vda /mnt/disk && dd if=/dev/zero of=/mnt/disk/big bs=1k count=512 && sync && ls -l /mnt/disk/big && umount /mnt/disk && echo done\"\"-writing\n");
        string o = wemu.WaitFor("done-writing", CommandTimeout);
        Assert.Contains("524288", o);
        wemu.WaitFor("/ # ", CommandTimeout);
        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(disk)));
    }
}
