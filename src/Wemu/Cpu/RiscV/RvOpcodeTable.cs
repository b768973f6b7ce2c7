namespace Wemu.Cpu.RiscV;

/// <summary>
/// The RV64GC instruction set as a declarative table of bit patterns, written as in the
/// spec's opcode map (Unpriv. spec chapter 34 "RV32/64G Instruction Set Listings") with
/// bit 31 on the left. Interpreter and translator both decode through <see cref="Decode"/>,
/// so they cannot drift. Compressed instructions are expanded first by <see cref="RvcExpander"/>.
/// </summary>
public static class RvOpcodeTable
{
    /// <summary>One table row: mnemonic, format, and the mask/match pair compiled from the pattern.</summary>
    public readonly record struct Entry(RvOp Op, RvFormat Format, uint Mask, uint Match);

    public static readonly Entry[] Entries =
    [
        // RV64I
        E(RvOp.Lui,    RvFormat.U, "....... ..... ..... ... ..... 0110111"),
        E(RvOp.Auipc,  RvFormat.U, "....... ..... ..... ... ..... 0010111"),
        E(RvOp.Jal,    RvFormat.J, "....... ..... ..... ... ..... 1101111"),
        E(RvOp.Jalr,   RvFormat.I, "....... ..... ..... 000 ..... 1100111"),
        E(RvOp.Beq,    RvFormat.B, "....... ..... ..... 000 ..... 1100011"),
        E(RvOp.Bne,    RvFormat.B, "....... ..... ..... 001 ..... 1100011"),
        E(RvOp.Blt,    RvFormat.B, "....... ..... ..... 100 ..... 1100011"),
        E(RvOp.Bge,    RvFormat.B, "....... ..... ..... 101 ..... 1100011"),
        E(RvOp.Bltu,   RvFormat.B, "....... ..... ..... 110 ..... 1100011"),
        E(RvOp.Bgeu,   RvFormat.B, "....... ..... ..... 111 ..... 1100011"),
        E(RvOp.Lb,     RvFormat.I, "....... ..... ..... 000 ..... 0000011"),
        E(RvOp.Lh,     RvFormat.I, "....... ..... ..... 001 ..... 0000011"),
        E(RvOp.Lw,     RvFormat.I, "....... ..... ..... 010 ..... 0000011"),
        E(RvOp.Ld,     RvFormat.I, "....... ..... ..... 011 ..... 0000011"),
        E(RvOp.Lbu,    RvFormat.I, "....... ..... ..... 100 ..... 0000011"),
        E(RvOp.Lhu,    RvFormat.I, "....... ..... ..... 101 ..... 0000011"),
        E(RvOp.Lwu,    RvFormat.I, "....... ..... ..... 110 ..... 0000011"),
        E(RvOp.Sb,     RvFormat.S, "....... ..... ..... 000 ..... 0100011"),
        E(RvOp.Sh,     RvFormat.S, "....... ..... ..... 001 ..... 0100011"),
        E(RvOp.Sw,     RvFormat.S, "....... ..... ..... 010 ..... 0100011"),
        E(RvOp.Sd,     RvFormat.S, "....... ..... ..... 011 ..... 0100011"),
        E(RvOp.Addi,   RvFormat.I, "....... ..... ..... 000 ..... 0010011"),
        E(RvOp.Slti,   RvFormat.I, "....... ..... ..... 010 ..... 0010011"),
        E(RvOp.Sltiu,  RvFormat.I, "....... ..... ..... 011 ..... 0010011"),
        E(RvOp.Xori,   RvFormat.I, "....... ..... ..... 100 ..... 0010011"),
        E(RvOp.Ori,    RvFormat.I, "....... ..... ..... 110 ..... 0010011"),
        E(RvOp.Andi,   RvFormat.I, "....... ..... ..... 111 ..... 0010011"),
        E(RvOp.Slli,   RvFormat.I, "000000. ..... ..... 001 ..... 0010011"),
        E(RvOp.Srli,   RvFormat.I, "000000. ..... ..... 101 ..... 0010011"),
        E(RvOp.Srai,   RvFormat.I, "010000. ..... ..... 101 ..... 0010011"),
        E(RvOp.Add,    RvFormat.R, "0000000 ..... ..... 000 ..... 0110011"),
        E(RvOp.Sub,    RvFormat.R, "0100000 ..... ..... 000 ..... 0110011"),
        E(RvOp.Sll,    RvFormat.R, "0000000 ..... ..... 001 ..... 0110011"),
        E(RvOp.Slt,    RvFormat.R, "0000000 ..... ..... 010 ..... 0110011"),
        E(RvOp.Sltu,   RvFormat.R, "0000000 ..... ..... 011 ..... 0110011"),
        E(RvOp.Xor,    RvFormat.R, "0000000 ..... ..... 100 ..... 0110011"),
        E(RvOp.Srl,    RvFormat.R, "0000000 ..... ..... 101 ..... 0110011"),
        E(RvOp.Sra,    RvFormat.R, "0100000 ..... ..... 101 ..... 0110011"),
        E(RvOp.Or,     RvFormat.R, "0000000 ..... ..... 110 ..... 0110011"),
        E(RvOp.And,    RvFormat.R, "0000000 ..... ..... 111 ..... 0110011"),
        E(RvOp.Addiw,  RvFormat.I, "....... ..... ..... 000 ..... 0011011"),
        E(RvOp.Slliw,  RvFormat.I, "0000000 ..... ..... 001 ..... 0011011"),
        E(RvOp.Srliw,  RvFormat.I, "0000000 ..... ..... 101 ..... 0011011"),
        E(RvOp.Sraiw,  RvFormat.I, "0100000 ..... ..... 101 ..... 0011011"),
        E(RvOp.Addw,   RvFormat.R, "0000000 ..... ..... 000 ..... 0111011"),
        E(RvOp.Subw,   RvFormat.R, "0100000 ..... ..... 000 ..... 0111011"),
        E(RvOp.Sllw,   RvFormat.R, "0000000 ..... ..... 001 ..... 0111011"),
        E(RvOp.Srlw,   RvFormat.R, "0000000 ..... ..... 101 ..... 0111011"),
        E(RvOp.Sraw,   RvFormat.R, "0100000 ..... ..... 101 ..... 0111011"),
        E(RvOp.Fence,  RvFormat.None, "....... ..... ..... 000 ..... 0001111"),
        E(RvOp.FenceI, RvFormat.None, "....... ..... ..... 001 ..... 0001111"),
        E(RvOp.Ecall,  RvFormat.None, "0000000 00000 00000 000 00000 1110011"),
        E(RvOp.Ebreak, RvFormat.None, "0000000 00001 00000 000 00000 1110011"),

        // M
        E(RvOp.Mul,    RvFormat.R, "0000001 ..... ..... 000 ..... 0110011"),
        E(RvOp.Mulh,   RvFormat.R, "0000001 ..... ..... 001 ..... 0110011"),
        E(RvOp.Mulhsu, RvFormat.R, "0000001 ..... ..... 010 ..... 0110011"),
        E(RvOp.Mulhu,  RvFormat.R, "0000001 ..... ..... 011 ..... 0110011"),
        E(RvOp.Div,    RvFormat.R, "0000001 ..... ..... 100 ..... 0110011"),
        E(RvOp.Divu,   RvFormat.R, "0000001 ..... ..... 101 ..... 0110011"),
        E(RvOp.Rem,    RvFormat.R, "0000001 ..... ..... 110 ..... 0110011"),
        E(RvOp.Remu,   RvFormat.R, "0000001 ..... ..... 111 ..... 0110011"),
        E(RvOp.Mulw,   RvFormat.R, "0000001 ..... ..... 000 ..... 0111011"),
        E(RvOp.Divw,   RvFormat.R, "0000001 ..... ..... 100 ..... 0111011"),
        E(RvOp.Divuw,  RvFormat.R, "0000001 ..... ..... 101 ..... 0111011"),
        E(RvOp.Remw,   RvFormat.R, "0000001 ..... ..... 110 ..... 0111011"),
        E(RvOp.Remuw,  RvFormat.R, "0000001 ..... ..... 111 ..... 0111011"),

        // A (aq/rl bits 26:25 are free)
        E(RvOp.LrW,      RvFormat.R, "00010.. 00000 ..... 010 ..... 0101111"),
        E(RvOp.ScW,      RvFormat.R, "00011.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmoswapW, RvFormat.R, "00001.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmoaddW,  RvFormat.R, "00000.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmoxorW,  RvFormat.R, "00100.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmoandW,  RvFormat.R, "01100.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmoorW,   RvFormat.R, "01000.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmominW,  RvFormat.R, "10000.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmomaxW,  RvFormat.R, "10100.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmominuW, RvFormat.R, "11000.. ..... ..... 010 ..... 0101111"),
        E(RvOp.AmomaxuW, RvFormat.R, "11100.. ..... ..... 010 ..... 0101111"),
        E(RvOp.LrD,      RvFormat.R, "00010.. 00000 ..... 011 ..... 0101111"),
        E(RvOp.ScD,      RvFormat.R, "00011.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmoswapD, RvFormat.R, "00001.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmoaddD,  RvFormat.R, "00000.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmoxorD,  RvFormat.R, "00100.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmoandD,  RvFormat.R, "01100.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmoorD,   RvFormat.R, "01000.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmominD,  RvFormat.R, "10000.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmomaxD,  RvFormat.R, "10100.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmominuD, RvFormat.R, "11000.. ..... ..... 011 ..... 0101111"),
        E(RvOp.AmomaxuD, RvFormat.R, "11100.. ..... ..... 011 ..... 0101111"),

        // Zicsr
        E(RvOp.Csrrw,  RvFormat.Csr, "....... ..... ..... 001 ..... 1110011"),
        E(RvOp.Csrrs,  RvFormat.Csr, "....... ..... ..... 010 ..... 1110011"),
        E(RvOp.Csrrc,  RvFormat.Csr, "....... ..... ..... 011 ..... 1110011"),
        E(RvOp.Csrrwi, RvFormat.Csr, "....... ..... ..... 101 ..... 1110011"),
        E(RvOp.Csrrsi, RvFormat.Csr, "....... ..... ..... 110 ..... 1110011"),
        E(RvOp.Csrrci, RvFormat.Csr, "....... ..... ..... 111 ..... 1110011"),

        // Privileged (Priv. spec chapter 9 listing)
        E(RvOp.Mret,      RvFormat.None, "0011000 00010 00000 000 00000 1110011"),
        E(RvOp.Sret,      RvFormat.None, "0001000 00010 00000 000 00000 1110011"),
        E(RvOp.Wfi,       RvFormat.None, "0001000 00101 00000 000 00000 1110011"),
        E(RvOp.SfenceVma, RvFormat.R,    "0001001 ..... ..... 000 00000 1110011"),

        // F
        E(RvOp.Flw,     RvFormat.I,  "....... ..... ..... 010 ..... 0000111"),
        E(RvOp.Fsw,     RvFormat.S,  "....... ..... ..... 010 ..... 0100111"),
        E(RvOp.FmaddS,  RvFormat.R4, ".....00 ..... ..... ... ..... 1000011"),
        E(RvOp.FmsubS,  RvFormat.R4, ".....00 ..... ..... ... ..... 1000111"),
        E(RvOp.FnmsubS, RvFormat.R4, ".....00 ..... ..... ... ..... 1001011"),
        E(RvOp.FnmaddS, RvFormat.R4, ".....00 ..... ..... ... ..... 1001111"),
        E(RvOp.FaddS,   RvFormat.R,  "0000000 ..... ..... ... ..... 1010011"),
        E(RvOp.FsubS,   RvFormat.R,  "0000100 ..... ..... ... ..... 1010011"),
        E(RvOp.FmulS,   RvFormat.R,  "0001000 ..... ..... ... ..... 1010011"),
        E(RvOp.FdivS,   RvFormat.R,  "0001100 ..... ..... ... ..... 1010011"),
        E(RvOp.FsqrtS,  RvFormat.R,  "0101100 00000 ..... ... ..... 1010011"),
        E(RvOp.FsgnjS,  RvFormat.R,  "0010000 ..... ..... 000 ..... 1010011"),
        E(RvOp.FsgnjnS, RvFormat.R,  "0010000 ..... ..... 001 ..... 1010011"),
        E(RvOp.FsgnjxS, RvFormat.R,  "0010000 ..... ..... 010 ..... 1010011"),
        E(RvOp.FminS,   RvFormat.R,  "0010100 ..... ..... 000 ..... 1010011"),
        E(RvOp.FmaxS,   RvFormat.R,  "0010100 ..... ..... 001 ..... 1010011"),
        E(RvOp.FcvtWS,  RvFormat.R,  "1100000 00000 ..... ... ..... 1010011"),
        E(RvOp.FcvtWuS, RvFormat.R,  "1100000 00001 ..... ... ..... 1010011"),
        E(RvOp.FcvtLS,  RvFormat.R,  "1100000 00010 ..... ... ..... 1010011"),
        E(RvOp.FcvtLuS, RvFormat.R,  "1100000 00011 ..... ... ..... 1010011"),
        E(RvOp.FmvXW,   RvFormat.R,  "1110000 00000 ..... 000 ..... 1010011"),
        E(RvOp.FclassS, RvFormat.R,  "1110000 00000 ..... 001 ..... 1010011"),
        E(RvOp.FeqS,    RvFormat.R,  "1010000 ..... ..... 010 ..... 1010011"),
        E(RvOp.FltS,    RvFormat.R,  "1010000 ..... ..... 001 ..... 1010011"),
        E(RvOp.FleS,    RvFormat.R,  "1010000 ..... ..... 000 ..... 1010011"),
        E(RvOp.FcvtSW,  RvFormat.R,  "1101000 00000 ..... ... ..... 1010011"),
        E(RvOp.FcvtSWu, RvFormat.R,  "1101000 00001 ..... ... ..... 1010011"),
        E(RvOp.FcvtSL,  RvFormat.R,  "1101000 00010 ..... ... ..... 1010011"),
        E(RvOp.FcvtSLu, RvFormat.R,  "1101000 00011 ..... ... ..... 1010011"),
        E(RvOp.FmvWX,   RvFormat.R,  "1111000 00000 ..... 000 ..... 1010011"),

        // D
        E(RvOp.Fld,     RvFormat.I,  "....... ..... ..... 011 ..... 0000111"),
        E(RvOp.Fsd,     RvFormat.S,  "....... ..... ..... 011 ..... 0100111"),
        E(RvOp.FmaddD,  RvFormat.R4, ".....01 ..... ..... ... ..... 1000011"),
        E(RvOp.FmsubD,  RvFormat.R4, ".....01 ..... ..... ... ..... 1000111"),
        E(RvOp.FnmsubD, RvFormat.R4, ".....01 ..... ..... ... ..... 1001011"),
        E(RvOp.FnmaddD, RvFormat.R4, ".....01 ..... ..... ... ..... 1001111"),
        E(RvOp.FaddD,   RvFormat.R,  "0000001 ..... ..... ... ..... 1010011"),
        E(RvOp.FsubD,   RvFormat.R,  "0000101 ..... ..... ... ..... 1010011"),
        E(RvOp.FmulD,   RvFormat.R,  "0001001 ..... ..... ... ..... 1010011"),
        E(RvOp.FdivD,   RvFormat.R,  "0001101 ..... ..... ... ..... 1010011"),
        E(RvOp.FsqrtD,  RvFormat.R,  "0101101 00000 ..... ... ..... 1010011"),
        E(RvOp.FsgnjD,  RvFormat.R,  "0010001 ..... ..... 000 ..... 1010011"),
        E(RvOp.FsgnjnD, RvFormat.R,  "0010001 ..... ..... 001 ..... 1010011"),
        E(RvOp.FsgnjxD, RvFormat.R,  "0010001 ..... ..... 010 ..... 1010011"),
        E(RvOp.FminD,   RvFormat.R,  "0010101 ..... ..... 000 ..... 1010011"),
        E(RvOp.FmaxD,   RvFormat.R,  "0010101 ..... ..... 001 ..... 1010011"),
        E(RvOp.FcvtSD,  RvFormat.R,  "0100000 00001 ..... ... ..... 1010011"),
        E(RvOp.FcvtDS,  RvFormat.R,  "0100001 00000 ..... ... ..... 1010011"),
        E(RvOp.FcvtWD,  RvFormat.R,  "1100001 00000 ..... ... ..... 1010011"),
        E(RvOp.FcvtWuD, RvFormat.R,  "1100001 00001 ..... ... ..... 1010011"),
        E(RvOp.FcvtLD,  RvFormat.R,  "1100001 00010 ..... ... ..... 1010011"),
        E(RvOp.FcvtLuD, RvFormat.R,  "1100001 00011 ..... ... ..... 1010011"),
        E(RvOp.FmvXD,   RvFormat.R,  "1110001 00000 ..... 000 ..... 1010011"),
        E(RvOp.FclassD, RvFormat.R,  "1110001 00000 ..... 001 ..... 1010011"),
        E(RvOp.FeqD,    RvFormat.R,  "1010001 ..... ..... 010 ..... 1010011"),
        E(RvOp.FltD,    RvFormat.R,  "1010001 ..... ..... 001 ..... 1010011"),
        E(RvOp.FleD,    RvFormat.R,  "1010001 ..... ..... 000 ..... 1010011"),
        E(RvOp.FcvtDW,  RvFormat.R,  "1101001 00000 ..... ... ..... 1010011"),
        E(RvOp.FcvtDWu, RvFormat.R,  "1101001 00001 ..... ... ..... 1010011"),
        E(RvOp.FcvtDL,  RvFormat.R,  "1101001 00010 ..... ... ..... 1010011"),
        E(RvOp.FcvtDLu, RvFormat.R,  "1101001 00011 ..... ... ..... 1010011"),
        E(RvOp.FmvDX,   RvFormat.R,  "1111001 00000 ..... 000 ..... 1010011"),
    ];

    /// <summary>Bits that form the primary key: opcode[6:2], funct3, funct7.</summary>
    public const uint KeyMask = 0xFE00707C;

    private static readonly RvFormat[] Formats = BuildFormats();

    /// <summary>The candidates of each key the primary table marks Secondary, in table order: filled the first time
    /// <see cref="DecodeSecondary"/> meets the key (a few keys: the SYSTEM and floating-point majors).</summary>
    private static readonly Entry[]?[] SecondaryCandidates = new Entry[]?[1 << 15];

    /// <summary>
    /// The primary look-up, indexed by <see cref="Key"/>: an op, Illegal, or Secondary (a key shared by entries that
    /// differ outside it, or an entry with more fixed bits than the key). What <see cref="RvDecodeTables"/> holds,
    /// prebuilt; made here from <see cref="Entries"/> by <see cref="RvDecodeTables.Build"/>.
    /// </summary>
    internal static RvOp[] BuildPrimary()
    {
        // The candidates of each key are the entries whose key bits match it, in table order. Each
        // entry is scattered over the keys it matches (its free key bits enumerated) rather than every
        // key scanning every entry.
        var primary = new RvOp[1 << 15];
        var count = new byte[primary.Length];
        var first = new short[primary.Length];
        var entries = Entries;
        for (int n = 0; n < entries.Length; n++)
        {
            var e = entries[n];
            if ((e.Match & 3) != 3)
                continue;
            uint fixedBits = RvKey.Of(e.Mask & KeyMask), value = RvKey.Of(e.Match & e.Mask & KeyMask);
            uint free = (uint)(primary.Length - 1) & ~fixedBits;
            uint sub = 0;
            do
            {
                uint key = value | sub;
                if (count[key]++ == 0)
                    first[key] = (short)n;
                sub = (sub - free) & free;   // the next subset of the free bits
            }
            while (sub != 0);
        }
        for (int key = 0; key < primary.Length; key++)
        {
            primary[key] = count[key] == 0 ? RvOp.Illegal
                : count[key] == 1 && (entries[first[key]].Mask & ~KeyMask & ~3u) == 0 ? entries[first[key]].Op
                : RvOp.Secondary;
        }
        return primary;
    }

    /// <summary>The primary key of a 32-bit instruction (15 bits).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static uint Key(uint inst) => RvKey.Of(inst);

    private static uint KeyToBits(uint key) =>
        0x3u | ((key & 0x1F) << 2) | (((key >> 5) & 7) << 12) | (((key >> 8) & 0x7F) << 25);

    /// <summary>Decodes a 32-bit (already expanded) instruction to its mnemonic.</summary>
    public static unsafe RvOp Decode(uint inst)
    {
        if ((inst & 3) != 3)
            return RvOp.Illegal;
        var op = (RvOp)RvDecodeTables.Primary[Key(inst)];
        return op == RvOp.Secondary ? DecodeSecondary(inst) : op;
    }

    /// <summary>Full mask/match scan for keys shared by instructions that differ outside the key.</summary>
    public static RvOp DecodeSecondary(uint inst)
    {
        uint key = Key(inst);
        var candidates = SecondaryCandidates[key] ??= CandidatesOf(key);
        foreach (var e in candidates)
            if ((inst & e.Mask) == e.Match)
                return e.Op;
        return RvOp.Illegal;
    }

    /// <summary>The entries whose key bits match <paramref name="key"/>, in table order (racing threads make the same array).</summary>
    private static Entry[] CandidatesOf(uint key)
    {
        uint bits = KeyToBits(key);
        var list = new List<Entry>();
        foreach (var e in Entries)
            if ((e.Match & 3) == 3 && (bits & e.Mask & KeyMask) == (e.Match & e.Mask & KeyMask))
                list.Add(e);
        return [.. list];
    }

    public static RvFormat FormatOf(RvOp op) => Formats[(int)op];

    private static RvFormat[] BuildFormats()
    {
        var f = new RvFormat[(int)RvOp.Count];
        foreach (var e in Entries)
            f[(int)e.Op] = e.Format;
        return f;
    }

    private static Entry E(RvOp op, RvFormat format, string pattern)
    {
        uint mask = 0, match = 0;
        int bit = 31;
        foreach (char c in pattern)
        {
            if (c == ' ')
                continue;
            if (c == '0' || c == '1')
            {
                mask |= 1u << bit;
                if (c == '1')
                    match |= 1u << bit;
            }
            bit--;
        }
        if (bit != -1)
            throw new InvalidOperationException($"pattern for {op} has {31 - bit} bits");
        return new Entry(op, format, mask, match);
    }
}

/// <summary>
/// The primary decode key (opcode[6:2], funct3, funct7 bits) on its own: a class without static
/// state, so a hot loop calling it carries no class-initialization check.
/// </summary>
internal static class RvKey
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static uint Of(uint inst) => ((inst >> 2) & 0x1F) | ((inst >> 7) & 0xE0) | ((inst >> 17) & 0x7F00);
}
