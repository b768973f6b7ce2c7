namespace Wemu.Jit.Ir;

/// <summary>One IR instruction. Operands are temp numbers; <see cref="NoTemp"/> marks an unused one.</summary>
public struct IrInst
{
    public const int NoTemp = -1;

    /// <summary>An instruction that does nothing, with no operands and no result: what passes leave where they remove one.</summary>
    public static IrInst Nop => new() { Op = IrOp.Nop, Dst = NoTemp, A = NoTemp, B = NoTemp, C = NoTemp };

    public IrOp Op;
    public IrType Type;
    public IrCondition Cond;
    public CodeExit Kind;
    /// <summary>Memory access size in bytes, and whether a load sign-extends.</summary>
    public byte Size;
    public bool Signed;
    /// <summary>For <see cref="IrOp.DivS"/>, <see cref="IrOp.DivU"/>, <see cref="IrOp.RemS"/>, <see cref="IrOp.RemU"/>: what /0 and overflow do.</summary>
    public IrDivision Division;
    /// <summary>Helper number for <see cref="IrOp.Call"/>.</summary>
    public ushort Helper;
    public int Dst, A, B, C;
    public long Imm;
    /// <summary>Guest pc of the instruction this op belongs to (for traps and exits).</summary>
    public ulong GuestPc;
    /// <summary>Guest instructions completed since the last <see cref="IrOp.Retire"/> when this op runs.</summary>
    public int Completed;

    public readonly bool HasDst => Dst != NoTemp;

    /// <summary>True for ops with no effect besides their result (removable when it is unused).</summary>
    public readonly bool IsPure => Op switch
    {
        IrOp.Const or IrOp.GetReg or IrOp.Add or IrOp.Sub or IrOp.Mul or IrOp.And or IrOp.Or or IrOp.Xor
            or IrOp.MulHighS or IrOp.MulHighU or IrOp.MulHighSU or IrOp.Shl or IrOp.ShrS or IrOp.ShrU
            or IrOp.RotL or IrOp.RotR or IrOp.Clz or IrOp.Ctz or IrOp.Popcnt or IrOp.ByteSwap or IrOp.Parity
            or IrOp.AddOverflow or IrOp.SubOverflow or IrOp.Compare or IrOp.Select or IrOp.Wrap
            or IrOp.ExtendS or IrOp.ExtendU => true,
        IrOp.DivS or IrOp.DivU or IrOp.RemS or IrOp.RemU => Division == IrDivision.Total,
        _ => false,
    };

    /// <summary>A division that leaves to the interpreter on /0 or overflow (so it is not pure).</summary>
    public readonly bool IsExitingDivision => Op is IrOp.DivS or IrOp.DivU or IrOp.RemS or IrOp.RemU && Division == IrDivision.Exit;

    public override readonly string ToString()
    {
        string d = HasDst ? $"t{Dst}:{Type} = " : "";
        return Op switch
        {
            IrOp.Const => $"{d}{Imm}",
            IrOp.GetReg => $"{d}r{Imm}",
            IrOp.SetReg => $"r{Imm} = t{A}",
            IrOp.Compare => $"{d}t{A} {Cond} t{B}",
            IrOp.Select => $"{d}t{A} ? t{B} : t{C}",
            IrOp.Load => $"{d}load{Size}{(Signed ? "s" : "u")} [t{A} + {Imm}] @{GuestPc:x}",
            IrOp.Store => $"store{Size} [t{A} + {Imm}] = t{B} @{GuestPc:x}",
            IrOp.CompareAndSwap => $"{d}cas{Size} [t{A} + {Imm}], t{B} -> t{C} @{GuestPc:x}",
            IrOp.PageCopy => $"{d}pagecopy{Size} [t{A}] <- [t{B}] x t{C}",
            IrOp.PageFill => $"{d}pagefill{Size} [t{A}] <- t{B} x t{C}",
            IrOp.Call => $"{d}call h{Helper}(t{A}, t{B}, {Imm}) @{GuestPc:x}",
            IrOp.Label => $"L{Imm}:",
            IrOp.Jump => $"jump L{Imm}",
            IrOp.Branch => $"if t{A} {Cond} t{B} goto L{Imm}",
            IrOp.Retire => $"retire {Imm}",
            IrOp.ExitIfBudget => $"exit-if-budget {Imm:x}",
            IrOp.Exit => $"exit {Kind} {(A == NoTemp ? $"0x{Imm:x}" : $"t{A}")} +{Completed}",
            _ => $"{d}{Op} t{A}{(B != NoTemp ? $", t{B}" : "")}",
        };
    }
}
