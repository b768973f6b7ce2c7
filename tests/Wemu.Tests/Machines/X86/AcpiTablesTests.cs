using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using Wemu.Machines.X86;
using Xunit;

namespace Wemu.Tests.Machines.X86;

public class AcpiTablesTests
{
    private const ulong Base = 0xe0000;

    /// <summary>The machine QemuMicrovm/dump.sh ran: COM1, the RTC, one virtio-blk in QEMU's slot 23 (0xfeb02e00, GSI 47).</summary>
    private static AcpiTables.Blob LikeQemuDump() =>
        AcpiTables.Build(Base, IoApicDescription.Qemu(acpi: true), [VirtioMmioTransport.QemuSlot(23, acpi: true)]);

    private static byte Sum(ReadOnlySpan<byte> b)
    {
        byte s = 0;
        foreach (var x in b)
            s += x;
        return s;
    }

    /// <summary>Reads the tables back as an OS does: RSDP → XSDT → FADT/MADT, FADT → DSDT (ACPI 6.4 5.2).</summary>
    private static Dictionary<string, byte[]> Walk(AcpiTables.Blob blob)
    {
        Span<byte> At(ulong address, int length)
        {
            Assert.InRange(address, blob.Address, blob.Address + (ulong)blob.Bytes.Length - (ulong)length);
            return blob.Bytes.AsSpan((int)(address - blob.Address), length);
        }
        byte[] Table(ulong address)
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(At(address + 4, 4));
            var t = At(address, length).ToArray();
            Assert.True(Sum(t) == 0, $"{Encoding.ASCII.GetString(t, 0, 4)} checksum");
            return t;
        }

        var rsdp = At(blob.RsdpAddress, 36).ToArray();
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        Assert.Equal(0, Sum(rsdp.AsSpan(0, 20)));   // ACPI 1.0 checksum
        Assert.Equal(0, Sum(rsdp));                  // extended checksum
        Assert.Equal(2, rsdp[15]);
        Assert.Equal(36u, BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(20)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)));   // no RSDT, as QEMU
        var tables = new Dictionary<string, byte[]> { ["RSDP"] = rsdp };
        var xsdt = Table(BinaryPrimitives.ReadUInt64LittleEndian(rsdp.AsSpan(24)));
        tables["XSDT"] = xsdt;
        for (int o = 36; o < xsdt.Length; o += 8)
        {
            var t = Table(BinaryPrimitives.ReadUInt64LittleEndian(xsdt.AsSpan(o)));
            tables[Encoding.ASCII.GetString(t, 0, 4)] = t;
        }
        var fadt = tables["FACP"];
        ulong dsdt32 = BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40)), dsdt64 = BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(140));
        Assert.Equal(dsdt32, dsdt64);
        tables["DSDT"] = Table(dsdt64);
        return tables;
    }

    [Fact]
    public void ChecksumsAndLinks_LikeQemu()
    {
        var blob = LikeQemuDump();
        var t = Walk(blob);
        Assert.Equal(["APIC", "DSDT", "FACP", "RSDP", "XSDT"], t.Keys.Order());
        Assert.Equal(Base, blob.RsdpAddress);
        Assert.Equal(0UL, blob.RsdpAddress & 15);   // the 0xe0000-0xfffff scan looks at 16-byte boundaries
        foreach (var (sig, table) in t)
            if (sig != "RSDP")
                Assert.Equal(X86BootFixtures.Qemu(sig.ToLowerInvariant() + ".dat")[8], table[8]);   // same revisions as QEMU's
    }

    /// <summary>QEMU's FADT (QemuMicrovm/facp.dat) byte for byte after the header, but for the DSDT's address.</summary>
    [Fact]
    public void Fadt_MatchesQemu()
    {
        var blob = LikeQemuDump();
        var ours = Walk(blob)["FACP"];
        var qemu = X86BootFixtures.Qemu("facp.dat");
        Assert.Equal(qemu.Length, ours.Length);
        var expected = qemu.AsSpan(36).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(40 - 36), (uint)blob.TableAddresses["DSDT"]);
        BinaryPrimitives.WriteUInt64LittleEndian(expected.AsSpan(140 - 36), blob.TableAddresses["DSDT"]);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(ours.AsSpan(36)));
    }

    /// <summary>
    /// QEMU's MADT (QemuMicrovm/apic.dat) plus the one entry Wemu adds on purpose: the interrupt source
    /// override ISA IRQ0 → GSI 2 (type 2, length 10, bus 0, source 0, GSI 2, flags 0), which QEMU's pc
    /// machine has and its microvm lacks (see <see cref="AcpiTables"/>).
    /// </summary>
    [Fact]
    public void Madt_MatchesQemu_PlusIrq0Override()
    {
        var ours = Walk(LikeQemuDump())["APIC"];
        var qemu = X86BootFixtures.Qemu("apic.dat");
        byte[] iso = [2, 10, 0, 0, 2, 0, 0, 0, 0, 0];
        byte[] expected = [.. qemu.AsSpan(36, qemu.Length - 36 - 6), .. iso, .. qemu.AsSpan(qemu.Length - 6)];
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(ours.AsSpan(36)));
    }

    private static string Body(string dsl)
    {
        // Drop iasl's comment header and the DefinitionBlock line (OEM IDs and checksums differ).
        int start = dsl.IndexOf("DefinitionBlock", StringComparison.Ordinal);
        return dsl[(dsl.IndexOf('\n', start) + 1)..];
    }

    /// <summary>
    /// iasl's disassembly of our DSDT equals that of QEMU's own (QemuMicrovm/dsdt.dat) once QEMU's
    /// fw_cfg device is removed (Wemu boots without firmware, so there is no fw_cfg): same devices,
    /// names, resources, GED method and \_S5, in the same order.
    /// </summary>
    [Fact]
    public void Dsdt_DisassemblesLikeQemus_WithoutFwCfg()
    {
        string qemu = Body(X86BootFixtures.Disassemble(X86BootFixtures.Qemu("dsdt.dat")));
        string ours = Body(X86BootFixtures.Disassemble(Walk(LikeQemuDump())["DSDT"]));
        string withoutFwcf = Regex.Replace(qemu, @"        Device \(FWCF\)\n        \{\n(.*\n)*?        \}\n\n", "");
        Assert.NotEqual(qemu, withoutFwcf);
        Assert.Equal(withoutFwcf, ours);
    }

    [Fact]
    public void EveryTable_DisassemblesWithoutErrors_AndShowsTheDevices()
    {
        var virtio = Enumerable.Range(0, 8).Select(i => VirtioMmioTransport.QemuSlot(i, acpi: true)).ToList();
        var t = Walk(AcpiTables.Build(Base, IoApicDescription.Qemu(acpi: true), virtio));
        foreach (var sig in new[] { "XSDT", "FACP", "APIC" })
            X86BootFixtures.Disassemble(t[sig]);
        // (iasl 20200925 does not take a bare RSDP file; Walk has checked it.)

        string fadt = X86BootFixtures.Disassemble(t["FACP"]);
        Assert.Matches(@"Hardware Reduced \(V5\) : 1", fadt);
        Assert.Matches(@"Sleep Control Register : \[Generic Address Structure\](.*\n)*?.*Address : 00000000FEA00200", fadt);
        Assert.Matches(@"Sleep Status Register : \[Generic Address Structure\](.*\n)*?.*Address : 00000000FEA00201", fadt);

        string madt = X86BootFixtures.Disassemble(t["APIC"]);
        Assert.Matches(@"Subtable Type : 02 \[Interrupt Source Override\](.*\n)*?.*Source : 00\n.*Interrupt : 00000002", madt);
        Assert.Matches(@"Address : FEC10000\n.*Interrupt : 00000018", madt);

        string dsdt = X86BootFixtures.Disassemble(t["DSDT"]);
        for (int i = 0; i < 8; i++)
        {
            Assert.Contains($"Device (VR0{i})", dsdt);
            Assert.Contains($"0xFEB00{i * 2:X1}00,         // Address Base", dsdt);
            Assert.Contains($"0x000000{24 + i:X2},", dsdt);
        }
        Assert.Equal(8, Regex.Matches(dsdt, "\"LNRO0005\"").Count);
        Assert.Contains("Device (GED)", dsdt);
        Assert.Contains("\"ACPI0013\"", dsdt);
        Assert.Contains("Name (_S5, Package (0x04)", dsdt);
        Assert.Contains("EisaId (\"PNP0501\")", dsdt);
    }

    [Fact]
    public void OneIoApicLayout_VirtioOnLowGsis()
    {
        // The alternative for a board with one 24-pin IOAPIC: virtio on GSI 5-12 as with acpi=off.
        var virtio = Enumerable.Range(0, 8).Select(i => VirtioMmioTransport.QemuSlot(i, acpi: false)).ToList();
        var t = Walk(AcpiTables.Build(Base, IoApicDescription.Qemu(acpi: false), virtio));
        string madt = X86BootFixtures.Disassemble(t["APIC"]);
        Assert.Single(Regex.Matches(madt, @"\[I/O APIC\]"));
        string dsdt = X86BootFixtures.Disassemble(t["DSDT"]);
        Assert.Contains("0x00000005,", dsdt);
        Assert.Contains("0x0000000C,", dsdt);
    }

    [Fact]
    public void TwoProcessors_TwoLocalApics()
    {
        var t = Walk(AcpiTables.Build(Base, IoApicDescription.Qemu(acpi: true), [], cpus: 2));
        string madt = X86BootFixtures.Disassemble(t["APIC"]);
        Assert.Equal(2, Regex.Matches(madt, @"\[Processor Local APIC\]").Count);
        Assert.Matches(@"Processor ID : 01\n.*Local Apic ID : 01", madt);
    }
}
