using System.Buffers.Binary;

namespace Wemu.Machines.X86;

/// <summary>
/// An x86 Linux bzImage: the real-mode setup sectors with the setup header at 0x1f1, then the
/// protected-mode kernel (Documentation/x86/boot.rst, "THE REAL-MODE KERNEL HEADER"; the field
/// offsets are those of <c>struct setup_header</c> in arch/x86/include/uapi/asm/bootparam.h).
/// <see cref="Parse"/> checks everything the 64-bit boot protocol relies on; a bad file is a
/// <see cref="ConfigException"/> with one line.
/// </summary>
public sealed class BzImage
{
    /// <summary>The setup header starts at 0x1f1 in the file and in <c>struct boot_params</c>.</summary>
    public const int SetupHeaderOffset = 0x1f1;

    /// <summary>boot.rst: the 64-bit entry point is 0x200 bytes into the protected-mode kernel.</summary>
    public const ulong Entry64Offset = 0x200;

    // boot.rst "loadflags" and "xloadflags" bits.
    public const byte LoadedHigh = 0x01, CanUseHeap = 0x80;
    public const ushort XlfKernel64 = 0x01, XlfCanBeLoadedAbove4G = 0x02;

    /// <summary>"HdrS" at 0x202, little-endian.</summary>
    private const uint HeaderMagic = 0x53726448;

    private readonly byte[] _file;

    private BzImage(byte[] file)
    {
        _file = file;
    }

    /// <summary>Number of 512-byte setup sectors after the boot sector (0 in the file means 4).</summary>
    public int SetupSects { get; private init; }

    /// <summary>Boot protocol version, e.g. 0x020f for 2.15.</summary>
    public ushort Version { get; private init; }

    public byte LoadFlags { get; private init; }

    public ushort XLoadFlags { get; private init; }

    /// <summary>Size of the protected-mode code in bytes (the header's syssize is in 16-byte units).</summary>
    public ulong SysSize { get; private init; }

    public uint InitrdAddrMax { get; private init; }

    public uint KernelAlignment { get; private init; }

    public bool Relocatable { get; private init; }

    /// <summary>Maximum command line length without the terminating NUL (protocol 2.06).</summary>
    public uint CmdlineSize { get; private init; }

    /// <summary>The kernel's preferred load address (protocol 2.10): where it decompresses to if not moved.</summary>
    public ulong PrefAddress { get; private init; }

    /// <summary>Bytes of linear memory the kernel needs from its load address until it has started (protocol 2.10).</summary>
    public uint InitSize { get; private init; }

    /// <summary>File offset of the protected-mode kernel: (setup_sects + 1) * 512.</summary>
    public int ProtectedModeOffset => (SetupSects + 1) * 512;

    /// <summary>The protected-mode kernel, which the 64-bit protocol loads and enters at +0x200.</summary>
    public ReadOnlySpan<byte> ProtectedModeKernel => _file.AsSpan(ProtectedModeOffset);

    /// <summary>
    /// The setup header as a boot loader copies it into the zero page: from 0x1f1 to the end given by
    /// the byte at 0x201 (the offset of the jump's target, boot.rst "Details of header fields").
    /// </summary>
    public ReadOnlySpan<byte> SetupHeader => _file.AsSpan(SetupHeaderOffset, 0x202 + _file[0x201] - SetupHeaderOffset);

    /// <summary>True if <paramref name="data"/> has the bzImage header signature "HdrS" at 0x202.</summary>
    public static bool HasHeader(ReadOnlySpan<byte> data) =>
        data.Length >= 0x206 && BinaryPrimitives.ReadUInt32LittleEndian(data[0x202..]) == HeaderMagic;

    public static BzImage Parse(byte[] file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (file.Length == 0)
            throw new ConfigException("kernel: the file is empty");
        RejectOtherArchitectures(file);
        if (!HasHeader(file) || BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(0x1fe)) != 0xAA55)
            throw new ConfigException("kernel: not an x86 bzImage (no \"HdrS\" setup header)");
        if (file.Length < 0x268)
            throw new ConfigException($"kernel: bzImage truncated ({file.Length} bytes: shorter than its setup header)"); // the fields read below end at 0x268

        ushort version = U16(file, 0x206);
        // 2.12 added xloadflags, which is where the kernel says it has a 64-bit entry point.
        if (version < 0x020c)
            throw new ConfigException($"kernel: boot protocol {version >> 8}.{version & 0xff:d2} is too old; the 64-bit boot protocol needs 2.12 or later");
        ushort xloadflags = U16(file, 0x236);
        if ((xloadflags & XlfKernel64) == 0)
            throw new ConfigException("kernel: needs the 64-bit boot protocol (XLF_KERNEL_64 is not set: a 32-bit kernel?)");
        byte loadflags = file[0x211];
        if ((loadflags & LoadedHigh) == 0)
            throw new ConfigException("kernel: a zImage that loads at 0x10000 is not supported (LOADED_HIGH is not set)");

        int setupSects = file[0x1f1] == 0 ? 4 : file[0x1f1];
        int pmOffset = (setupSects + 1) * 512;
        // The header extends to 0x202 + byte[0x201]; it must end inside the setup sectors.
        if (0x202 + file[0x201] > pmOffset || 0x202 + file[0x201] < 0x268)
            throw new ConfigException("kernel: bzImage setup header has a bad length");
        ulong sysSize = (ulong)U32(file, 0x1f4) * 16;
        ulong needed = (ulong)pmOffset + sysSize;
        if (sysSize == 0 || needed > (ulong)file.Length)
            throw new ConfigException($"kernel: bzImage truncated ({file.Length} bytes, header says {needed})");
        if (Entry64Offset >= sysSize)
            throw new ConfigException("kernel: bzImage protected-mode part is too small to hold the 64-bit entry point");

        uint alignment = U32(file, 0x230);
        bool relocatable = file[0x234] != 0;
        if (relocatable && (alignment == 0 || (alignment & (alignment - 1)) != 0))
            throw new ConfigException($"kernel: bzImage kernel_alignment 0x{alignment:x} is not a power of two");
        ulong pref = U64(file, 0x258);
        uint initSize = U32(file, 0x260);
        if (initSize < sysSize)
            throw new ConfigException($"kernel: bzImage init_size 0x{initSize:x} is smaller than the kernel (0x{sysSize:x} bytes)");
        if (pref >= 1UL << 32 || pref + initSize > 1UL << 32)
            throw new ConfigException($"kernel: bzImage pref_address 0x{pref:x} + init_size 0x{initSize:x} is above 4 GiB");

        return new BzImage(file)
        {
            SetupSects = setupSects,
            Version = version,
            LoadFlags = loadflags,
            XLoadFlags = xloadflags,
            SysSize = sysSize,
            InitrdAddrMax = U32(file, 0x22c),
            KernelAlignment = alignment,
            Relocatable = relocatable,
            CmdlineSize = U32(file, 0x238),
            PrefAddress = pref,
            InitSize = initSize,
        };
    }

    /// <summary>One line for kernels of the other guests Wemu runs, which users will pass by mistake.</summary>
    internal static void RejectOtherArchitectures(ReadOnlySpan<byte> file)
    {
        if (RiscVVirtMachine.IsRiscVImage(file))
            throw new ConfigException("kernel: this is a RISC-V kernel; -M microvm needs an x86_64 kernel");
        // Documentation/arm64/booting.rst: magic "ARM\x64" at 0x38.
        if (file.Length >= 0x40 && BinaryPrimitives.ReadUInt32LittleEndian(file[0x38..]) == 0x644d5241)
            throw new ConfigException("kernel: this is an AArch64 kernel; -M microvm needs an x86_64 kernel");
        if (ElfImage.IsElf(file) && file.Length >= 20)
        {
            ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(file[18..]);
            if (machine == ElfImage.MachineRiscV)
                throw new ConfigException("kernel: this is a RISC-V kernel; -M microvm needs an x86_64 kernel");
            if (machine == ElfImage.MachineAArch64)
                throw new ConfigException("kernel: this is an AArch64 kernel; -M microvm needs an x86_64 kernel");
        }
    }

    private static ushort U16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o));

    private static uint U32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));

    private static ulong U64(byte[] b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o));
}
