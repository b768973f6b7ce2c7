using Wemu.Machines.X86;
using Wemu.Memory;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Machines.X86;

/// <summary>
/// What the loader does with a kernel, printed (run with <c>--logger "console;verbosity=detailed"</c>).
/// Set WEMU_X86_KERNEL (and optionally WEMU_X86_INITRD) to a bzImage or vmlinux to see any kernel's plan;
/// without it, Debian's 6.1 vmlinuz header is used.
/// </summary>
public class X86BootPlanTests(ITestOutputHelper output)
{
    [Fact]
    public void PrintPlan()
    {
        string? path = Environment.GetEnvironmentVariable("WEMU_X86_KERNEL") is { Length: > 0 } k ? k : null;
        string? initrdPath = Environment.GetEnvironmentVariable("WEMU_X86_INITRD") is { Length: > 0 } i ? i : null;
        byte[] kernel = path is null ? X86BootFixtures.DebianVmlinuz() : File.ReadAllBytes(path);
        byte[] initrd = initrdPath is null ? new byte[10 << 20] : File.ReadAllBytes(initrdPath);
        var setup = new MicrovmBootSetup
        {
            Kernel = kernel,
            Initrd = initrd,
            CommandLine = "console=ttyS0 root=/dev/vda",
            VirtioMmio = [VirtioMmioTransport.QemuSlot(0, acpi: true)],
        };
        var bus = new PhysicalBus();
        using var ram = bus.AddRam(0, 512 << 20);
        var entry = X86LinuxLoader.Load(bus, setup, out var plan);
        output.WriteLine(path ?? "Debian vmlinuz-6.1.0-47-amd64 (header)");
        output.WriteLine(plan.ToString());
        output.WriteLine($"entry: RIP 0x{entry.Rip:x} RSP 0x{entry.Rsp:x} RSI 0x{entry.Rsi:x} CR0 0x{entry.Cr0:x} CR3 0x{entry.Cr3:x} CR4 0x{entry.Cr4:x} EFER 0x{entry.Efer:x} CS 0x{entry.CodeSelector:x} DS 0x{entry.DataSelector:x}");

        // Nothing the loader placed may overlap: kernel region, initrd, and the low structures below 1 MiB.
        Assert.True(plan.InitrdAddress >= plan.KernelRegionEnd);
        Assert.True(plan.InitrdAddress + plan.InitrdSize <= 512 << 20);
        Assert.True(plan.KernelAddress >= 0x100000);
        Assert.InRange(plan.EntryPoint, plan.KernelAddress, plan.KernelAddress + plan.KernelSize - 1);
        Assert.Contains(plan.E820, e => e.Type == E820Entry.Usable && e.Address <= plan.KernelAddress && e.End >= plan.KernelRegionEnd);
    }
}
