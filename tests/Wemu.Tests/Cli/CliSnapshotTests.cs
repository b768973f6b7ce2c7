using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// Snapshots through the real CLI (issue 14): boot the default RISC-V guest, leave a marker in tmpfs and in the
/// shell's own state, save it from the monitor (Ctrl-A c, migrate file:PATH), quit; then -incoming resumes it (twice,
/// on the interpreter and the JIT), RISC-V and x86_64, with the marker and the shell variable there. Bad -incoming files are one line.
/// </summary>
public sealed class CliSnapshotTests : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("wemu-snap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Boots <paramref name="args"/>, runs <paramref name="command"/> at the prompt, types migrate file:<paramref name="file"/> at the monitor and waits for <paramref name="answer"/>; then quits.</summary>
    private static void BootAndMigrate(string[] args, string command, string file, string answer)
    {
        using var wemu = new WemuProcess(args);
        wemu.WaitFor("Wemu guest ready", BootTimeout);
        wemu.WaitFor("/ # ", CommandTimeout);
        wemu.RunShellCommand(command, CommandTimeout);
        wemu.Send("\u0001c");
        wemu.WaitFor("(qemu) ", CommandTimeout);
        wemu.Send("info status\n");
        wemu.WaitFor("VM status: running", CommandTimeout);
        wemu.Send($"migrate file:{file}\n");
        wemu.WaitFor(answer, CommandTimeout);
        wemu.WaitFor("(qemu) ", CommandTimeout);
        wemu.Send("quit\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        Assert.False(File.Exists(file + ".part"));
    }

    private string Save(string arch, string accel)
    {
        string file = Path.Combine(_dir, $"{arch}-{accel}.snap");
        BootAndMigrate([arch, "-accel", accel], "echo marker-$((6*7)) > /tmp/marker; kept=shell-state-$((7*8))", file, $"migrate: wrote {file}");
        return file;
    }

    private static void Resume(string arch, string file, string accel) => Resume(arch, "-accel", accel, "-incoming", $"file:{file}");

    /// <summary>Starts <paramref name="args"/> (a resume) and checks the marker and the shell variable are there without a boot.</summary>
    private static void Resume(params string[] args)
    {
        using var wemu = new WemuProcess(args);
        // No boot: the shell is where it was, so the first thing it prints is the answer.
        string answer = wemu.RunShellCommand("cat /tmp/marker; echo $kept", CommandTimeout);
        Assert.DoesNotContain("Wemu guest ready", wemu.Output);
        Assert.Contains("marker-42", answer);
        Assert.Contains("shell-state-56", answer);
        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
    }

    [Theory]
    [InlineData("riscv64", "tcg")]
    [InlineData("riscv64", "interp")]
    [InlineData("x86_64", "tcg")]
    [InlineData("x86_64", "interp")]
    public void A_Machine_Saved_From_The_Monitor_Resumes_With_Its_Files_And_Its_Shell(string arch, string accel)
    {
        string file = Save(arch, accel);
        Resume(arch, file, accel);
        Resume(arch, file, accel == "tcg" ? "interp" : "tcg");   // the same file again, on the other engine
    }

    [Fact]
    public void Savevm_Names_A_File_In_The_Snapshot_Dir_That_Loadvm_Resumes()
    {
        string dir = Path.Combine(_dir, "named");
        using (var wemu = new WemuProcess("riscv64", "-snapshot-dir", dir))
        {
            wemu.WaitFor("/ # ", BootTimeout);
            wemu.RunShellCommand("echo marker-$((6*7)) > /tmp/marker; kept=shell-state-$((7*8))", CommandTimeout);
            wemu.Send("\u0001c");
            wemu.WaitFor("(qemu) ", CommandTimeout);
            wemu.Send("info snapshots\n");
            wemu.WaitFor("There is no snapshot available.", CommandTimeout);
            wemu.Send("savevm ../escape\n");
            wemu.WaitFor("savevm: bad snapshot name '../escape'", CommandTimeout);
            wemu.Send("savevm at-prompt\n");
            wemu.WaitFor("savevm: wrote " + Path.Combine(dir, "at-prompt.snap"), CommandTimeout);
            wemu.Send("savevm spare\n");
            wemu.WaitFor("savevm: wrote", CommandTimeout);
            wemu.Send("delvm spare\n");
            wemu.Send("info snapshots\n");
            wemu.WaitFor("List of snapshots present in", CommandTimeout);
            wemu.WaitFor("(qemu) ", CommandTimeout);
            wemu.Send("quit\n");
            Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
            Assert.Contains("at-prompt ", wemu.Output);
            Assert.DoesNotContain("spare ", wemu.Output[wemu.Output.LastIndexOf("List of snapshots", StringComparison.Ordinal)..]);
        }
        Assert.Equal(["at-prompt.snap"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(_dir));   // nothing escaped the directory
        Resume("riscv64", "-snapshot-dir", dir, "-loadvm", "at-prompt");
        using (var wemu = new WemuProcess("riscv64", "-loadvm", "at-prompt"))
        {
            Assert.Equal(2, wemu.WaitForExit(CommandTimeout));   // a flag error, as an unknown flag
            Assert.Contains("wemu: named snapshots need -snapshot-dir DIR", wemu.Output);
        }
    }

    [Fact]
    public void Monitor_On_Stdio_Saves_A_Machine_That_Resumes()
    {
        string dir = Path.Combine(_dir, "monitor");
        using (var wemu = new WemuProcess("riscv64", "-serial", "none", "-monitor", "stdio", "-snapshot-dir", dir))
        {
            wemu.WaitFor("(qemu) ", CommandTimeout);
            wemu.Send("info status\n");
            wemu.WaitFor("VM status: running", CommandTimeout);
            Thread.Sleep(TimeSpan.FromSeconds(5));   // the guest boots to its prompt meanwhile (its console goes nowhere)
            wemu.Send("savevm booted\n");
            wemu.WaitFor("savevm: wrote", CommandTimeout);
            wemu.Send("quit\n");
            Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
            Assert.DoesNotContain("Linux version", wemu.Output);   // -serial none: the guest's console is not on stdout
        }
        using (var wemu = new WemuProcess("riscv64", "-snapshot-dir", dir, "-loadvm", "booted"))
        {
            Assert.Contains("alive-3", wemu.RunShellCommand("echo alive-$((1+2))", BootTimeout));
            wemu.Send("poweroff\n");
            Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        }
        using (var wemu = new WemuProcess("riscv64", "-monitor", "stdio"))
        {
            Assert.Equal(2, wemu.WaitForExit(CommandTimeout));
            Assert.Contains("-monitor stdio needs the serial console off stdio", wemu.Output);
        }
    }

    [Fact]
    public void A_File_Of_One_Architecture_Is_Refused_By_The_Other()
    {
        string file = Save("riscv64", "tcg");
        using var wemu = new WemuProcess("x86_64", "-incoming", $"file:{file}");
        Assert.Equal(1, wemu.WaitForExit(CommandTimeout));
        Assert.Contains("snapshot of a riscv64-virt machine; this machine is x86_64-microvm", wemu.Output);
    }

    [Fact]
    public void Missing_Truncated_And_Foreign_Files_Are_One_Line_And_Exit_1()
    {
        string truncated = Path.Combine(_dir, "truncated.snap"), foreign = Path.Combine(_dir, "foreign.snap");
        File.WriteAllBytes(truncated, "WEMUSNAP\u0001\u0000"u8.ToArray());
        File.WriteAllText(foreign, "not a snapshot at all");
        foreach (var (file, message) in new[]
        {
            (Path.Combine(_dir, "missing.snap"), "Could not find"),
            (truncated, "truncated"),
            (foreign, "not a Wemu snapshot"),
        })
        {
            using var wemu = new WemuProcess("-incoming", $"file:{file}");
            Assert.Equal(1, wemu.WaitForExit(CommandTimeout));
            var lines = wemu.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("wemu:", StringComparison.Ordinal) && !l.Contains("building")).ToList();
            Assert.Single(lines);
            Assert.Contains(message, lines[0]);
        }
    }

    [Fact]
    public void A_Disk_Is_Recorded_A_Changed_Image_Is_Refused_Unless_Forced_And_Temporary_Writes_Are_Saved()
    {
        string image = Path.Combine(_dir, "disk.img"), file = Path.Combine(_dir, "disk.snap");
        File.WriteAllBytes(image, new byte[1 << 20]);
        string drive = $"file={image},if=virtio,format=raw";
        BootAndMigrate(["-drive", drive], "echo disk-marker-$((6*7)) | dd of=/dev/vda conv=notrunc 2>/dev/null; sync", file, $"migrate: wrote {file}");
        using (var wemu = new WemuProcess("-drive", drive, "-incoming", $"file:{file}"))
        {
            Assert.Contains("disk-marker-42", wemu.RunShellCommand("head -c 20 /dev/vda; echo", CommandTimeout));
            wemu.Send("\u0001x");
            wemu.WaitForExit(CommandTimeout);
        }
        File.SetLastWriteTimeUtc(image, DateTime.UtcNow.AddMinutes(5));   // another image now, as far as the file can tell
        using (var wemu = new WemuProcess("-drive", drive, "-incoming", $"file:{file}"))
        {
            Assert.Equal(1, wemu.WaitForExit(CommandTimeout));
            Assert.Contains("the disk changed since the snapshot was made", wemu.Output);
            Assert.Contains("-force-resume resumes anyway", wemu.Output);
        }
        // Forced, it resumes (saying so once) and the guest reads the image as it is now.
        using (var wemu = new WemuProcess("-drive", drive, "-incoming", $"file:{file}", "-force-resume"))
        {
            Assert.Contains("disk-marker-42", wemu.RunShellCommand("head -c 20 /dev/vda; echo", CommandTimeout));
            Assert.Single(wemu.Output.Split('\n').Where(l => l.Contains("resuming anyway (-force-resume)", StringComparison.Ordinal)));
            Assert.DoesNotContain("Wemu guest ready", wemu.Output);
            wemu.Send("\u0001x");
            wemu.WaitForExit(CommandTimeout);
        }
        // A disk with snapshot=on: its temporary writes are in the file, the image is never written, and only a disk with an
        // overlay can take them.
        var before = File.ReadAllBytes(image);
        BootAndMigrate(["-drive", drive + ",snapshot=on"], "echo temporary-$((6*7)) | dd of=/dev/vda bs=512 seek=8 conv=notrunc 2>/dev/null; sync", file + ".2",
            $"migrate: wrote {file}.2");
        for (int i = 0; i < 2; i++)
        {
            using var wemu = new WemuProcess("-drive", drive + ",snapshot=on", "-incoming", $"file:{file}.2");
            string answer = wemu.RunShellCommand("dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | head -c 12; echo; head -c 15 /dev/vda; echo", CommandTimeout);
            Assert.Contains("temporary-42", answer);
            Assert.Contains("disk-marker-42", answer);
            wemu.Send("\u0001x");
            wemu.WaitForExit(CommandTimeout);
        }
        Assert.Equal(before, File.ReadAllBytes(image));
        using (var wemu = new WemuProcess("-drive", drive, "-incoming", $"file:{file}.2", "-force-resume"))
        {
            Assert.Equal(1, wemu.WaitForExit(CommandTimeout));
            Assert.Contains("the snapshot holds writes to a disk with an overlay (snapshot=on), and this disk has none", wemu.Output);
        }
        Assert.Equal(before, File.ReadAllBytes(image));
    }
}
