using System.Buffers.Binary;
using System.Text;
using Wemu.Memory;

namespace Wemu.Machines.X86;

/// <summary>
/// Boots Linux on a microvm board without firmware, through the 64-bit boot protocol
/// (Documentation/x86/boot.rst "64-bit BOOT PROTOCOL") as Firecracker does: writes the zero page
/// (<c>struct boot_params</c>, bootparam.h) with the setup header, the E820 map QEMU 7.2's microvm
/// reports, the command line and the initrd; the kernel; identity page tables for the first 4 GiB;
/// a GDT; the MP table (always, as qboot) and the ACPI tables (unless acpi=off); and returns the CPU
/// state at the kernel's 64-bit entry point.
/// </summary>
/// <remarks>
/// Low memory (all below the 0x9fc00 the E820 map reserves, except the tables):
/// GDT 0x500 (IDT 0x520), zero page 0x7000, boot stack below 0x8ff0, PML4 0x9000, PDPT 0xa000,
/// page directories 0xb000-0xefff, command line 0x20000 (QEMU's cmdline_addr for protocol ≥ 2.02),
/// MP table 0x9fc00, ACPI tables 0xe0000 (inside the 0xd0000-0xeffff range QEMU's E820 marks ACPI NVS).
/// A bzImage's protected-mode part loads at 0x100000 as QEMU (x86_load_linux prot_addr) and Firecracker
/// do; its 64-bit entry is there + 0x200. The decompressor then moves itself to
/// max(load rounded up to kernel_alignment, LOAD_PHYSICAL_ADDR = pref_address) and needs init_size bytes
/// from there (arch/x86/boot/compressed/head_64.S startup_64), which is checked against RAM.
/// A vmlinux ELF loads its PT_LOAD segments at their physical addresses and is entered at e_entry,
/// which Linux links as the physical address of startup_64 (vmlinux.lds.S ENTRY(phys_startup_64));
/// that is the same long-mode entry with RSI = boot_params the decompressor uses
/// (compressed/head_64.S jumps to the output's entry with RSI = boot_params), so both formats get the
/// same state. The PVH note's 32-bit entry is not used: the CPU starts in long mode.
/// </remarks>
public static class X86LinuxLoader
{
    public const ulong GdtAddress = 0x500, IdtAddress = 0x520, ZeroPageAddress = 0x7000, StackPointer = 0x8ff0,
        Pml4Address = 0x9000, PdptAddress = 0xa000, PageDirectoryAddress = 0xb000, CommandLineAddress = 0x20000,
        AcpiAddress = 0xe0000, KernelLoadAddress = 0x100000;

    /// <summary>boot.rst: __BOOT_CS is 0x10 and __BOOT_DS 0x18 (Firecracker uses 0x08/0x10; Linux reloads its GDT at once either way).</summary>
    public const ushort BootCodeSelector = 0x10, BootDataSelector = 0x18;

    /// <summary>Flat 4 GiB descriptors: 64-bit code (L=1, D=0, type execute/read/accessed) and data (read/write/accessed).</summary>
    public const ulong CodeDescriptor = 0x00af9b000000ffff, DataDescriptor = 0x00cf93000000ffff;

    // Control registers at entry (Intel SDM vol. 3A 2.5, 9.8.5 "Initializing IA-32e Mode").
    public const ulong Cr0PE = 1, Cr0ET = 1 << 4, Cr0PG = 1UL << 31, Cr4PAE = 1 << 5, EferLME = 1 << 8, EferLMA = 1 << 10;

    /// <summary>boot.rst: type_of_loader 0xff means "undefined" (no assigned ID), as Firecracker.</summary>
    public const byte LoaderType = 0xff;

    private const ulong BiosRomStart = 0xf0000, AcpiRegionStart = 0xd0000, EbdaStart = 0x9fc00, HighMemory = 0x100000;
    private const ulong FourGiB = 1UL << 32;

    // struct boot_params offsets (arch/x86/include/uapi/asm/bootparam.h).
    private const int BpAcpiRsdpAddr = 0x070, BpExtRamdiskImage = 0x0c0, BpExtRamdiskSize = 0x0c4, BpExtCmdLinePtr = 0x0c8,
        BpE820Entries = 0x1e8, BpE820Table = 0x2d0, BpE820Max = 128;

    // struct setup_header offsets within boot_params (= file offsets in a bzImage).
    private const int HdrBootFlag = 0x1fe, HdrHeader = 0x202, HdrVersion = 0x206, HdrTypeOfLoader = 0x210, HdrLoadFlags = 0x211,
        HdrRamdiskImage = 0x218, HdrRamdiskSize = 0x21c, HdrHeapEndPtr = 0x224, HdrCmdLinePtr = 0x228, HdrInitrdAddrMax = 0x22c,
        HdrKernelAlignment = 0x230, HdrXLoadFlags = 0x236, HdrCmdlineSize = 0x238;

    /// <summary>
    /// Writes everything into the RAM already on <paramref name="bus"/> (microvm: 0 to min(RAM, 3 GiB),
    /// the rest at 4 GiB; 0xf0000-0xfffff is RAM on the bus but reserved in the E820 map, QEMU's pc.bios)
    /// and returns the entry state. Bad images and a too-small RAM are <see cref="ConfigException"/>s.
    /// </summary>
    public static X86EntryState Load(PhysicalBus bus, MicrovmBootSetup setup) => Load(bus, setup, out _);

    public static X86EntryState Load(PhysicalBus bus, MicrovmBootSetup setup, out X86BootPlan plan)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(setup);
        var (lowEnd, highSize) = RamLayout(bus);
        var kernel = Prepare(setup, lowEnd, highSize, out plan);
        var ioApics = setup.IoApics ?? IoApicDescription.Qemu(setup.Acpi);
        byte[] mpTable = MpTable.Build(MpTable.DefaultAddress, ioApics, setup.Cpus);
        byte[]? acpi = setup.Acpi ? AcpiTables.Build(AcpiAddress, ioApics, setup.VirtioMmio, setup.Com1, setup.Rtc, setup.Cpus).Bytes : null;
        if (acpi != null && AcpiAddress + (ulong)acpi.Length > BiosRomStart)
            throw new ArgumentException("too many devices for the ACPI tables", nameof(setup));

        // Nothing is written before everything has been checked. The kernel (each piece zero-filled to its memory size).
        foreach (var (address, data, memorySize) in kernel.Pieces)
        {
            bus.Load(address, data.Span);
            Zero(bus, address + (ulong)data.Length, memorySize - (ulong)data.Length);
        }
        if (setup.Initrd is { Length: > 0 } initrd)
            bus.Load(plan.InitrdAddress, initrd);

        byte[] cmdline = new byte[plan.CommandLineLength + 1];
        Encoding.UTF8.GetBytes(setup.CommandLine, cmdline);
        bus.Load(CommandLineAddress, cmdline);

        bus.Load(ZeroPageAddress, BuildZeroPage(kernel.SetupHeader, plan));
        WritePageTables(bus);
        WriteGdt(bus);
        bus.Load(MpTable.DefaultAddress, mpTable);
        if (acpi != null)
            bus.Load(AcpiAddress, acpi);

        return new X86EntryState
        {
            Rip = plan.EntryPoint,
            Rsp = StackPointer,
            Rsi = ZeroPageAddress,
            Rflags = 2,   // IF = 0: boot.rst "interrupt must be disabled"
            Cr0 = Cr0PE | Cr0ET | Cr0PG,
            Cr3 = Pml4Address,
            Cr4 = Cr4PAE,
            Efer = EferLME | EferLMA,
            GdtBase = GdtAddress,
            GdtLimit = 4 * 8 - 1,
            IdtBase = IdtAddress,
            IdtLimit = 7,   // as Firecracker: no usable gate, so any exception before Linux's own IDT ends in a triple fault
            CodeSelector = BootCodeSelector,
            DataSelector = BootDataSelector,
            CodeDescriptor = CodeDescriptor,
            DataDescriptor = DataDescriptor,
        };
    }

    /// <summary>
    /// Validates the images against a RAM layout and computes where everything goes, without a bus
    /// (the test helper prints it). <paramref name="lowRamEnd"/> is the end of RAM from 0 (at most 3 GiB
    /// on microvm); <paramref name="highRamSize"/> is the RAM at 4 GiB.
    /// </summary>
    public static X86BootPlan Plan(MicrovmBootSetup setup, ulong lowRamEnd, ulong highRamSize)
    {
        ArgumentNullException.ThrowIfNull(setup);
        Prepare(setup, lowRamEnd, highRamSize, out var plan);
        return plan;
    }

    /// <summary>The kernel's pieces to copy and the setup header to put into the zero page.</summary>
    private sealed record PreparedKernel(List<(ulong Address, ReadOnlyMemory<byte> Data, ulong MemorySize)> Pieces, byte[] SetupHeader);

    private static PreparedKernel Prepare(MicrovmBootSetup setup, ulong lowEnd, ulong highSize, out X86BootPlan plan)
    {
        if (setup.Kernel is null)
            throw new ConfigException("kernel: none given (-kernel)");
        if (lowEnd < 2 * HighMemory)
            throw new ConfigException("not enough RAM for an x86 kernel (try a larger -m)");
        CheckDevices(setup);

        PreparedKernel prepared;
        string format;
        ulong kernelAddress, kernelSize, regionEnd, entry;
        uint cmdlineMax, initrdAddrMax;
        if (ElfImage.IsElf(setup.Kernel))
        {
            BzImage.RejectOtherArchitectures(setup.Kernel);
            ElfImage elf;
            try
            {
                elf = ElfImage.Parse(setup.Kernel);
            }
            catch (FormatException e)
            {
                throw new ConfigException($"kernel: {e.Message}");
            }
            if (elf.Machine != ElfImage.MachineX86_64)
                throw new ConfigException($"kernel: ELF file is for machine {elf.Machine}, not x86_64; -M microvm needs an x86_64 kernel");
            var pieces = new List<(ulong, ReadOnlyMemory<byte>, ulong)>();
            kernelAddress = ulong.MaxValue;
            regionEnd = 0;
            entry = 0;
            foreach (var s in elf.Segments)
            {
                if (s.MemorySize == 0)
                    continue;
                if (s.PhysicalAddress < HighMemory)
                    throw new ConfigException($"kernel: segment at 0x{s.PhysicalAddress:x} is below 1 MiB, where the boot structures are");
                if (s.PhysicalAddress + s.MemorySize > lowEnd)
                    throw new ConfigException($"kernel: segment at 0x{s.PhysicalAddress:x}+0x{s.MemorySize:x} does not fit in RAM (try a larger -m)");
                pieces.Add((s.PhysicalAddress, s.Data, s.MemorySize));
                kernelAddress = Math.Min(kernelAddress, s.PhysicalAddress);
                regionEnd = Math.Max(regionEnd, s.PhysicalAddress + s.MemorySize);
                // e_entry is physical (phys_startup_64); accept a virtual one too by translating it.
                if (elf.Entry - s.PhysicalAddress < s.MemorySize)
                    entry = elf.Entry;
                else if (entry == 0 && elf.Entry - s.VirtualAddress < s.MemorySize)
                    entry = s.PhysicalAddress + (elf.Entry - s.VirtualAddress);
            }
            if (pieces.Count == 0)
                throw new ConfigException("kernel: ELF file has no loadable segments");
            if (entry == 0)
                throw new ConfigException($"kernel: ELF entry point 0x{elf.Entry:x} is not in a loaded segment");
            for (int i = 0; i < pieces.Count; i++)
                for (int j = i + 1; j < pieces.Count; j++)
                    if (pieces[i].Item1 < pieces[j].Item1 + pieces[j].Item3 && pieces[j].Item1 < pieces[i].Item1 + pieces[i].Item3)
                        throw new ConfigException($"kernel: ELF segments at 0x{pieces[i].Item1:x} and 0x{pieces[j].Item1:x} overlap");
            kernelSize = regionEnd - kernelAddress;
            format = "vmlinux ELF";
            cmdlineMax = 2047;            // COMMAND_LINE_SIZE - 1 on x86
            initrdAddrMax = 0x7fffffff;   // what every bzImage since 2.6.31 says
            prepared = new PreparedKernel(pieces, SynthesizedSetupHeader(cmdlineMax, initrdAddrMax));
        }
        else
        {
            var bz = BzImage.Parse(setup.Kernel);
            kernelAddress = KernelLoadAddress;
            kernelSize = (ulong)bz.ProtectedModeKernel.Length;
            ulong decompressAt = bz.Relocatable
                ? Math.Max((KernelLoadAddress + bz.KernelAlignment - 1) & ~((ulong)bz.KernelAlignment - 1), bz.PrefAddress)
                : bz.PrefAddress;
            regionEnd = Math.Max(kernelAddress + kernelSize, decompressAt + bz.InitSize);
            if (regionEnd > lowEnd)
                throw new ConfigException($"kernel: needs {(regionEnd + 0xFFFFF) >> 20} MiB of RAM to decompress itself (try a larger -m)");
            entry = KernelLoadAddress + BzImage.Entry64Offset;
            format = $"bzImage {bz.Version >> 8}.{bz.Version & 0xff:d2}";
            cmdlineMax = bz.Version >= 0x0206 ? bz.CmdlineSize : 255;
            initrdAddrMax = bz.Version >= 0x0203 ? bz.InitrdAddrMax : 0x37ffffff;
            var pm = new ReadOnlyMemory<byte>(setup.Kernel, bz.ProtectedModeOffset, (int)kernelSize);
            prepared = new PreparedKernel([(kernelAddress, pm, kernelSize)], bz.SetupHeader.ToArray());
        }

        // The command line (boot.rst cmdline_size: the maximum without the terminating NUL).
        int cmdlineLength = Encoding.UTF8.GetByteCount(setup.CommandLine);
        if ((uint)cmdlineLength > cmdlineMax)
            throw new ConfigException($"-append: the command line is {cmdlineLength} bytes; this kernel takes at most {cmdlineMax}");
        if (CommandLineAddress + (ulong)cmdlineLength + 1 > EbdaStart)
            throw new ConfigException($"-append: the command line is {cmdlineLength} bytes; at most {EbdaStart - CommandLineAddress - 1} fit");

        // The initrd as QEMU's x86_load_linux places it: at the top of RAM below initrd_addr_max, page aligned.
        ulong initrdAddress = 0, initrdSize = (ulong)(setup.Initrd?.Length ?? 0);
        if (initrdSize > 0)
        {
            ulong initrdMax = initrdAddrMax;
            if (initrdMax >= lowEnd)
                initrdMax = lowEnd - 1;
            if (initrdSize >= initrdMax)
                throw new ConfigException($"initrd: {initrdSize} bytes is too large (the kernel takes initrds below 0x{initrdMax + 1:x})");
            initrdAddress = (initrdMax - initrdSize) & ~0xFFFUL;
            if (initrdAddress < regionEnd)
                throw new ConfigException($"initrd: {initrdSize >> 20} MiB does not fit in RAM beside the kernel (try a larger -m)");
        }

        plan = new X86BootPlan
        {
            KernelFormat = format,
            KernelAddress = kernelAddress,
            KernelSize = kernelSize,
            KernelRegionEnd = regionEnd,
            EntryPoint = entry,
            InitrdAddress = initrdAddress,
            InitrdSize = initrdSize,
            CommandLineAddress = CommandLineAddress,
            CommandLineLength = cmdlineLength,
            RsdpAddress = setup.Acpi ? AcpiAddress : 0,
            E820 = E820Map(lowEnd, highSize),
        };
        return prepared;
    }

    /// <summary>
    /// The board's description must be one Linux can use: every virtio interrupt on an IOAPIC pin
    /// (with acpi=off an ISA IRQ, which is all the MP table routes), and no two transports alike.
    /// These are the integrator's mistakes, not the user's: ArgumentException.
    /// </summary>
    private static void CheckDevices(MicrovmBootSetup setup)
    {
        var ioApics = setup.IoApics ?? IoApicDescription.Qemu(setup.Acpi);
        if (ioApics.Count == 0)
            throw new ArgumentException("a microvm needs an I/O APIC", nameof(setup));
        if (setup.Cpus is < 1 or > 254)
            throw new ArgumentException("1 to 254 processors (xAPIC IDs)", nameof(setup));
        foreach (var v in setup.VirtioMmio)
        {
            bool routed = setup.Acpi
                ? ioApics.Any(io => v.Gsi >= io.GsiBase && v.Gsi < io.GsiBase + IoApicDescription.Pins)
                : v.Gsi is < 16 and not 0 and not 2;
            if (!routed)
                throw new ArgumentException($"virtio-mmio slot {v.Index} at 0x{v.BaseAddress:x}: GSI {v.Gsi} is not an interrupt the firmware tables route", nameof(setup));
            if (setup.VirtioMmio.Count(w => w.Index == v.Index || w.BaseAddress == v.BaseAddress) > 1)
                throw new ArgumentException($"virtio-mmio slot {v.Index} at 0x{v.BaseAddress:x} is listed twice", nameof(setup));
        }
    }

    /// <summary>
    /// The map QEMU 7.2's microvm reports through qboot (observed with Linux's "BIOS-e820" lines):
    /// usable base memory below the MP table, the MP table's 1 KiB reserved, 0xd0000-0xeffff ACPI NVS
    /// (where the ACPI tables live; qboot reports it with acpi=off too), the BIOS area 0xf0000-0xfffff
    /// reserved, then usable RAM from 1 MiB to the end of low RAM and at 4 GiB. 0xa0000-0xcffff (the
    /// VGA/option-ROM hole) is not listed.
    /// </summary>
    public static IReadOnlyList<E820Entry> E820Map(ulong lowRamEnd, ulong highRamSize)
    {
        var map = new List<E820Entry>
        {
            new(0, EbdaStart, E820Entry.Usable),
            new(EbdaStart, 0xa0000 - EbdaStart, E820Entry.Reserved),
            new(AcpiRegionStart, BiosRomStart - AcpiRegionStart, E820Entry.AcpiNvs),
            new(BiosRomStart, HighMemory - BiosRomStart, E820Entry.Reserved),
        };
        if (lowRamEnd > HighMemory)
            map.Add(new(HighMemory, lowRamEnd - HighMemory, E820Entry.Usable));
        if (highRamSize > 0)
            map.Add(new(FourGiB, highRamSize, E820Entry.Usable));
        return map;
    }

    /// <summary>RAM contiguous from 0 (adjacent regions merge) and the size of the region at 4 GiB.</summary>
    private static (ulong LowEnd, ulong HighSize) RamLayout(PhysicalBus bus)
    {
        ulong lowEnd = 0;
        for (var r = bus.FindRam(0); r != null && lowEnd < FourGiB; r = bus.FindRam(lowEnd))
            lowEnd = r.EndAddress;
        if (lowEnd > FourGiB)
            throw new ConfigException("microvm's low RAM must end below 4 GiB");
        var high = bus.FindRam(FourGiB);
        return (lowEnd, high is { BaseAddress: FourGiB } ? high.Size : 0);
    }

    /// <summary>
    /// For a vmlinux, which has no setup header: what a bzImage of the same kernel would have said,
    /// as far as the kernel proper reads it (Firecracker does the same: boot_flag, "HdrS",
    /// type_of_loader, kernel_alignment, cmdline_size).
    /// </summary>
    private static byte[] SynthesizedSetupHeader(uint cmdlineSize, uint initrdAddrMax)
    {
        var zp = new byte[4096];
        var s = zp.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(s[HdrBootFlag..], 0xAA55);
        BinaryPrimitives.WriteUInt32LittleEndian(s[HdrHeader..], 0x53726448);
        BinaryPrimitives.WriteUInt16LittleEndian(s[HdrVersion..], 0x020f);
        zp[HdrLoadFlags] = BzImage.LoadedHigh;
        BinaryPrimitives.WriteUInt32LittleEndian(s[HdrInitrdAddrMax..], initrdAddrMax);
        BinaryPrimitives.WriteUInt32LittleEndian(s[HdrKernelAlignment..], 0x200000);
        BinaryPrimitives.WriteUInt16LittleEndian(s[HdrXLoadFlags..], BzImage.XlfKernel64);
        BinaryPrimitives.WriteUInt32LittleEndian(s[HdrCmdlineSize..], cmdlineSize);
        return zp.AsSpan(BzImage.SetupHeaderOffset, 0x26c - BzImage.SetupHeaderOffset).ToArray();
    }

    /// <summary>The zero page: boot.rst "64-bit BOOT PROTOCOL" and zero-page.rst.</summary>
    private static byte[] BuildZeroPage(byte[] setupHeader, X86BootPlan plan)
    {
        var zp = new byte[4096];
        var s = zp.AsSpan();
        setupHeader.CopyTo(s[BzImage.SetupHeaderOffset..]);
        zp[HdrTypeOfLoader] = LoaderType;
        zp[HdrLoadFlags] |= BzImage.LoadedHigh | BzImage.CanUseHeap;
        // heap_end_ptr only matters to the real-mode setup code, which does not run: GRUB's value.
        BinaryPrimitives.WriteUInt16LittleEndian(s[HdrHeapEndPtr..], 0xfe00);
        BinaryPrimitives.WriteUInt32LittleEndian(s[HdrCmdLinePtr..], (uint)plan.CommandLineAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[BpExtCmdLinePtr..], (uint)(plan.CommandLineAddress >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(s[HdrRamdiskImage..], (uint)plan.InitrdAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[HdrRamdiskSize..], (uint)plan.InitrdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[BpExtRamdiskImage..], (uint)(plan.InitrdAddress >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(s[BpExtRamdiskSize..], (uint)(plan.InitrdSize >> 32));
        BinaryPrimitives.WriteUInt64LittleEndian(s[BpAcpiRsdpAddr..], plan.RsdpAddress);
        if (plan.E820.Count > BpE820Max)
            throw new InvalidOperationException("too many E820 entries");
        zp[BpE820Entries] = (byte)plan.E820.Count;
        for (int i = 0; i < plan.E820.Count; i++)
        {
            var e = s[(BpE820Table + 20 * i)..];
            BinaryPrimitives.WriteUInt64LittleEndian(e, plan.E820[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], plan.E820[i].Size);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], plan.E820[i].Type);
        }
        return zp;
    }

    /// <summary>
    /// Identity map of 0-4 GiB with 2 MiB pages (Intel SDM vol. 3A 4.5, Figure 4-9): PML4[0] → PDPT,
    /// PDPT[0..3] → four page directories of 512 PS entries. boot.rst asks for the kernel's range, the
    /// zero page and the command line; 4 GiB also covers the initrd, the tables and the MMIO devices.
    /// </summary>
    private static void WritePageTables(PhysicalBus bus)
    {
        const ulong present = 1, writable = 2, pageSize = 0x80;
        var page = new byte[4096];
        BinaryPrimitives.WriteUInt64LittleEndian(page, PdptAddress | present | writable);
        bus.Load(Pml4Address, page);
        Array.Clear(page);
        for (int i = 0; i < 4; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8 * i), (PageDirectoryAddress + 0x1000 * (ulong)i) | present | writable);
        bus.Load(PdptAddress, page);
        for (int d = 0; d < 4; d++)
        {
            for (int i = 0; i < 512; i++)
            {
                ulong address = ((ulong)d << 30) | ((ulong)i << 21);
                BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8 * i), address | present | writable | pageSize);
            }
            bus.Load(PageDirectoryAddress + 0x1000 * (ulong)d, page);
        }
    }

    /// <summary>GDT {null, null, 0x10 code, 0x18 data} and an empty IDT right after it.</summary>
    private static void WriteGdt(PhysicalBus bus)
    {
        var gdt = new byte[4 * 8 + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(BootCodeSelector), CodeDescriptor);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(BootDataSelector), DataDescriptor);
        bus.Load(GdtAddress, gdt);
    }

    private static readonly byte[] s_zeros = new byte[64 * 1024];

    private static void Zero(PhysicalBus bus, ulong address, ulong length)
    {
        while (length > 0)
        {
            int n = (int)Math.Min(length, (ulong)s_zeros.Length);
            bus.Load(address, s_zeros.AsSpan(0, n));
            address += (ulong)n;
            length -= (ulong)n;
        }
    }
}
