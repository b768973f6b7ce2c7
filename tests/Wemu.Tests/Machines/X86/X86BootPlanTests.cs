using Wemu.Machines.X86;
using Wemu.Memory;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Machines.X86;

/// <summary>
/// What the loader does with a kernel, printed (run with <c>--logger "console;verbosity=detailed"</c>).
/// Set WEMU_X86_KERNEL (and optionally WEMU_X86_INITRD) to a bzImage or vmlinux to see any kernel's plan;
/// without it, Debian's 6.1 vmlinuz header is used. With WEMU_X86_DUMP=dir it also writes the guest
/// memory it produced (low.bin from 0, kernel.bin, initrd.bin, entry.txt) for qemu-boot-check.sh, which boots
/// it under QEMU's microvm; WEMU_X86_ACPI=off and WEMU_X86_VIRTIO=23,22 (slots) shape the machine as QEMU's.
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
        bool acpi = Environment.GetEnvironmentVariable("WEMU_X86_ACPI") != "off";
        var virtio = (Environment.GetEnvironmentVariable("WEMU_X86_VIRTIO") is { Length: > 0 } slots ? slots.Split(',').Select(int.Parse) : [0])
            .Select(i => VirtioMmioTransport.QemuSlot(i, acpi)).ToList();
        string cmdline = Environment.GetEnvironmentVariable("WEMU_X86_APPEND") ?? "console=ttyS0 root=/dev/vda";
        var setup = new MicrovmBootSetup
        {
            Kernel = kernel,
            Initrd = initrd,
            CommandLine = acpi ? cmdline : cmdline + MicrovmBootSetup.VirtioCommandLine(virtio),
            Acpi = acpi,
            IoApics = IoApicDescription.Qemu(acpi),
            VirtioMmio = virtio,
        };
        var bus = new PhysicalBus();
        using var ram = bus.AddRam(0, 512 << 20);
        var entry = X86LinuxLoader.Load(bus, setup, out var plan);
        output.WriteLine(path ?? "Debian vmlinuz-6.1.0-47-amd64 (header)");
        output.WriteLine(plan.ToString());
        output.WriteLine($"entry: RIP 0x{entry.Rip:x} RSP 0x{entry.Rsp:x} RSI 0x{entry.Rsi:x} CR0 0x{entry.Cr0:x} CR3 0x{entry.Cr3:x} CR4 0x{entry.Cr4:x} EFER 0x{entry.Efer:x} CS 0x{entry.CodeSelector:x} DS 0x{entry.DataSelector:x}");

        if (Environment.GetEnvironmentVariable("WEMU_X86_DUMP") is { Length: > 0 } dump)
        {
            Directory.CreateDirectory(dump);
            File.WriteAllBytes(Path.Combine(dump, "low.bin"), ram.Slice(0, 0xf0000).ToArray());
            ulong loadedEnd = plan.KernelFormat.StartsWith("bzImage", StringComparison.Ordinal) ? plan.KernelAddress + plan.KernelSize : plan.KernelRegionEnd;
            File.WriteAllBytes(Path.Combine(dump, "kernel.bin"), ram.Slice(plan.KernelAddress, (int)(loadedEnd - plan.KernelAddress)).ToArray());
            File.WriteAllBytes(Path.Combine(dump, "initrd.bin"), ram.Slice(plan.InitrdAddress, (int)plan.InitrdSize).ToArray());
            File.WriteAllText(Path.Combine(dump, "entry.txt"), 
                $"RIP=0x{entry.Rip:x}\nRSP=0x{entry.Rsp:x}\nRSI=0x{entry.Rsi:x}\nRFLAGS=0x{entry.Rflags:x}\nCR0=0x{entry.Cr0:x}\nCR3=0x{entry.Cr3:x}\n" +
                $"CR4=0x{entry.Cr4:x}\nEFER=0x{entry.Efer:x}\nGDT_BASE=0x{entry.GdtBase:x}\nGDT_LIMIT=0x{entry.GdtLimit:x}\nIDT_BASE=0x{entry.IdtBase:x}\n" +
                $"IDT_LIMIT=0x{entry.IdtLimit:x}\nCS=0x{entry.CodeSelector:x}\nDS=0x{entry.DataSelector:x}\n" +
                $"KERNEL_ADDR=0x{plan.KernelAddress:x}\nINITRD_ADDR=0x{plan.InitrdAddress:x}\n");
        }

        // Nothing the loader placed may overlap: kernel region, initrd, and the low structures below 1 MiB.
        Assert.True(plan.InitrdAddress >= plan.KernelRegionEnd);
        Assert.True(plan.InitrdAddress + plan.InitrdSize <= 512 << 20);
        Assert.True(plan.KernelAddress >= 0x100000);
        Assert.InRange(plan.EntryPoint, plan.KernelAddress, plan.KernelAddress + plan.KernelSize - 1);
        Assert.Contains(plan.E820, e => e.Type == E820Entry.Usable && e.Address <= plan.KernelAddress && e.End >= plan.KernelRegionEnd);
    }
}
