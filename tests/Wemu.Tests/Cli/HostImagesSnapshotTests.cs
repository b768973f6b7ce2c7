using System.Security.Cryptography;
using Wemu.Cli;
using Wemu.Machines;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// Case 19 (finding F7): under snapshot=on what the guest writes goes to an unlinked temporary file, not to
/// memory, and the base image never changes.
/// </summary>
public class HostImagesSnapshotTests
{
    private const int DiskSize = 64 << 20;

    [Fact]
    public void Snapshot_Writes_Go_To_An_Unlinked_Temporary_File_Not_To_Memory()
    {
        string img = Path.Combine(Directory.CreateTempSubdirectory("wemu-snap-").FullName, "base.img");
        var pattern = new byte[DiskSize];
        new Random(7).NextBytes(pattern);
        File.WriteAllBytes(img, pattern);
        byte[] before = SHA256.HashData(File.ReadAllBytes(img));

        var config = QemuCommandLine.Parse(["-drive", $"file={img},format=raw,snapshot=on", "-serial", "none"]);
        var images = HostImages.Resolve(config, out _);
        var disk = Assert.Single(images.Drives);
        var chunk = new byte[1 << 20];
        new Random(8).NextBytes(chunk);

        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (long offset = 0; offset < DiskSize; offset += chunk.Length)
            disk.Write(offset, chunk);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        // 64 MiB written; the cluster map costs a few bytes per 4 KiB cluster.
        Assert.True(allocated < (8 << 20), $"{allocated} bytes of managed memory for 64 MiB of snapshot writes");

        var back = new byte[chunk.Length];
        disk.Read(DiskSize - chunk.Length, back);
        Assert.Equal(chunk, back);

        // The scratch is an open file in the temporary directory that no longer has a name.
        string tmp = Path.GetTempPath().TrimEnd('/');
        bool unlinkedScratch = Directory.GetFiles("/proc/self/fd").Any(fd =>
        {
            try
            {
                string? target = new FileInfo(fd).LinkTarget;
                return target != null && target.StartsWith(tmp + "/", StringComparison.Ordinal) && target.EndsWith(" (deleted)", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        });
        Assert.True(unlinkedScratch, "no unlinked temporary file open");

        disk.Flush();
        disk.Dispose();
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(img)));
    }
}
