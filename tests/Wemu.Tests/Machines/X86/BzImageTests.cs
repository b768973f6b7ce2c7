using System.Buffers.Binary;
using Wemu.Machines;
using Wemu.Machines.X86;
using Xunit;

namespace Wemu.Tests.Machines.X86;

public class BzImageTests
{
    /// <summary>
    /// Debian's vmlinuz-6.1.0-47-amd64 header as read by hand from `xxd -s 0x1f1` of the file:
    /// setup_sects 0x27, syssize 0x0007d520 paragraphs, "HdrS", version 0x020f, loadflags 0x01,
    /// initrd_addr_max 0x7fffffff, kernel_alignment 0x00200000, relocatable 1, xloadflags 0x007f,
    /// cmdline_size 0x7ff, pref_address 0x01000000, init_size 0x03f98000.
    /// </summary>
    [Fact]
    public void DebianVmlinuz_ParsesAsProtocol215()
    {
        var bz = BzImage.Parse(X86BootFixtures.DebianVmlinuz());
        Assert.Equal(39, bz.SetupSects);
        Assert.Equal(0x020f, bz.Version);
        Assert.Equal(0x01, bz.LoadFlags);
        Assert.Equal(0x7f, bz.XLoadFlags);
        Assert.Equal(0x7d520UL * 16, bz.SysSize);
        Assert.Equal(40 * 512, bz.ProtectedModeOffset);
        // The header's sizes add up to the file exactly.
        Assert.Equal((ulong)X86BootFixtures.DebianVmlinuzLength, (ulong)bz.ProtectedModeOffset + bz.SysSize);
        Assert.Equal(X86BootFixtures.DebianVmlinuzLength - 40 * 512, bz.ProtectedModeKernel.Length);
        Assert.Equal(0x7fffffffu, bz.InitrdAddrMax);
        Assert.Equal(0x200000u, bz.KernelAlignment);
        Assert.True(bz.Relocatable);
        Assert.Equal(0x7ffu, bz.CmdlineSize);
        Assert.Equal(0x1000000UL, bz.PrefAddress);
        Assert.Equal(0x3f98000u, bz.InitSize);
        // byte[0x201] = 0x6a: the header runs from 0x1f1 to 0x26c (kernel_info_offset, protocol 2.15).
        Assert.Equal(0x26c - 0x1f1, bz.SetupHeader.Length);
        Assert.Equal(0x27, bz.SetupHeader[0]);
    }

    private static void AssertOneLine(string expectedStart, Action action)
    {
        var e = Assert.Throws<ConfigException>(action);
        Assert.StartsWith(expectedStart, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Parse_EmptyFile_OneLine() => AssertOneLine("kernel: the file is empty", () => BzImage.Parse([]));

    [Fact]
    public void Parse_TruncatedFile_SaysBothSizes()
    {
        var f = X86BootFixtures.DebianVmlinuz()[..^1];
        var e = Assert.Throws<ConfigException>(() => BzImage.Parse(f));
        Assert.Equal("kernel: bzImage truncated (8233471 bytes, header says 8233472)", e.Message);
    }

    [Fact]
    public void Parse_OnlyTheHeader_IsTruncated() =>
        AssertOneLine("kernel: bzImage truncated (1024 bytes, header says 8233472)", () => BzImage.Parse(X86BootFixtures.DebianVmlinuz()[..1024]));

    [Fact]
    public void Parse_WrongMagic_NotABzImage()
    {
        var f = X86BootFixtures.DebianVmlinuz();
        f[0x202] = (byte)'X';
        AssertOneLine("kernel: not an x86 bzImage", () => BzImage.Parse(f));
    }

    [Fact]
    public void Parse_MissingBootFlag_NotABzImage()
    {
        var f = X86BootFixtures.DebianVmlinuz();
        f[0x1fe] = 0;
        AssertOneLine("kernel: not an x86 bzImage", () => BzImage.Parse(f));
    }

    [Fact]
    public void Parse_ShortGarbage_NotABzImage() =>
        AssertOneLine("kernel: not an x86 bzImage", () => BzImage.Parse([1, 2, 3]));

    [Fact]
    public void Parse_Protocol211_TooOld()
    {
        var f = X86BootFixtures.DebianVmlinuz();
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(0x206), 0x020b);
        AssertOneLine("kernel: boot protocol 2.11 is too old; the 64-bit boot protocol needs 2.12 or later", () => BzImage.Parse(f));
    }

    [Fact]
    public void Parse_NoXlfKernel64_Needs64BitProtocol()
    {
        var f = X86BootFixtures.DebianVmlinuz();
        f[0x236] &= 0xfe;   // a 32-bit kernel has xloadflags without XLF_KERNEL_64
        AssertOneLine("kernel: needs the 64-bit boot protocol", () => BzImage.Parse(f));
    }

    [Fact]
    public void Parse_HugeSetupSects_IsTruncated()
    {
        var f = X86BootFixtures.DebianVmlinuz()[..100000];
        f[0x1f1] = 0xff;   // 256 sectors = 128 KiB of setup before the kernel
        AssertOneLine("kernel: bzImage truncated (100000 bytes, header says " + (256 * 512 + 0x7d520 * 16) + ")", () => BzImage.Parse(f));
    }

    [Fact]
    public void Parse_SetupSectsZero_MeansFour()
    {
        // boot.rst: "If this field is 0, the real value is 4." The same kernel with 4 setup sectors.
        var debian = X86BootFixtures.DebianVmlinuz();
        var f = new byte[5 * 512 + 0x7d520 * 16];
        debian.AsSpan(0, 0x26c).CopyTo(f);
        f[0x1f1] = 0;
        var bz = BzImage.Parse(f);
        Assert.Equal(4, bz.SetupSects);
        Assert.Equal(5 * 512, bz.ProtectedModeOffset);
    }

    [Fact]
    public void Parse_KernelAlignmentNotPowerOfTwo_Rejected()
    {
        var f = X86BootFixtures.DebianVmlinuz();
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(0x230), 0x300000);
        AssertOneLine("kernel: bzImage kernel_alignment 0x300000 is not a power of two", () => BzImage.Parse(f));
    }

    [Fact]
    public void Parse_InitSizeSmallerThanKernel_Rejected()
    {
        var f = X86BootFixtures.DebianVmlinuz();
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(0x260), 0x1000);
        AssertOneLine("kernel: bzImage init_size 0x1000 is smaller than the kernel", () => BzImage.Parse(f));
    }

    [Fact]
    public void Parse_PrefAddressAbove4G_Rejected()
    {
        var f = X86BootFixtures.DebianVmlinuz();
        BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(0x258), 0xffff_f000);
        AssertOneLine("kernel: bzImage pref_address 0xfffff000 + init_size 0x3f98000 is above 4 GiB", () => BzImage.Parse(f));
    }

    /// <summary>A RISC-V Linux Image header (Documentation/riscv/boot-image-header.rst): "RSC\x05" at 0x38.</summary>
    public static byte[] RiscVImage()
    {
        var f = new byte[4096];
        f[0] = 0x4d;   // "MZ" as an EFI stub kernel starts, as well
        f[1] = 0x5a;
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(0x38), 0x05435352);
        return f;
    }

    [Fact]
    public void Parse_RiscVImage_SaysRiscV()
    {
        var e = Assert.Throws<ConfigException>(() => BzImage.Parse(RiscVImage()));
        Assert.Equal("kernel: this is a RISC-V kernel; -M microvm needs an x86_64 kernel", e.Message);
    }

    [Fact]
    public void Parse_RiscVElf_SaysRiscV()
    {
        var elf = ElfBuilder.Build(ElfImage.MachineRiscV, 0x80200000, [(0x80200000, 0xffffffff80000000, new byte[64], 64)]);
        var e = Assert.Throws<ConfigException>(() => BzImage.Parse(elf));
        Assert.Equal("kernel: this is a RISC-V kernel; -M microvm needs an x86_64 kernel", e.Message);
    }

    [Fact]
    public void Parse_AArch64Image_SaysAArch64()
    {
        var f = new byte[4096];
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(0x38), 0x644d5241);
        AssertOneLine("kernel: this is an AArch64 kernel; -M microvm needs an x86_64 kernel", () => BzImage.Parse(f));
    }
}
