using System.Buffers.Binary;
using System.Text;

namespace Wemu.Machines.X86;

/// <summary>
/// The Intel MultiProcessor Specification 1.4 table (chapter 4) as qboot writes it for QEMU's
/// microvm (bonzini/qboot mptable.c): a floating pointer structure followed by the configuration
/// table with the processors, bus 0 "ISA", the I/O APICs, an I/O interrupt entry per ISA IRQ (IRQ0 on
/// pin 2 and no entry for the cascade IRQ2, as qboot does when QEMU reports the IRQ0 override), and
/// the local interrupts LINT0 = ExtINT, LINT1 = NMI. Linux reads it with acpi=off (and finds it
/// with ACPI on too, then prefers the MADT).
/// </summary>
public static class MpTable
{
    /// <summary>qboot's MPTABLE_START: the top 1 KiB of base memory, which the E820 map reserves.</summary>
    public const ulong DefaultAddress = 0x9fc00;

    /// <summary>QEMU's local APIC version register (hw/intc/apic.c: 0x14) and address.</summary>
    public const byte LocalApicVersion = 0x14;

    public const uint LocalApicAddress = 0xfee00000;

    /// <summary>CPUID.1 EAX and EDX of QEMU's qemu64 model: family 15 model 107 stepping 1, qboot copies them.</summary>
    public const uint Qemu64Signature = 0x00060fb1, Qemu64Features = 0x078bfbfd;

    private const int FloatingPointerSize = 16, HeaderSize = 44, ProcessorSize = 20, EntrySize = 8;

    /// <summary>Builds the table to be copied to <paramref name="address"/> (the pointer's physptr is absolute).</summary>
    public static byte[] Build(ulong address, IReadOnlyList<IoApicDescription> ioApics, int cpus = 1,
        uint cpuSignature = Qemu64Signature, uint cpuFeatures = Qemu64Features)
    {
        if (cpus is < 1 or > 254)
            throw new ArgumentOutOfRangeException(nameof(cpus));
        ArgumentNullException.ThrowIfNull(ioApics);
        if (ioApics.Count == 0)
            throw new ArgumentException("the MP table needs an I/O APIC", nameof(ioApics));
        if (address + 0x400 > 1UL << 32 || (address & 0xF) != 0)
            throw new ArgumentOutOfRangeException(nameof(address), "the MP table must be 16-byte aligned below 4 GiB");

        const int isaIrqEntries = 15;   // IRQ 0-15 without IRQ2
        int entryCount = cpus + 1 + ioApics.Count + isaIrqEntries + 2;
        int tableLength = HeaderSize + ProcessorSize * cpus + EntrySize * (entryCount - cpus);
        var t = new byte[FloatingPointerSize + tableLength];

        // 4.1 MP Floating Pointer Structure: "_MP_", physical address pointer, length in 16-byte
        // paragraphs (1), spec revision (4 = 1.4), checksum, feature bytes 0 (a configuration table is
        // present; IMCR absent, virtual wire mode).
        Ascii(t, 0, "_MP_");
        U32(t, 4, (uint)(address + FloatingPointerSize));
        t[8] = 1;
        t[9] = 4;
        t[10] = Checksum(t.AsSpan(0, FloatingPointerSize));

        // 4.2 MP Configuration Table Header.
        var c = t.AsSpan(FloatingPointerSize);
        Ascii(c, 0, "PCMP");
        U16(c, 4, (ushort)tableLength);
        c[6] = 4;                      // spec revision 1.4
        Ascii(c, 8, "QBOOT   ");       // OEM ID as qboot, so guests see the firmware they would see under QEMU
        Ascii(c, 16, "000000000000");  // product ID
        U16(c, 34, (ushort)entryCount); // base table entry count (qboot leaves it 0; the spec wants the count)
        U32(c, 36, LocalApicAddress);

        int o = HeaderSize;
        // 4.3.1 Processor Entries: type 0, APIC ID, version, flags EN (| BP for the first), CPU signature, feature flags.
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            c[o] = 0;
            c[o + 1] = (byte)cpu;
            c[o + 2] = LocalApicVersion;
            c[o + 3] = (byte)(cpu == 0 ? 0x03 : 0x01);
            U32(c, o + 4, cpuSignature);
            U32(c, o + 8, cpuFeatures);
            o += ProcessorSize;
        }

        // 4.3.2 Bus Entry: type 1, bus 0, "ISA   ".
        c[o] = 1;
        Ascii(c, o + 2, "ISA   ");
        o += EntrySize;

        // 4.3.3 I/O APIC Entry: type 2, ID, version, flags EN, address.
        foreach (var io in ioApics)
        {
            c[o] = 2;
            c[o + 1] = io.Id;
            c[o + 2] = IoApicDescription.Version;
            c[o + 3] = 0x01;
            U32(c, o + 4, checked((uint)io.Address));
            o += EntrySize;
        }

        // 4.3.4 I/O Interrupt Assignment Entries: type 3, INT, flags 0 (conforms to the ISA bus:
        // edge, active high), source bus 0, source IRQ, destination I/O APIC, pin. QEMU's IOAPIC
        // receives the PIT's IRQ0 on pin 2 (hw/intc/ioapic.c), so IRQ0 -> pin 2 and IRQ2 is left out.
        byte firstIoApic = ioApics[0].Id;
        for (int irq = 0; irq < 16; irq++)
        {
            if (irq == 2)
                continue;
            c[o] = 3;
            c[o + 1] = 0;   // mp_INT
            c[o + 4] = 0;   // bus 0
            c[o + 5] = (byte)irq;
            c[o + 6] = firstIoApic;
            c[o + 7] = (byte)(irq == 0 ? 2 : irq);
            o += EntrySize;
        }

        // 4.3.5 Local Interrupt Assignment Entries: ExtINT on LINT0 of APIC 0, NMI on LINT1 of all APICs.
        c[o] = 4;
        c[o + 1] = 3;       // mp_ExtINT
        c[o + 6] = 0;
        c[o + 7] = 0;
        o += EntrySize;
        c[o] = 4;
        c[o + 1] = 1;       // mp_NMI
        c[o + 6] = 0xFF;
        c[o + 7] = 1;
        o += EntrySize;

        c[7] = Checksum(c[..tableLength]);
        return t;
    }

    /// <summary>The byte that makes the sum of <paramref name="data"/> zero (with that byte currently 0).</summary>
    internal static byte Checksum(ReadOnlySpan<byte> data)
    {
        byte sum = 0;
        foreach (byte b in data)
            sum += b;
        return (byte)-sum;
    }

    private static void Ascii(Span<byte> b, int offset, string s) => Encoding.ASCII.GetBytes(s, b[offset..]);

    private static void U16(Span<byte> b, int offset, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b[offset..], v);

    private static void U32(Span<byte> b, int offset, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b[offset..], v);
}
