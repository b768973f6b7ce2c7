using System.Diagnostics;
using System.Runtime.CompilerServices;
using Xunit;

namespace Wemu.Tests.Machines.X86;

/// <summary>
/// Reference files beside these tests and the iasl runner. QemuMicrovm/ holds QEMU 7.2's own microvm
/// tables (QemuMicrovm/dump.sh regenerates them); debian-vmlinuz-6.1.0-47-amd64.head is the first KiB
/// of Debian's linux-image-6.1.0-47-amd64 (6.1.170-3) /boot/vmlinuz-6.1.0-47-amd64 (8233472 bytes, SHA-256
/// aae27b9d21ab3114347e05ac1439b1f4cccd819c4384831d79ba377642f4b8cb).
/// </summary>
internal static class X86BootFixtures
{
    public const int DebianVmlinuzLength = 8233472;

    public static string Directory([CallerFilePath] string sourcePath = "")
    {
        string beside = Path.GetDirectoryName(sourcePath) ?? ".";
        if (File.Exists(Path.Combine(beside, "QemuMicrovm", "dsdt.dat")))
            return beside;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Wemu.Tests", "Machines", "X86");
            if (File.Exists(Path.Combine(candidate, "QemuMicrovm", "dsdt.dat")))
                return candidate;
        }
        throw new FileNotFoundException("x86 boot reference files not found (tests/Wemu.Tests/Machines/X86)");
    }

    public static byte[] Qemu(string name) => File.ReadAllBytes(Path.Combine(Directory(), "QemuMicrovm", name));

    /// <summary>
    /// Debian's vmlinuz as far as a loader reads it before copying: its real first KiB (real-mode boot
    /// sector and setup header) and its real length; the rest (setup code, compressed kernel) is zeros.
    /// </summary>
    public static byte[] DebianVmlinuz()
    {
        var file = new byte[DebianVmlinuzLength];
        File.ReadAllBytes(Path.Combine(Directory(), "debian-vmlinuz-6.1.0-47-amd64.head")).CopyTo(file, 0);
        return file;
    }

    /// <summary>Runs iasl (Debian acpica-tools) in a scratch directory; returns its exit code and output.</summary>
    public static (int ExitCode, string Output, string Dir) Iasl(string[] args, params (string Name, byte[] Data)[] files)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"wemu-iasl-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        foreach (var (name, data) in files)
            File.WriteAllBytes(Path.Combine(dir, name), data);
        var psi = new ProcessStartInfo("iasl")
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail("iasl not found: install it with `apt-get install acpica-tools` (Debian).");
            throw;
        }
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result, dir);
    }

    /// <summary>Disassembles one table with <c>iasl -d</c>; fails the test on an iasl error.</summary>
    public static string Disassemble(byte[] table, string name = "table.dat")
    {
        var (code, output, dir) = Iasl(["-d", name], (name, table));
        try
        {
            Assert.True(code == 0, $"iasl -d failed ({code}):\n{output}");
            // A bad checksum or undecodable AML is a "Firmware Warning"/"ACPI Error" line, not an exit code.
            Assert.DoesNotContain("Error", output);
            Assert.DoesNotContain("Warning", output);
            string dsl = File.ReadAllText(Path.Combine(dir, Path.ChangeExtension(name, ".dsl")));
            Assert.DoesNotContain("Incorrect", dsl);
            return dsl;
        }
        finally
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
    }
}
