using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>User errors: one clear line on stderr, exit status 2, never a stack trace.</summary>
public class CliBadInputTests
{
    private static (int Code, string Output) Run(params string[] args)
    {
        using var wemu = new WemuProcess(args);
        int code = wemu.WaitForExit(TimeSpan.FromSeconds(60));
        Thread.Sleep(100);
        return (code, wemu.Output);
    }

    private static void AssertOneLineError(string[] args, string expected)
    {
        var (code, output) = Run(args);
        Assert.Equal(2, code);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{output}");
        Assert.StartsWith("wemu: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public void Unknown_Flag() => AssertOneLineError(["-frobnicate"], "unknown option '-frobnicate'");

    [Fact]
    public void Flag_Missing_Its_Value() => AssertOneLineError(["-m"], "needs a value");

    [Fact]
    public void Malformed_Memory_Size() => AssertOneLineError(["-m", "lots"], "invalid size");

    [Fact]
    public void Unknown_Machine() => AssertOneLineError(["-M", "pc98"], "unknown machine 'pc98'");

    [Fact]
    public void Unknown_Architecture() => AssertOneLineError(["sparc"], "unknown architecture");

    [Fact]
    public void Missing_Kernel_File() => AssertOneLineError(["-kernel", "/nonexistent/Image"], "could not load kernel '/nonexistent/Image': no such file");

    [Fact]
    public void Missing_Disk_File() => AssertOneLineError(["-drive", "file=/nonexistent.img,if=virtio,format=raw"], "could not open disk image");

    [Fact]
    public void Unsupported_Drive_Format() => AssertOneLineError(["-drive", "file=x.qcow2,format=qcow2"], "unsupported drive format 'qcow2'");

    [Fact]
    public void Kernel_That_Is_Not_A_Kernel()
    {
        string junk = Path.Combine(Directory.CreateTempSubdirectory("wemu-cli-").FullName, "junk.bin");
        File.WriteAllBytes(junk, new byte[4096]);
        AssertOneLineError(["-kernel", junk], "neither a RISC-V Linux Image nor an ELF file");
    }

    [Fact]
    public void Truncated_Elf_Kernel()
    {
        string elf = Path.Combine(Directory.CreateTempSubdirectory("wemu-cli-").FullName, "trunc.elf");
        byte[] b = new byte[100];
        b[0] = 0x7F; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F'; b[4] = 2; b[5] = 1; b[16] = 2; b[18] = 243;
        b[32] = 0xFF; b[56] = 1; b[54] = 56;   // program headers far past the end of the file
        File.WriteAllBytes(elf, b);
        AssertOneLineError(["-M", "spike", "-bios", "none", "-kernel", elf], "truncated");
    }

    [Fact]
    public void Spike_Without_Kernel() => AssertOneLineError(["-M", "spike"], "needs -kernel");

    [Fact]
    public void Help_Exits_Zero()
    {
        var (code, output) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("usage: wemu", output);
    }
}
