using System.Runtime.InteropServices;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The decode tables the interpreters (<see cref="RiscVInterpreter"/>, <see cref="RiscVWasmInterpreter"/>) and the
/// translator read, in native memory:
/// <list type="bullet">
/// <item><see cref="Primary"/>: the <see cref="RvOp"/> of each primary key (<see cref="RvOpcodeTable.Key"/>), one byte
/// an entry (every op fits), 32 KiB;</item>
/// <item><see cref="Short"/>: the op of each key's low byte (opcode[6:2] and funct3) where funct7 does not matter,
/// else <see cref="ShortNeedsFunct7"/>: 256 bytes that stay in the L1 cache, looked up first by the wasm interpreter;</item>
/// <item><see cref="Expand"/>: <see cref="RvcExpander"/>'s expansion of every halfword, illegal encodings (0 there)
/// as 0xFFFFFFFF, whose primary key (opcode 1111111) decodes as Illegal: no extra test on the hot path. 256 KiB.</item>
/// </list>
/// <para>
/// They are prebuilt: <c>rv-decode-tables.bin</c>, an embedded resource, holds them as <see cref="Build"/> makes them
/// from <see cref="RvOpcodeTable.Entries"/> and <see cref="RvcExpander"/>'s rows, and start-up copies it. Building them
/// took 70-100 ms of the page's start under Mono's interpreter (~1 ms natively). <c>RvDecodeTablesTests</c> checks
/// the file against <see cref="Build"/> (and the tables against the plain definitions); with
/// <c>WEMU_WRITE_DECODE_TABLES=1</c> that test writes the file instead.
/// </para>
/// </summary>
internal static unsafe class RvDecodeTables
{
    public const int PrimaryBytes = 1 << 15, ShortBytes = 256, ExpandEntries = 1 << 16;

    /// <summary>In <see cref="Short"/>: the primary table must be read (funct7 matters).</summary>
    public const byte ShortNeedsFunct7 = 0xFF;

    public const string ResourceName = "Wemu.Cpu.RiscV.rv-decode-tables.bin";

    /// <summary>The file: "WRVD", a format number, then the three tables (the expansion little-endian).</summary>
    private static ReadOnlySpan<byte> Magic => "WRVD\u0001\0\0\0"u8;

    public static int FileBytes => Magic.Length + PrimaryBytes + ShortBytes + 4 * ExpandEntries;

    public static byte* Primary => Loaded.Tables;

    public static byte* Short => Loaded.Tables + PrimaryBytes;

    public static uint* Expand => (uint*)(Loaded.Tables + PrimaryBytes + ShortBytes);

    /// <summary>(Its own class: <see cref="Build"/> must work without the resource, to write it.)</summary>
    private static class Loaded
    {
        internal static readonly byte* Tables = Load();
    }

    private static byte* Load()
    {
        using var stream = typeof(RvDecodeTables).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the build lost the resource {ResourceName}");
        int tables = FileBytes - Magic.Length;
        if (stream.Length != FileBytes)
            throw new InvalidOperationException($"{ResourceName} has {stream.Length} bytes, not {FileBytes}");
        Span<byte> magic = stackalloc byte[Magic.Length];
        stream.ReadExactly(magic);
        if (!magic.SequenceEqual(Magic))
            throw new InvalidOperationException($"{ResourceName} is not in this build's format");
        // (the expansion table is read as uint: 4-byte aligned, as its offset in the block is)
        var p = (byte*)NativeMemory.AlignedAlloc((nuint)tables, 64);
        stream.ReadExactly(new Span<byte>(p, tables));
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < ExpandEntries; i++)
                ((uint*)(p + PrimaryBytes + ShortBytes))[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(((uint*)(p + PrimaryBytes + ShortBytes))[i]);
        return p;
    }

    /// <summary>The file's bytes, made from the rules (what the resource must hold).</summary>
    public static byte[] Build()
    {
        var file = new byte[FileBytes];
        Magic.CopyTo(file);
        var primary = file.AsSpan(Magic.Length, PrimaryBytes);
        var rules = RvOpcodeTable.BuildPrimary();
        for (int i = 0; i < PrimaryBytes; i++)
            primary[i] = checked((byte)rules[i]);
        var shortTable = file.AsSpan(Magic.Length + PrimaryBytes, ShortBytes);
        for (int low = 0; low < ShortBytes; low++)
        {
            byte op = primary[low];
            for (int funct7 = 1; funct7 < 128 && op != ShortNeedsFunct7; funct7++)
            {
                if (primary[low | (funct7 << 8)] != op)
                    op = ShortNeedsFunct7;
            }
            shortTable[low] = op;
        }
        var expand = file.AsSpan(Magic.Length + PrimaryBytes + ShortBytes);
        var rows = RvcExpander.Build();
        for (int c = 0; c < ExpandEntries; c++)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(expand[(4 * c)..], rows[c] == 0 ? 0xFFFF_FFFFu : rows[c]);
        return file;
    }
}
