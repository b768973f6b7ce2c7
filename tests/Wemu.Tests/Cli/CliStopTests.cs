using System.Diagnostics;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// Every way out leaves the host as it was: SIGTERM flushes the disks and exits cleanly (releasing the image),
/// a failure after the terminal went raw restores it, and host stdin the guest does not read is held back
/// by the pipe rather than queued in memory without end.
/// </summary>
[Collection("Boot")]
public class CliStopTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void Sigterm_Flushes_Exits_Cleanly_And_Releases_The_Image()
    {
        string img = Path.Combine(Directory.CreateTempSubdirectory("wemu-stop-").FullName, "d.img");
        File.WriteAllBytes(img, new byte[1 << 20]);
        using (var a = new WemuProcess("-drive", $"file={img},format=raw"))
        {
            a.WaitFor("OpenSBI", Timeout);
            a.Signal("TERM");
            Assert.Equal(0, a.WaitForExit(TimeSpan.FromSeconds(20)));
            Thread.Sleep(100);
            Assert.Contains("wemu: terminating on signal 15", a.Output);
            Assert.DoesNotContain("   at ", a.Output);
        }
        using var b = new WemuProcess("-drive", $"file={img},format=raw", "-kernel", "/nonexistent/kernel");
        Assert.Equal(2, b.WaitForExit(Timeout));
        Thread.Sleep(100);
        Assert.Contains("could not load kernel", b.Output);
    }

    /// <summary>
    /// -m 16G under a 3 GB address-space limit: calloc fails after the terminal went raw. The user gets one
    /// line, status 2, and a cooked terminal (stty in the same pseudo-terminal right after).
    /// </summary>
    [Fact]
    public void Not_Enough_Host_Memory_Is_One_Line_And_The_Terminal_Is_Restored()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Wemu.Cli.dll");
        var psi = new ProcessStartInfo("script")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-qfec");
        // The runtime's own heap is capped so that it starts within the limit; guest RAM is native memory.
        psi.ArgumentList.Add($"ulimit -v 3000000; DOTNET_GCHeapHardLimit=0x10000000 dotnet '{dll}' -m 16G; echo status=$?; stty -a");
        psi.ArgumentList.Add("/dev/null");
        psi.Environment["WEMU_IMAGES"] = Path.Combine(WemuProcess.RepoRoot, "images");
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        output += stderr.Result;
        Assert.Contains("wemu: not enough host memory for this machine (-m 16G)", output);
        Assert.Contains("status=2", output);
        Assert.DoesNotContain("   at ", output);
        Assert.DoesNotContain("-icanon", output);
        Assert.Contains(" icanon", output);
        Assert.Contains(" echo ", output);
    }

    /// <summary>
    /// A bare-metal guest that spins and never reads its console, fed from a producer as fast as a pipe goes
    /// (<c>yes | wemu</c>): once the emulator's input queue is full it stops reading, so the producer blocks.
    /// </summary>
    [Fact]
    public void Unread_Stdin_Is_Held_Back_Not_Queued()
    {
        string elf = CraftedElf.Write();
        using var wemu = new WemuProcess("-M", "spike", "-bios", "none", "-kernel", elf);
        long written = 0;
        var chunk = new byte[64 * 1024];
        chunk.AsSpan().Fill((byte)'y');
        var writer = new Thread(() =>
        {
            try
            {
                while (written < (512L << 20))
                {
                    wemu.Input.Write(chunk);
                    wemu.Input.Flush();
                    Interlocked.Add(ref written, chunk.Length);
                }
            }
            catch (IOException)
            {
                // the process was killed at the end of the test
            }
        }) { IsBackground = true };
        writer.Start();
        Thread.Sleep(5000);
        Assert.False(wemu.HasExited, wemu.Output);
        long accepted = Interlocked.Read(ref written);
        // The queue (64 KiB) plus the pipe buffer (64 KiB by default, 1 MiB at most): far below 8 MiB.
        Assert.True(accepted < (8L << 20), $"{accepted} bytes of stdin accepted by a guest that reads nothing");
        Assert.True(accepted > 0);
    }
}
