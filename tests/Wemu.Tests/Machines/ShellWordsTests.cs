using Wemu.Machines;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>The page's <c>?args=</c> string becomes the words bash would pass the CLI (checked against bash below).</summary>
public class ShellWordsTests
{
    [Theory]
    [InlineData("", new string[0])]
    [InlineData("   \t ", new string[0])]
    [InlineData("-m 512M", new[] { "-m", "512M" })]
    [InlineData("  -m   512M  ", new[] { "-m", "512M" })]
    [InlineData("-append \"console=ttyS0 quiet\"", new[] { "-append", "console=ttyS0 quiet" })]
    [InlineData("-append 'a \"b\" c'", new[] { "-append", "a \"b\" c" })]
    [InlineData("-append \"say \\\"hi\\\" \\\\ \\n\"", new[] { "-append", "say \"hi\" \\ \\n" })]
    [InlineData("a\\ b c", new[] { "a b", "c" })]
    [InlineData("x''y \"\"", new[] { "xy", "" })]
    [InlineData("file=a,,b,if=virtio", new[] { "file=a,,b,if=virtio" })]
    [InlineData("$HOME *.img ~", new[] { "$HOME", "*.img", "~" })]
    public void Split_Matches_The_Shell(string text, string[] expected)
    {
        Assert.Equal(expected, ShellWords.Split(text));
        if (!text.Contains('$') && !text.Contains('*') && !text.Contains('~'))
            Assert.Equal(expected, BashWords(text));
    }

    [Theory]
    [InlineData("-append 'open", "unterminated '")]
    [InlineData("-append \"open", "unterminated \"")]
    [InlineData("-append \"open\\\"", "unterminated \"")]
    public void Split_Unterminated_Quote_Is_A_Config_Error(string text, string message)
    {
        var e = Assert.Throws<ConfigException>(() => ShellWords.Split(text));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Split_Words_Parse_Like_Cli_Arguments()
    {
        var c = QemuCommandLine.Parse(ShellWords.Split("riscv64 -m 128M -append \"console=ttyS0 quiet\" -no-reboot"));
        Assert.Equal(128UL << 20, c.MemorySize);
        Assert.Equal("console=ttyS0 quiet", c.Append);
        Assert.True(c.NoReboot);
    }

    /// <summary>The reference: bash's own word splitting of the same text.</summary>
    private static string[] BashWords(string text)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("bash", ["-c", "eval \"set -- $1\"; for w in \"$@\"; do printf '%s\\0' \"$w\"; done", "bash", text])
        {
            RedirectStandardOutput = true,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output.Length == 0 ? [] : output[..^1].Split('\0');
    }
}
