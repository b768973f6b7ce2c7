using Wemu.Cpu;
using System.Buffers.Binary;
using Wemu.Cpu.RiscV;
using Wemu.Devices;
using Wemu.Devices.Fdt;
using Wemu.Devices.Virtio;

namespace Wemu.Machines;

/// <summary>
/// QEMU's RISC-V <c>virt</c> board with QEMU's memory map, so the same firmware, kernels and
/// device trees work on both. The memory map is a table; the device tree handed to the firmware
/// is generated from that same table.
/// </summary>
public sealed class RiscVVirtMachine : RiscVMachine
{
    public const ulong DramBase = 0x8000_0000;
    public const int VirtioSlots = 8;
    public const ulong TimebaseFrequency = 10_000_000;

    /// <summary>QEMU hw/riscv/virt.c virt_memmap[] (the parts Wemu implements).</summary>
    public static readonly BoardRegion[] MemoryMap =
    [
        new("mrom", 0x1000, 0xF000),
        new("test", 0x10_0000, 0x1000),
        new("rtc", 0x10_1000, 0x1000, Irq: 11),
        new("clint", 0x200_0000, 0x1_0000),
        new("plic", 0xC00_0000, 0x60_0000),
        new("uart0", 0x1000_0000, 0x100, Irq: 10),
        .. Enumerable.Range(0, VirtioSlots).Select(i => new BoardRegion("virtio", 0x1000_1000 + (ulong)i * 0x1000, 0x1000, Irq: 1 + i)),
        new("dram", DramBase, 0),
    ];

    private readonly Plic _plic;
    private readonly Aclint _aclint;
    private readonly Uart16550 _uart;
    private readonly GoldfishRtc _rtc;
    private readonly List<VirtioMmioTransport> _virtio = [];
    private GuestVirtioDevices? _devices;
    private readonly string _isa = "rv64imafdc_zicntr_zicsr_zifencei";

    public RiscVVirtMachine(MachineConfig config, MachineImages images, ICpuEngine<RiscVHart>? engine = null)
        : base(new MachineClock(TimebaseFrequency, config.Deterministic, config.IcountShift), engine ?? CreateEngine(config, images))
    {
        try
        {
            var pins = new IHartInterruptPins[] { Hart };
            _plic = new Plic(pins);
            _aclint = new Aclint(Clock, pins);
            Hart.ReadTime = () => _aclint.Mtime;
            var serial = images.Serial ?? NullSerial.Instance;
            _uart = new Uart16550(serial, new IrqLine(_plic, Region("uart0").Irq), bufferOutput: true);
            var rtcStart = DateTimeOffset.FromUnixTimeMilliseconds((long)(images.RtcStartNanoseconds / 1_000_000));
            _rtc = new GoldfishRtc(Clock, new IrqLine(_plic, Region("rtc").Irq), rtcStart);
            var test = new SifiveTest();
            test.PowerRequested += (request, code) =>
                RequestStop(request == PowerRequest.Reset ? MachineStatus.ResetRequested : MachineStatus.PoweredOff, code);

            var rom = Region("mrom");
            Bus.AddRam(rom.Base, rom.Size);
            Bus.AddRam(DramBase, config.MemorySize);
            Bus.Map(Region("test").Base, Region("test").Size, test);
            Bus.Map(Region("rtc").Base, Region("rtc").Size, _rtc);
            Bus.Map(Region("clint").Base, Region("clint").Size, _aclint);
            Bus.Map(Region("plic").Base, _plic.Size, _plic);
            Bus.Map(Region("uart0").Base, Region("uart0").Size, _uart);

            // virtio-mmio slots: disks first (the first -drive is /dev/vda), then the entropy source, then 9p shares.
            _devices = new GuestVirtioDevices(config, images);
            var devices = _devices.Devices;
            if (devices.Count > VirtioSlots)
                throw new ConfigException($"machine virt has {VirtioSlots} virtio slots; {devices.Count} devices requested");
            int slot = 0;
            foreach (var r in MemoryMap.Where(r => r.Name == "virtio"))
            {
                var t = new VirtioMmioTransport(Bus, new IrqLine(_plic, r.Irq), slot < devices.Count ? devices[slot] : null);
                _virtio.Add(t);
                Bus.Map(r.Base, r.Size, t);
                slot++;
            }

            // -incoming: the snapshot brings RAM and every register; loading the images would only be overwritten.
            if (config.Incoming == null)
                LoadImages(config, images);
            else
                RamUnwritten = true;
        }
        catch
        {
            Dispose();   // a refused configuration or image must not leave guest RAM allocated
            throw;
        }
    }

    public override string? SnapshotBoard => "riscv64-virt";

    public override IEnumerable<(string Section, Snapshot.IStateful Part)> StateParts()
    {
        yield return ("hart0", Hart);
        yield return ("clock", Clock);
        yield return ("machine", this);
        yield return ("aclint", _aclint);
        yield return ("plic", _plic);
        yield return ("uart0", _uart);
        yield return ("rtc", _rtc);
        for (int i = 0; i < _virtio.Count; i++)
            yield return ($"virtio{i}", _virtio[i]);
    }

    private static BoardRegion Region(string name) => MemoryMap.First(r => r.Name == name);

    private void LoadImages(MachineConfig config, MachineImages images)
    {
        ulong ramEnd = DramBase + config.MemorySize;
        ulong kernelEntry = 0;
        ulong firmwareEnd = DramBase;
        if (!config.NoFirmware)
        {
            var fw = images.Firmware ?? throw new ConfigException("machine virt needs firmware (-bios)");
            if (ElfImage.IsElf(fw))
                firmwareEnd = LoadElf(fw, "firmware", out _);
            else
            {
                if ((ulong)fw.Length > config.MemorySize / 2)
                    throw new ConfigException("firmware is larger than half of RAM");
                Bus.Load(DramBase, fw);
                firmwareEnd = DramBase + (ulong)fw.Length;
            }
        }
        ulong kernelEnd = firmwareEnd;
        if (images.Kernel is { } kernel)
        {
            // QEMU riscv_calc_kernel_start_addr: after the firmware, 2 MiB aligned on RV64.
            ulong start = config.NoFirmware ? DramBase : (firmwareEnd + 0x1F_FFFF) & ~0x1F_FFFFUL;
            if (ElfImage.IsElf(kernel))
                kernelEnd = LoadElf(kernel, "kernel", out kernelEntry);
            else if (IsRiscVImage(kernel))
            {
                if (start + (ulong)kernel.Length > ramEnd)
                    throw new ConfigException("kernel does not fit in RAM (try a larger -m)");
                Bus.Load(start, kernel);
                kernelEntry = start;
                kernelEnd = start + (ulong)kernel.Length;
            }
            else
                throw new ConfigException("kernel is neither a RISC-V Linux Image nor an ELF file");
        }
        else if (!config.NoFirmware)
            kernelEntry = 0;   // firmware with no payload

        ulong initrdStart = 0, initrdEnd = 0;
        if (images.Initrd is { } initrd)
        {
            // QEMU riscv_load_initrd: halfway into RAM below 256 MiB, else at 128 MiB.
            initrdStart = DramBase + (config.MemorySize < (256UL << 20) ? config.MemorySize / 2 : 128UL << 20);
            if (initrdStart < kernelEnd)
                initrdStart = (kernelEnd + 0xFFF) & ~0xFFFUL;
            initrdEnd = initrdStart + (ulong)initrd.Length;
            if (initrdEnd > ramEnd - (2UL << 20))
                throw new ConfigException("initrd does not fit in RAM (try a larger -m)");
            Bus.Load(initrdStart, initrd);
        }

        byte[] dtb = BuildDeviceTree(config, initrdStart, initrdEnd);
        // QEMU riscv_compute_fdt_addr: the end of RAM (below 3 GiB), 2 MiB aligned.
        ulong fdtLimit = Math.Min(ramEnd, 0xC000_0000);
        ulong fdtAddr = (fdtLimit - (ulong)dtb.Length) & ~0x1F_FFFFUL;
        if (fdtAddr < initrdEnd || fdtAddr < kernelEnd)
            throw new ConfigException("not enough RAM for kernel, initrd and device tree (try a larger -m)");
        Bus.Load(fdtAddr, dtb);

        ulong start0 = config.NoFirmware ? kernelEntry : DramBase;
        WriteResetVector(start0, fdtAddr, kernelEntry);
        Hart.Reset(Region("mrom").Base);
    }

    private ulong LoadElf(byte[] data, string what, out ulong entry)
    {
        ElfImage elf;
        try
        {
            elf = ElfImage.Parse(data);
        }
        catch (FormatException e)
        {
            throw new ConfigException($"{what}: {e.Message}");
        }
        if (elf.Machine != ElfImage.MachineRiscV)
            throw new ConfigException($"{what}: ELF file is not for RISC-V");
        ulong end = 0;
        foreach (var s in elf.Segments)
        {
            if (!Bus.TryGetRamRange(s.PhysicalAddress, s.MemorySize))
                throw new ConfigException($"{what}: segment at 0x{s.PhysicalAddress:x} does not fit in RAM");
            Bus.Load(s.PhysicalAddress, s.Data);
            end = Math.Max(end, s.PhysicalAddress + s.MemorySize);
        }
        entry = elf.Entry;
        return end;
    }

    /// <summary>Linux RISC-V Image header (Documentation/riscv/boot-image-header.rst): magic2 "RSC\x05" at 0x38.</summary>
    public static bool IsRiscVImage(ReadOnlySpan<byte> data) =>
        data.Length >= 64 && BinaryPrimitives.ReadUInt32LittleEndian(data[0x38..]) == 0x05435352;

    /// <summary>QEMU riscv_setup_rom_reset_vec: a0 = hartid, a1 = DTB, a2 = fw_dynamic_info, jump to start.</summary>
    private void WriteResetVector(ulong start, ulong fdt, ulong nextAddr)
    {
        var rom = new byte[0x60];
        uint[] code =
        [
            0x00000297,   // auipc t0, 0
            0x02828613,   // addi  a2, t0, 40
            0xF1402573,   // csrr  a0, mhartid
            0x0202B583,   // ld    a1, 32(t0)
            0x0182B283,   // ld    t0, 24(t0)
            0x00028067,   // jr    t0
        ];
        for (int i = 0; i < code.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(rom.AsSpan(i * 4), code[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(rom.AsSpan(24), start);
        BinaryPrimitives.WriteUInt64LittleEndian(rom.AsSpan(32), fdt);
        // struct fw_dynamic_info (OpenSBI include/sbi/fw_dynamic.h), version 2
        ulong[] info = [0x4942534F, 2, nextAddr, 1 /* S-mode */, 0, 0];
        for (int i = 0; i < info.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(rom.AsSpan(40 + i * 8), info[i]);
        Bus.Load(Region("mrom").Base, rom);
    }

    private byte[] BuildDeviceTree(MachineConfig config, ulong initrdStart, ulong initrdEnd)
    {
        var f = new FdtBuilder();
        f.BeginNode("");
        f.PropertyU32("#address-cells", 2);
        f.PropertyU32("#size-cells", 2);
        f.PropertyString("compatible", "riscv-virtio");
        f.PropertyString("model", "riscv-virtio,qemu");

        f.BeginNode("chosen");
        f.PropertyString("bootargs", config.Append ?? "");
        f.PropertyString("stdout-path", $"/soc/serial@{Region("uart0").Base:x}");
        if (initrdEnd > initrdStart)
        {
            f.PropertyU64("linux,initrd-start", initrdStart);
            f.PropertyU64("linux,initrd-end", initrdEnd);
        }
        f.EndNode();

        f.BeginNode($"memory@{DramBase:x}");
        f.PropertyString("device_type", "memory");
        f.PropertyU64("reg", DramBase, config.MemorySize);
        f.EndNode();

        uint intc = f.AllocatePhandle();
        uint cpuPhandle = f.AllocatePhandle();
        f.BeginNode("cpus");
        f.PropertyU32("#address-cells", 1);
        f.PropertyU32("#size-cells", 0);
        f.PropertyU32("timebase-frequency", (uint)TimebaseFrequency);
        f.BeginNode("cpu@0");
        f.PropertyPhandle(cpuPhandle);
        f.PropertyString("device_type", "cpu");
        f.PropertyU32("reg", 0);
        f.PropertyString("status", "okay");
        f.PropertyString("compatible", "riscv");
        f.PropertyString("riscv,isa", _isa);
        f.PropertyString("mmu-type", "riscv,sv48");
        f.BeginNode("interrupt-controller");
        f.PropertyU32("#interrupt-cells", 1);
        f.PropertyEmpty("interrupt-controller");
        f.PropertyString("compatible", "riscv,cpu-intc");
        f.PropertyPhandle(intc);
        f.EndNode();
        f.EndNode();
        f.BeginNode("cpu-map");
        f.BeginNode("cluster0");
        f.BeginNode("core0");
        f.PropertyU32("cpu", cpuPhandle);
        f.EndNode();
        f.EndNode();
        f.EndNode();
        f.EndNode();

        uint plic = f.AllocatePhandle();
        uint test = f.AllocatePhandle();
        f.BeginNode("poweroff");
        f.PropertyU32("value", 0x5555);
        f.PropertyU32("offset", 0);
        f.PropertyU32("regmap", test);
        f.PropertyString("compatible", "syscon-poweroff");
        f.EndNode();
        f.BeginNode("reboot");
        f.PropertyU32("value", 0x7777);
        f.PropertyU32("offset", 0);
        f.PropertyU32("regmap", test);
        f.PropertyString("compatible", "syscon-reboot");
        f.EndNode();

        f.BeginNode("soc");
        f.PropertyU32("#address-cells", 2);
        f.PropertyU32("#size-cells", 2);
        f.PropertyString("compatible", "simple-bus");
        f.PropertyEmpty("ranges");
        foreach (var r in MemoryMap)
        {
            switch (r.Name)
            {
                case "test":
                    f.BeginNode($"test@{r.Base:x}");
                    f.PropertyPhandle(test);
                    f.PropertyU64("reg", r.Base, r.Size);
                    f.PropertyStrings("compatible", "sifive,test1", "sifive,test0", "syscon");
                    f.EndNode();
                    break;
                case "rtc":
                    f.BeginNode($"rtc@{r.Base:x}");
                    f.PropertyU32("interrupts", (uint)r.Irq);
                    f.PropertyU32("interrupt-parent", plic);
                    f.PropertyU64("reg", r.Base, r.Size);
                    f.PropertyString("compatible", "google,goldfish-rtc");
                    f.EndNode();
                    break;
                case "clint":
                    f.BeginNode($"clint@{r.Base:x}");
                    f.PropertyU32("interrupts-extended", intc, 3, intc, 7);
                    f.PropertyU64("reg", r.Base, r.Size);
                    f.PropertyStrings("compatible", "sifive,clint0", "riscv,clint0");
                    f.EndNode();
                    break;
                case "plic":
                    f.BeginNode($"plic@{r.Base:x}");
                    f.PropertyPhandle(plic);
                    f.PropertyU32("riscv,ndev", (uint)_plic.SourceCount);
                    f.PropertyU64("reg", r.Base, _plic.Size);
                    f.PropertyU32("interrupts-extended", intc, 11, intc, 9);
                    f.PropertyEmpty("interrupt-controller");
                    f.PropertyStrings("compatible", "sifive,plic-1.0.0", "riscv,plic0");
                    f.PropertyU32("#address-cells", 0);
                    f.PropertyU32("#interrupt-cells", 1);
                    f.EndNode();
                    break;
                case "uart0":
                    f.BeginNode($"serial@{r.Base:x}");
                    f.PropertyU32("interrupts", (uint)r.Irq);
                    f.PropertyU32("interrupt-parent", plic);
                    f.PropertyU32("clock-frequency", 0x384000);
                    f.PropertyU64("reg", r.Base, r.Size);
                    f.PropertyString("compatible", "ns16550a");
                    f.EndNode();
                    break;
                case "virtio":
                    f.BeginNode($"virtio_mmio@{r.Base:x}");
                    f.PropertyU32("interrupts", (uint)r.Irq);
                    f.PropertyU32("interrupt-parent", plic);
                    f.PropertyU64("reg", r.Base, r.Size);
                    f.PropertyString("compatible", "virtio,mmio");
                    f.EndNode();
                    break;
            }
        }
        f.EndNode();
        f.EndNode();
        return f.Build();
    }

    /// <summary>Interrupt controller state for diagnostics.</summary>
    public string DescribeInterrupts()
    {
        var sb = new System.Text.StringBuilder("plic pending:");
        for (int i = 1; i <= 11; i++)
            if (_plic.IsPending(i))
                sb.Append(' ').Append(i);
        sb.Append(" | uart ").Append(string.Join(",", Enumerable.Range(0, 8).Select(r => r == 0 || r == 2 ? "-" : _uart.Read((ulong)r, 1).ToString("x"))));
        for (int i = 0; i < _virtio.Count; i++)
            sb.Append($" | v{i} isr={_virtio[i].InterruptStatus}");
        return sb.ToString();
    }

    public override ulong NextDeadline => Math.Min(_aclint.NextDeadline, _rtc.NextDeadline);

    public override string DescribeState() => $"{base.DescribeState()} {DescribeInterrupts()}";

    protected override void Tick()
    {
        _aclint.Update();
        _rtc.Update();
        _uart.Poll();
        _devices?.Poll();
    }

    public override MachineStatus RunSlice(long budget, long endTimestamp = long.MaxValue)
    {
        var status = base.RunSlice(budget, endTimestamp);
        _uart.Flush();
        return status;
    }

    /// <summary>Flushes every disk, each on its own (one failing disk does not leave the others unflushed), then reports the first failure.</summary>
    public override void Flush()
    {
        _uart.Flush();
        _devices?.Flush();
    }

    public override void Dispose()
    {
        _devices?.Close();
        base.Dispose();
    }
}
