using System.Text;
using Wemu.Machines.X86;
using Xunit;
using static Wemu.Machines.X86.AmlEncoder;

namespace Wemu.Tests.Machines.X86;

public class AmlEncoderTests
{
    /// <summary>
    /// ACPI 6.4 section 20.2.4: PkgLeadByte bits 7-6 count the bytes that follow, bits 3-0 hold the low
    /// nibble; the length counts the PkgLength bytes themselves; one byte up to 63.
    /// </summary>
    [Theory]
    [InlineData(0, "01")]
    [InlineData(62, "3F")]
    [InlineData(63, "4104")]          // 65 = 0x041: lead 0x41, then 0x04
    [InlineData(4093, "4FFF")]        // 4095 = 0xFFF still fits two bytes
    [InlineData(4094, "810001")]      // 4097 = 0x1001 needs three
    [InlineData(1048572, "8FFFFF")]   // 0xFFFFF is the most three bytes hold
    [InlineData(1048573, "C1000001")] // 0x100001 takes four
    public void PkgLength_SpecEncoding(int content, string hex)
    {
        Assert.Equal(hex, Convert.ToHexString(PkgLength(content)));
    }

    [Fact]
    public void NameString_RootAndSegments()
    {
        Assert.Equal("5C00", Convert.ToHexString(NameString("\\")));
        Assert.Equal("5F53425F", Convert.ToHexString(NameString("_SB")));
        Assert.Equal("5C2E5F53425F4745445F", Convert.ToHexString(NameString("\\_SB.GED")));
        Assert.Throws<ArgumentException>(() => NameString("TOOLONG"));
        Assert.Throws<ArgumentException>(() => NameString("0ABC"));
        Assert.Throws<ArgumentException>(() => NameString("ab"));
    }

    /// <summary>EisaId("PNP0501") = 0x0105D041 (ACPI 6.4 19.6.35; what every PC firmware's COM1 _HID holds).</summary>
    [Fact]
    public void EisaId_Pnp0501()
    {
        Assert.Equal("0C41D00501", Convert.ToHexString(EisaId("PNP0501")));
        Assert.Throws<ArgumentException>(() => EisaId("pnp0501"));
    }

    /// <summary>
    /// The reference is Intel's ASL compiler: the same objects written in ASL and compiled by iasl
    /// (Debian acpica-tools) must give the same AML bytes as the encoder, including packages long
    /// enough for two- and three-byte PkgLengths.
    /// </summary>
    [Fact]
    public void SameBytesAsIaslCompiler()
    {
        var asl = new StringBuilder("""
            DefinitionBlock ("", "SSDT", 2, "WEMU  ", "TEST    ", 1)
            {
                Scope (_SB)
                {
                    Device (TST0)
                    {
                        Name (_HID, EisaId ("PNP0501"))
                        Name (_UID, One)
                        Name (STR0, "LNRO0005")
                        Name (BIG, 0x123456789A)
                        Name (WRD, 0x1234)
                        Name (DWD, 0x12345678)
                        Name (ONE1, Ones)
                        Name (PKG, Package (0x04) { 0x05, Zero, Zero, Zero })
                        Name (_CRS, ResourceTemplate ()
                        {
                            IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08, )
                            IRQNoFlags () {4}
                            Memory32Fixed (ReadWrite, 0xFEB00000, 0x00000200, )
                            Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, ) { 0x18 }
                            Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 9 }
                        })
                        OperationRegion (EREG, SystemMemory, 0xFEA00000, 0x20)
                        Field (EREG, DWordAcc, NoLock, WriteAsZeros) { ESEL, 32, BIGF, 100 }
                        Method (_EVT, 1, Serialized)
                        {
                            Store (ESEL, Local0)
                            If (LEqual (And (Local0, 0x02), 0x02)) { Notify (PWRB, 0x80) }
                        }

            """);
        var buffer = new byte[70];
        for (int i = 0; i < buffer.Length; i++)
            buffer[i] = (byte)(i * 7);
        asl.Append("            Name (BUF0, Buffer (0x46) { ").Append(string.Join(", ", buffer.Select(b => $"0x{b:X2}"))).AppendLine(" })");
        asl.AppendLine("        }");
        asl.AppendLine("        Device (PWRB) { Name (_HID, \"PNP0C0C\") }");
        var names = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            asl.AppendLine($"        Name (N{i:d3}, \"0123456789abcdef{i}\")");
            names.Add(Name($"N{i:d3}", String($"0123456789abcdef{i}")));
        }
        asl.AppendLine("    }").AppendLine("}");

        var (code, output, dir) = X86BootFixtures.Iasl(["t.asl"], ("t.asl", Encoding.ASCII.GetBytes(asl.ToString())));
        byte[] compiled;
        try
        {
            Assert.True(code == 0, $"iasl failed ({code}):\n{output}");
            compiled = File.ReadAllBytes(Path.Combine(dir, "t.aml"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        byte[] ours = Scope("_SB",
        [
            Device("TST0",
                Name("_HID", EisaId("PNP0501")),
                Name("_UID", Integer(1)),
                Name("STR0", String("LNRO0005")),
                Name("BIG", Integer(0x123456789A)),
                Name("WRD", Integer(0x1234)),
                Name("DWD", Integer(0x12345678)),
                Name("ONE1", Integer(ulong.MaxValue)),
                Name("PKG", PackageOf(Integer(5), Integer(0), Integer(0), Integer(0))),
                Name("_CRS", ResourceTemplate(
                    Io(0x3f8, 0x3f8, 0, 8),
                    IrqNoFlags(4),
                    Memory32Fixed(0xfeb00000, 0x200),
                    Interrupt(0x18, edge: false),
                    Interrupt(9, edge: true))),
                OperationRegion("EREG", SystemMemory, 0xfea00000, 0x20),
                Field("EREG", DWordAcc | WriteAsZeros, ("ESEL", 32), ("BIGF", 100)),
                Method("_EVT", 1, serialized: true,
                    Store(Reference("ESEL"), Local0),
                    If(LEqual(And(Local0, Integer(2)), Integer(2)), Notify("PWRB", 0x80))),
                Name("BUF0", AmlEncoder.Buffer(buffer))),
            Device("PWRB", Name("_HID", String("PNP0C0C"))),
            .. names,
        ]);
        Assert.True(ours.Length > 4096, "the scope must need a three-byte PkgLength");
        Assert.Equal(Convert.ToHexString(compiled.AsSpan(36)), Convert.ToHexString(ours));
    }
}
