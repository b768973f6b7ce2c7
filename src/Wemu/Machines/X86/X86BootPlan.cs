using System.Text;

namespace Wemu.Machines.X86;

/// <summary>Where <see cref="X86LinuxLoader"/> puts everything (for tests, diagnostics and <c>-d</c> output).</summary>
public sealed class X86BootPlan
{
    /// <summary>"bzImage 2.15" or "vmlinux ELF".</summary>
    public required string KernelFormat { get; init; }

    /// <summary>The loaded kernel: a bzImage's protected-mode part, or the span of a vmlinux's segments.</summary>
    public required ulong KernelAddress { get; init; }

    public required ulong KernelSize { get; init; }

    /// <summary>The end of the memory the kernel needs until it runs (a bzImage decompresses to pref_address..+init_size).</summary>
    public required ulong KernelRegionEnd { get; init; }

    public required ulong EntryPoint { get; init; }

    public required ulong InitrdAddress { get; init; }

    public required ulong InitrdSize { get; init; }

    public required ulong CommandLineAddress { get; init; }

    public required int CommandLineLength { get; init; }

    /// <summary>0 without ACPI.</summary>
    public required ulong RsdpAddress { get; init; }

    public required IReadOnlyList<E820Entry> E820 { get; init; }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"kernel    {KernelFormat}: 0x{KernelAddress:x}+0x{KernelSize:x}, needs RAM up to 0x{KernelRegionEnd:x}, entry 0x{EntryPoint:x}");
        sb.AppendLine(InitrdSize == 0 ? "initrd    none" : $"initrd    0x{InitrdAddress:x}+0x{InitrdSize:x}");
        sb.AppendLine($"cmdline   0x{CommandLineAddress:x} ({CommandLineLength} bytes)");
        sb.AppendLine($"zero page 0x{X86LinuxLoader.ZeroPageAddress:x}, GDT 0x{X86LinuxLoader.GdtAddress:x}, PML4 0x{X86LinuxLoader.Pml4Address:x}, MP table 0x{MpTable.DefaultAddress:x}");
        sb.AppendLine(RsdpAddress == 0 ? "ACPI      off" : $"ACPI      RSDP 0x{RsdpAddress:x}");
        foreach (var e in E820)
            sb.AppendLine($"e820      {e}");
        return sb.ToString();
    }
}
