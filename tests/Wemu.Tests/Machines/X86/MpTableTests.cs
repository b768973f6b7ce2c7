using System.Buffers.Binary;
using System.Text;
using Wemu.Machines.X86;
using Xunit;

namespace Wemu.Tests.Machines.X86;

public class MpTableTests
{
    private static byte Sum(ReadOnlySpan<byte> b)
    {
        byte s = 0;
        foreach (var x in b)
            s += x;
        return s;
    }

    /// <summary>
    /// QEMU 7.2 microvm's MP table as qboot writes it (QemuMicrovm/mptable.bin), with the differences
    /// Wemu makes on purpose: the base table entry count filled in (qboot leaves it 0), the I/O APIC's
    /// ID 0 and version 0x20 as QEMU's IOAPIC reports them and the MADT says (qboot writes ID
    /// num_cpus + 1 = 2 and version 0x14), and so the I/O interrupt entries' destination ID 0.
    /// Everything else — the pointer, header, processor entry with qemu64's CPUID, ISA bus, 15
    /// interrupt entries with IRQ0 on pin 2, ExtINT/NMI local entries — must be byte-identical.
    /// </summary>
    [Fact]
    public void MatchesQemuMicrovm_ExceptDocumentedFields()
    {
        var qemu = X86BootFixtures.Qemu("mptable.bin");
        Assert.Equal(0, Sum(qemu.AsSpan(0, 16)));
        Assert.Equal(0, Sum(qemu.AsSpan(16)));

        var expected = (byte[])qemu.Clone();
        var c = expected.AsSpan(16);
        BinaryPrimitives.WriteUInt16LittleEndian(c[34..], 20);
        int ioapic = 44 + 20 + 8;
        Assert.Equal(2, c[ioapic]);
        Assert.Equal(2, c[ioapic + 1]);
        c[ioapic + 1] = 0;
        c[ioapic + 2] = 0x20;
        for (int o = ioapic + 8; c[o] == 3; o += 8)
        {
            Assert.Equal(2, c[o + 6]);
            c[o + 6] = 0;
        }
        c[7] = 0;
        c[7] = (byte)-Sum(c);

        var ours = MpTable.Build(0x9fc00, [new IoApicDescription(0, 0xfec00000, 0)]);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(ours));
    }

    /// <summary>Reads the table back the way Linux's mpparse.c does: pointer, checksums, entries by type.</summary>
    [Fact]
    public void ParsesBack_WithBothIoApics()
    {
        var t = MpTable.Build(0x9fc00, IoApicDescription.Qemu(acpi: true));
        Assert.Equal("_MP_", Encoding.ASCII.GetString(t, 0, 4));
        Assert.Equal(0, Sum(t.AsSpan(0, 16)));
        Assert.Equal(1, t[8]);
        Assert.Equal(4, t[9]);
        uint physptr = BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(4));
        var c = t.AsSpan((int)(physptr - 0x9fc00));
        Assert.Equal("PCMP", Encoding.ASCII.GetString(c[..4]));
        int length = BinaryPrimitives.ReadUInt16LittleEndian(c[4..]);
        Assert.Equal(t.Length - 16, length);
        Assert.Equal(0, Sum(c[..length]));
        Assert.Equal(0xfee00000u, BinaryPrimitives.ReadUInt32LittleEndian(c[36..]));

        var counts = new int[5];
        var irqToPin = new Dictionary<int, int>();
        var ioApicIds = new List<int>();
        int o = 44, entries = 0;
        while (o < length)
        {
            byte type = c[o];
            Assert.InRange(type, 0, 4);
            counts[type]++;
            entries++;
            if (type == 2)
            {
                ioApicIds.Add(c[o + 1]);
                Assert.Equal(1, c[o + 3] & 1);
            }
            if (type == 3)
                irqToPin[c[o + 5]] = c[o + 7];
            if (type == 4)
                Assert.Equal(c[o + 1] == 3 ? 0 : 1, c[o + 7]);   // ExtINT → LINT0, NMI → LINT1
            o += type == 0 ? 20 : 8;
        }
        Assert.Equal(length, o);
        Assert.Equal(entries, BinaryPrimitives.ReadUInt16LittleEndian(c[34..]));
        Assert.Equal([1, 1, 2, 15, 2], counts);
        Assert.Equal([0, 1], ioApicIds);
        Assert.Equal(2, irqToPin[0]);
        Assert.False(irqToPin.ContainsKey(2));
        for (int irq = 1; irq < 16; irq++)
            if (irq != 2)
                Assert.Equal(irq, irqToPin[irq]);
    }

    /// <summary>With n processors: n processor entries, APIC IDs 0..n-1, only the first one the BSP (MP spec 4.3.1).</summary>
    [Fact]
    public void TwoProcessors()
    {
        var t = MpTable.Build(0x9fc00, IoApicDescription.Qemu(acpi: false), cpus: 2);
        var c = t.AsSpan(16);
        Assert.Equal(0, Sum(c[..BinaryPrimitives.ReadUInt16LittleEndian(c[4..])]));
        Assert.Equal(21, BinaryPrimitives.ReadUInt16LittleEndian(c[34..]));
        Assert.Equal([0, 0, 0x14, 3], c.Slice(44, 4).ToArray());
        Assert.Equal([0, 1, 0x14, 1], c.Slice(64, 4).ToArray());
        Assert.Equal(1, c[84]);   // then the bus entry
    }
}
