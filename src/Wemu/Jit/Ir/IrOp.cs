namespace Wemu.Jit.Ir;

/// <summary>
/// The IR's operations: a small closed set over <see cref="IrType"/> values, each mapping one to
/// one onto IL (and WebAssembly). Temps are numbered values; guest registers are read and written
/// with <see cref="GetReg"/>/<see cref="SetReg"/> (backends keep them in locals within a block).
/// Shift and rotate counts are taken modulo the width. Division says what /0 and overflow do
/// (<see cref="IrDivision"/>): the guest's results, or a leave to the interpreter (which raises the
/// guest's exception); no op traps on the host. Ops that can raise a guest exception carry the
/// guest pc and the instructions completed before them, so traps are precise.
/// </summary>
public enum IrOp : byte
{
    Nop,

    /// <summary>Dst = Imm.</summary>
    Const,
    /// <summary>Dst = guest register Imm (I64).</summary>
    GetReg,
    /// <summary>Guest register Imm = A.</summary>
    SetReg,

    // Arithmetic: Dst = A op B (same type)
    Add, Sub, Mul, And, Or, Xor,
    /// <summary>High half of the signed x signed, unsigned x unsigned and signed x unsigned products.</summary>
    MulHighS, MulHighU, MulHighSU,
    /// <summary>Division and remainder; <see cref="IrInst.Division"/> says what /0 and MIN / -1 do.</summary>
    DivS, DivU, RemS, RemU,
    Shl, ShrS, ShrU,
    /// <summary>Dst = A rotated left / right by B (modulo the width).</summary>
    RotL, RotR,
    /// <summary>Unary: leading zeros, trailing zeros (the width for 0), set bits.</summary>
    Clz, Ctz, Popcnt,
    /// <summary>Unary: the bytes of A in reverse order.</summary>
    ByteSwap,
    /// <summary>Unary flag helper: 1 if the low byte of A has an even number of set bits (x86 PF), else 0.</summary>
    Parity,
    /// <summary>Flag helpers: 1 if A + B (A - B) overflows as a signed number of the width, else 0 (carry and borrow are <see cref="Compare"/> LtU).</summary>
    AddOverflow, SubOverflow,

    /// <summary>Dst = (A cond B) ? 1 : 0 in Dst's type; condition in Cond.</summary>
    Compare,
    /// <summary>Dst = A != 0 ? B : C.</summary>
    Select,

    /// <summary>I64 -> I32 (low half).</summary>
    Wrap,
    /// <summary>I32 -> I64 sign-extended.</summary>
    ExtendS,
    /// <summary>I32 -> I64 zero-extended.</summary>
    ExtendU,

    /// <summary>Dst = guest memory [A + Imm], Size bytes, sign-extended if Signed. May trap.</summary>
    Load,
    /// <summary>Guest memory [A + Imm] = B, Size bytes. May trap.</summary>
    Store,
    /// <summary>
    /// Dst = guest memory [A + Imm] (Size bytes, zero-extended); if it equals B (its low Size bytes),
    /// the memory becomes C; atomic. Needs a writable page: otherwise, or misaligned, the guest's
    /// interpreter runs the instruction (a slow exit; the IL backend leaves with an interpret exit).
    /// </summary>
    CompareAndSwap,
    /// <summary>
    /// Dst = elements copied (I64): up to C elements of Size bytes from guest memory at B to A,
    /// forwards, as many as fit in the rest of both pages, when the soft TLB lets both through
    /// (A writable, B readable: RAM, no I/O or code page) and A does not lie inside the source
    /// range (a forward copy onto its own source); otherwise 0 and nothing written. Never traps
    /// or exits: the guest goes on with what was done (<see cref="PageBulk"/> is its meaning).
    /// </summary>
    PageCopy,
    /// <summary>Dst = elements stored (I64): up to C copies of B's low Size bytes at A onwards, as many as fit in the rest of A's page, when the soft TLB lets the page be written; otherwise 0. Never traps or exits.</summary>
    PageFill,
    /// <summary>Helper Helper(state, A, B, Imm) -> bool success; reads and writes guest registers in the state. May trap.</summary>
    Call,

    /// <summary>Marks label Imm.</summary>
    Label,
    /// <summary>Goes to label Imm.</summary>
    Jump,
    /// <summary>Goes to label Imm if A cond B.</summary>
    Branch,
    /// <summary>Adds Imm to the instructions retired (end of a guest basic block).</summary>
    Retire,
    /// <summary>Leaves with pc = Imm if the retired count reached the budget (loop back-edges).</summary>
    ExitIfBudget,
    /// <summary>Leaves with pc = A (or Imm if A is <see cref="IrInst.NoTemp"/>); Kind says what next.</summary>
    Exit,
}
