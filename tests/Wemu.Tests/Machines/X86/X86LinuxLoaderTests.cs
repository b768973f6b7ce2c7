using System.Buffers.Binary;
using System.Text;
using Wemu.Machines;
using Wemu.Machines.X86;
using Wemu.Memory;
using Xunit;

namespace Wemu.Tests.Machines.X86;

public class X86LinuxLoaderTests
{
    private const ulong MiB = 1 << 20;

    /// <summary>A microvm-shaped bus: RAM from 0 to min(size, 3 GiB) and the rest at 4 GiB (hw/i386/microvm.c).</summary>
    private static PhysicalBus Bus(ulong size)
    {
        var bus = new PhysicalBus();
        ulong low = Math.Min(size, 3UL << 30);
        bus.AddRam(0, low);
        if (size > low)
            bus.AddRam(1UL << 32, size - low);
        return bus;
    }

    private static byte[] Read(PhysicalBus bus, ulong address, int length)
    {
        Assert.True(bus.TryGetDmaSpan(address, (uint)length, out var span));
        return span.ToArray();
    }

    private static ulong U64(PhysicalBus bus, ulong address) => BinaryPrimitives.ReadUInt64LittleEndian(Read(bus, address, 8));

    private static uint U32(PhysicalBus bus, ulong address) => BinaryPrimitives.ReadUInt32LittleEndian(Read(bus, address, 4));

    /// <summary>Debian's kernel with a recognisable protected-mode part.</summary>
    private static byte[] Kernel()
    {
        var k = X86BootFixtures.DebianVmlinuz();
        for (int i = 40 * 512; i < k.Length; i += 4096)
            k[i] = (byte)(i >> 12);
        k[40 * 512 + 0x200] = 0xE8;   // a byte at the 64-bit entry point
        return k;
    }

    private static MicrovmBootSetup Setup(byte[] kernel, byte[]? initrd = null, string cmdline = "console=ttyS0", bool acpi = true) => new()
    {
        Kernel = kernel,
        Initrd = initrd,
        CommandLine = cmdline,
        Acpi = acpi,
        IoApics = IoApicDescription.Qemu(acpi),
        VirtioMmio = [VirtioMmioTransport.QemuSlot(0, acpi), VirtioMmioTransport.QemuSlot(1, acpi)],
    };

    /// <summary>Intel SDM vol. 3A 4.5 (4-level paging) walk, written from the spec, for the identity-map checks.</summary>
    private static ulong Translate(PhysicalBus bus, ulong cr3, ulong va)
    {
        const ulong addrMask = 0x000f_ffff_ffff_f000;
        ulong pml4e = U64(bus, (cr3 & addrMask) + ((va >> 39) & 511) * 8);
        Assert.True((pml4e & 1) != 0, $"PML4E for 0x{va:x} not present");
        ulong pdpte = U64(bus, (pml4e & addrMask) + ((va >> 30) & 511) * 8);
        Assert.True((pdpte & 1) != 0, $"PDPTE for 0x{va:x} not present");
        Assert.True((pdpte & 0x80) == 0, "unexpected 1 GiB page (needs CPUID pdpe1gb)");
        ulong pde = U64(bus, (pdpte & addrMask) + ((va >> 21) & 511) * 8);
        Assert.True((pde & 1) != 0, $"PDE for 0x{va:x} not present");
        Assert.True((pde & 2) != 0, $"PDE for 0x{va:x} not writable");
        if ((pde & 0x80) != 0)
            return (pde & 0x000f_ffff_ffe0_0000) | (va & 0x1f_ffff);
        ulong pte = U64(bus, (pde & addrMask) + ((va >> 12) & 511) * 8);
        Assert.True((pte & 1) != 0);
        return (pte & addrMask) | (va & 0xfff);
    }

    [Fact]
    public void BzImage_EntryState_IsBootRst64BitProtocol()
    {
        var bus = Bus(512 * MiB);
        var s = X86LinuxLoader.Load(bus, Setup(Kernel()));

        // boot.rst: "%rsi must hold the base address of the struct boot_params"; entry = load + 0x200.
        Assert.Equal(0x100200UL, s.Rip);
        Assert.Equal(0xE8, Read(bus, s.Rip, 1)[0]);
        Assert.Equal(0x7000UL, s.Rsi);
        Assert.Equal(0UL, s.Rflags & 0x200);   // interrupts disabled
        Assert.Equal(2UL, s.Rflags);
        // Long mode with paging: CR0.PE|PG, CR4.PAE, EFER.LME|LMA.
        Assert.Equal(0x80000001UL, s.Cr0 & 0x80000001);
        Assert.Equal(0x20UL, s.Cr4 & 0x20);
        Assert.Equal(0x500UL, s.Efer & 0x500);
        Assert.True(s.Rsp > 0x8000 && s.Rsp <= 0x9000 && (s.Rsp & 0xF) == 0);
        Assert.Equal((ushort)0x37f, s.Fcw);
        Assert.Equal(0x1f80u, s.Mxcsr);

        // boot.rst: __BOOT_CS = 0x10 (execute/read), __BOOT_DS = 0x18 (read/write), 4 GiB flat.
        Assert.Equal((ushort)0x10, s.CodeSelector);
        Assert.Equal((ushort)0x18, s.DataSelector);
        Assert.True(s.GdtLimit >= 0x1f);
        Assert.Equal(s.CodeDescriptor, U64(bus, s.GdtBase + 0x10));
        Assert.Equal(s.DataDescriptor, U64(bus, s.GdtBase + 0x18));
        AssertFlat(s.CodeDescriptor, code: true);
        AssertFlat(s.DataDescriptor, code: false);
    }

    /// <summary>SDM vol. 3A 3.4.5 segment descriptor fields.</summary>
    private static void AssertFlat(ulong d, bool code)
    {
        ulong baseAddress = ((d >> 16) & 0xffffff) | ((d >> 56) << 24);
        ulong limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
        Assert.Equal(0UL, baseAddress);
        Assert.Equal(0xfffffUL, limit);
        Assert.Equal(1UL, (d >> 55) & 1);   // G: 4 KiB granularity → 4 GiB
        Assert.Equal(1UL, (d >> 47) & 1);   // P
        Assert.Equal(0UL, (d >> 45) & 3);   // DPL 0
        Assert.Equal(1UL, (d >> 44) & 1);   // S: code/data
        ulong type = (d >> 40) & 0xf;
        if (code)
        {
            Assert.Equal(0xAUL, type & 0xA);        // code, readable
            Assert.Equal(1UL, (d >> 53) & 1);       // L: 64-bit
            Assert.Equal(0UL, (d >> 54) & 1);       // D must be 0 with L
        }
        else
        {
            Assert.Equal(0x2UL, type & 0xA);        // data, writable
        }
    }

    [Fact]
    public void BzImage_PageTables_IdentityMapFirst4GiB()
    {
        var bus = Bus(512 * MiB);
        var s = X86LinuxLoader.Load(bus, Setup(Kernel()));
        var bz = BzImage.Parse(X86BootFixtures.DebianVmlinuz());
        // boot.rst: the loaded kernel + init_size, the zero page and the command line must be identity
        // mapped; the decompressor's target pref_address + init_size too; and the MMIO devices.
        ulong[] addresses = [0, s.Rsi, 0x20000, 0x100000, s.Rip, bz.PrefAddress, bz.PrefAddress + bz.InitSize - 1,
            512 * MiB - 1, 0xfeb00000, 0xfec00000, 0xfee00000, 0xffff_ffff];
        foreach (ulong a in addresses)
            Assert.Equal(a, Translate(bus, s.Cr3, a));
    }

    [Fact]
    public void BzImage_KernelCopiedTo1MiB()
    {
        var bus = Bus(512 * MiB);
        var kernel = Kernel();
        X86LinuxLoader.Load(bus, Setup(kernel));
        Assert.Equal(kernel.AsSpan(40 * 512, 64 * 1024).ToArray(), Read(bus, 0x100000, 64 * 1024));
        int tail = kernel.Length - 40 * 512;
        Assert.Equal(kernel.AsSpan(kernel.Length - 4096).ToArray(), Read(bus, 0x100000 + (ulong)tail - 4096, 4096));
    }

    [Fact]
    public void ZeroPage_SetupHeaderAndLoaderFields()
    {
        var bus = Bus(512 * MiB);
        var kernel = Kernel();
        var initrd = new byte[0x12345];
        initrd[0] = 0x1f;
        X86LinuxLoader.Load(bus, Setup(kernel, initrd, "console=ttyS0 root=/dev/vda"), out var plan);
        var zp = Read(bus, 0x7000, 4096);

        // The header is the file's from 0x1f1 to 0x26c except what a loader writes (boot.rst "write" fields).
        int[] written = [0x210, 0x211, 0x218, 0x219, 0x21a, 0x21b, 0x21c, 0x21d, 0x21e, 0x21f, 0x224, 0x225, 0x228, 0x229, 0x22a, 0x22b];
        for (int i = 0x1f1; i < 0x26c; i++)
            if (Array.IndexOf(written, i) < 0)
                Assert.True(kernel[i] == zp[i], $"setup header byte 0x{i:x}: file 0x{kernel[i]:x2}, zero page 0x{zp[i]:x2}");
        Assert.Equal(0xff, zp[0x210]);                            // type_of_loader: undefined
        Assert.Equal(0x81, zp[0x211] & 0x81);                     // LOADED_HIGH | CAN_USE_HEAP
        Assert.Equal(0x20000u, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x228)));   // cmd_line_ptr
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0xc8)));          // ext_cmd_line_ptr
        Assert.Equal("console=ttyS0 root=/dev/vda\0", Encoding.ASCII.GetString(Read(bus, 0x20000, 28)));

        // QEMU x86_load_linux: initrd_max = min(initrd_addr_max 0x7fffffff, RAM end - 1) = 0x1fffffff,
        // address = (initrd_max - size) & ~4095 = (0x1fffffff - 0x12345) & ~0xfff = 0x1ffed000.
        Assert.Equal(0x1ffed000u, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x218)));
        Assert.Equal(0x12345u, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x21c)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0xc0)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0xc4)));
        Assert.Equal(0x1f, Read(bus, 0x1ffed000, 1)[0]);
        Assert.Equal(0x1ffed000UL, plan.InitrdAddress);

        // acpi_rsdp_addr (boot_params 0x070) points at a valid RSDP.
        ulong rsdp = BinaryPrimitives.ReadUInt64LittleEndian(zp.AsSpan(0x70));
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(Read(bus, rsdp, 8)));
        Assert.Equal(plan.RsdpAddress, rsdp);
    }

    /// <summary>Linux's "BIOS-e820:" lines under QEMU 7.2 -M microvm with Debian's kernel, 512 MiB.</summary>
    private static readonly string[] s_qemuE820_512M =
    [
        "[mem 0x0000000000000000-0x000000000009fbff] usable",
        "[mem 0x000000000009fc00-0x000000000009ffff] reserved",
        "[mem 0x00000000000d0000-0x00000000000effff] ACPI NVS",
        "[mem 0x00000000000f0000-0x00000000000fffff] reserved",
        "[mem 0x0000000000100000-0x000000001fffffff] usable",
    ];

    private static string[] ZeroPageE820(PhysicalBus bus)
    {
        var zp = Read(bus, 0x7000, 4096);
        int n = zp[0x1e8];
        var lines = new string[n];
        for (int i = 0; i < n; i++)
        {
            var e = zp.AsSpan(0x2d0 + 20 * i);
            lines[i] = new E820Entry(BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                BinaryPrimitives.ReadUInt32LittleEndian(e[16..])).ToString();
        }
        return lines;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]   // qboot reports the same map with acpi=off (observed)
    public void E820_MatchesQemuMicrovm512M(bool acpi)
    {
        var bus = Bus(512 * MiB);
        X86LinuxLoader.Load(bus, Setup(Kernel(), acpi: acpi));
        Assert.Equal(s_qemuE820_512M, ZeroPageE820(bus));
    }

    [Fact]
    public void E820_MatchesQemuMicrovm3584M_RamAbove4GiB()
    {
        // QEMU 7.2 -M microvm -m 3584M: 3 GiB below 4 GiB, 512 MiB at 4 GiB.
        string[] expected =
        [
            .. s_qemuE820_512M[..4],
            "[mem 0x0000000000100000-0x00000000bfffffff] usable",
            "[mem 0x0000000100000000-0x000000011fffffff] usable",
        ];
        Assert.Equal(expected, X86LinuxLoader.Plan(Setup(Kernel()), 3UL << 30, 512 * MiB).E820.Select(e => e.ToString()));
    }

    [Fact]
    public void AcpiOff_NoRsdp_MpTableStillThere()
    {
        var bus = Bus(512 * MiB);
        X86LinuxLoader.Load(bus, Setup(Kernel(), acpi: false), out var plan);
        Assert.Equal(0UL, U64(bus, 0x7000 + 0x70));
        Assert.Equal(0UL, plan.RsdpAddress);
        Assert.Equal("_MP_", Encoding.ASCII.GetString(Read(bus, 0x9fc00, 4)));
        Assert.Equal(0x9fc10u, U32(bus, 0x9fc04));
    }

    [Fact]
    public void Reload_OverwritesEverythingItOwns()
    {
        // A reset reloads into RAM the guest has scribbled on: the zero page and tables must come out the same.
        var bus = Bus(512 * MiB);
        X86LinuxLoader.Load(bus, Setup(Kernel()));
        var clean = Read(bus, 0, 0x100000);
        bus.Load(0, Enumerable.Repeat((byte)0xA5, 0x100000).ToArray());
        X86LinuxLoader.Load(bus, Setup(Kernel()));
        var again = Read(bus, 0, 0x100000);
        foreach (var (start, length) in new (int, int)[] { (0x500, 0x28), (0x7000, 0x1000), (0x9000, 0x6000), (0x20000, 14), (0x9fc00, 0xe8) })
            Assert.Equal(clean.AsSpan(start, length).ToArray(), again.AsSpan(start, length).ToArray());
    }

    [Fact]
    public void TooLittleRam_ForDecompression_OneLine()
    {
        // Debian's kernel decompresses to pref_address 16 MiB and needs init_size 0x3f98000 from there:
        // up to 0x4f98000, 79.6 MiB.
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Load(Bus(64 * MiB), Setup(Kernel())));
        Assert.Equal("kernel: needs 80 MiB of RAM to decompress itself (try a larger -m)", e.Message);
        X86LinuxLoader.Plan(Setup(Kernel()), 80 * MiB, 0);   // and 80 MiB is enough
    }

    [Fact]
    public void InitrdThatWouldOverlapTheKernel_OneLine()
    {
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Plan(Setup(Kernel(), new byte[40 * MiB]), 100 * MiB, 0));
        Assert.Equal("initrd: 40 MiB does not fit in RAM beside the kernel (try a larger -m)", e.Message);
    }

    [Fact]
    public void CommandLineLongerThanCmdlineSize_OneLine()
    {
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Plan(Setup(Kernel(), cmdline: new string('x', 2048)), 512 * MiB, 0));
        Assert.Equal("-append: the command line is 2048 bytes; this kernel takes at most 2047", e.Message);
        X86LinuxLoader.Plan(Setup(Kernel(), cmdline: new string('x', 2047)), 512 * MiB, 0);
    }

    [Fact]
    public void RiscVImage_GivenToMicrovm_OneLine()
    {
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Load(Bus(512 * MiB), Setup(BzImageTests.RiscVImage())));
        Assert.Equal("kernel: this is a RISC-V kernel; -M microvm needs an x86_64 kernel", e.Message);
        var elf = ElfBuilder.Build(ElfImage.MachineRiscV, 0x80200000, [(0x80200000, 0x80200000, new byte[16], 16)]);
        e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Load(Bus(512 * MiB), Setup(elf)));
        Assert.Equal("kernel: this is a RISC-V kernel; -M microvm needs an x86_64 kernel", e.Message);
    }

    /// <summary>
    /// Debian's vmlinux (the payload of vmlinuz-6.1.0-47-amd64, decompressed) has e_entry 0x1000000 and
    /// these PT_LOAD segments (readelf -l): paddr 0x1000000 (text), 0x2a00000 (data), 0x3042000 with
    /// vaddr 0 (percpu), 0x3077000 (init, bss). Same shape here, smaller.
    /// </summary>
    private static byte[] VmlinuxLike(ulong entry)
    {
        var text = new byte[0x3000];
        text[0] = 0x48;   // startup_64's first byte
        var data = new byte[0x1000];
        data[5] = 0x77;
        return ElfBuilder.Build(ElfImage.MachineX86_64, entry,
        [
            (0x1000000, 0xffffffff81000000, text, 0x3000),
            (0x2a00000, 0xffffffff82a00000, data, 0x1000),
            (0x3042000, 0, new byte[0x100], 0x35000),
            (0x3077000, 0xffffffff83077000, new byte[0x200], 0x10000),
        ]);
    }

    [Fact]
    public void Vmlinux_SegmentsAtPhysicalAddresses_EntryIsPhysicalStartup64()
    {
        var bus = Bus(512 * MiB);
        bus.Load(0x3077000 + 0x200, Enumerable.Repeat((byte)0xCC, 0x1000).ToArray());   // stale bytes in .bss
        var s = X86LinuxLoader.Load(bus, Setup(VmlinuxLike(0x1000000)), out var plan);
        Assert.Equal(0x1000000UL, s.Rip);
        Assert.Equal(0x48, Read(bus, 0x1000000, 1)[0]);
        Assert.Equal(0x77, Read(bus, 0x2a00005, 1)[0]);
        Assert.All(Read(bus, 0x3077200, 0x1000), b => Assert.Equal(0, b));   // memsz beyond filesz zeroed
        Assert.Equal("vmlinux ELF", plan.KernelFormat);
        Assert.Equal(0x3087000UL, plan.KernelRegionEnd);
        Assert.Equal(0x7000UL, s.Rsi);
        Assert.Equal((ushort)0x10, s.CodeSelector);

        // The zero page has a setup header the kernel proper accepts: boot_flag, "HdrS", a loader type
        // (early_reserve_initrd ignores the initrd if type_of_loader is 0), and the command line.
        var zp = Read(bus, 0x7000, 4096);
        Assert.Equal(0xAA55, BinaryPrimitives.ReadUInt16LittleEndian(zp.AsSpan(0x1fe)));
        Assert.Equal("HdrS", Encoding.ASCII.GetString(zp, 0x202, 4));
        Assert.Equal(0xff, zp[0x210]);
        Assert.Equal(0x20000u, BinaryPrimitives.ReadUInt32LittleEndian(zp.AsSpan(0x228)));
    }

    [Fact]
    public void Vmlinux_VirtualEntry_IsTranslated()
    {
        var s = X86LinuxLoader.Load(Bus(512 * MiB), Setup(VmlinuxLike(0xffffffff81000010)));
        Assert.Equal(0x1000010UL, s.Rip);
    }

    [Fact]
    public void Vmlinux_EntryOutsideSegments_OneLine()
    {
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Load(Bus(512 * MiB), Setup(VmlinuxLike(0x5000000))));
        Assert.Equal("kernel: ELF entry point 0x5000000 is not in a loaded segment", e.Message);
    }

    [Fact]
    public void Vmlinux_TooBigForRam_OneLine()
    {
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Load(Bus(32 * MiB), Setup(VmlinuxLike(0x1000000))));
        Assert.Equal("kernel: segment at 0x2a00000+0x1000 does not fit in RAM (try a larger -m)", e.Message);
    }

    [Fact]
    public void Vmlinux_SegmentBelow1MiB_OneLine()
    {
        var elf = ElfBuilder.Build(ElfImage.MachineX86_64, 0x8000, [(0x8000, 0x8000, new byte[16], 16)]);
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Load(Bus(512 * MiB), Setup(elf)));
        Assert.Equal("kernel: segment at 0x8000 is below 1 MiB, where the boot structures are", e.Message);
    }

    [Fact]
    public void TruncatedElf_OneLine()
    {
        var elf = VmlinuxLike(0x1000000)[..300];
        var e = Assert.Throws<ConfigException>(() => X86LinuxLoader.Load(Bus(512 * MiB), Setup(elf)));
        Assert.Equal("kernel: ELF file is truncated or has out-of-range offsets", e.Message);
    }

    [Fact]
    public void VirtioCommandLine_IsQemusAcpiOffSuffix()
    {
        // hw/i386/microvm.c: " virtio_mmio.device=512@0x%lx:%ld" per transport, IRQ base 5 with acpi=off.
        Assert.Equal(" virtio_mmio.device=512@0xfeb00000:5 virtio_mmio.device=512@0xfeb00e00:12",
            MicrovmBootSetup.VirtioCommandLine([VirtioMmioTransport.QemuSlot(0, acpi: false), VirtioMmioTransport.QemuSlot(7, acpi: false)]));
        Assert.Equal(47u, VirtioMmioTransport.QemuSlot(23, acpi: true).Gsi);
        Assert.Throws<ArgumentOutOfRangeException>(() => VirtioMmioTransport.QemuSlot(8, acpi: false));
    }

    [Fact]
    public void VirtioGsiNotRouted_IsTheIntegratorsError()
    {
        // acpi=off: only ISA IRQs reach Linux through the MP table; with ACPI: a pin of a listed IOAPIC.
        var off = new MicrovmBootSetup
        {
            Kernel = Kernel(),
            Acpi = false,
            VirtioMmio = [new VirtioMmioTransport(0, 0xfeb00000, 24)],
        };
        Assert.Throws<ArgumentException>(() => X86LinuxLoader.Plan(off, 512 * MiB, 0));
        var oneIoApic = new MicrovmBootSetup
        {
            Kernel = Kernel(),
            IoApics = IoApicDescription.Qemu(acpi: false),
            VirtioMmio = [VirtioMmioTransport.QemuSlot(0, acpi: true)],   // GSI 24 without a second IOAPIC
        };
        Assert.Throws<ArgumentException>(() => X86LinuxLoader.Plan(oneIoApic, 512 * MiB, 0));
        var twice = new MicrovmBootSetup
        {
            Kernel = Kernel(),
            VirtioMmio = [VirtioMmioTransport.QemuSlot(3, acpi: true), VirtioMmioTransport.QemuSlot(3, acpi: true)],
        };
        Assert.Throws<ArgumentException>(() => X86LinuxLoader.Plan(twice, 512 * MiB, 0));
    }

    [Fact]
    public void IoApicsDefaultToQemusForTheAcpiSetting()
    {
        var bus = Bus(512 * MiB);
        X86LinuxLoader.Load(bus, new MicrovmBootSetup { Kernel = Kernel(), Acpi = false });
        // acpi=off: one IOAPIC, so the MP table is 16 + 216 bytes as qboot's.
        Assert.Equal(216, (int)BinaryPrimitives.ReadUInt16LittleEndian(Read(bus, 0x9fc10 + 4, 2)));
    }
}
