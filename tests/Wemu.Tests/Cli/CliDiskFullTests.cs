using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// A host that cannot take the guest's writes (disk full, file size limit, quota): the guest sees an
/// I/O error on its disk and goes on, and so does the emulator. The host failure is made real with
/// a file-size limit on the emulator's process (writes past it fail with EFBIG, SIGXFSZ ignored),
/// so the whole path runs: the guest's dd, virtio-blk, the file backend's pwrite.
/// </summary>
[Collection("Boot")]
public class CliDiskFullTests
{
    [Fact]
    public void A_Write_The_Host_Refuses_Is_An_IO_Error_In_The_Guest_And_Both_Go_On()
    {
        string dir = Directory.CreateTempSubdirectory("wemu-diskfull-").FullName;
        string disk = Path.Combine(dir, "disk.img");
        try
        {
            using (var f = File.Create(disk))
                f.SetLength(16 << 20);
            // 2 MiB file-size limit (ulimit -f counts KiB). The .NET runtime's own W^X double mapping
            // sizes a memory file past such a limit, so it is turned off for this process.
            using var wemu = WemuProcess.AfterShellSetup("trap '' XFSZ; ulimit -f 2048; export DOTNET_EnableWriteXorExecute=0",
                "-nographic", "-drive", $"file={disk},if=virtio,format=raw");
            wemu.WaitFor("/ # ", TimeSpan.FromSeconds(180));
            // 1 MiB at offset 4 MiB (past the limit), bypassing the guest's page cache.
            wemu.Send("dd if=/dev/zero of=/dev/vda bs=64k seek=64 count=16 oflag=direct; echo still-$((6*7))\n");
            string output = wemu.WaitFor("still-42", TimeSpan.FromSeconds(60));
            Assert.Contains("I/O error, dev vda", output);
            Assert.Contains("Input/output error", output);
            // Below the limit the same disk still works.
            wemu.Send("dd if=/dev/zero of=/dev/vda bs=64k count=4 oflag=direct && echo written-$((6*7))\n");
            Assert.Contains("written-42", wemu.WaitFor("written-42", TimeSpan.FromSeconds(60)));
            wemu.Send("poweroff\n");
            Assert.Equal(0, wemu.WaitForExit(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
