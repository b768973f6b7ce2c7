using System.Diagnostics;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>
/// Boots the bundled x86_64 guest (Linux 6.1 + BusyBox, images/x86_64) on the microvm board through
/// the real CLI, in the shapes a user runs it: the default guest, the seed's command line with an
/// ext2 root on a virtio disk, QEMU's acpi=off layout, reboot and -no-reboot, and bad kernels.
/// </summary>
[Collection("Boot")]
public class X86LinuxBootTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Starts <c>./wemu</c> with <paramref name="args"/> and waits for the bundled guest's prompt.</summary>
    private static WemuProcess BootToPrompt(params string[] args)
    {
        var wemu = new WemuProcess(args);
        try
        {
            wemu.WaitFor("Wemu guest ready", BootTimeout);
            wemu.WaitFor("/ # ", CommandTimeout);
            return wemu;
        }
        catch
        {
            wemu.Dispose();
            throw;
        }
    }

    private static string Image(string name) => Path.Combine(WemuProcess.RepoRoot, "images", "x86_64", name);

    [Fact]
    public void Default_Guest_Boots_To_A_Shell_Reports_X86_64_And_Powers_Off_With_Status_0()
    {
        using var wemu = BootToPrompt("x86_64", "-d", "stats,jit");
        wemu.Send("uname -m\n");
        Assert.Contains("x86_64", wemu.WaitFor("/ # ", CommandTimeout));
        // the CPU Linux found is QEMU's qemu64 model with its AMD vendor (so no page-table isolation)
        wemu.Send("grep -m1 'model name' /proc/cpuinfo; grep -c sse2 /proc/cpuinfo; cat /sys/devices/system/cpu/vulnerabilities/meltdown\n");
        string cpu = wemu.WaitFor("/ # ", CommandTimeout);
        Assert.Contains("QEMU Virtual CPU version 2.5+", cpu);
        Assert.Contains("Not affected", cpu);
        // pigz (Debian's dynamically linked binary) runs: glibc's loader, SSE2 string functions, zlib
        wemu.Send("echo wemu-pigz-$((6*7)) | pigz -c | pigz -dc\n");
        Assert.Contains("wemu-pigz-42", wemu.WaitFor("/ # ", CommandTimeout));
        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        // -accel tcg (the default): the x86 JIT ran most of it
        Assert.Contains("engine jit", wemu.Output);
        var jit = System.Text.RegularExpressions.Regex.Match(wemu.Output, @"wemu: jit: ([0-9]+) blocks compiled .* instructions: ([0-9]+) compiled, ([0-9]+) cold");
        Assert.True(jit.Success, wemu.Output);
        Assert.True(long.Parse(jit.Groups[1].Value) > 1000, $"blocks compiled: {jit.Groups[1].Value}");
        Assert.True(long.Parse(jit.Groups[2].Value) > long.Parse(jit.Groups[3].Value), $"compiled {jit.Groups[2].Value}, cold {jit.Groups[3].Value}");
    }

    /// <summary>-cpu max: Linux sees the x86-64-v2 level, and glibc (pigz's) picks its SSSE3/SSE4.2
    /// string and memory functions from CPUID and runs with them (this run executes PALIGNR, PSHUFB
    /// and PCMPISTRI).</summary>
    [Fact]
    public void Cpu_Max_Guest_Sees_X86_64_V2_And_Glibc_Runs_On_It()
    {
        using var wemu = BootToPrompt("x86_64", "-cpu", "max");
        wemu.Send("for f in mmx ssse3 cx16 sse4_1 sse4_2 popcnt; do grep -q -w $f /proc/cpuinfo && echo has-$f; done\n");
        string flags = wemu.WaitFor("/ # ", CommandTimeout);
        foreach (string f in new[] { "mmx", "ssse3", "cx16", "sse4_1", "sse4_2", "popcnt" })
            Assert.Contains("has-" + f, flags);
        wemu.Send("echo wemu-max-$((6*7)) | pigz -c | pigz -dc\n");
        Assert.Contains("wemu-max-42", wemu.WaitFor("/ # ", CommandTimeout));
        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
    }

    [Fact]
    public void Seed_Command_Line_Boots_From_The_Ext2_Root_And_The_Write_Reaches_The_Disk()
    {
        string disk = Path.Combine(Directory.CreateTempSubdirectory("wemu-x86-boot-").FullName, "rootfs.ext2");
        File.Copy(Image("rootfs.ext2"), disk);
        using var wemu = new WemuProcess("x86_64", "-m", "512M", "-accel", "tcg,tb-size=500", "-drive", $"if=virtio,file={disk},format=raw",
            "-kernel", Image("bzImage"), "-append", "console=ttyS0 root=/dev/vda rw");
        wemu.WaitFor("/ # ", BootTimeout);
        wemu.Send("grep ' / ' /proc/mounts; echo x86-disk-$((6*7)) > /hello.txt; sync; echo wr\"\"itten\n");
        string o = wemu.WaitFor("written", CommandTimeout);
        Assert.Contains("/dev/root / ext", o); // the ext2 image, mounted by the ext4 driver
        wemu.WaitFor("/ # ", CommandTimeout);
        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        var psi = new ProcessStartInfo("debugfs", ["-R", "cat /hello.txt", disk]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var debugfs = Process.Start(psi)!;
        string fromHost = debugfs.StandardOutput.ReadToEnd();
        debugfs.WaitForExit();
        Assert.Equal("x86-disk-42\n", fromHost);
    }

    [Fact]
    public void Acpi_Off_Layout_Finds_The_Virtio_Disk_On_The_Command_Line()
    {
        using var wemu = new WemuProcess("x86_64", "-M", "microvm,acpi=off", "-snapshot",
            "-drive", $"file={Image("rootfs.ext2")},if=none,id=d0,format=raw", "-device", "virtio-blk-device,drive=d0");
        wemu.WaitFor("/ # ", BootTimeout);
        wemu.Send("cat /proc/cmdline; cat /sys/block/vda/size\n");
        string o = wemu.WaitFor("/ # ", CommandTimeout);
        Assert.Contains("virtio_mmio.device=512@0xfeb00e00:12", o); // QEMU's last slot for the first device, IRQ 12
        Assert.Contains("24576", o); // 12 MiB in sectors
        // without ACPI a microvm has no power-off device (QEMU's neither): Linux halts, and a signal ends Wemu
        wemu.Send("poweroff -f\n");
        wemu.WaitFor("reboot: ", CommandTimeout);
        wemu.Signal("TERM");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
    }

    [Fact]
    public void With_No_Reboot_A_Guest_Reboot_Ends_Wemu()
    {
        using var wemu = BootToPrompt("x86_64", "-no-reboot");
        wemu.Send("reboot -f\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        Assert.DoesNotContain("Wemu guest ready", wemu.Output[(wemu.Output.IndexOf("reboot -f", StringComparison.Ordinal))..]);
    }

    [Fact]
    public void Reboot_Through_The_Acpi_Reset_Register_Boots_Again()
    {
        using var wemu = BootToPrompt("x86_64");
        wemu.Send("reboot\n");
        wemu.WaitFor("reboot: Restarting system", CommandTimeout);
        wemu.WaitFor("Linux version", CommandTimeout);
        wemu.WaitFor("Wemu guest ready", BootTimeout);
        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
    }

    [Theory]
    [InlineData("riscv64/Image", "RISC-V kernel")]
    [InlineData("truncated", "truncated")]
    public void A_Kernel_That_Is_Not_An_X86_64_Bzimage_Is_One_Line_And_Exit_2(string kernel, string expected)
    {
        string path = Path.Combine(WemuProcess.RepoRoot, "images", kernel);
        if (kernel == "truncated")
        {
            path = Path.Combine(Directory.CreateTempSubdirectory("wemu-x86-bad-").FullName, "bzImage");
            File.WriteAllBytes(path, File.ReadAllBytes(Image("bzImage"))[..600_000]);
        }
        using var wemu = new WemuProcess("x86_64", "-M", "microvm", "-kernel", path);
        Assert.Equal(2, wemu.WaitForExit(CommandTimeout));
        string[] lines = wemu.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(expected, lines[0]);
    }
}
