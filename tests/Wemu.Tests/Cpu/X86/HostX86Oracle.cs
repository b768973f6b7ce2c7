using System.Buffers.Binary;
using System.Diagnostics;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// Runs x86-64 code on the host CPU (x86-oracle.c, compiled with gcc on first use) in user mode,
/// for comparison with Wemu's interpreter. One child process serves a whole test class.
/// </summary>
public sealed class HostX86Oracle : IDisposable
{
    public const ulong CodeAddress = 0x2000_0000, DataAddress = 0x3000_0000;
    public const int DataSize = 0x4000;

    private static readonly Lazy<string> s_binary = new(Build);
    private readonly Process _process;
    private readonly Stream _stdin, _stdout;

    public HostX86Oracle()
    {
        _process = Process.Start(new ProcessStartInfo(s_binary.Value)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _stdin = _process.StandardInput.BaseStream;
        _stdout = _process.StandardOutput.BaseStream;
    }

    /// <summary>True on an x86-64 Linux host with gcc (the only place the oracle exists).</summary>
    public static bool Available => OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64;

    private static string Build()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Cpu", "X86", "x86-oracle.c");
        string dir = Path.Combine(Path.GetTempPath(), "wemu-x86-oracle-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        string exe = Path.Combine(dir, "x86-oracle");
        var p = Process.Start(new ProcessStartInfo("gcc", ["-O1", "-o", exe, source]) { RedirectStandardError = true, UseShellExecute = false })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException("gcc x86-oracle.c failed: " + err);
        return exe;
    }

    public X86TestOutcome Run(byte[] code, X86TestState state, byte[] data)
    {
        var header = new byte[4 + code.Length + X86TestState.Bytes];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)code.Length);
        code.CopyTo(header, 4);
        state.WriteTo(header.AsSpan(4 + code.Length));
        _stdin.Write(header);
        _stdin.Write(data);
        _stdin.Flush();
        var result = new byte[4 + 32 + X86TestState.Bytes + DataSize];
        _stdout.ReadExactly(result);
        int outcome = BinaryPrimitives.ReadInt32LittleEndian(result);
        ulong trapno = BinaryPrimitives.ReadUInt64LittleEndian(result.AsSpan(4));
        ulong err = BinaryPrimitives.ReadUInt64LittleEndian(result.AsSpan(12));
        ulong rip = BinaryPrimitives.ReadUInt64LittleEndian(result.AsSpan(20));
        var final = X86TestState.ReadFrom(result.AsSpan(36));
        var memory = result.AsSpan(36 + X86TestState.Bytes).ToArray();
        return new X86TestOutcome(outcome == 0 ? -1 : (int)trapno, outcome == 0 ? 0 : err, rip, final, memory);
    }

    public void Dispose()
    {
        _stdin.Dispose();
        _process.WaitForExit(5000);
        _process.Dispose();
    }
}
