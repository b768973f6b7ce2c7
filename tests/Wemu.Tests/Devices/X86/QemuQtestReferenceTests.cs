using System.Diagnostics;
using System.Globalization;
using Wemu.Devices;
using Wemu.Devices.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>
/// Reference tests against QEMU 7.2 itself: the same port and MMIO accesses are sent to
/// <c>qemu-system-x86_64 -M microvm -S -qtest stdio</c> (stopped, so its virtual clock stands still) and to our
/// devices with a clock that does not move, and every value read must match. Debian's QEMU has no qtest
/// accelerator, so time cannot be stepped there: these sequences check register behaviour at a fixed instant;
/// the timing behaviour is covered by the datasheet/Linux replays in the other test classes.
/// qemu-system-x86_64 (package qemu-system-x86, which test.sh installs) must be present: without it these tests fail.
/// </summary>
public class QemuQtestReferenceTests
{
    private const string Qemu = "/usr/bin/qemu-system-x86_64";
    private static readonly DateTimeOffset s_rtcBase = new(2024, 2, 29, 13, 45, 56, TimeSpan.Zero);

    // The two i8259 chips of QEMU 7.2's microvm have no QOM name of their own; these are their paths in
    // qemu-system-x86_64 7.2 (Debian), checked by PicInputPathsAreTheI8259s before use.
    private const string MasterPicPath = "/machine/unattached/device[29]", SlavePicPath = "/machine/unattached/device[30]";

    public static bool QemuAvailable => File.Exists(Qemu);

    /// <summary>Our microvm devices on a port bus plus the IOAPIC window, with a stopped clock.</summary>
    private sealed class OurMachine
    {
        private readonly ManualClock _time = new();
        private readonly PortIoBus _ports = new();
        private readonly IoApic _ioApic;
        private readonly I8259Pair _pic = new();

        public OurMachine()
        {
            var apicBus = new ApicBus();
            var pic = _pic;
            _ioApic = new IoApic(apicBus);
            var lapic = new LocalApic(_time.Clock, apicBus, 0, true);
            lapic.ConnectPic(pic);
            var isa = new IsaInterruptRouter(pic, _ioApic);
            var pit = new I8254Pit(_time.Clock, new IrqLine(isa, 0));
            var rtc = new Mc146818Rtc(_time.Clock, new IrqLine(isa, 8), () => s_rtcBase);
            rtc.SetMemorySize(128ul << 20, 0); // QEMU's default -m 128M
            _ports.Map(0x20, 2, pic);
            _ports.Map(0xa0, 2, pic);
            _ports.Map(0x4d0, 1, pic);
            _ports.Map(0x4d1, 1, pic);
            _ports.Map(0x40, 4, pit);
            _ports.Map(0x70, 2, rtc);
            _ports.Map(0x61, 1, new SystemControlPortB(pit)); // only compared against -M pc (microvm has no port 0x61)
        }

        public ulong? Execute(string command)
        {
            string[] w = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (w[0] == "set_irq_in") // set_irq_in <QOM path> unnamed-gpio-in <input> <level>
            {
                int input = int.Parse(w[3], CultureInfo.InvariantCulture);
                bool level = w[4] != "0";
                if (w[1] == MasterPicPath)
                    _pic.SetIrq(input, level);
                else if (w[1] == SlavePicPath)
                    _pic.SetIrq(8 + input, level);
                else
                    _ioApic.SetIrq(input, level);
                return null;
            }
            ulong a = Parse(w[1]);
            ulong v = w.Length > 2 ? Parse(w[2]) : 0;
            switch (w[0])
            {
                case "outb": _ports.Write((ushort)a, 1, (uint)v); return null;
                case "outw": _ports.Write((ushort)a, 2, (uint)v); return null;
                case "outl": _ports.Write((ushort)a, 4, (uint)v); return null;
                case "inb": return _ports.Read((ushort)a, 1);
                case "inw": return _ports.Read((ushort)a, 2);
                case "inl": return _ports.Read((ushort)a, 4);
            }
            ulong offset = a - IoApic.DefaultBaseAddress;
            int size = w[0][^1] switch { 'b' => 1, 'w' => 2, 'l' => 4, _ => 8 };
            if (w[0].StartsWith("write", StringComparison.Ordinal))
            {
                _ioApic.Write(offset, size, v);
                return null;
            }
            return _ioApic.Read(offset, size);
        }
    }

    private static ulong Parse(string s) =>
        s.StartsWith("0x", StringComparison.Ordinal) ? ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture) : ulong.Parse(s, CultureInfo.InvariantCulture);

    /// <summary>Runs <paramref name="commands"/> on QEMU; returns each command's value (null for writes).</summary>
    private static List<ulong?> RunOnQemu(IReadOnlyList<string> commands, string machine = "microvm")
    {
        var psi = new ProcessStartInfo(Qemu,
            $"-M {machine} -S -display none -nodefaults -qtest stdio -qtest-log /dev/null " +
            "-rtc base=2024-02-29T13:45:56,clock=vm")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var qemu = Process.Start(psi)!;
        var results = new List<ulong?>();
        try
        {
            foreach (string command in commands)
            {
                qemu.StandardInput.WriteLine(command);
                qemu.StandardInput.Flush();
                string? line;
                do
                {
                    line = qemu.StandardOutput.ReadLine();
                    Assert.NotNull(line);
                }
                while (!line.StartsWith("OK", StringComparison.Ordinal) && !line.StartsWith("FAIL", StringComparison.Ordinal));
                Assert.StartsWith("OK", line);
                string[] parts = line.Split(' ');
                results.Add(parts.Length > 1 ? Parse(parts[1]) : null);
            }
        }
        finally
        {
            qemu.Kill();
            qemu.WaitForExit();
        }
        return results;
    }

    private static void Compare(params string[] commands) => CompareOn("microvm", commands);

    private static void CompareOn(string machine, params string[] commands)
    {
        Assert.True(QemuAvailable, $"{Qemu} is missing: install qemu-system-x86 (test.sh does)");
        var expected = RunOnQemu(commands, machine);
        var ours = new OurMachine();
        for (int i = 0; i < commands.Length; i++)
        {
            ulong? actual = ours.Execute(commands[i]);
            Assert.True(expected[i] == actual, $"'{commands[i]}' (#{i}): QEMU 0x{expected[i]:x}, ours 0x{actual:x}");
        }
    }

    [Fact]
    public void PicInitialisationRegistersAndElcr()
    {
        Compare(
            "inb 0x20", "inb 0x21", "inb 0xa0", "inb 0xa1", "inb 0x4d0", "inb 0x4d1",
            // Linux init_8259A
            "outb 0x21 0xff", "outb 0xa1 0xff", "inb 0x21", "inb 0xa1",
            "outb 0x20 0x11", "outb 0x21 0x30", "outb 0x21 0x04", "outb 0x21 0x01",
            "outb 0xa0 0x11", "outb 0xa1 0x38", "outb 0xa1 0x02", "outb 0xa1 0x01",
            "inb 0x21", "inb 0xa1", "outb 0x21 0xa5", "inb 0x21",
            "outb 0x20 0x0b", "inb 0x20", "outb 0x20 0x0a", "inb 0x20",
            "outb 0x20 0x0c", "inb 0x20", "inb 0x20", // poll with nothing pending reads 0
            "outb 0x4d0 0xff", "outb 0x4d1 0xff", "inb 0x4d0", "inb 0x4d1",
            "outb 0x4d0 0x00", "outb 0x4d1 0x0c", "inb 0x4d0", "inb 0x4d1",
            "outb 0x20 0x20", "outb 0x20 0x60", "outb 0x20 0xc7", "inb 0x20", "inb 0x21");
    }

    [Fact]
    public void PortAccessSizesAndUnassignedPorts()
    {
        Compare(
            "inw 0x20", "inw 0x21", "inl 0x20", "inl 0xa0", "inw 0xa1", "inw 0x4d0", "inl 0x4d0",
            "inb 0x22", "inw 0x22", "inl 0x1234", "inb 0x80", "inw 0x3f", "inl 0x3e",
            "outw 0x20 0x3011", "inb 0x21", "outw 0x21 0x0104", "inb 0x21", "outl 0x4d0 0xffffffff", "inw 0x4d0",
            "inw 0x70", "inb 0x72", "inl 0x70", "inw 0x71", "outw 0x70 0x400d", "inb 0x71", "outl 0x70 0x0000000b",
            "inb 0x71", "inw 0x40", "inl 0x40", "inw 0x42", "inw 0x43", "inl 0xa0", "inw 0xa2", "inl 0x4d1",
            "outw 0xa0 0x0b0b", "inw 0xa0", "outl 0x20 0x000a000a", "inl 0x20", "inl 0x3c", "inw 0x3f", "inl 0x6e",
            "inl 0x1e", "inw 0x4cf", "inl 0x4cc");
    }

    [Fact]
    public void PitCountsAccessModesLatchAndReadBack()
    {
        Compare(
            "inb 0x40", "inb 0x40", "inb 0x42", "inb 0x43",
            "outb 0x43 0x34", "outb 0x40 0xa5", "outb 0x40 0x12", "inb 0x40", "inb 0x40", "inb 0x40",
            "outb 0x43 0xb0", "outb 0x42 0xff", "outb 0x42 0xff", "inb 0x42", "inb 0x42",
            "outb 0x43 0x90", "outb 0x42 0x77", "inb 0x42", "inb 0x42",
            "outb 0x43 0xa0", "outb 0x42 0x33", "inb 0x42", "inb 0x42",
            "outb 0x43 0x70", "outb 0x41 0x34", "outb 0x41 0x12", "outb 0x43 0x40", "inb 0x41", "inb 0x41",
            "outb 0x43 0x40", "outb 0x43 0x40", "inb 0x41", "inb 0x41",
            // Read-back of counts only (bit 4 set: no status), channels 0..2; the status byte differs by design
            // (QEMU leaves NULL COUNT at 0 and draws OUT inverted in modes 2/4; see I8254Pit).
            "outb 0x43 0xde", "inb 0x40", "inb 0x40", "inb 0x41", "inb 0x41", "inb 0x42",
            "outb 0x43 0xb0", "outb 0x42 0x10", "outb 0x42 0x00", "outb 0x43 0xe8", "inb 0x42", "inb 0x42", "inb 0x42");
    }

    [Fact]
    public void RtcRegistersTimeFormatsAndCmos()
    {
        var commands = new List<string>();
        void Read(int index)
        {
            commands.Add($"outb 0x70 0x{index:x2}");
            commands.Add("inb 0x71");
        }
        void Write(int index, int value)
        {
            commands.Add($"outb 0x70 0x{index:x2}");
            commands.Add($"outb 0x71 0x{value:x2}");
        }
        for (int i = 0; i < 0x80; i++)
            if (i != 0x0c)
                Read(i); // time, status, memory-size bytes and the rest of CMOS
        Read(0x0c);
        commands.Add("inb 0x70");
        Read(0x8a); // NMI-mask bit
        Write(0x0b, 0x06); // binary
        for (int i = 0; i < 10; i++)
            Read(i);
        Read(0x32);
        Write(0x0b, 0x00); // BCD, 12 h
        Read(0x04);
        Write(0x0b, 0x04); // binary, 12 h
        Read(0x04);
        Write(0x0b, 0x82); // SET, then set a new time as mc146818_set_time does
        Write(0x0a, 0x76);
        Write(0x09, 0x99);
        Write(0x08, 0x12);
        Write(0x07, 0x31);
        Write(0x04, 0x23);
        Write(0x02, 0x59);
        Write(0x00, 0x58);
        Write(0x32, 0x19);
        Write(0x0b, 0x02);
        Write(0x0a, 0x26);
        for (int i = 0; i < 10; i++)
            Read(i);
        Read(0x32);
        Read(0x37);
        Write(0x40, 0x5a);
        Read(0x40);
        Write(0x0c, 0xff);
        Write(0x0d, 0x00);
        Read(0x0c);
        Read(0x0d);
        Write(0x0b, 0x72); // PIE | AIE | UIE: no flag set yet, no IRQ
        Read(0x0b);
        Read(0x0c);
        Compare([.. commands]);
    }

    [Fact]
    public void IoApicRegistersAndRedirectionEntries()
    {
        const string Sel = "0xfec00000", Win = "0xfec00010";
        var commands = new List<string>();
        for (int index = 0; index < 0x40; index++)
        {
            commands.Add($"writel {Sel} 0x{index:x}");
            commands.Add($"readl {Win}");
        }
        commands.AddRange([
            $"writel {Sel} 0x0", $"writel {Win} 0xffffffff", $"readl {Win}",
            $"writel {Sel} 0x1", $"writel {Win} 0x0", $"readl {Win}",
            $"writel {Sel} 0x2", $"readl {Win}",
            $"writel {Sel} 0x14", $"writel {Win} 0xffffffff", $"readl {Win}",
            $"writel {Sel} 0x15", $"writel {Win} 0xffffffff", $"readl {Win}",
            $"writel {Sel} 0x14", $"writel {Win} 0x00015a31", $"readl {Win}",
            $"writel {Sel} 0x3f", $"writel {Win} 0x12345678", $"readl {Win}",
            $"writel {Sel} 0x40", $"writel {Win} 0x12345678", $"readl {Win}",
            $"writeb {Sel} 0x11", $"readb {Sel}", $"readw {Sel}", $"readl {Sel}", $"readw {Win}", $"readb {Win}",
            $"writel {Sel} 0x1", $"readq {Win}", $"readl 0xfec00020", $"readl 0xfec00040", $"readl 0xfec00110",
            $"writel 0xfec00040 0x31", $"writel {Sel} 0x1ff", $"readl {Sel}",
        ]);
        Compare([.. commands]);
    }

    [Fact]
    public void IoApicRemoteIrrMaskAndPinRoutingWithInputLines()
    {
        const string Sel = "0xfec00000", Win = "0xfec00010", Eoi = "0xfec00040";
        static string Pin(int n, int level) => $"set_irq_in /machine/ioapic unnamed-gpio-in {n} {level}";
        Compare(
            // pin 4 level-triggered, vector 0x41, unmasked: remote IRR on delivery, EOI register clears it,
            // and re-delivers while the line is still high.
            $"writel {Sel} 0x18", $"writel {Win} 0x8041", Pin(4, 1), $"readl {Win}",
            Pin(4, 0), $"writel {Eoi} 0x41", $"readl {Win}",
            Pin(4, 1), $"readl {Win}", $"writel {Eoi} 0x41", $"readl {Win}", $"writel {Eoi} 0x42", $"readl {Win}",
            // switching to edge clears remote IRR; masking and unmasking
            $"writel {Win} 0x10041", $"readl {Win}", Pin(4, 0), $"writel {Win} 0x18041", Pin(4, 1), $"readl {Win}",
            $"writel {Win} 0x8041", $"readl {Win}",
            // pin 2 via input 0 (ISA IRQ 0), level so that the delivery is visible in remote IRR
            $"writel {Sel} 0x14", $"writel {Win} 0x8030", Pin(0, 1), $"readl {Win}", $"writel {Sel} 0x10", $"readl {Win}",
            // pin 23 raised while masked and level: programming its entry unmasked delivers it
            Pin(23, 1), $"writel {Sel} 0x3e", $"writel {Win} 0x8050", $"readl {Win}");
    }

    private static string Irq(int isaIrq, int level) =>
        $"set_irq_in {(isaIrq < 8 ? MasterPicPath : SlavePicPath)} unnamed-gpio-in {isaIrq & 7} {level}";

    private static readonly string[] s_linuxPicInit =
    [
        "outb 0x21 0xff", "outb 0xa1 0xff", "outb 0x20 0x11", "outb 0x21 0x30", "outb 0x21 0x04", "outb 0x21 0x01",
        "outb 0xa0 0x11", "outb 0xa1 0x38", "outb 0xa1 0x02", "outb 0xa1 0x01", "outb 0x21 0x00", "outb 0xa1 0x00",
    ];

    [Fact]
    public void PicInputPathsAreTheI8259s()
    {
        Assert.True(QemuAvailable, $"{Qemu} is missing: install qemu-system-x86 (test.sh does)");
        var r = RunOnQemu([Irq(1, 1), "inb 0x20", Irq(9, 1), "inb 0xa0", "inb 0x20"]);
        Assert.Equal([null, 0x02ul, null, 0x02ul, 0x06ul], r);
    }

    [Fact]
    public void PicRequestsPollAcknowledgeEoiAndPriorities()
    {
        // Poll mode (OCW3 0x0c) runs the same acknowledge as INTA (QEMU pic_ioport_read), so the whole
        // request/in-service/EOI cycle is observable through the ports.
        const string Poll = "outb 0x20 0x0c", PollSlave = "outb 0xa0 0x0c", IsrSel = "outb 0x20 0x0b", IrrSel = "outb 0x20 0x0a";
        Compare([
            .. s_linuxPicInit,
            Irq(1, 1), Irq(5, 1), "inb 0x20", Poll, "inb 0x20", IsrSel, "inb 0x20", IrrSel, "inb 0x20",
            Irq(3, 1), Poll, "inb 0x20", "outb 0x20 0x20", IsrSel, "inb 0x20", "outb 0x20 0x61", "inb 0x20", IrrSel,
            Poll, "inb 0x20", Poll, "inb 0x20", "outb 0x20 0x63", "outb 0x20 0x65", Poll, "inb 0x20",
            // edge needs a new rising edge
            Irq(1, 1), "inb 0x20", Irq(1, 0), Irq(1, 1), "inb 0x20",
            // masking
            "outb 0x21 0x02", Poll, "inb 0x20", "outb 0x21 0x00", Poll, "inb 0x20", "outb 0x20 0x20",
            // slave IRQ 12 through the cascade; spurious slave request after masking
            Irq(12, 1), "inb 0x20", "inb 0xa0", Poll, "inb 0x20", PollSlave, "inb 0xa0", "outb 0xa0 0x0b", "inb 0xa0",
            "outb 0xa0 0x64", "outb 0x20 0x62", Irq(10, 1), "outb 0xa1 0x04", "inb 0x20", "inb 0xa0",
            // level-triggered IRQ 10 through ELCR
            "outb 0xa1 0x00", "outb 0x4d1 0x04", Irq(10, 0), Irq(10, 1), PollSlave, "inb 0xa0", "inb 0xa0",
            "outb 0xa0 0x62", "inb 0xa0", Irq(10, 0), "inb 0xa0",
            // rotation: rotate on non-specific EOI, set priority, rotate on specific EOI
            "outb 0x20 0x20", "outb 0x20 0x20", "outb 0x20 0x20", "outb 0xa0 0x20", IsrSel, "inb 0x20", IrrSel, "inb 0x20",
            Irq(3, 0), Irq(3, 1), Poll, "inb 0x20", "outb 0x20 0xa0", Irq(3, 0), Irq(3, 1), Irq(1, 0), Irq(1, 1),
            Irq(5, 0), Irq(5, 1), Poll, "inb 0x20", "outb 0x20 0x20", Poll, "inb 0x20", "outb 0x20 0x20",
            "outb 0x20 0xc4", Irq(4, 0), Irq(4, 1), Irq(6, 0), Irq(6, 1), Poll, "inb 0x20", "outb 0x20 0xe1",
            Irq(1, 0), Irq(1, 1), Irq(2, 1), Poll, "inb 0x20", "outb 0x20 0x20", Poll, "inb 0x20",
            // special mask mode: OCW3 0x68 on, in-service lines masked do not block lower ones
            "outb 0x20 0x20", "outb 0x20 0x20", "outb 0x20 0x20", IsrSel, "inb 0x20", IrrSel,
            Irq(6, 0), Irq(6, 1), Poll, "inb 0x20", "outb 0x21 0x40", "outb 0x20 0x68", Irq(7, 0), Irq(7, 1),
            Poll, "inb 0x20", "outb 0x20 0x48", "outb 0x21 0x00", "outb 0x20 0x20", "outb 0x20 0x20",
            IsrSel, "inb 0x20", IrrSel, "inb 0x20",
        ]);
    }

    [Fact]
    public void PicAutoEoiAndReinitialisation()
    {
        Compare([
            "outb 0x20 0x11", "outb 0x21 0x08", "outb 0x21 0x04", "outb 0x21 0x03", // ICW4 with AEOI
            Irq(2, 0), Irq(4, 1), "outb 0x20 0x0c", "inb 0x20", "outb 0x20 0x0b", "inb 0x20",
            "outb 0x20 0x80", Irq(4, 0), Irq(4, 1), Irq(6, 1), "outb 0x20 0x0c", "inb 0x20", "outb 0x20 0x0c", "inb 0x20",
            // ICW1 again: IMR and ISR cleared, edge IRR dropped, level IRR kept (QEMU pic_reset_common)
            "outb 0x4d0 0x20", Irq(5, 1), Irq(3, 1), "outb 0x21 0xff", "outb 0x20 0x11", "outb 0x21 0x40",
            "outb 0x21 0x04", "outb 0x21 0x01", "inb 0x21", "outb 0x20 0x0a", "inb 0x20", "outb 0x20 0x0b", "inb 0x20",
        ]);
    }

    [Fact]
    public void PicRotation()
    {
        const string Poll = "outb 0x20 0x0c";
        Compare([
            .. s_linuxPicInit,
            // rotate on non-specific EOI after IR3: IR3 becomes lowest, so of 1, 3, 5 the order is 5, 1, 3
            Irq(3, 1), Poll, "inb 0x20", "outb 0x20 0xa0", Irq(3, 0), Irq(3, 1), Irq(1, 1), Irq(5, 1),
            Poll, "inb 0x20", "outb 0x20 0x20", Poll, "inb 0x20", "outb 0x20 0x20", Poll, "inb 0x20", "outb 0x20 0x20",
            // set priority (OCW2 0xc4: IR4 lowest), then rotate on specific EOI for IR1
            "outb 0x20 0xc4", Irq(4, 1), Irq(6, 1), Irq(2, 1), Poll, "inb 0x20", "outb 0x20 0xe1",
            Irq(1, 0), Irq(1, 1), Poll, "inb 0x20", "outb 0x20 0x20", Poll, "inb 0x20", "outb 0x20 0x20", Poll, "inb 0x20",
        ]);
    }

    [Fact]
    public void Port61GateSpeakerRefreshAndOut2OnPc()
    {
        // QEMU's pc machine has the pcspk device at 0x61 (microvm has none).
        CompareOn("pc",
            "inb 0x61", "inb 0x61", "outb 0x61 0x03", "inb 0x61", "outb 0x43 0xb0", "outb 0x42 0x10", "outb 0x42 0x00",
            "inb 0x61", "outb 0x61 0x00", "inb 0x61", "outb 0x43 0xb6", "inb 0x61", "inw 0x61", "outb 0x61 0x01",
            "outb 0x43 0xb4", "outb 0x42 0x05", "outb 0x42 0x00", "outb 0x43 0xd8", "inb 0x42", "inb 0x42");
        // Not compared: OUT2 in mode 2/4 (QEMU draws it inverted: low except for one clock; the 8254 datasheet and
        // I8254Pit have it high except for one clock).
    }
}
