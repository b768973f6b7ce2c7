using Wemu.Jit;
using Wemu.Jit.Ir;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// Translates RISC-V code to IR, decoding through the same <see cref="RvOpcodeTable"/> and
/// <see cref="RvcExpander"/> as the interpreter. A translation is a region of one guest page with
/// one entry: basic blocks reachable from the entry by direct branches and jumps inside the page
/// (and accepted by the caller's filter) become labels, so loops run without leaving compiled code;
/// every cycle passes a budget check on its backward edge. Indirect jumps, targets outside the
/// region and instructions it does not translate (system instructions, CSRs, instructions crossing
/// the page end) leave through exits; the dispatcher interprets the latter.
/// </summary>
internal sealed unsafe class RiscVTranslator : RegionTranslator
{
    public const int GuestRegisters = 32;

    private readonly int[] _cache = new int[GuestRegisters];

    public RiscVTranslator(int maxInstructions = 256) : base(maxInstructions, GuestRegisters)
    {
    }

    /// <summary>
    /// Translates the region entered at <paramref name="entryPc"/>; <paramref name="page"/> is the
    /// host address of its (executable) page. <paramref name="include"/> says whether another
    /// block start in the page belongs in the region (the engine passes "has run before").
    /// </summary>
    /// <param name="reuse">With true, the function is this translator's own, emptied and reused: valid until the next call (for callers that compile it at once).</param>
    public IrFunction Translate(ulong entryPc, byte* page, Func<ulong, bool> include, bool reuse = false) =>
        BuildRegion(entryPc, page, include, reuse);

    /// <summary>RISC-V code means the same in every privilege mode: <paramref name="mode"/> is always 0.</summary>
    public override IrFunction Translate(ulong entryPc, ulong mode, byte* page, Func<ulong, bool> include, bool reuse, int nextPageBytes = 0) =>
        Translate(entryPc, page, include, reuse);

    public override bool IsInterpretedOnly(ulong pc, ulong mode, byte* page) => IsInterpretedOnly(pc, page);

    /// <summary>Whether the instruction at <paramref name="pc"/> is one the translator hands to the interpreter.</summary>
    public static bool IsInterpretedOnly(ulong pc, byte* page) =>
        !Fetch(page, pc, out uint inst, out _) || IsUntranslated(RvOpcodeTable.Decode(inst));

    private static bool IsUntranslated(RvOp op) => op switch
    {
        RvOp.FenceI or RvOp.Ecall or RvOp.Ebreak or RvOp.Mret or RvOp.Sret or RvOp.Wfi or RvOp.SfenceVma or RvOp.Illegal => true,
        >= RvOp.Csrrw and <= RvOp.Csrrci => true,
        _ => false,
    };

    private static bool Fetch(byte* page, ulong pc, out uint inst, out int len)
    {
        uint off = (uint)(pc & 0xFFF);
        inst = 0;
        len = 2;
        if (off > 0xFFE)
            return false;
        ushort lo = *(ushort*)(page + off);
        if ((lo & 3) != 3)
        {
            inst = RvDecodeTables.Expand[lo];   // 0xFFFFFFFF for illegal encodings: decodes as Illegal
            return true;
        }
        if (off > 0xFFC)
            return false;
        inst = *(uint*)(page + off);
        len = 4;
        return true;
    }

    private void ResetCache() => Array.Fill(_cache, -1);

    private int R(int r)
    {
        if (r == 0)
            return F.Const(IrType.I64, 0);
        if (_cache[r] < 0)
            _cache[r] = F.GetReg(r);
        return _cache[r];
    }

    private void W(int r, int value)
    {
        if (r == 0)
            return;
        F.SetReg(r, value);
        _cache[r] = value;
    }

    private int C(long value) => F.Const(IrType.I64, value);

    private int C32(int value) => F.Const(IrType.I32, value);

    private int Op(IrOp op, int a, int b) => F.Binary(op, a, b);

    /// <summary>An RV64 *W operation: the 32-bit result sign-extended.</summary>
    private int Op32(IrOp op, int a64, int b32) => F.Convert(IrOp.ExtendS, F.Binary(op, F.Convert(IrOp.Wrap, a64), b32));

    private int Wrap(int a64) => F.Convert(IrOp.Wrap, a64);

    protected override void EmitBlock(ulong pc)
    {
        var f = F;
        ResetCache();
        int k = 0;
        while (true)
        {
            if (BlockEndsAt(pc, k))
                return;
            if (!Fetch(Page, pc, out uint inst, out int len))
            {
                f.Exit(CodeExit.Chain, pc, k);
                return;
            }
            RvOp op = RvOpcodeTable.Decode(inst);
            if (IsUntranslated(op))
            {
                f.Exit(CodeExit.Interpret, pc, k);
                return;
            }
            Total++;
            int rd = (int)(inst >> 7) & 31;
            int rs1 = (int)(inst >> 15) & 31;
            int rs2 = (int)(inst >> 20) & 31;
            long immI = (int)inst >> 20;
            ulong next = pc + (ulong)len;
            switch (op)
            {
                case RvOp.Lui: W(rd, C((int)(inst & 0xFFFFF000))); break;
                case RvOp.Auipc: W(rd, C((long)pc + (int)(inst & 0xFFFFF000))); break;
                case RvOp.Jal:
                {
                    W(rd, C((long)next));
                    f.Retire(k + 1);
                    f.Jump(TargetLabel(pc + (ulong)(long)ImmJ(inst), pc));
                    return;
                }
                case RvOp.Jalr:
                {
                    int target = Op(IrOp.And, Op(IrOp.Add, R(rs1), C(immI)), C(~1L));
                    W(rd, C((long)next));
                    f.Retire(k + 1);
                    f.ExitTo(CodeExit.Chain, target, 0);
                    return;
                }
                case RvOp.Beq: Branch(IrCondition.Eq); return;
                case RvOp.Bne: Branch(IrCondition.Ne); return;
                case RvOp.Blt: Branch(IrCondition.LtS); return;
                case RvOp.Bge: Branch(IrCondition.GeS); return;
                case RvOp.Bltu: Branch(IrCondition.LtU); return;
                case RvOp.Bgeu: Branch(IrCondition.GeU); return;

                case RvOp.Lb: Load(1, true); break;
                case RvOp.Lh: Load(2, true); break;
                case RvOp.Lw: Load(4, true); break;
                case RvOp.Ld: Load(8, true); break;
                case RvOp.Lbu: Load(1, false); break;
                case RvOp.Lhu: Load(2, false); break;
                case RvOp.Lwu: Load(4, false); break;
                case RvOp.Sb: Store(1); break;
                case RvOp.Sh: Store(2); break;
                case RvOp.Sw: Store(4); break;
                case RvOp.Sd: Store(8); break;

                case RvOp.Addi: W(rd, Op(IrOp.Add, R(rs1), C(immI))); break;
                case RvOp.Slti: W(rd, f.Compare(IrCondition.LtS, R(rs1), C(immI))); break;
                case RvOp.Sltiu: W(rd, f.Compare(IrCondition.LtU, R(rs1), C(immI))); break;
                case RvOp.Xori: W(rd, Op(IrOp.Xor, R(rs1), C(immI))); break;
                case RvOp.Ori: W(rd, Op(IrOp.Or, R(rs1), C(immI))); break;
                case RvOp.Andi: W(rd, Op(IrOp.And, R(rs1), C(immI))); break;
                case RvOp.Slli: W(rd, Op(IrOp.Shl, R(rs1), C(immI & 63))); break;
                case RvOp.Srli: W(rd, Op(IrOp.ShrU, R(rs1), C(immI & 63))); break;
                case RvOp.Srai: W(rd, Op(IrOp.ShrS, R(rs1), C(immI & 63))); break;
                case RvOp.Addiw: W(rd, Op32(IrOp.Add, R(rs1), C32((int)immI))); break;
                case RvOp.Slliw: W(rd, Op32(IrOp.Shl, R(rs1), C32(rs2))); break;
                case RvOp.Srliw: W(rd, Op32(IrOp.ShrU, R(rs1), C32(rs2))); break;
                case RvOp.Sraiw: W(rd, Op32(IrOp.ShrS, R(rs1), C32(rs2))); break;

                case RvOp.Add: W(rd, Op(IrOp.Add, R(rs1), R(rs2))); break;
                case RvOp.Sub: W(rd, Op(IrOp.Sub, R(rs1), R(rs2))); break;
                case RvOp.Sll: W(rd, Op(IrOp.Shl, R(rs1), R(rs2))); break;
                case RvOp.Slt: W(rd, f.Compare(IrCondition.LtS, R(rs1), R(rs2))); break;
                case RvOp.Sltu: W(rd, f.Compare(IrCondition.LtU, R(rs1), R(rs2))); break;
                case RvOp.Xor: W(rd, Op(IrOp.Xor, R(rs1), R(rs2))); break;
                case RvOp.Srl: W(rd, Op(IrOp.ShrU, R(rs1), R(rs2))); break;
                case RvOp.Sra: W(rd, Op(IrOp.ShrS, R(rs1), R(rs2))); break;
                case RvOp.Or: W(rd, Op(IrOp.Or, R(rs1), R(rs2))); break;
                case RvOp.And: W(rd, Op(IrOp.And, R(rs1), R(rs2))); break;
                case RvOp.Addw: W(rd, Op32(IrOp.Add, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Subw: W(rd, Op32(IrOp.Sub, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Sllw: W(rd, Op32(IrOp.Shl, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Srlw: W(rd, Op32(IrOp.ShrU, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Sraw: W(rd, Op32(IrOp.ShrS, R(rs1), Wrap(R(rs2)))); break;

                case RvOp.Mul: W(rd, Op(IrOp.Mul, R(rs1), R(rs2))); break;
                case RvOp.Mulh: W(rd, Op(IrOp.MulHighS, R(rs1), R(rs2))); break;
                case RvOp.Mulhsu: W(rd, Op(IrOp.MulHighSU, R(rs1), R(rs2))); break;
                case RvOp.Mulhu: W(rd, Op(IrOp.MulHighU, R(rs1), R(rs2))); break;
                case RvOp.Div: W(rd, Op(IrOp.DivS, R(rs1), R(rs2))); break;
                case RvOp.Divu: W(rd, Op(IrOp.DivU, R(rs1), R(rs2))); break;
                case RvOp.Rem: W(rd, Op(IrOp.RemS, R(rs1), R(rs2))); break;
                case RvOp.Remu: W(rd, Op(IrOp.RemU, R(rs1), R(rs2))); break;
                case RvOp.Mulw: W(rd, Op32(IrOp.Mul, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Divw: W(rd, Op32(IrOp.DivS, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Divuw: W(rd, Op32(IrOp.DivU, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Remw: W(rd, Op32(IrOp.RemS, R(rs1), Wrap(R(rs2)))); break;
                case RvOp.Remuw: W(rd, Op32(IrOp.RemU, R(rs1), Wrap(R(rs2)))); break;

                case RvOp.Fence: break;   // one hart, in order: nothing to order

                case >= RvOp.LrW and <= RvOp.AmomaxuD:
                    f.Call(RiscVJitHelpers.HelperAtomic, C((long)op), IrInst.NoTemp, inst, pc, k);
                    ResetCache();
                    break;

                case < RvOp.FirstFloat:
                        f.Exit(CodeExit.Interpret, pc, k);
                    return;

                default:
                    // F and D: the hart's bit-exact implementation, as a helper.
                    f.Call(RiscVJitHelpers.HelperFloat, C((long)op), IrInst.NoTemp, inst, pc, k);
                    ResetCache();
                    break;
            }
            k++;
            pc = next;

            void Branch(IrCondition cond)
            {
                int a = R(rs1), b = R(rs2);
                f.Retire(k + 1);
                f.Branch(cond, a, b, TargetLabel(pc + (ulong)(long)ImmB(inst), pc));
                f.Jump(LabelFor(next));
            }

            void Load(int size, bool signed)
            {
                int v = f.Load(R(rs1), immI, size, signed, pc, k);
                W(rd, v);
            }

            void Store(int size)
            {
                long imm = ((int)(inst & 0xFE000000) >> 20) | (int)((inst >> 7) & 0x1F);
                f.Store(R(rs1), imm, R(rs2), size, pc, k);
            }
        }
    }

    private static int ImmB(uint inst) =>
        ((int)(inst & 0x80000000) >> 19) | (int)((inst & 0x80) << 4) | (int)((inst >> 20) & 0x7E0) | (int)((inst >> 7) & 0x1E);

    private static int ImmJ(uint inst) =>
        ((int)(inst & 0x80000000) >> 11) | (int)(inst & 0xFF000) | (int)((inst >> 9) & 0x800) | (int)((inst >> 20) & 0x7FE);
}
