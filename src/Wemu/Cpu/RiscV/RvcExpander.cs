namespace Wemu.Cpu.RiscV;

/// <summary>
/// The C extension (Unpriv. spec chapter 16, table 16.5-16.7) as a table of 16-bit patterns, each
/// with the 32-bit instruction it expands to. Expansion is precomputed for all 65536 halfwords,
/// so decoding a compressed instruction costs one load; interpreter and translator then see only
/// 32-bit instructions. Reserved and illegal encodings expand to 0 (an illegal instruction).
/// </summary>
public static class RvcExpander
{
    private readonly record struct Row(string Name, ushort Mask, ushort Match, Func<uint, uint> Expand);

    private static readonly Row[] Rows =
    [
        // Quadrant 0
        R("c.addi4spn", "000 ........ ... 00", c => AddiSpn(c)),
        R("c.fld",      "001 ... ... .. ... 00", c => I(0b0000111, 3, Rd3(c), Rs1p(c), UimmD(c))),
        R("c.lw",       "010 ... ... .. ... 00", c => I(0b0000011, 2, Rd3(c), Rs1p(c), UimmW(c))),
        R("c.ld",       "011 ... ... .. ... 00", c => I(0b0000011, 3, Rd3(c), Rs1p(c), UimmD(c))),
        R("c.fsd",      "101 ... ... .. ... 00", c => S(0b0100111, 3, Rs1p(c), Rd3(c), UimmD(c))),
        R("c.sw",       "110 ... ... .. ... 00", c => S(0b0100011, 2, Rs1p(c), Rd3(c), UimmW(c))),
        R("c.sd",       "111 ... ... .. ... 00", c => S(0b0100011, 3, Rs1p(c), Rd3(c), UimmD(c))),

        // Quadrant 1
        R("c.addi",     "000 . ..... ..... 01", c => I(0b0010011, 0, Rd(c), Rd(c), Imm6(c))),
        R("c.addiw",    "001 . ..... ..... 01", c => Rd(c) == 0 ? 0 : I(0b0011011, 0, Rd(c), Rd(c), Imm6(c))),
        R("c.li",       "010 . ..... ..... 01", c => I(0b0010011, 0, Rd(c), 0, Imm6(c))),
        R("c.addi16sp", "011 . 00010 ..... 01", c => Addi16Sp(c)),
        R("c.lui",      "011 . ..... ..... 01", c => Lui(c)),
        R("c.srli",     "100 . 00 ... ..... 01", c => I(0b0010011, 5, Rs1p(c), Rs1p(c), (int)Shamt(c))),
        R("c.srai",     "100 . 01 ... ..... 01", c => I(0b0010011, 5, Rs1p(c), Rs1p(c), (int)(Shamt(c) | 0x400))),
        R("c.andi",     "100 . 10 ... ..... 01", c => I(0b0010011, 7, Rs1p(c), Rs1p(c), Imm6(c))),
        R("c.sub",      "100 0 11 ... 00 ... 01", c => Rr(0b0110011, 0, 0x20, Rs1p(c), Rs1p(c), Rd3(c))),
        R("c.xor",      "100 0 11 ... 01 ... 01", c => Rr(0b0110011, 4, 0, Rs1p(c), Rs1p(c), Rd3(c))),
        R("c.or",       "100 0 11 ... 10 ... 01", c => Rr(0b0110011, 6, 0, Rs1p(c), Rs1p(c), Rd3(c))),
        R("c.and",      "100 0 11 ... 11 ... 01", c => Rr(0b0110011, 7, 0, Rs1p(c), Rs1p(c), Rd3(c))),
        R("c.subw",     "100 1 11 ... 00 ... 01", c => Rr(0b0111011, 0, 0x20, Rs1p(c), Rs1p(c), Rd3(c))),
        R("c.addw",     "100 1 11 ... 01 ... 01", c => Rr(0b0111011, 0, 0, Rs1p(c), Rs1p(c), Rd3(c))),
        R("c.j",        "101 ........... 01", c => J(0, JOffset(c))),
        R("c.beqz",     "110 ... ... ..... 01", c => B(0, Rs1p(c), 0, BOffset(c))),
        R("c.bnez",     "111 ... ... ..... 01", c => B(1, Rs1p(c), 0, BOffset(c))),

        // Quadrant 2
        R("c.slli",     "000 . ..... ..... 10", c => I(0b0010011, 1, Rd(c), Rd(c), (int)Shamt(c))),
        R("c.fldsp",    "001 . ..... ..... 10", c => I(0b0000111, 3, Rd(c), 2, UimmLdsp(c))),
        R("c.lwsp",     "010 . ..... ..... 10", c => Rd(c) == 0 ? 0 : I(0b0000011, 2, Rd(c), 2, UimmLwsp(c))),
        R("c.ldsp",     "011 . ..... ..... 10", c => Rd(c) == 0 ? 0 : I(0b0000011, 3, Rd(c), 2, UimmLdsp(c))),
        R("c.jr",       "100 0 ..... 00000 10", c => Rd(c) == 0 ? 0 : I(0b1100111, 0, 0, Rd(c), 0)),
        R("c.mv",       "100 0 ..... ..... 10", c => Rr(0b0110011, 0, 0, Rd(c), 0, Rs2(c))),
        R("c.ebreak",   "100 1 00000 00000 10", _ => 0x00100073),
        R("c.jalr",     "100 1 ..... 00000 10", c => I(0b1100111, 0, 1, Rd(c), 0)),
        R("c.add",      "100 1 ..... ..... 10", c => Rr(0b0110011, 0, 0, Rd(c), Rd(c), Rs2(c))),
        R("c.fsdsp",    "101 ...... ..... 10", c => S(0b0100111, 3, 2, Rs2(c), UimmSdsp(c))),
        R("c.swsp",     "110 ...... ..... 10", c => S(0b0100011, 2, 2, Rs2(c), UimmSwsp(c))),
        R("c.sdsp",     "111 ...... ..... 10", c => S(0b0100011, 3, 2, Rs2(c), UimmSdsp(c))),
    ];

    /// <summary>For tests: the rows in table order (the first match of a halfword is its expansion).</summary>
    internal static IEnumerable<(ushort Mask, ushort Match, Func<uint, uint> Expand)> RowsForTests => Rows.Select(r => (r.Mask, r.Match, r.Expand));

    /// <summary>Expansion of every halfword whose low two bits are not 11; 0 means illegal.</summary>
    internal static uint[] Table => Expansion.Table;

    /// <summary>
    /// The table, built once this class's statics are initialized: under the page's interpreter a call to a static
    /// method of a class still being initialized goes through the runtime, and the build makes ~100 K calls to this
    /// class's helpers.
    /// </summary>
    private static class Expansion
    {
        internal static readonly uint[] Table = Build();
    }

    /// <summary>Expands a compressed instruction to its 32-bit equivalent, or 0 if illegal/reserved.</summary>
    public static uint Expand(ushort c) => Table[c];

    /// <summary>The compressed mnemonic of a halfword (for disassembly and tests).</summary>
    public static string? NameOf(ushort c)
    {
        foreach (var r in Rows)
            if ((c & r.Mask) == r.Match)
                return r.Name;
        return null;
    }

    /// <summary>The table from the rows (<see cref="RvDecodeTables"/> holds it prebuilt, illegal entries as 0xFFFFFFFF).</summary>
    internal static uint[] Build()
    {
        // Every halfword takes the first row that matches it. Each row is scattered over the halfwords
        // it matches (its free bits enumerated), skipping those an earlier row took, rather than every
        // halfword scanning the rows: the same table with a tenth of the work (it runs at start-up,
        // under the page's interpreter too).
        var t = new uint[65536];
        var taken = new bool[65536];
        taken[0] = true;   // the defined-illegal all-zero halfword
        foreach (var r in Rows)
        {
            uint free = 0xFFFFu & ~(uint)r.Mask, sub = 0;
            do
            {
                uint c = r.Match | sub;
                if ((c & 3) != 3 && !taken[c])   // (the 32-bit instruction space has no expansion)
                {
                    taken[c] = true;
                    t[c] = r.Expand(c);
                }
                sub = (sub - free) & free;
            }
            while (sub != 0);
        }
        return t;
    }

    private static Row R(string name, string pattern, Func<uint, uint> expand)
    {
        ushort mask = 0, match = 0;
        int bit = 15;
        foreach (char ch in pattern)
        {
            if (ch == ' ')
                continue;
            if (ch == '0' || ch == '1')
            {
                mask |= (ushort)(1 << bit);
                if (ch == '1')
                    match |= (ushort)(1 << bit);
            }
            bit--;
        }
        if (bit != -1)
            throw new InvalidOperationException($"pattern for {name} has {15 - bit} bits");
        return new Row(name, mask, match, expand);
    }

    // Fields (Unpriv. spec 16.2, figure 16.1)
    private static uint Rd(uint c) => (c >> 7) & 31;
    private static uint Rs2(uint c) => (c >> 2) & 31;
    private static uint Rd3(uint c) => 8 + ((c >> 2) & 7);
    private static uint Rs1p(uint c) => 8 + ((c >> 7) & 7);
    private static uint Bit(uint c, int from, int to) => ((c >> from) & 1) << to;
    private static int Imm6(uint c) => (int)(((c >> 2) & 31) | Bit(c, 12, 5)) << 26 >> 26;
    private static uint Shamt(uint c) => ((c >> 2) & 31) | Bit(c, 12, 5);
    private static int UimmW(uint c) => (int)(Bit(c, 6, 2) | (((c >> 10) & 7) << 3) | Bit(c, 5, 6));
    private static int UimmD(uint c) => (int)((((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6));
    private static int UimmLwsp(uint c) => (int)((((c >> 4) & 7) << 2) | Bit(c, 12, 5) | (((c >> 2) & 3) << 6));
    private static int UimmLdsp(uint c) => (int)((((c >> 5) & 3) << 3) | Bit(c, 12, 5) | (((c >> 2) & 7) << 6));
    private static int UimmSwsp(uint c) => (int)((((c >> 9) & 15) << 2) | (((c >> 7) & 3) << 6));
    private static int UimmSdsp(uint c) => (int)((((c >> 10) & 7) << 3) | (((c >> 7) & 7) << 6));

    private static int JOffset(uint c)
    {
        uint o = Bit(c, 12, 11) | Bit(c, 11, 4) | (((c >> 9) & 3) << 8) | Bit(c, 8, 10) | Bit(c, 7, 6)
               | Bit(c, 6, 7) | (((c >> 3) & 7) << 1) | Bit(c, 2, 5);
        return (int)(o << 20) >> 20;
    }

    private static int BOffset(uint c)
    {
        uint o = Bit(c, 12, 8) | (((c >> 10) & 3) << 3) | (((c >> 5) & 3) << 6) | (((c >> 3) & 3) << 1) | Bit(c, 2, 5);
        return (int)(o << 23) >> 23;
    }

    private static uint AddiSpn(uint c)
    {
        uint imm = (((c >> 11) & 3) << 4) | (((c >> 7) & 15) << 6) | Bit(c, 6, 2) | Bit(c, 5, 3);
        return imm == 0 ? 0 : I(0b0010011, 0, Rd3(c), 2, (int)imm);
    }

    private static uint Addi16Sp(uint c)
    {
        uint imm = Bit(c, 12, 9) | Bit(c, 6, 4) | Bit(c, 5, 6) | (((c >> 3) & 3) << 7) | Bit(c, 2, 5);
        int simm = (int)(imm << 22) >> 22;
        return simm == 0 ? 0 : I(0b0010011, 0, 2, 2, simm);
    }

    private static uint Lui(uint c)
    {
        int imm = Imm6(c);
        return imm == 0 ? 0 : ((uint)imm << 12) | (Rd(c) << 7) | 0b0110111;
    }

    // 32-bit encoders (Unpriv. spec 2.3)
    private static uint I(uint opcode, uint f3, uint rd, uint rs1, int imm) =>
        ((uint)imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode;

    private static uint S(uint opcode, uint f3, uint rs1, uint rs2, int imm) =>
        (((uint)imm >> 5 & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((uint)imm & 31) << 7) | opcode;

    private static uint Rr(uint opcode, uint f3, uint f7, uint rd, uint rs1, uint rs2) =>
        (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode;

    private static uint B(uint f3, uint rs1, uint rs2, int imm)
    {
        uint u = (uint)imm;
        return ((u >> 12 & 1) << 31) | ((u >> 5 & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12)
             | ((u >> 1 & 15) << 8) | ((u >> 11 & 1) << 7) | 0b1100011;
    }

    private static uint J(uint rd, int imm)
    {
        uint u = (uint)imm;
        return ((u >> 20 & 1) << 31) | ((u >> 1 & 0x3FF) << 21) | ((u >> 11 & 1) << 20) | ((u >> 12 & 0xFF) << 12)
             | (rd << 7) | 0b1101111;
    }
}
