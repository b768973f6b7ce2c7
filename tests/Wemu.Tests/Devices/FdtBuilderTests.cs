using System.Diagnostics;
using System.Text;
using Wemu.Devices.Fdt;
using Xunit;

namespace Wemu.Tests.Devices;

public class FdtBuilderTests
{
    /// <summary>A small tree shaped like QEMU riscv virt's.</summary>
    private static byte[] BuildVirtLikeTree(out uint plicPhandle)
    {
        var fdt = new FdtBuilder { BootCpuIdPhys = 0 };
        fdt.AddMemoryReservation(0x8000_0000, 0x8_0000);
        fdt.BeginNode("");
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyString("compatible", "riscv-virtio");
        fdt.PropertyString("model", "riscv-virtio,qemu");

        fdt.BeginNode("chosen");
        fdt.PropertyString("stdout-path", "/soc/serial@10000000");
        fdt.PropertyString("bootargs", "console=ttyS0");
        fdt.EndNode();

        fdt.BeginNode("memory@80000000");
        fdt.PropertyString("device_type", "memory");
        fdt.PropertyU64("reg", 0x8000_0000, 0x800_0000);
        fdt.EndNode();

        fdt.BeginNode("soc");
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyString("compatible", "simple-bus");
        fdt.PropertyEmpty("ranges");

        fdt.BeginNode("plic@c000000");
        plicPhandle = fdt.PropertyPhandle();
        fdt.PropertyStrings("compatible", "sifive,plic-1.0.0", "riscv,plic0");
        fdt.PropertyU64("reg", 0xC00_0000, 0x60_0000);
        fdt.PropertyU32("#interrupt-cells", 1);
        fdt.PropertyU32("#address-cells", 0);
        fdt.PropertyEmpty("interrupt-controller");
        fdt.PropertyU32("riscv,ndev", 95);
        fdt.EndNode();

        fdt.BeginNode("serial@10000000");
        fdt.PropertyString("compatible", "ns16550a");
        fdt.PropertyU64("reg", 0x1000_0000, 0x100);
        fdt.PropertyU32("interrupts", 10);
        fdt.PropertyU32("interrupt-parent", plicPhandle);
        fdt.PropertyU32("clock-frequency", 0x384000);
        fdt.EndNode();

        fdt.EndNode(); // soc
        fdt.EndNode(); // root
        return fdt.Build();
    }

    [Fact]
    public void HeaderIsVersion17WithConsistentOffsets()
    {
        var dtb = new DtbReader(BuildVirtLikeTree(out _));
        Assert.Equal(17u, dtb.Version);
        Assert.Equal(16u, dtb.LastCompatibleVersion);
        Assert.Equal(0u, dtb.BootCpuIdPhys);
        Assert.Equal(40u, dtb.OffReservations);
        Assert.True(dtb.OffStruct >= dtb.OffReservations + 16 * 2);
        Assert.Equal(dtb.OffStruct + dtb.SizeStruct, dtb.OffStrings);
        Assert.Equal(dtb.OffStrings + dtb.SizeStrings, dtb.TotalSize);
    }

    [Fact]
    public void MemoryReservationsAreListed()
    {
        var dtb = new DtbReader(BuildVirtLikeTree(out _));
        Assert.Equal([(0x8000_0000UL, 0x8_0000UL)], dtb.Reservations);
    }

    [Fact]
    public void TreeStructureAndValuesRoundTrip()
    {
        var dtb = new DtbReader(BuildVirtLikeTree(out uint plic));
        var root = dtb.Root;
        Assert.Equal("", root.Name);
        Assert.Equal(["chosen", "memory@80000000", "soc"], root.Children.Select(c => c.Name));
        Assert.Equal([2u], root.Cells("#address-cells"));
        Assert.Equal(["riscv-virtio"], root.Strings("compatible"));
        Assert.Equal([0u, 0x8000_0000u, 0u, 0x800_0000u], root.Child("memory@80000000").Cells("reg"));

        var soc = root.Child("soc");
        Assert.Empty(soc.Properties["ranges"]);
        var plicNode = soc.Child("plic@c000000");
        Assert.Equal(["sifive,plic-1.0.0", "riscv,plic0"], plicNode.Strings("compatible"));
        Assert.Equal(Encoding.ASCII.GetBytes("sifive,plic-1.0.0\0riscv,plic0\0"), plicNode.Properties["compatible"]);
        Assert.Equal([plic], plicNode.Cells("phandle"));
        Assert.Equal([plic], soc.Child("serial@10000000").Cells("interrupt-parent"));
        Assert.Equal([0u, 0x1000_0000u, 0u, 0x100u], soc.Child("serial@10000000").Cells("reg"));
        Assert.Equal(Encoding.ASCII.GetBytes("ns16550a\0"), soc.Child("serial@10000000").Properties["compatible"]);
    }

    [Fact]
    public void StringTableIsDeduplicated()
    {
        var blob = BuildVirtLikeTree(out _);
        var dtb = new DtbReader(blob);
        var strings = Encoding.ASCII.GetString(blob, (int)dtb.OffStrings, (int)dtb.SizeStrings).TrimEnd('\0').Split('\0');
        Assert.Equal(strings.Distinct().Count(), strings.Length);
        Assert.Contains("compatible", strings);
        Assert.Contains("#address-cells", strings);
    }

    [Fact]
    public void PhandlesAreUniqueAndNonZero()
    {
        var fdt = new FdtBuilder();
        uint a = fdt.AllocatePhandle();
        uint b = fdt.AllocatePhandle();
        Assert.NotEqual(0u, a);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void BootCpuIdIsWritten()
    {
        var fdt = new FdtBuilder { BootCpuIdPhys = 3 };
        fdt.BeginNode("");
        fdt.EndNode();
        var dtb = new DtbReader(fdt.Build());
        Assert.Equal(3u, dtb.BootCpuIdPhys);
        Assert.Empty(dtb.Reservations);
    }

    [Fact]
    public void PropertyValuesArePaddedToFourBytes()
    {
        var fdt = new FdtBuilder();
        fdt.BeginNode("");
        fdt.Property("odd", [1, 2, 3, 4, 5]);
        fdt.BeginNode("n");
        fdt.Property("one", [9]);
        fdt.EndNode();
        fdt.EndNode();
        var dtb = new DtbReader(fdt.Build()); // the strict reader fails on misalignment
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, dtb.Root.Properties["odd"]);
        Assert.Equal(new byte[] { 9 }, dtb.Root.Child("n").Properties["one"]);
    }

    [Fact]
    public void UnbalancedTreeIsRefused()
    {
        var fdt = new FdtBuilder();
        fdt.BeginNode("");
        fdt.BeginNode("a");
        Assert.Throws<InvalidOperationException>(() => fdt.Build());
        Assert.Throws<InvalidOperationException>(() => new FdtBuilder().EndNode());
        Assert.Throws<InvalidOperationException>(() => new FdtBuilder().PropertyEmpty("x"));
        Assert.Throws<ArgumentException>(() => new FdtBuilder().BeginNode("notroot"));
    }

    private static void AssertDts(string expected, string dts) =>
        Assert.True(dts.Contains(expected, StringComparison.Ordinal), $"dtc output lacks `{expected}`:\n{dts}");

    /// <summary>
    /// Decodes the blob with dtc (Debian package device-tree-compiler), the reference implementation. This test
    /// does not skip: without dtc it fails and says how to install it.
    /// </summary>
    [Fact]
    public void DtcDecodesTheBlob()
    {
        var blob = BuildVirtLikeTree(out _);
        string path = Path.Combine(Path.GetTempPath(), $"wemu-fdt-{Environment.ProcessId}-{Guid.NewGuid():N}.dtb");
        File.WriteAllBytes(path, blob);
        try
        {
            Process process;
            try
            {
                process = Process.Start(new ProcessStartInfo("dtc", ["-I", "dtb", "-O", "dts", path])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                })!;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                Assert.Fail("dtc not found: install it with `apt-get install device-tree-compiler` (Debian).");
                return;
            }
            string dts = process.StandardOutput.ReadToEnd();
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"dtc failed: {errors}");
            AssertDts("/memreserve/\t0x0000000080000000 0x0000000000080000;", dts);
            AssertDts("compatible = \"riscv-virtio\";", dts);
            AssertDts("reg = <0x00 0x80000000 0x00 0x8000000>;", dts);
            // dtc 1.6 prints string lists with an embedded \0 rather than as "a", "b".
            AssertDts("compatible = \"sifive,plic-1.0.0\\0riscv,plic0\";", dts);
            AssertDts("interrupt-controller;", dts);
            AssertDts("serial@10000000 {", dts);
            AssertDts("stdout-path = \"/soc/serial@10000000\";", dts);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
