using System.Text.RegularExpressions;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// The build users run: the repository's <c>./wemu</c> launcher (ahead-of-time compiled on x86-64
/// Linux, where nothing may use run-time code generation or untrimmed reflection). The other CLI
/// tests run the JIT-runtime build next to the tests; this one boots the default guest through the
/// launcher, uses a shared folder, and checks that guest code ran compiled.
/// </summary>
[Collection("Boot")]
public class CliLauncherTests
{
    [Fact]
    public void Launcher_Build_Boots_Shares_A_Folder_And_Compiles_Guest_Code()
    {
        string share = Directory.CreateTempSubdirectory("wemu-launcher-").FullName;
        try
        {
            string token = Guid.NewGuid().ToString("N");
            File.WriteAllText(Path.Combine(share, "hello.txt"), token);
            // (a stale launcher build is rebuilt first: allow for it)
            using var wemu = WemuProcess.Launcher("-nographic", "-d", "jit",
                "-virtfs", $"local,path={share},mount_tag=host,security_model=none");
            Assert.Contains("mounted 9p share 'host' on /mnt/host", wemu.WaitFor("/ # ", TimeSpan.FromSeconds(300)));

            wemu.Send("cat /mnt/host/hello.txt && echo from-guest > /mnt/host/out.txt; echo 9p-\"done\"\n");
            string output = wemu.WaitFor("9p-done", TimeSpan.FromSeconds(60));
            Assert.Contains(token, output);

            wemu.Send("poweroff\n");
            Assert.Equal(0, wemu.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Equal("from-guest\n", File.ReadAllText(Path.Combine(share, "out.txt")));

            var m = Regex.Match(wemu.Output, @"wemu: jit: (\d+) blocks compiled .* instructions: (\d+) compiled, (\d+) cold");
            Assert.True(m.Success, $"no JIT counters in the output:\n{wemu.Output[^Math.Min(2000, wemu.Output.Length)..]}");
            long compiled = long.Parse(m.Groups[2].Value), cold = long.Parse(m.Groups[3].Value);
            Assert.True(compiled > 2 * cold, $"{compiled} instructions ran compiled, {cold} cold");
        }
        finally
        {
            Directory.Delete(share, recursive: true);
        }
    }

    /// <summary>
    /// A guest at its prompt waits for its next timer in the host, not in a loop: the .NET waits take whole
    /// milliseconds (less returns at once), so the idle loop used to spin through the last fraction of every
    /// timer period (x86_64: ~25 % of a host CPU at the prompt, where ~4 % is left now).
    /// </summary>
    [Theory]
    [InlineData("riscv64")]
    [InlineData("x86_64")]
    public void An_Idle_Guest_Leaves_The_Host_Cpu_Alone(string arch)
    {
        using var wemu = WemuProcess.Launcher(arch, "-nographic");
        wemu.WaitFor("/ # ", TimeSpan.FromSeconds(300));
        Thread.Sleep(1000);   // (the boot's last compiles)
        using var process = System.Diagnostics.Process.GetProcessById(wemu.Id);
        var cpu0 = process.TotalProcessorTime;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        Thread.Sleep(4000);
        process.Refresh();
        double share = (process.TotalProcessorTime - cpu0).TotalSeconds / wall.Elapsed.TotalSeconds;
        Assert.True(share < 0.12, $"the idle {arch} guest kept {share:P0} of a host CPU busy");
        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(TimeSpan.FromSeconds(60)));
    }
}
