using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>
/// Debian's stock kernel (linux-image-amd64: XZ-compressed vmlinuz, drivers as modules; fetched by
/// tests/references/fetch.sh) on the microvm board through the CLI, with the bundled BusyBox initramfs
/// plus an appended archive of the modules for virtio-mmio, virtio-blk, 9p and ext4. The shell loads
/// them, mounts a 9p share and an ext2 disk (ext4 driver) built here holding dynamically linked glibc
/// programs from the host's Debian packages with their loader and libraries; each program runs in a
/// chroot on that disk with the same arguments as on the host, and writes its output to the share:
/// stdout, stderr and exit status must be the host's.
/// </summary>
[Collection("Boot")]
public partial class X86DebianKernelTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(600);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(180);

    /// <summary>The modules the test needs; their dependencies come from each file's depends=.</summary>
    private static readonly string[] Wanted = ["virtio_mmio", "virtio_blk", "9pnet_virtio", "9p", "crc32c_generic", "ext4"];

    /// <summary>Programs and arguments, run with LC_ALL=C and TZ=UTC in the disk's root (inputs under data/).</summary>
    private static readonly (string Name, string[] Argv)[] Commands =
    [
        ("sort -n", ["sort", "-n", "data/numbers.txt"]),
        ("sort -g (strtold: x87)", ["sort", "-g", "data/floats.txt"]),
        ("sort by a float key", ["sort", "-t,", "-k2,2gr", "-k1,1", "data/words.csv"]),
        ("md5sum", ["md5sum", "data/blob.bin"]),
        ("sha1sum", ["sha1sum", "data/blob.bin"]),
        ("sha256sum", ["sha256sum", "data/blob.bin"]),
        ("sha512sum", ["sha512sum", "data/blob.bin"]),
        ("factor (GMP)", ["factor", "1234567890123456789", "18446744073709551617", "170141183460469231731687303715884105727"]),
        ("expr (GMP)", ["expr", "123456789012345678901234567890", "*", "987654321"]),
        ("seq of long doubles", ["seq", "-f", "%.19Lg", "0", "0.1", "2"]),
        ("seq -w", ["seq", "-w", "-5", "3", "25"]),
        ("printf of long doubles", ["printf", "%.25Lg %La %.17Le %d %x %s\\n", "0.1", "3.14159265358979323846264", "1e-4940", "1234567", "255", "ok"]),
        ("printf of doubles", ["printf", "%.17g %a %e %g\\n", "1e300", "0.3", "-2.5e-310", "123456789.987654321"]),
        ("date", ["date", "-u", "-d", "@1234567890", "+%F %T %A %j %U %V %s"]),
        ("date parsing", ["date", "-u", "-d", "2024-02-29 13:45:10 +0530", "+%s %c"]),
        ("mawk with libm", ["mawk", "BEGIN { for (i = 1; i <= 20; i++) printf \"%.17g %.17g %.17g %.17g\\n\", sin(i * 0.7), exp(i * 3.1), log(i + 0.5), atan2(i, 3); print sqrt(2), 2 ^ 0.5, int(-3.7) }"]),
        ("mawk over a file", ["mawk", "-F,", "{ s += $2; n++ } END { printf \"%.10f %d\\n\", s / n, n }", "data/words.csv"]),
        ("gzip -9", ["gzip", "-9", "-n", "-c", "data/numbers.txt"]),
        ("sed -E", ["sed", "-E", "s/([a-z]+)([0-9]+)/\\2-\\1/", "data/words.csv"]),
        ("grep -E (PCRE2 library loaded)", ["grep", "-c", "-E", "^[a-m][a-z]*[0-9]{3},", "data/words.csv"]),
        ("od", ["od", "-A", "x", "-t", "x8z", "-N", "256", "data/blob.bin"]),
        ("numfmt", ["numfmt", "--to=iec-i", "--suffix=B", "1", "1023", "1048576", "123456789012345"]),
        ("a missing file", ["sort", "data/missing"]),
    ];

    private static string KernelDirectory()
    {
        string root = Path.Combine(WemuProcess.RepoRoot, "artifacts", "references", "debian-kernel");
        string current = Path.Combine(root, "current");
        string? dir = File.Exists(current) ? Path.Combine(root, File.ReadAllText(current).Trim()) : null;
        Assert.True(dir != null && File.Exists(Path.Combine(dir, "vmlinuz")),
            $"{root}/current and its vmlinuz are missing: tests/references/fetch.sh fetches them (test.sh runs it)");
        return dir!;
    }

    [GeneratedRegex(@"^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)", RegexOptions.Multiline)]
    private static partial Regex LddPath();

    /// <summary>The modules' load order: each after what its .modinfo depends= names.</summary>
    private static List<string> LoadOrder(string modules)
    {
        var order = new List<string>();
        void Visit(string name)
        {
            if (order.Contains(name))
                return;
            string file = Path.Combine(modules, name + ".ko");
            Assert.True(File.Exists(file), $"module {name} is missing from {modules}");
            string text = Encoding.Latin1.GetString(File.ReadAllBytes(file));
            int at = text.IndexOf("\0depends=", StringComparison.Ordinal);
            Assert.True(at >= 0, $"{name}.ko has no depends= in its .modinfo");
            string deps = text[(at + 9)..text.IndexOf('\0', at + 9)];
            foreach (var d in deps.Split(',', StringSplitOptions.RemoveEmptyEntries))
                Visit(d);
            order.Add(name);
        }
        foreach (var m in Wanted)
            Visit(m);
        return order;
    }

    private static (int Status, byte[] Stdout, string Stderr) Run(string file, IEnumerable<string> args, string? directory = null, Dictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (directory != null)
            psi.WorkingDirectory = directory;
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        if (env != null)
        {
            psi.Environment.Clear();
            foreach (var (k, v) in env)
                psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        using var stdout = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(stdout);
        p.WaitForExit();
        return (p.ExitCode, stdout.ToArray(), stderr.Result);
    }

    /// <summary>The disk's tree: the programs at their paths with every library ldd names, and the inputs.</summary>
    private static void BuildTree(string tree)
    {
        foreach (var program in Commands.Select(c => c.Argv[0]).Distinct())
        {
            string path = "/usr/bin/" + program;
            Assert.True(File.Exists(path), $"{path} is not on the host (coreutils, mawk, gzip, sed, grep are Debian essentials)");
            var (status, stdout, _) = Run("ldd", [path]);
            Assert.Equal(0, status);
            var files = LddPath().Matches(Encoding.UTF8.GetString(stdout)).Select(m => m.Groups[1].Value).Append(path);
            foreach (var f in files)
            {
                string to = Path.Combine(tree, f.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(f, to, overwrite: true); // follows symbolic links: the guest gets the file under the name ldd gave
                File.SetUnixFileMode(to, (UnixFileMode)0x1ED);
            }
        }
        string data = Path.Combine(tree, "data");
        Directory.CreateDirectory(data);
        var rng = new Random(20261203);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        File.WriteAllLines(Path.Combine(data, "numbers.txt"), Enumerable.Range(0, 3000).Select(_ => rng.NextInt64(-2_000_000_000_000, 2_000_000_000_000).ToString(inv)));
        string[] specials = ["0x1.8p3", "-inf", "inf", "nan", "1e-320", "1e4000", "-0", "0", "1e-4950", "0x1p-16445", "12345678901234567890123"];
        File.WriteAllLines(Path.Combine(data, "floats.txt"), Enumerable.Range(0, 400).Select(i =>
            i < specials.Length ? specials[i] : (rng.NextDouble() * Math.Pow(10, rng.Next(-300, 300)) * (rng.Next(2) == 0 ? -1 : 1)).ToString("R", inv)));
        const string letters = "abcdefghijklmnopqrstuvwxyz";
        File.WriteAllLines(Path.Combine(data, "words.csv"), Enumerable.Range(0, 600).Select(_ =>
            new string(Enumerable.Range(0, rng.Next(2, 9)).Select(_ => letters[rng.Next(26)]).ToArray()) + rng.Next(0, 10000).ToString(inv)
            + "," + (rng.NextDouble() * 2000 - 1000).ToString("F3", inv) + ",x"));
        var blob = new byte[192 * 1024];
        rng.NextBytes(blob);
        File.WriteAllBytes(Path.Combine(data, "blob.bin"), blob);
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [Fact]
    public void Debian_Stock_Kernel_Loads_Its_Modules_Mounts_9p_And_Ext4_And_Runs_The_Hosts_Glibc_Programs_Alike()
    {
        string kernelDir = KernelDirectory();
        string work = Directory.CreateTempSubdirectory("wemu-debian-kernel-").FullName;
        try
        {
            // initramfs: the bundled one, then (4-byte aligned, as the kernel's unpacker wants) the modules
            var order = LoadOrder(Path.Combine(kernelDir, "modules"));
            var extra = new NewcArchive();
            extra.AddDirectory("lib");
            extra.AddDirectory("lib/modules");
            extra.AddDirectory("lib/modules/wemu");
            foreach (var m in order)
                extra.AddFile($"lib/modules/wemu/{m}.ko", File.ReadAllBytes(Path.Combine(kernelDir, "modules", m + ".ko")));
            string initrd = Path.Combine(work, "initrd");
            using (var f = File.Create(initrd))
            {
                f.Write(File.ReadAllBytes(Path.Combine(WemuProcess.RepoRoot, "images", "x86_64", "initramfs.cpio.gz")));
                while (f.Length % 4 != 0)
                    f.WriteByte(0);
                f.Write(extra.ToArray());
            }

            // the ext2 disk with the programs, and the host's results
            string tree = Path.Combine(work, "tree");
            BuildTree(tree);
            long bytes = Directory.EnumerateFiles(tree, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            string disk = Path.Combine(work, "disk.ext2");
            var mke2fs = Run("mke2fs", ["-q", "-F", "-t", "ext2", "-L", "glibc", "-d", tree, disk, $"{(bytes * 3 / 2 + (8 << 20)) / 1024}k"]);
            Assert.True(mke2fs.Status == 0, "mke2fs: " + mke2fs.Stderr);
            var env = new Dictionary<string, string> { ["LC_ALL"] = "C", ["TZ"] = "UTC", ["PATH"] = "/usr/bin:/bin", ["GLIBC_TUNABLES"] = X86QemuTcgRun.HostTunables };
            var host = Commands.Select(c => Run("/usr/bin/" + c.Argv[0], c.Argv[1..], tree, env)).ToArray();

            // the share: the script the guest runs, and where it writes each program's output
            string share = Path.Combine(work, "share");
            Directory.CreateDirectory(Path.Combine(share, "out"));
            var script = new StringBuilder();
            for (int i = 0; i < Commands.Length; i++)
            {
                string argv = string.Join(' ', Commands[i].Argv.Skip(1).Select(Quote));
                script.Append(System.Globalization.CultureInfo.InvariantCulture,
                    $"env -i LC_ALL=C TZ=UTC PATH=/usr/bin:/bin /usr/sbin/chroot /mnt/disk /usr/bin/{Commands[i].Argv[0]} {argv} > /mnt/host/out/{i}.out 2> /mnt/host/out/{i}.err; echo $? > /mnt/host/out/{i}.status\n");
            }
            File.WriteAllText(Path.Combine(share, "run.sh"), script.ToString());

            var sw = Stopwatch.StartNew();
            using var wemu = new WemuProcess("x86_64", "-m", "512M", "-kernel", Path.Combine(kernelDir, "vmlinuz"), "-initrd", initrd,
                "-append", "console=ttyS0", "-virtfs", $"local,path={share},mount_tag=host",
                "-drive", $"file={disk},if=virtio,format=raw,snapshot=on");
            wemu.WaitFor("Wemu guest ready", BootTimeout);
            wemu.WaitFor("/ # ", CommandTimeout);
            var booted = sw.Elapsed;
            wemu.Send($"for m in {string.Join(' ', order)}; do insmod /lib/modules/wemu/$m.ko || echo insmod-fail\"\"ed-$m; done; echo modules-\"\"loaded\n");
            string loading = wemu.WaitFor("modules-loaded", CommandTimeout);
            Assert.DoesNotContain("insmod-failed", loading);
            wemu.WaitFor("/ # ", CommandTimeout);
            wemu.Send("mkdir -p /mnt/host /mnt/disk; mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 host /mnt/host; "
                + "mount -t ext4 -o ro /dev/vda /mnt/disk; grep -E '/mnt/(host|disk)' /proc/mounts; echo mounts-\"\"listed\n");
            string mounts = wemu.WaitFor("mounts-listed", CommandTimeout);
            Assert.Matches(@"host /mnt/host 9p ", mounts);
            Assert.Matches(@"/dev/vda /mnt/disk ext4 ro", mounts); // the ext2 image, mounted by the ext4 module
            wemu.WaitFor("/ # ", CommandTimeout);
            wemu.Send("sh /mnt/host/run.sh; echo programs-\"\"finished\n");
            wemu.WaitFor("programs-finished", BootTimeout);
            wemu.WaitFor("/ # ", CommandTimeout);
            wemu.Send("poweroff\n");
            Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
            Console.WriteLine($"X86DebianKernelTests: {Path.GetFileName(kernelDir)} at the shell after {booted.TotalSeconds:F0} s, done after {sw.Elapsed.TotalSeconds:F0} s");

            var failures = new List<string>();
            for (int i = 0; i < Commands.Length; i++)
            {
                string o = Path.Combine(share, "out", $"{i}.");
                var (name, argv) = Commands[i];
                if (!File.Exists(o + "status"))
                {
                    failures.Add($"{name}: did not run in the guest");
                    continue;
                }
                int status = int.Parse(File.ReadAllText(o + "status").Trim(), System.Globalization.CultureInfo.InvariantCulture);
                byte[] stdout = File.ReadAllBytes(o + "out");
                string stderr = File.ReadAllText(o + "err");
                if (status != host[i].Status)
                    failures.Add($"{name}: exit status host {host[i].Status}, wemu {status} ({stderr.Trim()})");
                else if (!stdout.AsSpan().SequenceEqual(host[i].Stdout))
                {
                    int at = stdout.AsSpan().CommonPrefixLength(host[i].Stdout);
                    string Around(byte[] b) => Encoding.UTF8.GetString(b, Math.Max(0, at - 40), Math.Min(b.Length - Math.Max(0, at - 40), 120));
                    failures.Add($"{name}: stdout differs at byte {at} ({host[i].Stdout.Length} bytes on the host, {stdout.Length} in wemu)\n  host: {Around(host[i].Stdout)}\n  wemu: {Around(stdout)}");
                }
                else if (stderr != host[i].Stderr)
                    failures.Add($"{name}: stderr host '{host[i].Stderr.Trim()}', wemu '{stderr.Trim()}'");
            }
            Assert.True(failures.Count == 0, string.Join('\n', failures));
            Assert.Contains(host, h => h.Status != 0); // the missing file: a failing program is compared too
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
