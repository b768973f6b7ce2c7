using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Wemu.Tests.Machines;

/// <summary>
/// QEMU's own x86 TCG tests (tests/tcg from Debian's qemu source package, fetched by
/// tests/references/fetch.sh) compiled statically with the host gcc as QEMU's makefiles do for
/// x86_64, run natively (the reference) and in one boot of the bundled x86_64 guest through the CLI,
/// the binaries and their outputs passing through a 9p share. One run serves the whole test class.
/// </summary>
public sealed partial class X86QemuTcgRun : IDisposable
{
    /// <summary>A test: its name, its sources (relative to tests/tcg) and how its output is compared.</summary>
    public sealed record Program(string Name, string[] Sources, string Why);

    /// <summary>
    /// What is built: test-i386.c (as test-x86_64, QEMU's x86_64 target), every x87 test of tests/tcg/i386
    /// that builds for x86_64, and the multiarch and x86_64 tests with deterministic output. Left out:
    /// test-i386-fprem (66 MB of output, 3 s natively; QEMU runs it only with SPEED=slow),
    /// test-i386-sse-exceptions (ROUNDSS/ROUNDSD: SSE4.1), test-i386-bmi2, -pcmpistri, -ssse3, test-avx,
    /// test-mmx, test-3dnow (beyond qemu64; QEMU runs them with -cpu max), test-i386-code16/-vm86 (i386 only),
    /// vsyscall (the bundled kernel has no vsyscall emulation), signals, testthread, threadcount,
    /// munmap-pthread (timing and thread interleaving in their output).
    /// </summary>
    public static readonly Program[] Programs =
    [
        new("test-x86_64", ["i386/test-i386.c"], "QEMU's x86_64 target's test-i386 (integer, flags, string, x87, SSE, segments)"),
        .. new[]
        {
            "f2xm1", "fbstp", "fisttp", "fldcst", "fp-exceptions", "fpatan", "fscale", "fxam", "fxtract", "fyl2x", "fyl2xp1",
            "pseudo-denormal", "snan-convert",
        }.Select(n => new Program("test-i386-" + n, [$"i386/test-i386-{n}.c"], "x87, self-checking")),
        new("float_convs", ["multiarch/float_convs.c", "multiarch/libs/float_helpers.c"], "SSE conversions, also against x86_64/float_convs.ref"),
        new("float_convd", ["multiarch/float_convd.c", "multiarch/libs/float_helpers.c"], "SSE conversions, also against x86_64/float_convd.ref"),
        new("float_madds", ["multiarch/float_madds.c", "multiarch/libs/float_helpers.c"], "fmaf (glibc's SSE2 path) with flags in every rounding mode"),
        new("sha1", ["multiarch/sha1.c"], "integer"),
        new("sha512", ["multiarch/sha512.c"], "64-bit integer"),
        new("overflow", ["multiarch/overflow.c"], "signed overflow checks"),
        new("sigbus", ["multiarch/sigbus.c"], "signal delivery"),
        new("test-mmap", ["multiarch/test-mmap.c"], "mmap/munmap/mprotect (addresses masked: ASLR)"),
        new("cmpxchg", ["x86_64/cmpxchg.c"], "CMPXCHG"),
        new("noexec", ["x86_64/noexec.c"], "self-modifying code and SIGSEGV on a non-executable page"),
    ];

    /// <summary>What the host's glibc must not pick for the reference run: qemu64 has none of it (fmaf takes the FMA path there).</summary>
    public const string HostTunables = "glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-FMA,-FMA4";

    public sealed class Result
    {
        public string? BuildError;
        public int HostStatus, GuestStatus = -1;
        public string HostOutput = "", GuestOutput = "";
        public string? Reference;
    }

    public Dictionary<string, Result> Results { get; } = [];
    public string? Error { get; private set; }
    public string GuestLog { get; private set; } = "";
    public TimeSpan GuestTime { get; private set; }

    public static string TcgDirectory => Path.Combine(WemuProcess.RepoRoot, "artifacts", "references", "qemu-tcg", "tests", "tcg");

    private readonly string _work = Directory.CreateTempSubdirectory("wemu-qemu-tcg-").FullName;

    public X86QemuTcgRun()
    {
        try
        {
            Run();
        }
        catch (Exception e)
        {
            Error = e.Message;
        }
    }

    private void Run()
    {
        if (!Directory.Exists(TcgDirectory))
            throw new InvalidOperationException($"{TcgDirectory} is missing: tests/references/fetch.sh fetches it (test.sh runs it)");
        foreach (var p in Programs)
        {
            var r = new Result();
            Results[p.Name] = r;
            // QEMU's tests/tcg/Makefile.target flags, -static, and -lm as its x86_64 Makefile.target adds
            var args = new List<string> { "-Wall", "-O0", "-g", "-fno-strict-aliasing", "-I", Path.Combine(TcgDirectory, "multiarch") };
            args.AddRange(p.Sources.Select(s => Path.Combine(TcgDirectory, s)));
            args.AddRange(["-o", Path.Combine(_work, p.Name), "-static", "-lm", "-lpthread"]);
            var (status, output) = Exec("gcc", args, _work);
            if (status != 0)
            {
                r.BuildError = output;
                continue;
            }
            (r.HostStatus, r.HostOutput) = Exec("bash", ["-c", $"./{p.Name} > {p.Name}.host 2>&1; echo -n $?"], _work, HostTunables);
            r.HostOutput = File.ReadAllText(Path.Combine(_work, p.Name + ".host"));
            string reference = Path.Combine(TcgDirectory, "x86_64", p.Name + ".ref");
            if (File.Exists(reference))
                r.Reference = File.ReadAllText(reference);
        }
        var built = Programs.Where(p => Results[p.Name].BuildError == null).Select(p => p.Name).ToArray();
        File.WriteAllText(Path.Combine(_work, "run.sh"),
            "cd /mnt/host\nfor t in " + string.Join(' ', built) + "; do ./$t > $t.wemu 2>&1; echo $? > $t.status; done\n");
        var sw = Stopwatch.StartNew();
        using (var wemu = new WemuProcess("x86_64", "-m", "256M", "-virtfs", $"local,path={_work},mount_tag=host"))
        {
            wemu.WaitFor("rcS: mounted 9p share 'host' on /mnt/host", TimeSpan.FromSeconds(240));
            wemu.WaitFor("/ # ", TimeSpan.FromSeconds(60));
            wemu.Send("sh /mnt/host/run.sh; echo tcg-\"\"finished\n");
            wemu.WaitFor("tcg-finished", TimeSpan.FromSeconds(900));
            wemu.WaitFor("/ # ", TimeSpan.FromSeconds(60));
            wemu.Send("poweroff\n");
            int exit = wemu.WaitForExit(TimeSpan.FromSeconds(60));
            GuestLog = wemu.Output;
            if (exit != 0)
                throw new InvalidOperationException($"wemu exited with {exit}");
        }
        GuestTime = sw.Elapsed;
        foreach (var name in built)
        {
            var r = Results[name];
            string status = Path.Combine(_work, name + ".status");
            if (File.Exists(status))
                r.GuestStatus = int.Parse(File.ReadAllText(status).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            string output = Path.Combine(_work, name + ".wemu");
            if (File.Exists(output))
                r.GuestOutput = File.ReadAllText(output);
        }
    }

    private static (int Status, string Output) Exec(string file, IEnumerable<string> args, string directory, string? tunables = null)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        if (tunables != null)
            psi.Environment["GLIBC_TUNABLES"] = tunables;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (file == "bash" ? int.Parse(stdout, System.Globalization.CultureInfo.InvariantCulture) : p.ExitCode, stdout + stderr.Result);
    }

    [GeneratedRegex(@"^(shldw|shrdw)\s+A=\S+ B=\S+ C=([0-9a-f]+) .*\n", RegexOptions.Multiline)]
    private static partial Regex WordDoubleShift();

    [GeneratedRegex(@"addr=0x[0-9a-f]+")]
    private static partial Regex MappedAddress();

    /// <summary>
    /// The output with what no two CPUs agree on taken out: SHLD/SHRD of a 16-bit operand by 17-31
    /// (SDM: "the result is undefined"; Intel, and QEMU and Wemu after it, shift through a:b:a, AMD
    /// otherwise), and mmap addresses (ASLR).
    /// </summary>
    public static string Normalize(string name, string output)
    {
        if (name == "test-x86_64")
            output = WordDoubleShift().Replace(output, m => (Convert.ToUInt64(m.Groups[2].Value, 16) & 31) > 16 ? "" : m.Value);
        if (name == "test-mmap")
            output = MappedAddress().Replace(output, "addr=(masked)");
        return output;
    }

    /// <summary>The first line where two outputs differ, with its neighbours, for a failure message.</summary>
    public static string FirstDifference(string expected, string actual)
    {
        string[] e = expected.Split('\n'), a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            string x = i < e.Length ? e[i] : "(end)", y = i < a.Length ? a[i] : "(end)";
            if (x != y)
            {
                var sb = new StringBuilder();
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"line {i + 1} of {e.Length}:\n  host: {x}\n  wemu: {y}");
                int more = 0;
                for (int j = i + 1; j < Math.Min(e.Length, a.Length); j++)
                    if (e[j] != a[j])
                        more++;
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\n  ({more} more differing lines after it)");
                return sb.ToString();
            }
        }
        return "(no difference)";
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
