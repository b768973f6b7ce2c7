using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>
/// The host CPU (x86_64) as the reference: compiles fpu_oracle.c with gcc
/// once per test run and keeps one oracle process per test class (an xunit
/// class fixture), to which operations are sent in batches.
/// </summary>
public sealed class HostFpuOracle : IDisposable
{
    private static readonly Lazy<string> s_binary = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly Process _process;

    public HostFpuOracle()
    {
        var psi = new ProcessStartInfo(s_binary.Value)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        _process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the FPU oracle");
    }

    /// <summary>One operation: op code of fpu_oracle.c, FCW or MXCSR, two operands.</summary>
    public readonly record struct Request(int Op, uint Control, ushort AHi, ulong ALo, ushort BHi, ulong BLo);

    /// <summary>The host's answer: first and second result, FSW or MXCSR, EFLAGS (ZF PF CF).</summary>
    public readonly record struct Reply(ushort RHi, ulong RLo, ushort QHi, ulong QLo, uint Status, uint Eflags);

    /// <summary>Runs a batch and returns the replies in order.</summary>
    public Reply[] Run(IReadOnlyList<Request> requests)
    {
        string[] lines = RunLines(requests);
        var replies = new Reply[lines.Length];
        for (int i = 0; i < replies.Length; i++)
        {
            string line = lines[i];
            string[] f = line.Split(' ');
            if (f.Length != 6)
                throw new InvalidOperationException($"FPU oracle: '{line}' for {requests[i]}");
            replies[i] = new Reply(
                ushort.Parse(f[0], NumberStyles.HexNumber), ulong.Parse(f[1], NumberStyles.HexNumber),
                ushort.Parse(f[2], NumberStyles.HexNumber), ulong.Parse(f[3], NumberStyles.HexNumber),
                uint.Parse(f[4], NumberStyles.HexNumber), uint.Parse(f[5], NumberStyles.HexNumber));
        }

        return replies;
    }

    /// <summary>Runs a batch and returns the raw output lines in order.</summary>
    public string[] RunLines(IReadOnlyList<Request> requests)
    {
        var writer = Task.Run(() =>
        {
            var sb = new StringBuilder();
            var input = _process.StandardInput;
            for (int i = 0; i < requests.Count; i++)
            {
                var r = requests[i];
                sb.Clear();
                sb.Append(CultureInfo.InvariantCulture, $"{r.Op:x} {r.Control:x} {r.AHi:x} {r.ALo:x} {r.BHi:x} {r.BLo:x}");
                input.WriteLine(sb);
            }

            input.WriteLine();
            input.Flush();
        });
        var lines = new string[requests.Count];
        var output = _process.StandardOutput;
        for (int i = 0; i < lines.Length; i++)
            lines[i] = output.ReadLine() ?? throw new InvalidOperationException("FPU oracle exited");
        writer.Wait();
        return lines;
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
                _process.Kill();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private static string Compile() => CompileFrom();

    private static string CompileFrom([CallerFilePath] string sourcePath = "")
    {
        string source = Path.Combine(Path.GetDirectoryName(sourcePath) ?? ".", "fpu_oracle.c");
        if (!File.Exists(source))
            source = Path.Combine(WemuProcess.RepoRoot, "tests", "Wemu.Tests", "Cpu", "X86", "Fpu", "fpu_oracle.c");
        string dir = Path.Combine(Path.GetTempPath(), $"wemu-fpu-oracle-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
            }
        };
        string binary = Path.Combine(dir, "fpu_oracle");
        var psi = new ProcessStartInfo("gcc", ["-O1", "-o", binary, source])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var gcc = Process.Start(psi) ?? throw new InvalidOperationException("gcc not found");
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        if (gcc.ExitCode != 0)
            throw new InvalidOperationException($"gcc failed on {source}:\n{errors}");
        return binary;
    }
}
