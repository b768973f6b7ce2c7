using System.Buffers.Binary;
using System.Text;
using static Wemu.Machines.X86.AmlEncoder;

namespace Wemu.Machines.X86;

/// <summary>
/// The hardware-reduced ACPI tables of QEMU 7.2's microvm (hw/i386/acpi-microvm.c): RSDP (revision 2)
/// → XSDT → FADT (revision 5, HW_REDUCED_ACPI, sleep control/status and reset registers in the
/// Generic Event Device's register block) and MADT; the FADT points at a DSDT with COM1, the RTC,
/// the GED with its power button, one LNRO0005 device per virtio-mmio transport and \_S5.
/// Differences from QEMU, each deliberate: OEM "WEMU", no fw_cfg device (there is no firmware), and
/// an interrupt source override ISA IRQ0 → GSI 2 in the MADT: QEMU's IOAPIC takes the PIT's IRQ0 on
/// pin 2 (hw/intc/ioapic.c ioapic_set_irq) and its pc machine declares so, but microvm's MADT leaves
/// the override out (x86ms->apic_xrupt_override is off), which misdescribes the wiring.
/// Checked by booting Debian's 6.1 kernel under QEMU's microvm with these tables (QemuBootCheck/run.sh):
/// Linux lists every device and powers off through the GED. Under TCG it needs tsc_early_khz=, as with
/// QEMU's own tables: a HW-reduced machine has no PIT clock event, so nothing calibrates the TSC.
/// Table formats: ACPI 6.4 section 5.2.5 (RSDP), 5.2.6 (header), 5.2.8 (XSDT), 5.2.9 (FADT), 5.2.12 (MADT).
/// </summary>
public static class AcpiTables
{
    /// <summary>QEMU microvm's GED (hw/i386/microvm.h GED_MMIO_BASE, GED_MMIO_IRQ): event selector at the base.</summary>
    public const ulong GedBase = 0xfea00000;

    public const uint GedIrq = 9;

    /// <summary>
    /// The GED's HW-reduced registers (hw/acpi/generic_event_device.c, GED_MMIO_BASE_REGS = base + 0x200):
    /// byte 0 sleep control (SLP_TYPx in bits 2-4, SLP_EN bit 5: type 5 = S5 powers off), byte 1 sleep
    /// status, byte 2 reset (writing <see cref="ResetValue"/> resets).
    /// </summary>
    public const ulong GedRegisters = GedBase + 0x200;

    public const ulong SleepControlRegister = GedRegisters + 0, SleepStatusRegister = GedRegisters + 1, ResetRegister = GedRegisters + 2;

    public const byte ResetValue = 0x42, SleepTypeS5 = 5;

    /// <summary>Where the integrator's devices live; the tables only describe them.</summary>
    public const ulong LocalApicAddress = 0xfee00000;

    private const string OemId = "WEMU  ", OemTableId = "MICROVM ";

    /// <summary>The tables laid out from a base address: <see cref="Bytes"/> go at <see cref="Address"/>.</summary>
    public sealed record Blob(ulong Address, byte[] Bytes, ulong RsdpAddress, IReadOnlyDictionary<string, ulong> TableAddresses);

    /// <summary>Builds RSDP, XSDT, FADT, MADT and DSDT packed from <paramref name="address"/> (16-byte aligned).</summary>
    public static Blob Build(ulong address, IReadOnlyList<IoApicDescription> ioApics, IReadOnlyList<VirtioMmioTransport> virtio,
        bool com1 = true, bool rtc = true, int cpus = 1)
    {
        ArgumentNullException.ThrowIfNull(ioApics);
        ArgumentNullException.ThrowIfNull(virtio);
        if ((address & 0xF) != 0 || address >= 1UL << 32)
            throw new ArgumentOutOfRangeException(nameof(address), "ACPI tables go 16-byte aligned below 4 GiB");
        if (ioApics.Count == 0)
            throw new ArgumentException("the MADT needs an I/O APIC", nameof(ioApics));

        byte[] dsdt = BuildDsdt(virtio, com1, rtc);
        if (cpus is < 1 or > 254)
            throw new ArgumentOutOfRangeException(nameof(cpus));
        byte[] madt = BuildMadt(ioApics, cpus);
        // Layout: RSDP first (a scan of 0xe0000-0xfffff finds it early), then the tables.
        ulong rsdpAt = address, xsdtAt = Align(rsdpAt + 36), fadtAt = Align(xsdtAt + 36 + 16),
            madtAt = Align(fadtAt + 268), dsdtAt = Align(madtAt + (ulong)madt.Length);
        ulong end = dsdtAt + (ulong)dsdt.Length;
        if (end > 1UL << 32)
            throw new ArgumentOutOfRangeException(nameof(address));

        byte[] fadt = BuildFadt(dsdtAt);
        byte[] xsdt = Table("XSDT", 1, [.. BitConverter.GetBytes(fadtAt), .. BitConverter.GetBytes(madtAt)]);
        byte[] rsdp = BuildRsdp(xsdtAt);

        var blob = new byte[end - address];
        rsdp.CopyTo(blob, 0);
        xsdt.CopyTo(blob, (int)(xsdtAt - address));
        fadt.CopyTo(blob, (int)(fadtAt - address));
        madt.CopyTo(blob, (int)(madtAt - address));
        dsdt.CopyTo(blob, (int)(dsdtAt - address));
        var where = new Dictionary<string, ulong>
        {
            ["RSDP"] = rsdpAt, ["XSDT"] = xsdtAt, ["FACP"] = fadtAt, ["APIC"] = madtAt, ["DSDT"] = dsdtAt,
        };
        return new Blob(address, blob, rsdpAt, where);
    }

    private static ulong Align(ulong a) => (a + 15) & ~15UL;

    /// <summary>5.2.5.3 RSDP: "RSD PTR ", checksum over the first 20 bytes, OEM ID, revision 2, RSDT 0, length 36, XSDT, extended checksum.</summary>
    private static byte[] BuildRsdp(ulong xsdt)
    {
        var r = new byte[36];
        Encoding.ASCII.GetBytes("RSD PTR ", r);
        Encoding.ASCII.GetBytes(OemId, r.AsSpan(9));
        r[15] = 2;
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), 36);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), xsdt);
        r[8] = MpTable.Checksum(r.AsSpan(0, 20));
        r[32] = MpTable.Checksum(r);
        return r;
    }

    /// <summary>
    /// 5.2.9 FADT revision 5 (268 bytes, ACPI 5.0 layout, as QEMU 7.2 builds it for microvm): flags
    /// RESET_REG_SUP (bit 10) | HW_REDUCED_ACPI (bit 20), the reset register with value 0x42, the DSDT
    /// in both the 32-bit and the X_ field, and the sleep control/status registers (ACPI 6.4 4.8.3.7).
    /// </summary>
    private static byte[] BuildFadt(ulong dsdt)
    {
        var f = new byte[268 - 36];
        var s = f.AsSpan();
        const int h = 36;   // offsets below are from the table start, as in the spec's Table 5.9
        BinaryPrimitives.WriteUInt32LittleEndian(s[(40 - h)..], (uint)dsdt);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(112 - h)..], (1u << 10) | (1u << 20));
        Gas(s[(116 - h)..], ResetRegister);
        f[128 - h] = ResetValue;
        BinaryPrimitives.WriteUInt64LittleEndian(s[(140 - h)..], dsdt);
        Gas(s[(244 - h)..], SleepControlRegister);
        Gas(s[(256 - h)..], SleepStatusRegister);
        return Table("FACP", 5, f);
    }

    /// <summary>5.2.3.2 Generic Address Structure: system memory, 8 bits wide, offset 0, access size undefined (as QEMU).</summary>
    private static void Gas(Span<byte> g, ulong address)
    {
        g[0] = 0;
        g[1] = 8;
        BinaryPrimitives.WriteUInt64LittleEndian(g[4..], address);
    }

    /// <summary>
    /// 5.2.12 MADT: local APIC address, flags PCAT_COMPAT (dual 8259s present), the processors' local
    /// APICs (UID = ID = 0..n-1, enabled), the I/O APICs, ISA IRQ0 → GSI 2 (flags 0: conforms to the bus),
    /// and the local APIC NMI on LINT1 of all processors (UID 0xff), as QEMU.
    /// </summary>
    private static byte[] BuildMadt(IReadOnlyList<IoApicDescription> ioApics, int cpus)
    {
        var b = new List<byte>();
        b.AddRange(BitConverter.GetBytes((uint)LocalApicAddress));
        b.AddRange(BitConverter.GetBytes(1u));
        for (int cpu = 0; cpu < cpus; cpu++)
            b.AddRange([0, 8, (byte)cpu, (byte)cpu, 1, 0, 0, 0]);      // 5.2.12.2 Processor Local APIC: UID, ID, enabled
        foreach (var io in ioApics)                                     // 5.2.12.3 I/O APIC
            b.AddRange([1, 12, io.Id, 0, .. BitConverter.GetBytes(checked((uint)io.Address)), .. BitConverter.GetBytes(io.GsiBase)]);
        b.AddRange([2, 10, 0, 0, .. BitConverter.GetBytes(2u), 0, 0]); // 5.2.12.5 Interrupt Source Override
        b.AddRange([4, 6, 0xFF, 0, 0, 1]);                             // 5.2.12.7 Local APIC NMI
        return Table("APIC", 1, [.. b]);
    }

    /// <summary>The DSDT (revision 2: 64-bit integers) with the same devices and names as QEMU's.</summary>
    private static byte[] BuildDsdt(IReadOnlyList<VirtioMmioTransport> virtio, bool com1, bool rtc)
    {
        var sb = new List<byte[]>();
        if (com1)
        {
            // hw/char/serial-isa.c serial_isa_build_aml.
            sb.Add(Device("COM1",
                Name("_HID", EisaId("PNP0501")),
                Name("_UID", Integer(1)),
                Name("_STA", Integer(0xF)),
                Name("_CRS", ResourceTemplate(Io(0x3f8, 0x3f8, 0x00, 8), IrqNoFlags(4)))));
        }
        if (rtc)
        {
            // hw/rtc/mc146818rtc.c rtc_build_aml.
            sb.Add(Device("RTC",
                Name("_HID", EisaId("PNP0B00")),
                Name("_CRS", ResourceTemplate(Io(0x70, 0x70, 0x01, 8), IrqNoFlags(8)))));
        }
        // hw/acpi/generic_event_device.c build_ged_aml: the event selector register and _EVT, which
        // notifies the power button when the host asks for a shutdown (selector bit 1, ACPI_GED_PWR_DOWN_EVT).
        sb.Add(Device("GED",
            Name("_HID", String("ACPI0013")),
            Name("_UID", String("GED")),
            Name("_CRS", ResourceTemplate(Interrupt(GedIrq, edge: true))),
            OperationRegion("EREG", SystemMemory, GedBase, 4),
            Field("EREG", DWordAcc | WriteAsZeros, ("ESEL", 32)),
            Method("_EVT", 1, serialized: true,
                Store(Reference("ESEL"), Local0),
                If(LEqual(And(Local0, Integer(2)), Integer(2)),
                    Notify("PWRB", 0x80)))));
        sb.Add(Device("PWRB",
            Name("_HID", String("PNP0C0C")),
            Name("_UID", Integer(0))));
        foreach (var v in virtio)
        {
            if ((uint)v.Index > 99)
                throw new ArgumentException($"virtio-mmio slot {v.Index} cannot be named VRnn");
            sb.Add(Device($"VR{v.Index:d2}",
                Name("_HID", String("LNRO0005")),
                Name("_UID", Integer((ulong)v.Index)),
                Name("_CCA", Integer(1)),
                Name("_CRS", ResourceTemplate(
                    Memory32Fixed(checked((uint)v.BaseAddress), (uint)VirtioMmioTransport.Size),
                    Interrupt(v.Gsi, edge: false)))));
        }
        // ACPI 6.4 section 7.4.2 \_S5: SLP_TYPa 5 (what the GED's sleep control register turns off on).
        byte[] aml = [
            .. Scope("_SB", [.. sb]),
            .. Scope("\\", Name("_S5", PackageOf(Integer(SleepTypeS5), Integer(0), Integer(0), Integer(0)))),
        ];
        return Table("DSDT", 2, aml);
    }

    /// <summary>5.2.6 System Description Table Header, with the checksum over the whole table.</summary>
    private static byte[] Table(string signature, byte revision, byte[] body)
    {
        var t = new byte[36 + body.Length];
        Encoding.ASCII.GetBytes(signature, t);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)t.Length);
        t[8] = revision;
        Encoding.ASCII.GetBytes(OemId, t.AsSpan(10));
        Encoding.ASCII.GetBytes(OemTableId, t.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(24), 1);      // OEM revision
        Encoding.ASCII.GetBytes("WEMU", t.AsSpan(28));                    // creator ID
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(32), 1);      // creator revision
        body.CopyTo(t, 36);
        t[9] = MpTable.Checksum(t);
        return t;
    }
}
