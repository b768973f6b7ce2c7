using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>-virtfs mistakes through the real CLI: one line on stderr, exit status 2.</summary>
public class CliVirtfsTests
{
    private static (int Code, string Output) Run(params string[] args)
    {
        using var wemu = new WemuProcess(args);
        int code = wemu.WaitForExit(TimeSpan.FromSeconds(60));
        Thread.Sleep(100);
        return (code, wemu.Output);
    }

    [Theory]
    [InlineData("local,path=/nonexistent/share,mount_tag=host", "could not share '/nonexistent/share': no such directory")]
    [InlineData("local,path=/etc/hostname,mount_tag=host", "could not share '/etc/hostname': no such directory")]
    [InlineData("local,path=/tmp", "-virtfs needs mount_tag=TAG")]
    public void Bad_Share_Is_A_One_Line_Error(string spec, string expected)
    {
        var (code, output) = Run("-virtfs", spec);
        Assert.Equal(2, code);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{output}");
        Assert.Equal($"wemu: {expected}", lines[0]);
    }
}
