using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>
/// The default guest with a host folder shared over virtio-9p (<c>-virtfs ...,mount_tag=host</c>, mounted by the
/// guest's init at /mnt/host), driven through its shell: list, read, write, directories, a thousand files, a
/// read-only share, and a host link that points out of the share.
/// </summary>
[Collection("Boot")]
public class NinePBootTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void Guest_Uses_A_Host_Folder_Over_9p()
    {
        string top = Directory.CreateTempSubdirectory("wemu-9p-boot-").FullName;
        string share = Path.Combine(top, "share"), ro = Path.Combine(top, "ro"), outside = Path.Combine(top, "outside");
        Directory.CreateDirectory(Path.Combine(share, "subdir"));
        Directory.CreateDirectory(ro);
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(share, "hello.txt"), "hello from the host 42\n");
        File.WriteAllText(Path.Combine(ro, "ro.txt"), "read only content\n");
        File.WriteAllText(Path.Combine(outside, "secret.txt"), "HOST-SECRET\n");
        File.CreateSymbolicLink(Path.Combine(share, "outside"), outside);
        try
        {
            using var wemu = new WemuProcess("-virtfs", $"local,path={share},mount_tag=host,security_model=none",
                "-fsdev", $"local,id=r,path={ro},readonly=on", "-device", "virtio-9p-device,fsdev=r,mount_tag=ro");
            Assert.Contains("rcS: mounted 9p share 'host' on /mnt/host", wemu.WaitFor("/ # ", BootTimeout));

            string Run(string command, string marker)
            {
                wemu.Send(command + $"; echo {marker[..2]}\"\"{marker[2..]}\n");
                string output = wemu.WaitFor(marker, CommandTimeout);
                wemu.WaitFor("/ # ", CommandTimeout);
                return output;
            }

            string ls = Run("ls /mnt/host", "ls-done");
            Assert.Contains("hello.txt", ls);
            Assert.Contains("subdir", ls);

            Assert.Contains("hello from the host 42", Run("cat /mnt/host/hello.txt", "cat-done"));

            Run("echo guest-$((6*7)) > /mnt/host/from-guest.txt", "write-done");
            Assert.Equal("guest-42\n", File.ReadAllText(Path.Combine(share, "from-guest.txt")));

            Run("mkdir /mnt/host/newdir && echo x > /mnt/host/newdir/f && mv /mnt/host/newdir /mnt/host/renamed", "mv-done");
            Assert.False(Directory.Exists(Path.Combine(share, "newdir")));
            Assert.Equal("x\n", File.ReadAllText(Path.Combine(share, "renamed", "f")));
            Assert.Contains("rm-ok", Run("rm /mnt/host/renamed/f && rmdir /mnt/host/renamed && echo rm\"\"-ok", "rm-done"));
            Assert.False(Directory.Exists(Path.Combine(share, "renamed")));

            string many = Run("mkdir /mnt/host/many && i=0; while [ $i -lt 1000 ]; do echo $i > /mnt/host/many/f$i; i=$((i+1)); done; ls /mnt/host/many | wc -l", "loop-done");
            Assert.Contains("1000", many);
            Assert.Equal(1000, Directory.GetFiles(Path.Combine(share, "many")).Length);
            Assert.Equal("999\n", File.ReadAllText(Path.Combine(share, "many", "f999")));

            string roOut = Run("mkdir -p /mnt/ro && mount -t 9p -o trans=virtio,version=9p2000.L ro /mnt/ro && cat /mnt/ro/ro.txt; touch /mnt/ro/new; echo touch-rc=$?", "ro-done");
            Assert.Contains("read only content", roOut);
            Assert.Contains("Read-only file system", roOut);
            Assert.Contains("touch-rc=1", roOut);
            Assert.False(File.Exists(Path.Combine(ro, "new")));

            // The host's link is resolved by the guest, in the guest: the host folder it names is not there.
            string escape = Run("cat /mnt/host/outside/secret.txt; ls /mnt/host/outside/", "esc-done");
            Assert.DoesNotContain("HOST-SECRET", escape);
            Assert.DoesNotContain("secret.txt\r", escape);

            wemu.Send("poweroff\n");
            Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        }
        finally
        {
            Directory.Delete(top, recursive: true);
        }
    }
}
