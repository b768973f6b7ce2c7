using Wemu.Cpu.X86;
using Wemu.Devices;
using Wemu.Devices.X86;
using VirtioTransport = Wemu.Devices.Virtio.VirtioMmioTransport;

namespace Wemu.Machines.X86;

/// <summary>
/// QEMU 7.2's x86 <c>microvm</c> board without firmware: one x86-64 CPU started in long mode through
/// Linux's 64-bit boot protocol, RAM below 3 GiB (the rest at 4 GiB), the legacy PC devices at their
/// ports (i8259 pair with ELCR, i8254 with port 0x61, MC146818 RTC, 8250 UART at 0x3f8), IOAPIC(s),
/// the local APIC, and virtio-mmio transports at 0xfeb00000 + 0x200·i. With ACPI (QEMU's default)
/// the devices are described in HW-reduced ACPI tables and <c>poweroff</c> writes the GED's sleep
/// control register; with <c>acpi=off</c> an MP table describes the CPU and IOAPIC and the virtio
/// devices are appended to the kernel command line, as QEMU does.
/// </summary>
public sealed class MicrovmMachine : Machine
{
    public const ulong LocalApicBase = 0xfee0_0000;
    public const ulong TscFrequency = 1_000_000_000;
    private const ulong LowRamLimit = 3UL << 30, HighRamBase = 4UL << 30;

    private readonly PortIoBus _ports = new();
    private readonly ApicBus _apicBus = new();
    private readonly LocalApic _lapic;
    private readonly IoApic[] _ioApics;
    private readonly I8259Pair _pic;
    private readonly I8254Pit _pit;
    private readonly Mc146818Rtc _rtc;
    private readonly Uart16550 _uart;
    private readonly GuestVirtioDevices? _devices;
    private readonly List<VirtioTransport> _virtio = [];
    private readonly SystemControlPortB _portB = null!;

    public MicrovmMachine(MachineConfig config, MachineImages images)
        : base(new MachineClock(TscFrequency, config.Deterministic, config.IcountShift))
    {
        try
        {
            bool acpi = config.Acpi ?? true;
            ulong low = Math.Min(config.MemorySize, LowRamLimit);
            Bus.AddRam(0, low);
            if (config.MemorySize > low)
                Bus.AddRam(HighRamBase, config.MemorySize - low);

            Cpu = new X86Cpu(Bus, X86CpuModel.Find(config.CpuModel ?? "qemu64") ?? throw new ConfigException($"unknown CPU model '{config.CpuModel}'"));
            if (config.Accelerator != "interp")
                Jit = new X86JitEngine(JitOptionsFor(config, images, WasmThreshold));
            Cpu.ReadPort = _ports.Read;
            Cpu.WritePort = _ports.Write;
            Cpu.ReadTsc = () => Clock.Now;
            Clock.AttachInstructionCounter(() => Cpu.InstructionsRetired); // -icount: time follows instructions
            if (Environment.GetEnvironmentVariable("WEMU_TRACE_EXCEPTIONS") == "1")
                Cpu.ExceptionTrace = line => Console.Error.WriteLine($"[{line}]");

            _lapic = new LocalApic(Clock, _apicBus);
            Bus.Map(LocalApicBase, 0x1000, _lapic);
            Cpu.InterruptController = _lapic;
            Cpu.ReadApicBase = () => _lapic.ApicBaseMsr;
            Cpu.WriteApicBase = _lapic.WriteApicBaseMsr;
            _lapic.InterruptPending = Cpu.NotifyInterrupt;

            var ioApicList = IoApicDescription.Qemu(acpi);
            _ioApics = new IoApic[ioApicList.Count];
            for (int i = 0; i < ioApicList.Count; i++)
            {
                _ioApics[i] = new IoApic(_apicBus, ioApicList[i].Id);
                Bus.Map(ioApicList[i].Address, 0x1000, _ioApics[i]);
            }

            _pic = new I8259Pair();
            _lapic.ConnectPic(_pic);
            _ports.Map(0x20, 2, _pic);
            _ports.Map(0xA0, 2, _pic);
            _ports.Map(0x4D0, 1, _pic); // the two ELCRs are separate regions in QEMU
            _ports.Map(0x4D1, 1, _pic);
            var isa = new IsaInterruptRouter(_pic, _ioApics[0]);
            // Linux never programs the 8259 on HW-reduced ACPI: leave it as QEMU's firmware (qboot's
            // setup_pic in hwsetup.c) does: vectors 0x08/0x70, everything masked but the cascade, ELCR 10/11.
            foreach (var (port, value) in new (ushort, uint)[]
                { (0x20, 0x11), (0xA0, 0x11), (0x21, 0x08), (0xA1, 0x70), (0x21, 0x04), (0xA1, 0x02), (0x21, 0x01), (0xA1, 0x01),
                  (0x21, 0xFB), (0xA1, 0xFF), (0x4D0, 0x00), (0x4D1, 0x0C) })
                _ports.Write(port, 1, value);

            _pit = new I8254Pit(Clock, new IrqLine(isa, 0));
            _ports.Map(0x40, 4, _pit);
            _portB = new SystemControlPortB(_pit);
            _ports.Map(SystemControlPortB.Port, 1, _portB);

            var rtcStart = DateTimeOffset.FromUnixTimeMilliseconds((long)(images.RtcStartNanoseconds / 1_000_000));
            var startTicks = Clock.Now;
            _rtc = new Mc146818Rtc(Clock, new IrqLine(isa, 8), () => rtcStart + Clock.ToTimeSpan(Clock.Now - startTicks));
            _rtc.SetMemorySize(low, config.MemorySize - low);
            _ports.Map(0x70, 2, _rtc);

            _uart = new Uart16550(images.Serial ?? NullSerial.Instance, new IrqLine(isa, 4), bufferOutput: true);
            _ports.Map(0x3F8, 8, new PortWindow(_uart, 0x3F8));

            if (acpi)
            {
                var ged = new AcpiGedRegisters(AcpiTables.ResetValue, AcpiTables.SleepTypeS5);
                ged.PowerRequested += request =>
                    RequestStop(request == PowerRequest.Reset ? MachineStatus.ResetRequested : MachineStatus.PoweredOff, 0);
                Bus.Map(AcpiTables.GedBase, AcpiGedRegisters.WindowSize, ged);
            }

            // virtio-mmio: QEMU creates every slot and fills them from the top (the first device gets the last slot)
            _devices = new GuestVirtioDevices(config, images);
            int slots = VirtioMmioTransport.QemuSlots(acpi);
            if (_devices.Devices.Count > slots)
                throw new ConfigException($"machine microvm has {slots} virtio slots; {_devices.Devices.Count} devices requested");
            var populated = new List<VirtioMmioTransport>();
            for (int slot = 0; slot < slots; slot++)
            {
                var where = VirtioMmioTransport.QemuSlot(slot, acpi);
                int device = slots - 1 - slot;
                var dev = device < _devices.Devices.Count ? _devices.Devices[device] : null;
                IInterruptSink sink = where.Gsi < 24 ? isa : _ioApics[1];
                var transport = new VirtioTransport(Bus, new IrqLine(sink, (int)(where.Gsi < 24 ? where.Gsi : where.Gsi - 24)), dev);
                Bus.Map(where.BaseAddress, VirtioMmioTransport.Size, transport);
                _virtio.Add(transport);
                if (dev != null)
                    populated.Add(where);
            }
            populated.Reverse();

            // -incoming: the snapshot brings RAM (with the tables the loader would write) and every register.
            if (config.Incoming != null)
                RamUnwritten = true;
            else
            {
                var kernel = images.Kernel ?? throw new ConfigException("machine microvm needs -kernel (an x86-64 bzImage or vmlinux)");
                string cmdline = config.Append ?? "";
                if (!acpi)
                    cmdline += MicrovmBootSetup.VirtioCommandLine(populated);
                else if (!cmdline.Contains("tsc_early_khz=", StringComparison.Ordinal))
                    // HW-reduced ACPI has no PIT or HPET to calibrate the TSC and the local APIC timer against,
                    // and x86 Linux reads no TSC frequency from an AMD CPU's CPUID: without this Linux waits for
                    // a timer tick that never comes (QEMU's microvm hangs there under TCG). Wemu says what its
                    // TSC rate is, as QEMU says where its virtio devices are when ACPI is off.
                    cmdline += $" tsc_early_khz={TscFrequency / 1000}";
                var entry = X86LinuxLoader.Load(Bus, new MicrovmBootSetup
                {
                    Kernel = kernel,
                    Initrd = images.Initrd,
                    CommandLine = cmdline,
                    Acpi = acpi,
                    VirtioMmio = populated,
                    IoApics = ioApicList,
                });
                Cpu.Reset();
                Cpu.EnterLongMode(entry.Rip, entry.Cr3, entry.GdtBase, entry.GdtLimit, entry.CodeSelector, entry.CodeDescriptor,
                    entry.DataSelector, entry.DataDescriptor);
                Cpu.IdtBase = entry.IdtBase;
                Cpu.IdtLimit = entry.IdtLimit;
                Cpu.SetRegister(X86Cpu.Rsp, entry.Rsp);
                Cpu.SetRegister(X86Cpu.Rsi, entry.Rsi);
                Cpu.SetFlags(entry.Rflags);
                Cpu.Mxcsr = entry.Mxcsr;
                Cpu.Fpu.Control = entry.Fcw;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public X86Cpu Cpu { get; } = null!;

    public override string? SnapshotBoard => "x86_64-microvm";

    public override IEnumerable<(string Section, Snapshot.IStateful Part)> StateParts()
    {
        yield return ("cpu0", Cpu);
        yield return ("clock", Clock);
        yield return ("machine", this);
        yield return ("lapic0", _lapic);
        for (int i = 0; i < _ioApics.Length; i++)
            yield return ($"ioapic{i}", _ioApics[i]);
        yield return ("pic", _pic);
        yield return ("pit", _pit);
        yield return ("port61", _portB);
        yield return ("cmos", _rtc);
        yield return ("uart0", _uart);
        for (int i = 0; i < _virtio.Count; i++)
            yield return ($"virtio{i}", _virtio[i]);
    }

    /// <summary><c>-accel tcg</c>: the translating engine; null with <c>-accel interp</c> (the interpreter alone).</summary>
    public X86JitEngine? Jit { get; }

    public override string EngineName =>
        Jit != null ? Jit.Name
        : Cpu.UseBlockCache ? $"interpreter with decoded blocks ({Cpu.BlocksDecoded} decoded, {Cpu.CodePagesWritten} code pages written)" : "interpreter";

    public override Jit.JitStatistics? JitStatistics => Jit?.Statistics;

    public override bool JitInterpretsInWasm => Jit?.InterpretsInWasm ?? false;

    public override string? JitBackend => Jit?.Backend switch { null => null, Wemu.Jit.JitBackendKind.Wasm => "wasm", Wemu.Jit.JitBackendKind.X64 => "native", _ => "il" };

    public override ulong InstructionsRetired => Cpu.InstructionsRetired;

    public override ulong NextDeadline => Math.Min(Math.Min(_pit.NextDeadline, _lapic.NextDeadline), _rtc.NextDeadline);

    public override string DescribeState() =>
        $"rip={Cpu.ProgramCounter:x} cpl={Cpu.CurrentPrivilegeLevel} halted={Cpu.IsHalted} if={(Cpu.Flags >> 9) & 1} " +
        $"exceptions={Cpu.ExceptionsDelivered} interrupts={Cpu.InterruptsDelivered} last={Cpu.LastException} {base.DescribeState()}";

    /// <summary>
    /// The page's JIT threshold for x86 (RISC-V's wasm default is 20,000): measured with
    /// bench/browser-boot.mjs on 2026-12-03, pigz -p 1 on 10 MB in the page took 5.54 s at 20,000,
    /// 4.38 s at 2,000, 4.10 s at 1,000 and 3.99-4.02 s at 500, and the boot 11.4-12.3 s at all four.
    /// </summary>
    public const int WasmThreshold = 1_000;

    /// <summary>
    /// Compiled code runs 8,192 instructions in about 20 microseconds, and every device update reads
    /// the host clock a few times (a few percent of the run, measured with perf on pigz): with the JIT,
    /// devices are updated every 32,768 instructions (still well under a timer tick's millisecond).
    /// </summary>
    protected override long TickInstructions => Jit != null ? 4 * TickInterval : TickInterval;

    /// <summary>With no timer due, up to 4 intervals between updates (the page's exits back to the machine loop cost microseconds).</summary>
    protected override long MaxTickInstructions => 4 * TickInstructions;

    protected override bool CpuWaiting => Cpu.IsHalted;

    protected override bool CpuHasWakeUp => Cpu.HasWakeUpInterrupt;

    protected override void WakeCpu() => Cpu.IsHalted = false;

    protected override long RunCpu(long budget)
    {
        long n;
        if (Jit != null)
        {
            // Compiled code does not look for interrupts: the interpreter takes any that may have
            // become deliverable (a device, a tick) at this instruction boundary, then the engine runs.
            n = Cpu.InterruptCheckPending ? Cpu.Run(1) : 0;
            if (n < budget && !Cpu.IsHalted && !Cpu.ShutdownRequested)
            {
                Cpu.NoteInterruptWaiting();   // (a compiled STI leaves for the interpreter while one waits)
                n += Jit.Run(Cpu, budget - n);
            }
        }
        else
        {
            n = Cpu.Run(budget);
        }
        if (Cpu.ShutdownRequested)
            RequestStop(MachineStatus.ResetRequested, 0); // a triple fault resets the machine (QEMU: -no-reboot exits)
        return n;
    }

    protected override void Tick()
    {
        _pit.Tick();
        _lapic.Tick();
        _rtc.Tick();
        _uart.Poll();
        _devices?.Poll();
        Cpu.NotifyInterrupt();
    }

    public override MachineStatus RunSlice(long budget, long endTimestamp = long.MaxValue)
    {
        var status = base.RunSlice(budget, endTimestamp);
        _uart.Flush();
        return status;
    }

    public override void Flush()
    {
        _uart?.Flush();
        _devices?.Flush();
    }

    public override void Dispose()
    {
        _devices?.Close();
        Jit?.Dispose();
        Cpu?.Dispose();
        base.Dispose();
    }
}
