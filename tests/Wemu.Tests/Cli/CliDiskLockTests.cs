using System.Diagnostics;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// Case 23: disk images are locked as QEMU 7.2 locks them (OFD byte locks), so two emulators never write one
/// image together, whichever of Wemu and qemu-system-riscv64 came first; readers (readonly=on, snapshot=on)
/// share an image nobody writes. A second Wemu that gets past the lock stops at a missing kernel instead.
/// </summary>
[Collection("Boot")]
public class CliDiskLockTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static string NewImage()
    {
        string img = Path.Combine(Directory.CreateTempSubdirectory("wemu-lock-").FullName, "d.img");
        File.WriteAllBytes(img, new byte[1 << 20]);
        return img;
    }

    /// <summary>A Wemu that holds <paramref name="img"/> (booting the default guest until disposed).</summary>
    private static WemuProcess Holder(string img, string options = "")
    {
        var wemu = new WemuProcess("-drive", $"file={img},format=raw{options}");
        wemu.WaitFor("OpenSBI", Timeout);
        return wemu;
    }

    /// <summary>A second Wemu on the same image: its one line and exit status.</summary>
    private static (int Code, string Line) Second(string img, string options = "")
    {
        using var wemu = new WemuProcess("-drive", $"file={img},format=raw{options}", "-kernel", "/nonexistent/kernel");
        int code = wemu.WaitForExit(Timeout);
        Thread.Sleep(100);
        string[] lines = wemu.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{wemu.Output}");
        return (code, lines[0]);
    }

    private static void AssertInUse(string img, string options, string lockName)
    {
        var (code, line) = Second(img, options);
        Assert.Equal(2, code);
        Assert.StartsWith($"wemu: could not open disk image '{img}': Failed to get {lockName} lock", line);
    }

    private static void AssertAllowed(string img, string options)
    {
        var (code, line) = Second(img, options);
        Assert.Equal(2, code);
        Assert.Equal("wemu: could not load kernel '/nonexistent/kernel': no such file", line);
    }

    [Fact]
    public void Second_Writer_Is_Refused()
    {
        string img = NewImage();
        using var a = Holder(img);
        AssertInUse(img, "", "\"write\"");
    }

    [Fact]
    public void Reader_Is_Refused_While_Someone_Writes()
    {
        // QEMU 7.2 does the same: "Failed to get shared "write" lock" for snapshot=on and readonly=on.
        string img = NewImage();
        using var a = Holder(img);
        AssertInUse(img, ",snapshot=on", "shared \"write\"");
        AssertInUse(img, ",readonly=on", "shared \"write\"");
    }

    [Fact]
    public void Readers_Share_An_Image_And_Keep_Writers_Out()
    {
        string img = NewImage();
        using var a = Holder(img, ",snapshot=on");
        AssertAllowed(img, ",snapshot=on");
        AssertAllowed(img, ",readonly=on");
        AssertInUse(img, "", "\"write\"");
    }

    [Fact]
    public void Lock_Goes_Away_With_The_Process()
    {
        string img = NewImage();
        using (var a = Holder(img))
        {
            a.Signal("KILL");
            a.WaitForExit(Timeout);
        }
        AssertAllowed(img, "");
    }

    private static Process StartQemu(string img, string options = "")
    {
        var psi = new ProcessStartInfo("qemu-system-riscv64")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-M", "virt", "-bios", "none", "-nographic", "-serial", "none", "-monitor", "none",
                     "-drive", $"file={img},format=raw,if=virtio{options}" })
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>Waits until some process holds an OFD lock on <paramref name="img"/> (/proc/locks, by inode).</summary>
    private static void WaitForOfdLock(string img)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", img]) { RedirectStandardOutput = true })!;
        string inode = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < Timeout)
        {
            if (File.ReadAllLines("/proc/locks").Any(l => l.Contains("OFDLCK") && l.Contains($":{inode} ")))
                return;
            Thread.Sleep(50);
        }
        Assert.Fail($"no OFD lock on {img} after {Timeout.TotalSeconds}s");
    }

    [Fact]
    public void Wemu_Refuses_An_Image_Qemu_Writes()
    {
        Assert.True(File.Exists("/usr/bin/qemu-system-riscv64"), "qemu-system-riscv64 is needed (test.sh installs it)");
        string img = NewImage();
        using var qemu = StartQemu(img);
        try
        {
            WaitForOfdLock(img);
            AssertInUse(img, "", "\"write\"");
            AssertInUse(img, ",snapshot=on", "shared \"write\"");
        }
        finally
        {
            qemu.Kill();
            qemu.WaitForExit();
        }
    }

    [Fact]
    public void Qemu_Refuses_An_Image_Wemu_Writes()
    {
        Assert.True(File.Exists("/usr/bin/qemu-system-riscv64"), "qemu-system-riscv64 is needed (test.sh installs it)");
        string img = NewImage();
        using var a = Holder(img);
        using var qemu = StartQemu(img);
        var stderr = qemu.StandardError.ReadToEndAsync();
        bool exited = qemu.WaitForExit(30_000);
        if (!exited)
        {
            qemu.Kill();
            qemu.WaitForExit();
        }
        Assert.True(exited, "QEMU opened, and kept running on, an image Wemu writes");
        Assert.Equal(1, qemu.ExitCode);
        Assert.Contains("Failed to get \"write\" lock", stderr.Result);
    }

    [Fact]
    public void Qemu_Shares_An_Image_Wemu_Only_Reads()
    {
        Assert.True(File.Exists("/usr/bin/qemu-system-riscv64"), "qemu-system-riscv64 is needed (test.sh installs it)");
        string img = NewImage();
        using var a = Holder(img, ",snapshot=on");
        using var qemu = StartQemu(img, ",readonly=on");
        try
        {
            // QEMU refuses at start-up or not at all: still running after it opened the image means shared.
            WaitForOfdLockCount(img, 2);
            Thread.Sleep(1000);
            Assert.False(qemu.HasExited, qemu.HasExited ? qemu.StandardError.ReadToEnd() : "");
        }
        finally
        {
            if (!qemu.HasExited)
                qemu.Kill();
            qemu.WaitForExit();
        }
    }

    /// <summary>Waits until <paramref name="holders"/> different open files hold byte 100 (consistent read) of the image.</summary>
    private static void WaitForOfdLockCount(string img, int holders)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", img]) { RedirectStandardOutput = true })!;
        string inode = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < Timeout)
        {
            int n = File.ReadAllLines("/proc/locks").Count(l => l.Contains("OFDLCK") && l.Contains($":{inode} 100 "));
            if (n >= holders)
                return;
            Thread.Sleep(50);
        }
        Assert.Fail($"fewer than {holders} holders of {img} after {Timeout.TotalSeconds}s");
    }
}
