using Wemu.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>
/// The decode tables are built by scattering each pattern over the keys or halfwords it matches, and
/// ship prebuilt (<see cref="RvDecodeTables"/>: an embedded resource copied at start-up); the tables the
/// engines read are checked here against the plain definition: for every key or halfword, the first
/// pattern in table order that matches it; and the resource against what the rules make now.
/// </summary>
public unsafe class RvDecodeTablesTests
{
    [Fact]
    public void Prebuilt_Tables_Are_What_The_Rules_Make()
    {
        byte[] built = RvDecodeTables.Build();
        string file = Path.Combine(WemuProcess.RepoRoot, "src", "Wemu", "Cpu", "RiscV", "rv-decode-tables.bin");
        if (Environment.GetEnvironmentVariable("WEMU_WRITE_DECODE_TABLES") == "1")
            File.WriteAllBytes(file, built);
        using var stream = typeof(RvDecodeTables).Assembly.GetManifestResourceStream(RvDecodeTables.ResourceName)!;
        var shipped = new byte[stream.Length];
        stream.ReadExactly(shipped);
        int differ = shipped.Length == built.Length ? built.AsSpan().CommonPrefixLength(shipped) : 0;
        Assert.True(shipped.AsSpan().SequenceEqual(built),
            $"{file} ({shipped.Length} bytes, first difference at {differ}) is not what the rules make: after changing RvOpcodeTable's entries or " +
            "RvcExpander's rows, run this test with WEMU_WRITE_DECODE_TABLES=1 and rebuild");
        // and what the engines read is the file's tables
        Assert.True(new ReadOnlySpan<byte>(RvDecodeTables.Primary, RvDecodeTables.FileBytes - 8).SequenceEqual(built.AsSpan(8)));
    }

    [Fact]
    public void Primary_Table_Is_The_First_Matches_Of_Every_Key()
    {
        for (uint key = 0; key < RvDecodeTables.PrimaryBytes; key++)
        {
            uint bits = 0x3u | ((key & 0x1F) << 2) | (((key >> 5) & 7) << 12) | (((key >> 8) & 0x7F) << 25);
            var candidates = RvOpcodeTable.Entries.Where(e =>
                (bits & e.Mask & RvOpcodeTable.KeyMask) == (e.Match & RvOpcodeTable.KeyMask & e.Mask) && (e.Match & 3) == 3).ToList();
            RvOp expected = candidates.Count == 0 ? RvOp.Illegal
                : candidates.Count == 1 && (candidates[0].Mask & ~RvOpcodeTable.KeyMask & ~3u) == 0 ? candidates[0].Op
                : RvOp.Secondary;
            var op = (RvOp)RvDecodeTables.Primary[key];
            Assert.True(expected == op, $"key 0x{key:x}: {op}, expected {expected}");
        }
    }

    [Fact]
    public void Decode_Is_The_First_Matching_Entry()
    {
        var rng = new Random(12);
        for (int i = 0; i < 300_000; i++)
        {
            uint inst = (uint)rng.NextInt64() | 3;
            if (i < 32768)
                inst = (inst & ~RvOpcodeTable.KeyMask) | (0x3u | ((uint)(i & 0x1F) << 2) | ((uint)((i >> 5) & 7) << 12) | ((uint)((i >> 8) & 0x7F) << 25));   // every key once
            RvOp expected = RvOp.Illegal;
            foreach (var e in RvOpcodeTable.Entries)
                if ((e.Match & 3) == 3 && (inst & e.Mask) == e.Match)
                {
                    expected = e.Op;
                    break;
                }
            Assert.True(expected == RvOpcodeTable.Decode(inst), $"0x{inst:x8}: {RvOpcodeTable.Decode(inst)}, expected {expected}");
        }
    }

    [Fact]
    public void Expansion_Table_Is_The_First_Matching_Row_Of_Every_Halfword()
    {
        for (int c = 0; c < 65536; c++)
        {
            uint expected = 0;
            if ((c & 3) != 3 && c != 0)
                foreach (var r in RvcExpander.RowsForTests)
                    if ((c & r.Mask) == r.Match)
                    {
                        expected = r.Expand((uint)c);
                        break;
                    }
            Assert.True(expected == RvcExpander.Table[c], $"0x{c:x4}: 0x{RvcExpander.Table[c]:x8}, expected 0x{expected:x8}");
            uint engines = expected == 0 ? 0xFFFF_FFFFu : expected;   // what the interpreters and the translator read
            Assert.True(engines == RvDecodeTables.Expand[c], $"0x{c:x4}: 0x{RvDecodeTables.Expand[c]:x8} in the engines' table, expected 0x{engines:x8}");
        }
    }
}
