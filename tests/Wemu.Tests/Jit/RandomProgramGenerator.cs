using System.Globalization;
using System.Text;
using Wemu.Cpu.RiscV;

namespace Wemu.Tests.Jit;

/// <summary>
/// Seeded random RV64GC programs for lockstep tests, as assembly text. A program is position
/// independent (it runs wherever its page-aligned code is loaded) and always terminates: loops
/// count down a reserved register, calls go to leaf functions placed after the main body, and
/// the end is a WFI (in U-mode, where WFI is illegal, a write to the <see cref="ProbeDevice"/>'s
/// halt register). What it covers: RV64IM with edge operands (0, -1, INT_MIN, INT_MAX, shifts
/// by 0/31/32/63, division by zero and MIN/-1, the *W forms), loads and stores of every size to
/// a data area (aligned, misaligned and page-crossing, through four base registers), forward
/// branches, counted loops (nested, with multi-block bodies), calls and returns through
/// jal/jalr (including jalr with rd == rs1), LR/SC and AMOs, F/D arithmetic, conversions and
/// moves, CSR reads and writes (mscratch, instret, cycle, fflags, frm), device accesses (one
/// reads the instruction count: exact counts before slow paths), fence and fence.i, and
/// precise traps (ecall, access and page faults, misaligned LR) handled by a handler that skips
/// the instruction. Programs run in M-mode on physical addresses, or in S-mode or U-mode under
/// Sv39 (see <see cref="RandomProgramBatch"/>), where the data area is four scattered 4 KiB pages
/// at <see cref="VirtualDataBase"/>, one of them possibly read-only (so stores fault at random);
/// U-mode programs trap to an S-mode handler and back.
/// With RVC enabled the assembler compresses whatever it can, and the generator favours shapes
/// that compress (rd == rs1, a0..a5, small immediates, sp-relative accesses).
/// </summary>
internal sealed class RandomProgramGenerator
{
    /// <summary>The data area: four pages, initialised by <see cref="FillData"/> (physical address).</summary>
    public const ulong DataBase = 0x8010_0000;
    public const int DataSize = 0x4000;

    /// <summary>Where S-mode and U-mode programs see the data area (Sv39, 4 KiB pages).</summary>
    public const ulong VirtualDataBase = 0x4000_0000;

    /// <summary>A U-mode program ends by writing this register of the <see cref="ProbeDevice"/> (WFI is illegal in U-mode).</summary>
    public const int HaltOffset = 24;

    /// <summary>Base registers (fixed for the whole program): s0, s1 and sp, covering pages 0-2; page 3 through tp.</summary>
    private static readonly (string Name, long Offset)[] Bases = [("s0", 0x800), ("s1", 0x1800), ("sp", 0x2800)];

    /// <summary>Registers random code may write. Reserved: ra and gp (links), sp/s0/s1 (data bases), tp (address temp), s2/s3 (loop counters).</summary>
    private static readonly string[] Pool =
        ["t0", "t1", "t2", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"];

    /// <summary>The registers compressed instructions can name (x8-x15) that are in the pool.</summary>
    private static readonly string[] CompressiblePool = ["a0", "a1", "a2", "a3", "a4", "a5"];

    private static readonly long[] EdgeValues =
    [
        0, 1, -1, 2, -2, long.MaxValue, long.MinValue, int.MaxValue, int.MinValue, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 31, 32, 63, 64, 0x7FF, -0x800, 0x5555_5555_5555_5555, unchecked((long)0xAAAA_AAAA_AAAA_AAAAUL),
        0xFF, 0xFFFF, 0x8000, 0x80,
    ];

    private static readonly ulong[] EdgeDoubles =
    [
        0x0000_0000_0000_0000, 0x8000_0000_0000_0000, 0x3FF0_0000_0000_0000, 0xBFF8_0000_0000_0000,
        0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000, 0x7FF4_0000_0000_0001,
        0x0000_0000_0000_0001, 0x7FEF_FFFF_FFFF_FFFF, 0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0000,
        0x41DF_FFFF_FFC0_0000, 0x4059_0000_0000_0000,
        // NaN-boxed singles: 1.0f, -0.0f, +inf, qNaN, sNaN, 3.5f, smallest denormal
        0xFFFF_FFFF_3F80_0000, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_7F80_0000, 0xFFFF_FFFF_7FC0_0000,
        0xFFFF_FFFF_7FA0_0000, 0xFFFF_FFFF_4060_0000, 0xFFFF_FFFF_0000_0001,
        // a single that is not NaN-boxed (reads as the canonical NaN)
        0x0000_0000_3F80_0000,
    ];

    private static readonly string[] RegReg =
    [
        "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
        "addw", "subw", "sllw", "srlw", "sraw",
        "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu", "mulw", "divw", "divuw", "remw", "remuw",
    ];

    private static readonly string[] RegImm = ["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"];

    private static readonly string[] Shifts64 = ["slli", "srli", "srai"];

    private static readonly string[] Shifts32 = ["slliw", "srliw", "sraiw"];

    private static readonly string[] Branches = ["beq", "bne", "blt", "bge", "bltu", "bgeu"];

    private static readonly string[] Amos =
        ["amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax", "amominu", "amomaxu"];

    private static readonly string[] RoundingModes = ["", ", rne", ", rtz", ", rdn", ", rup", ", rmm", ", dyn"];

    private readonly Random _rng;
    private readonly string _prefix;
    private readonly int _mode;
    private readonly long _data;
    /// <summary>"m" or "s": the trap handler's CSR prefix.</summary>
    private readonly string _x;
    private readonly StringBuilder _main = new();
    private readonly StringBuilder _functions = new();
    private readonly List<(string Label, bool ViaGp)> _functionLabels = [];
    private int _labels;

    private RandomProgramGenerator(int seed, string prefix, int mode)
    {
        _rng = new Random(seed);
        _prefix = prefix;
        _mode = mode;
        _data = (long)(mode == RiscVHart.PrivMachine ? DataBase : VirtualDataBase);
        _x = mode == RiscVHart.PrivMachine ? "m" : "s";
    }

    /// <summary>
    /// The program for <paramref name="seed"/>, to run in privilege <paramref name="mode"/>; labels
    /// start with <paramref name="prefix"/> so many programs fit in one file, and the trap handler
    /// is <c>{prefix}_trap</c>. An S-mode or U-mode program expects to start with the data area
    /// mapped at <see cref="VirtualDataBase"/>, counters enabled and its exceptions delegated to S;
    /// a U-mode one also with stvec, FS and SUM set up (it cannot do that itself).
    /// </summary>
    public static string Generate(int seed, string prefix, int mode, int chunks = 90) =>
        new RandomProgramGenerator(seed, prefix, mode).Build(chunks);

    /// <summary>The initial contents of the data area for <paramref name="seed"/>.</summary>
    public static byte[] FillData(int seed)
    {
        var data = new byte[DataSize];
        new Random(~seed).NextBytes(data);
        return data;
    }

    private string Build(int chunks)
    {
        var s = _main;
        // Prologue: trap vector, FS on (Dirty), data bases, every pool register and FP register an edge value.
        if (_mode != RiscVHart.PrivUser)
        {
            s.AppendLine($"    la tp, {_prefix}_trap");
            s.AppendLine($"    csrw {_x}tvec, tp");
            s.AppendLine("    li tp, 0x6000");
            s.AppendLine($"    csrs {_x}status, tp");
        }
        foreach (var (name, offset) in Bases)
            s.AppendLine($"    li {name}, {Hex(_data + offset)}");
        foreach (string r in Pool)
            s.AppendLine($"    li {r}, {Hex(Edge())}");
        for (int f = 0; f < 32; f++)
        {
            s.AppendLine($"    li tp, {Hex((long)EdgeDoubles[_rng.Next(EdgeDoubles.Length)])}");
            s.AppendLine($"    fmv.d.x f{f}, tp");
        }
        s.AppendLine($"    csrwi frm, {_rng.Next(5)}");

        int functions = _rng.Next(2, 6);
        for (int i = 0; i < functions; i++)
        {
            bool viaGp = _rng.Next(3) == 0;
            string label = $"{_prefix}_f{i}";
            _functionLabels.Add((label, viaGp));
        }

        for (int i = 0; i < chunks; i++)
            Chunk(s, depth: 0, inFunction: false);

        AppendEnd(s, _prefix, _mode);

        // Leaf functions: straight-line code with forward branches, no loops, no calls.
        foreach (var (label, viaGp) in _functionLabels)
        {
            var f = _functions;
            if (_rng.Next(2) == 0)
                f.AppendLine("    .balign 4");
            f.AppendLine($"{label}:");
            int n = _rng.Next(1, 8);
            for (int i = 0; i < n; i++)
                Chunk(f, depth: 2, inFunction: true);
            f.AppendLine(viaGp ? "    jalr x0, 0(gp)" : "    ret");
        }

        AppendTrapHandler(_functions, _prefix, _x);

        return s.ToString() + _functions.ToString();
    }

    /// <summary>
    /// The trap handler <c>{prefix}_trap</c>: skips the trapping instruction (2 or 4 bytes). It may
    /// clobber tp (always loaded right before use) and xscratch (deterministic either way); t0 is
    /// restored. For U-mode programs it runs in S-mode (<paramref name="x"/> = "s"; at an S-only alias
    /// of the code, reading the U code through SUM).
    /// </summary>
    /// <summary>
    /// The label <c>{prefix}_end</c> and how a program in <paramref name="mode"/> stops there: U-mode writes the probe
    /// device's halt register, S and M wait (WFI with nothing pending), again and again.
    /// </summary>
    public static void AppendEnd(StringBuilder s, string prefix, int mode)
    {
        s.AppendLine($"{prefix}_end:");
        if (mode == RiscVHart.PrivUser)
        {
            s.AppendLine($"    li tp, {Hex((long)ProbeDevice.Base)}");
            s.AppendLine($"    sd zero, {HaltOffset}(tp)");
        }
        else
        {
            s.AppendLine("    wfi");
        }
        s.AppendLine($"    j {prefix}_end");
    }

    public static void AppendTrapHandler(StringBuilder t, string prefix, string x)
    {
        t.AppendLine("    .balign 4");
        t.AppendLine($"{prefix}_trap:");
        t.AppendLine($"    csrw {x}scratch, t0");
        t.AppendLine($"    csrr t0, {x}epc");
        t.AppendLine("    lhu tp, 0(t0)");
        t.AppendLine("    andi tp, tp, 3");
        t.AppendLine("    addi tp, tp, -3");
        t.AppendLine("    seqz tp, tp");
        t.AppendLine("    slli tp, tp, 1");
        t.AppendLine("    addi tp, tp, 2");
        t.AppendLine("    add t0, t0, tp");
        t.AppendLine($"    csrw {x}epc, t0");
        t.AppendLine($"    csrr t0, {x}scratch");
        t.AppendLine($"    {x}ret");
    }

    private string NewLabel() => $"{_prefix}_{_labels++}";

    private static string Hex(long v) => v < 0 ? "-0x" + ((ulong)-(v + 1) + 1).ToString("x", CultureInfo.InvariantCulture) : "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    private long Edge() => _rng.Next(4) switch
    {
        0 => _rng.NextInt64(),
        1 => _rng.Next(-100, 100),
        _ => EdgeValues[_rng.Next(EdgeValues.Length)],
    };

    private string Reg() => _rng.Next(2) == 0 ? CompressiblePool[_rng.Next(CompressiblePool.Length)] : Pool[_rng.Next(Pool.Length)];

    /// <summary>A source register: sometimes x0, sometimes a base or link register (read only).</summary>
    private string Src() => _rng.Next(12) switch
    {
        0 => "zero",
        1 => new[] { "s0", "s1", "sp", "s2", "ra" }[_rng.Next(5)],
        _ => Reg(),
    };

    /// <summary>A destination: mostly the pool, now and then x0 (the result must vanish).</summary>
    private string Dst() => _rng.Next(20) == 0 ? "zero" : Reg();

    private long Imm12() => _rng.Next(5) switch
    {
        0 => new long[] { 0, 1, -1, 2047, -2048, 0x7FF, -0x800 }[_rng.Next(7)],
        1 or 2 => _rng.Next(-32, 32),
        _ => _rng.Next(-2048, 2048),
    };

    private int Shamt(int bits) => _rng.Next(3) == 0 ? _rng.Next(bits) : new[] { 0, 1, 31, 32, 63 }.Where(v => v < bits).ElementAt(_rng.Next(bits == 64 ? 5 : 3));

    private void Chunk(StringBuilder s, int depth, bool inFunction)
    {
        int k = _rng.Next(100);
        switch (k)
        {
            case < 16: Alu(s); break;
            case < 28: Compressible(s); break;
            case < 34: EdgeAlu(s); break;
            case < 52: Memory(s); break;
            case < 58: FloatOp(s); break;
            case < 68: ForwardBranch(s, depth, inFunction); break;
            case < 76 when depth < 2: Loop(s, depth); break;
            case < 84 when !inFunction: Call(s); break;
            case < 89: Atomic(s); break;
            case < 94: CsrOp(s); break;
            case < 97 when !inFunction: Trap(s); break;
            case < 99: Device(s); break;
            default:
                s.AppendLine(_rng.Next(6) switch
                {
                    0 => "    fence",
                    1 => "    fence.i",
                    2 => "    nop",
                    3 => $"    lui {Dst()}, {Hex(_rng.Next(0x100000))}",
                    4 => $"    auipc {Dst()}, {Hex(_rng.Next(0x100000))}",
                    _ => $"    li {Dst()}, {Hex(Edge())}",
                });
                break;
        }
    }

    private void Alu(StringBuilder s)
    {
        string rd = Dst();
        // rd == rs1 (and small immediates) is what compresses.
        string rs1 = _rng.Next(5) < 2 && rd != "zero" ? rd : Src();
        switch (_rng.Next(10))
        {
            case < 5:
                s.AppendLine($"    {RegReg[_rng.Next(RegReg.Length)]} {rd}, {rs1}, {Src()}");
                break;
            case < 8:
                s.AppendLine($"    {RegImm[_rng.Next(RegImm.Length)]} {rd}, {rs1}, {Imm12()}");
                break;
            case 8:
                s.AppendLine($"    {Shifts64[_rng.Next(3)]} {rd}, {rs1}, {Shamt(64)}");
                break;
            default:
                s.AppendLine($"    {Shifts32[_rng.Next(3)]} {rd}, {rs1}, {Shamt(32)}");
                break;
        }
    }

    /// <summary>Shapes that have an RVC form (Unpriv. chapter 16), so the RVC build really runs compressed code.</summary>
    private void Compressible(StringBuilder s)
    {
        string a = CompressiblePool[_rng.Next(CompressiblePool.Length)];
        string b = CompressiblePool[_rng.Next(CompressiblePool.Length)];
        string r = Reg();
        int small = _rng.Next(1, 32) * (_rng.Next(2) == 0 ? 1 : -1);
        s.AppendLine(_rng.Next(19) switch
        {
            0 => $"    add {r}, {r}, {Reg()}",
            1 => $"    mv {r}, {Reg()}",
            2 => $"    {new[] { "sub", "xor", "or", "and", "addw", "subw" }[_rng.Next(6)]} {a}, {a}, {b}",
            3 => $"    addi {r}, {r}, {small}",
            4 => $"    addiw {r}, {r}, {small}",
            5 => $"    li {r}, {small}",
            6 => $"    lui {r}, {(_rng.Next(2) == 0 ? _rng.Next(1, 32) : 0xFFFE0 + _rng.Next(32))}",
            7 => $"    slli {r}, {r}, {_rng.Next(1, 64)}",
            8 => $"    {(_rng.Next(2) == 0 ? "srli" : "srai")} {a}, {a}, {_rng.Next(1, 64)}",
            9 => $"    andi {a}, {a}, {small}",
            10 => $"    addi {a}, sp, {_rng.Next(1, 256) * 4}",
            11 => $"    ld {a}, {_rng.Next(32) * 8}({(_rng.Next(2) == 0 ? "s0" : "s1")})",
            12 => $"    sd {b}, {_rng.Next(32) * 8}({(_rng.Next(2) == 0 ? "s0" : "s1")})",
            13 => $"    lw {a}, {_rng.Next(32) * 4}({(_rng.Next(2) == 0 ? "s0" : "s1")})",
            14 => $"    sw {b}, {_rng.Next(32) * 4}({(_rng.Next(2) == 0 ? "s0" : "s1")})",
            15 => $"    {(_rng.Next(2) == 0 ? "ld" : "lw")} {r}, {_rng.Next(64) * 8}(sp)",
            16 => $"    {(_rng.Next(2) == 0 ? "sd" : "sw")} {Reg()}, {_rng.Next(64) * 8}(sp)",
            17 => $"    {(_rng.Next(2) == 0 ? "fld" : "fsd")} f{8 + _rng.Next(8)}, {_rng.Next(32) * 8}({(_rng.Next(2) == 0 ? "s0" : "s1")})",
            _ => $"    {(_rng.Next(2) == 0 ? "fld" : "fsd")} f{_rng.Next(32)}, {_rng.Next(64) * 8}(sp)",
        });
    }

    private static readonly string[] DivRem = ["div", "divu", "rem", "remu", "divw", "divuw", "remw", "remuw"];

    private static readonly string[] ShiftsByRegister = ["sll", "srl", "sra", "sllw", "srlw", "sraw"];

    /// <summary>The operand pairs division must get right (Unpriv. 7.2): by zero, and the overflowing MIN / -1, 64 and 32 bits.</summary>
    private static readonly (long A, long B)[] DivisionEdges =
    [
        (long.MinValue, -1), (int.MinValue, -1), (unchecked((long)0xFFFF_FFFF_8000_0000UL), -1), (0x8000_0000, -1),
        (12345, 0), (-7, 0), (0, 0), (long.MinValue, 0), (-1, -1), (long.MinValue, 1), (-7, 2), (7, -2), (int.MinValue, 0x1_0000_0000),
    ];

    /// <summary>
    /// An operation on freshly loaded edge values, so division by zero, MIN/-1 and big shifts
    /// happen for sure; half the time after a block boundary, so the operands are registers at
    /// run time rather than constants the JIT folds.
    /// </summary>
    private void EdgeAlu(StringBuilder s)
    {
        string a = Reg(), b = Reg();
        while (b == a)
            b = Reg();
        string op;
        long va, vb;
        switch (_rng.Next(3))
        {
            case 0:
                (va, vb) = DivisionEdges[_rng.Next(DivisionEdges.Length)];
                op = DivRem[_rng.Next(DivRem.Length)];
                break;
            case 1:
                va = EdgeValues[_rng.Next(EdgeValues.Length)];
                vb = new long[] { 0, 1, 31, 32, 33, 63, 64, -1, -32 }[_rng.Next(9)];
                op = ShiftsByRegister[_rng.Next(ShiftsByRegister.Length)];
                break;
            default:
                va = EdgeValues[_rng.Next(EdgeValues.Length)];
                vb = EdgeValues[_rng.Next(EdgeValues.Length)];
                op = RegReg[_rng.Next(RegReg.Length)];
                break;
        }
        s.AppendLine($"    li {a}, {Hex(va)}");
        s.AppendLine($"    li {b}, {Hex(vb)}");
        if (_rng.Next(2) == 0)
        {
            string next = NewLabel();
            s.AppendLine($"    j {next}");
            s.AppendLine($"{next}:");
        }
        s.AppendLine($"    {op} {Dst()}, {a}, {b}");
    }

    /// <summary>An address in the data area for an access of <paramref name="size"/> bytes: aligned, misaligned or page-crossing.</summary>
    private long DataAddress(int size)
    {
        long a;
        switch (_rng.Next(8))
        {
            case < 4:
                a = _rng.Next(0, DataSize - 8) & ~(size - 1);
                break;
            case < 6:
                a = _rng.Next(0, DataSize - 8);
                break;
            default:
                int page = _rng.Next(1, DataSize / 0x1000);
                a = page * 0x1000 - (size > 1 ? _rng.Next(1, size) : _rng.Next(0, 2));
                break;
        }
        return _data + a;
    }

    /// <summary>"imm(base)" reaching <paramref name="address"/>: a fixed base if one reaches it, else tp loaded on the spot.</summary>
    private string Operand(StringBuilder s, long address)
    {
        var candidates = Bases.Where(b => Math.Abs(address - (_data + b.Offset)) <= 2047
            && address - (_data + b.Offset) >= -2048).ToArray();
        if (candidates.Length > 0 && _rng.Next(4) != 0)
        {
            var (name, offset) = candidates[_rng.Next(candidates.Length)];
            return $"{address - (_data + offset)}({name})";
        }
        long imm = Imm12();
        s.AppendLine($"    li tp, {Hex(address - imm)}");
        return $"{imm}(tp)";
    }

    private void Memory(StringBuilder s)
    {
        int size = 1 << _rng.Next(4);
        string operand;
        if (_rng.Next(4) == 0)
        {
            // small positive scaled offsets from a base: the shapes c.ld/c.sd/c.ldsp/c.sdsp take
            var (name, _) = Bases[_rng.Next(Bases.Length)];
            operand = $"{_rng.Next(32) * Math.Max(size, 4)}({name})";
        }
        else
        {
            operand = Operand(s, DataAddress(size));
        }
        if (_rng.Next(2) == 0)
        {
            string op = size switch
            {
                1 => _rng.Next(2) == 0 ? "lb" : "lbu",
                2 => _rng.Next(2) == 0 ? "lh" : "lhu",
                4 => _rng.Next(2) == 0 ? "lw" : "lwu",
                _ => "ld",
            };
            s.AppendLine($"    {op} {Dst()}, {operand}");
        }
        else
        {
            string op = size switch { 1 => "sb", 2 => "sh", 4 => "sw", _ => "sd" };
            s.AppendLine($"    {op} {Src()}, {operand}");
        }
    }

    private string F() => $"f{_rng.Next(32)}";

    private void FloatOp(StringBuilder s)
    {
        string d = _rng.Next(2) == 0 ? "d" : "s";
        string rm = RoundingModes[_rng.Next(RoundingModes.Length)];
        switch (_rng.Next(14))
        {
            case 0: s.AppendLine($"    f{new[] { "add", "sub", "mul", "div" }[_rng.Next(4)]}.{d} {F()}, {F()}, {F()}{rm}"); break;
            case 1: s.AppendLine($"    fsqrt.{d} {F()}, {F()}{rm}"); break;
            case 2: s.AppendLine($"    f{new[] { "madd", "msub", "nmadd", "nmsub" }[_rng.Next(4)]}.{d} {F()}, {F()}, {F()}, {F()}{rm}"); break;
            case 3: s.AppendLine($"    f{new[] { "min", "max", "sgnj", "sgnjn", "sgnjx" }[_rng.Next(5)]}.{d} {F()}, {F()}, {F()}"); break;
            case 4: s.AppendLine($"    f{new[] { "eq", "lt", "le" }[_rng.Next(3)]}.{d} {Dst()}, {F()}, {F()}"); break;
            case 5: s.AppendLine($"    fclass.{d} {Dst()}, {F()}"); break;
            case 6:
            {
                string from = new[] { "w", "wu", "l", "lu" }[_rng.Next(4)];
                // int -> double from 32 bits is exact: no rounding mode operand
                s.AppendLine($"    fcvt.{d}.{from} {F()}, {Src()}{(d == "d" && from[0] == 'w' ? "" : rm)}");
                break;
            }
            case 7: s.AppendLine($"    fcvt.{new[] { "w", "wu", "l", "lu" }[_rng.Next(4)]}.{d} {Dst()}, {F()}{rm}"); break;
            case 8: s.AppendLine(d == "d" ? $"    fcvt.d.s {F()}, {F()}" : $"    fcvt.s.d {F()}, {F()}{rm}"); break;
            case 9: s.AppendLine(d == "d" ? $"    fmv.d.x {F()}, {Src()}" : $"    fmv.w.x {F()}, {Src()}"); break;
            case 10: s.AppendLine(d == "d" ? $"    fmv.x.d {Dst()}, {F()}" : $"    fmv.x.w {Dst()}, {F()}"); break;
            case 11:
            {
                int size = d == "d" ? 8 : 4;
                long address = _rng.Next(4) == 0 ? DataAddress(size) : (_data + _rng.Next(0, DataSize - 8)) & ~(size - 1);
                string operand = Operand(s, address);
                s.AppendLine(_rng.Next(2) == 0 ? $"    fl{(d == "d" ? "d" : "w")} {F()}, {operand}" : $"    fs{(d == "d" ? "d" : "w")} {F()}, {operand}");
                break;
            }
            case 12: s.AppendLine($"    csrwi frm, {_rng.Next(5)}"); break;
            default: s.AppendLine(_rng.Next(2) == 0 ? $"    csrr {Dst()}, fflags" : "    csrw fflags, zero"); break;
        }
    }

    private void ForwardBranch(StringBuilder s, int depth, bool inFunction)
    {
        string target = NewLabel();
        switch (_rng.Next(8))
        {
            case 0:
                s.AppendLine($"    j {target}");
                break;
            case 1:
                s.AppendLine($"    {(_rng.Next(2) == 0 ? "beqz" : "bnez")} {CompressiblePool[_rng.Next(CompressiblePool.Length)]}, {target}");
                break;
            default:
                s.AppendLine($"    {Branches[_rng.Next(Branches.Length)]} {Src()}, {Src()}, {target}");
                break;
        }
        int n = _rng.Next(1, 5);
        for (int i = 0; i < n; i++)
            Chunk(s, Math.Max(depth, 1), inFunction);
        s.AppendLine($"{target}:");
    }

    /// <summary>A counted loop (s2 outside, s3 nested) whose body is several chunks, so it spans several blocks.</summary>
    private void Loop(StringBuilder s, int depth)
    {
        string counter = depth == 0 ? "s2" : "s3";
        string top = NewLabel();
        int count = _rng.Next(1, depth == 0 ? 13 : 6);
        bool up = _rng.Next(3) == 0;
        s.AppendLine($"    li {counter}, {(up ? 0 : count)}");
        s.AppendLine($"{top}:");
        int n = _rng.Next(1, 6);
        for (int i = 0; i < n; i++)
            Chunk(s, depth + 1, inFunction: false);
        if (up)
        {
            s.AppendLine($"    addi {counter}, {counter}, 1");
            s.AppendLine($"    li tp, {count}");
            s.AppendLine($"    blt {counter}, tp, {top}");
        }
        else
        {
            s.AppendLine($"    addi {counter}, {counter}, -1");
            s.AppendLine(_rng.Next(2) == 0 ? $"    bnez {counter}, {top}" : $"    bgtz {counter}, {top}");
        }
    }

    private void Call(StringBuilder s)
    {
        var (label, viaGp) = _functionLabels[_rng.Next(_functionLabels.Count)];
        if (viaGp)
        {
            // jalr with rd == rs1 (and with an offset): the target is read before the link is written.
            int offset = _rng.Next(3) == 0 ? _rng.Next(-16, 16) * 2 : 0;
            s.AppendLine($"    la gp, {label}{(offset != 0 ? $"{(-offset >= 0 ? "+" : "")}{-offset}" : "")}");
            s.AppendLine($"    jalr gp, {offset}(gp)");
            return;
        }
        switch (_rng.Next(3))
        {
            case 0:
                s.AppendLine($"    jal ra, {label}");
                break;
            case 1:
                // jalr ra, 0(ra): rd == rs1 (c.jalr ra with RVC)
                s.AppendLine($"    la ra, {label}");
                s.AppendLine("    jalr ra, 0(ra)");
                break;
            default:
                s.AppendLine($"    la t6, {label}");
                s.AppendLine("    jalr ra, 0(t6)");
                break;
        }
    }

    private void Atomic(StringBuilder s)
    {
        bool word = _rng.Next(2) == 0;
        int size = word ? 4 : 8;
        string sfx = word ? ".w" : ".d";
        long address = (_data + _rng.Next(0, DataSize - 8)) & ~(size - 1);
        s.AppendLine($"    li tp, {Hex(address)}");
        if (_rng.Next(3) == 0)
        {
            s.AppendLine($"    lr{sfx} {Dst()}, (tp)");
            int n = _rng.Next(0, 3);
            for (int i = 0; i < n; i++)
            {
                if (_rng.Next(3) == 0)
                {
                    // a store in between (to the same address or elsewhere)
                    s.AppendLine($"    s{(word ? "w" : "d")} {Src()}, 0(tp)");
                }
                else
                {
                    Alu(s);
                }
            }
            if (_rng.Next(4) == 0)
                s.AppendLine($"    addi tp, tp, {size * _rng.Next(1, 4)}");   // SC to another address fails
            s.AppendLine($"    sc{sfx} {Dst()}, {Src()}, (tp)");
        }
        else
        {
            s.AppendLine($"    {Amos[_rng.Next(Amos.Length)]}{sfx} {Dst()}, {Src()}, (tp)");
        }
    }

    private void CsrOp(StringBuilder s)
    {
        // U-mode: the counters and the FP CSRs only (sscratch would be an illegal instruction).
        s.AppendLine(_rng.Next(_mode == RiscVHart.PrivUser ? 3 : 9) switch
        {
            0 => $"    csrr {Dst()}, instret",
            1 => _mode == RiscVHart.PrivMachine ? $"    csrr {Dst()}, minstret" : $"    csrr {Dst()}, time",
            2 => $"    csrr {Dst()}, cycle",
            3 => $"    csrw {_x}scratch, {Src()}",
            4 => $"    csrrs {Dst()}, {_x}scratch, {Src()}",
            5 => $"    csrrc {Dst()}, {_x}scratch, {Src()}",
            6 => $"    csrrwi {Dst()}, {_x}scratch, {_rng.Next(32)}",
            7 => $"    csrr {Dst()}, fcsr",
            _ => $"    csrr {Dst()}, {_x}scratch",
        });
    }

    /// <summary>Device accesses (<see cref="ProbeDevice"/>, identity-mapped in S-mode): the instruction count, the read counter, writes, aligned and misaligned.</summary>
    private void Device(StringBuilder s)
    {
        s.AppendLine($"    li tp, {Hex((long)ProbeDevice.Base)}");
        s.AppendLine(_rng.Next(9) switch
        {
            0 or 1 => $"    ld {Dst()}, 0(tp)",
            2 => $"    lw {Dst()}, 8(tp)",
            3 => $"    fld {F()}, 0(tp)",
            4 => $"    sd {Src()}, 16(tp)",
            5 => $"    sb {Src()}, 17(tp)",
            // misaligned device accesses (an I/O TLB entry must never let them through the fast path)
            6 => $"    {new[] { "lh", "lhu", "lw", "lwu", "ld" }[_rng.Next(5)]} {Dst()}, {_rng.Next(1, 8)}(tp)",
            7 => $"    {new[] { "sh", "sw", "sd" }[_rng.Next(3)]} {Src()}, {_rng.Next(9, 16)}(tp)",
            _ => $"    {new[] { "flw", "fld" }[_rng.Next(2)]} {F()}, {_rng.Next(1, 8)}(tp)",
        });
    }

    /// <summary>An instruction that traps: ecall, access faults (VA 0 is mapped to nothing), a misaligned LR, in U-mode a supervisor CSR.</summary>
    private void Trap(StringBuilder s)
    {
        int kind = _rng.Next(_mode == RiscVHart.PrivUser ? 5 : 4);
        if (kind == 3)
            s.AppendLine($"    li tp, {Hex(_data + _rng.Next(0, DataSize / 8 - 1) * 8 + 4)}");
        s.AppendLine(kind switch
        {
            0 => "    ecall",
            1 => $"    ld {Dst()}, {_rng.Next(0, 256) * 8}(zero)",
            2 => $"    sw {Src()}, {_rng.Next(0, 256) * 4}(zero)",
            3 => $"    lr.d {Dst()}, (tp)",
            _ => $"    csrr {Dst()}, sscratch",   // U-mode: illegal instruction
        });
    }
}
