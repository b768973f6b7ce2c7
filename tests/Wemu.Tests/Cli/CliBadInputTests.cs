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
    public void Bad_Hostfwd_Rule() => AssertOneLineError(["-nic", "user,hostfwd=tcp::http-:80"], "invalid hostfwd port 'http'");

    [Fact]
    public void Hostfwd_On_A_Port_In_Use()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        AssertOneLineError(["-nic", $"user,hostfwd=tcp::{port}-:80"], $"hostfwd: could not listen on tcp 127.0.0.1:{port}");
    }

    [Fact]
    public void Unreachable_Network_Relay()
    {
        int port = CliNetworkTests.FreePort();   // nothing listens there
        AssertOneLineError(["-nic", $"websocket,url=ws://127.0.0.1:{port}/net"], $"cannot reach the network relay ws://127.0.0.1:{port}/net");
    }

    [Fact]
    public void Network_Relay_Url_Not_A_WebSocket() => AssertOneLineError(["-nic", "websocket,url=http://127.0.0.1:1/net"], "invalid relay url 'http://127.0.0.1:1/net'");

    [Fact]
    public void Network_Relay_Without_Url() => AssertOneLineError(["-netdev", "websocket,id=n0", "-device", "virtio-net-device,netdev=n0"], "-netdev websocket needs url=");

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

    // Case 20: sizes and counts. The first two overflowed decimal -> ulong (OverflowException stack trace).
    [Theory]
    [InlineData("-m", "16777216T", "invalid size")]
    [InlineData("-m", "17592186044416", "invalid size")]
    [InlineData("-m", "0", "invalid size")]
    [InlineData("-m", "-1", "invalid size")]
    [InlineData("-m", "16G+1M", "invalid size")]
    [InlineData("-m", "1T", "between 16M and 16G")]
    [InlineData("-m", "15M", "between 16M and 16G")]
    [InlineData("-m", "16.5M", "multiple of 1M")]
    [InlineData("-smp", "0", "invalid -smp")]
    [InlineData("-smp", "-1", "invalid -smp")]
    [InlineData("-smp", "99999999999", "invalid -smp")]
    [InlineData("-smp", "2", "only -smp 1")]
    [InlineData("-icount", "shift=11", "invalid -icount shift")]
    [InlineData("-accel", "tcg,tb-size=0", "invalid -accel tb-size")]
    [InlineData("-accel", "tcg,tb-size=4097", "invalid -accel tb-size")]
    [InlineData("-accel", "tcg,thresh=-1", "invalid -accel thresh")]
    [InlineData("-accel", "tcg,thresh=99999999999", "invalid -accel thresh")]
    public void Size_And_Count_Edges(string flag, string value, string expected) => AssertOneLineError([flag, value], expected);

    // Case 21: the parser counted characters, the 9P device bytes (ArgumentException stack trace).
    [Fact]
    public void Mount_Tag_Of_200_Characters_But_400_Bytes() =>
        AssertOneLineError(["-virtfs", "local,path=/tmp,mount_tag=" + new string('é', 200)], "mount_tag");

    [Fact]
    public void Nine_Drives()
    {
        string dir = Directory.CreateTempSubdirectory("wemu-cli-").FullName;
        var args = new List<string>();
        for (int i = 0; i < 9; i++)
        {
            string img = Path.Combine(dir, $"d{i}.img");
            File.WriteAllBytes(img, new byte[4096]);
            args.AddRange(["-drive", $"file={img},format=raw"]);
        }
        AssertOneLineError([.. args], "virtio slots");
    }

    // Case 22: special files as images. /dev/zero used to be read until about 3 GB and then an
    // OutOfMemoryException; a FIFO hung in open(); a directory gave "Access to the path is denied".
    [Theory]
    [InlineData("-kernel", "/dev/zero", "could not load kernel '/dev/zero': is a character device")]
    [InlineData("-initrd", "/dev/urandom", "could not load initrd '/dev/urandom': is a character device")]
    [InlineData("-bios", "/dev/zero", "could not load firmware '/dev/zero': is a character device")]
    [InlineData("-kernel", "/tmp", "could not load kernel '/tmp': is a directory")]
    [InlineData("-drive", "file=/tmp", "could not open disk image '/tmp': is a directory")]
    [InlineData("-drive", "file=/dev/zero", "could not open disk image '/dev/zero': is a character device")]
    public void Special_File_As_Image(string flag, string value, string expected) => AssertOneLineError([flag, value], expected);

    [Theory]
    [InlineData("-kernel", "could not load kernel")]
    [InlineData("-initrd", "could not load initrd")]
    [InlineData("-drive", "could not open disk image")]
    public void Fifo_As_Image_Does_Not_Hang(string flag, string expected)
    {
        string fifo = Path.Combine(Directory.CreateTempSubdirectory("wemu-cli-").FullName, "fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])!)
            mkfifo.WaitForExit();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var wemu = new WemuProcess(flag, flag == "-drive" ? $"file={fifo},snapshot=on" : fifo);
        int code = wemu.WaitForExit(TimeSpan.FromSeconds(30));
        Thread.Sleep(100);
        Assert.Equal(2, code);
        string[] lines = wemu.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{wemu.Output}");
        Assert.StartsWith($"wemu: {expected}", lines[0]);
        Assert.Contains("FIFO", lines[0]);
    }

    // Case 22: crafted ELF files, on spike (-kernel) and as virt firmware (-bios).
    public static TheoryData<string, string> Machines() => new() { { "spike", "-kernel" }, { "virt", "-bios" } };

    [Theory]
    [MemberData(nameof(Machines))]
    public void Elf_Symbol_Table_Entry_Size_That_Wraps(string machine, string flag)
    {
        // sh_entsize = 2^64 - 8: the symbol loop stepped back to offset -8 (ArgumentOutOfRangeException).
        // The segment is outside RAM, so a well-parsed file still ends in a one-line error.
        string elf = CraftedElf.Write(paddr: 0x7000_0000, symEntSize: 0xFFFF_FFFF_FFFF_FFF8);
        AssertOneLineError(["-M", machine, flag, elf, .. machine == "spike" ? new[] { "-bios", "none" } : ["-kernel", elf]], "does not fit in RAM");
    }

    [Theory]
    [MemberData(nameof(Machines))]
    public void Elf_Program_Headers_Near_The_End_Of_The_Address_Space(string machine, string flag)
    {
        string elf = CraftedElf.Write(phoff: 0xFFFF_FFFF_FFFF_FFC8, phnum: 3);
        AssertOneLineError(["-M", machine, flag, elf, .. machine == "spike" ? new[] { "-bios", "none" } : ["-kernel", elf]], "out-of-range offsets");
    }

    [Theory]
    [MemberData(nameof(Machines))]
    public void Elf_Segment_That_Wraps_The_Address_Space(string machine, string flag)
    {
        string elf = CraftedElf.Write(paddr: 0xFFFF_FFFF_FFFF_F000, memsz: 0x2000);
        AssertOneLineError(["-M", machine, flag, elf, .. machine == "spike" ? new[] { "-bios", "none" } : ["-kernel", elf]], "segment at 0xfffffffffffff000");
    }

    /// <summary>As QEMU 7.2 (checked: "Could not open '...': Permission denied"): no silent fall-back to read-only.</summary>
    [Fact]
    public void Disk_Without_Write_Permission()
    {
        string dir = Directory.CreateTempSubdirectory("wemu-cli-").FullName;
        string img = Path.Combine(dir, "ro.img");
        File.WriteAllBytes(img, new byte[4096]);
        File.SetUnixFileMode(img, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        if (Environment.UserName == "root")
        {
            // root writes anything: make the file immutable instead, which refuses even root with EPERM.
            using var chattr = System.Diagnostics.Process.Start("chattr", ["+i", img])!;
            chattr.WaitForExit();
            Assert.True(chattr.ExitCode == 0, "chattr +i failed (root needs it to take write permission away)");
        }
        try
        {
            AssertOneLineError(["-drive", $"file={img},format=raw"], $"could not open disk image '{img}'");
        }
        finally
        {
            if (Environment.UserName == "root")
                System.Diagnostics.Process.Start("chattr", ["-i", img])!.WaitForExit();
        }
    }

    [Fact]
    public void Help_Exits_Zero()
    {
        var (code, output) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("usage: wemu", output);
    }
}
