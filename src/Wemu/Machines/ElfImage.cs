using System.Buffers.Binary;
using System.Text;

namespace Wemu.Machines;

/// <summary>
/// A parsed ELF64 little-endian executable (System V gABI, chapter 4-5): loadable segments by
/// physical address, the entry point, and the symbol table (for HTIF's tohost/fromhost).
/// Every offset and size in the file is checked: a malformed file gives a <see cref="FormatException"/>.
/// </summary>
public sealed class ElfImage
{
    public const ushort MachineRiscV = 243, MachineX86_64 = 62, MachineAArch64 = 183;

    public sealed record Segment(ulong PhysicalAddress, ulong VirtualAddress, byte[] Data, ulong MemorySize);

    private ElfImage(ushort machine, ulong entry, List<Segment> segments, Dictionary<string, ulong> symbols)
    {
        Machine = machine;
        Entry = entry;
        Segments = segments;
        Symbols = symbols;
    }

    public ushort Machine { get; }

    public ulong Entry { get; }

    public IReadOnlyList<Segment> Segments { get; }

    public IReadOnlyDictionary<string, ulong> Symbols { get; }

    public static bool IsElf(ReadOnlySpan<byte> data) =>
        data.Length >= 4 && data[0] == 0x7F && data[1] == (byte)'E' && data[2] == (byte)'L' && data[3] == (byte)'F';

    public static ElfImage Parse(ReadOnlySpan<byte> f)
    {
        if (!IsElf(f) || f.Length < 64)
            throw new FormatException("not an ELF file");
        if (f[4] != 2 || f[5] != 1)
            throw new FormatException("only 64-bit little-endian ELF files are supported");
        ushort type = U16(f, 16);
        if (type != 2 && type != 3)
            throw new FormatException("ELF file is not an executable");
        ushort machine = U16(f, 18);
        ulong entry = U64(f, 24);
        ulong phoff = U64(f, 32), shoff = U64(f, 40);
        ushort phentsize = U16(f, 54), phnum = U16(f, 56), shentsize = U16(f, 58), shnum = U16(f, 60);

        var segments = new List<Segment>();
        if (phnum > 0 && phentsize < 56)
            throw new FormatException("bad ELF program header size");
        for (int i = 0; i < phnum; i++)
        {
            var ph = Slice(f, TableEntry(phoff, (ulong)i, phentsize), 56);
            if (U32(ph, 0) != 1)   // PT_LOAD
                continue;
            ulong offset = U64(ph, 8), vaddr = U64(ph, 16), paddr = U64(ph, 24), filesz = U64(ph, 32), memsz = U64(ph, 40);
            if (filesz > memsz)
                throw new FormatException("ELF segment file size exceeds memory size");
            if (memsz > ulong.MaxValue - paddr)
                throw new FormatException($"ELF segment at 0x{paddr:x} wraps around the address space");
            segments.Add(new Segment(paddr, vaddr, Slice(f, offset, filesz).ToArray(), memsz));
        }
        if (segments.Count == 0)
            throw new FormatException("ELF file has no loadable segments");

        var symbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        if (shoff != 0 && shnum > 0 && shentsize >= 64)
        {
            for (int i = 0; i < shnum; i++)
            {
                var sh = Slice(f, TableEntry(shoff, (ulong)i, shentsize), 64);
                if (U32(sh, 4) != 2)   // SHT_SYMTAB
                    continue;
                ulong symOff = U64(sh, 24), symSize = U64(sh, 32), entSize = U64(sh, 56);
                uint link = U32(sh, 40);
                if (entSize < 24 || link >= shnum)
                    continue;
                var strSh = Slice(f, TableEntry(shoff, link, shentsize), 64);
                var strtab = Slice(f, U64(strSh, 24), U64(strSh, 32));
                var symtab = Slice(f, symOff, symSize);
                // Count the entries first: stepping by a huge sh_entsize must not wrap back into the table.
                ulong count = symtab.Length < 24 ? 0 : ((ulong)symtab.Length - 24) / entSize + 1;
                for (ulong k = 0; k < count; k++)
                {
                    var sym = symtab.Slice((int)(k * entSize), 24);
                    uint nameOff = U32(sym, 0);
                    if (nameOff == 0 || nameOff >= strtab.Length)
                        continue;
                    var nameBytes = strtab[(int)nameOff..];
                    int end = nameBytes.IndexOf((byte)0);
                    string name = Encoding.ASCII.GetString(end < 0 ? nameBytes : nameBytes[..end]);
                    symbols.TryAdd(name, U64(sym, 8));
                }
            }
        }
        return new ElfImage(machine, entry, segments, symbols);
    }

    /// <summary>The file offset of entry <paramref name="index"/> of a table, or ulong.MaxValue (out of range) if it wraps.</summary>
    private static ulong TableEntry(ulong table, ulong index, ushort entrySize)
    {
        ulong within = index * entrySize;   // index and entrySize are both below 2^16
        return within > ulong.MaxValue - table ? ulong.MaxValue : table + within;
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> f, ulong offset, ulong length)
    {
        if (offset > (ulong)f.Length || length > (ulong)f.Length - offset)
            throw new FormatException("ELF file is truncated or has out-of-range offsets");
        return f.Slice((int)offset, (int)length);
    }

    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);

    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);

    private static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);
}
