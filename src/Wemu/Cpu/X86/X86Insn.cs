namespace Wemu.Cpu.X86;

/// <summary>What a predecoded instruction does (<see cref="X86Insn.Op"/>). Anything not listed runs
/// through the decoding interpreter (<see cref="Generic"/>).</summary>
internal enum X86FastOp : byte
{
    Generic,
    Nop,
    MovLoad,     // Gv <- Ev (also MOV Gb, Eb)
    MovLoadQ,    // Gv <- Ev, 64 and 32 bits from memory
    MovLoadD,
    MovStore,    // Ev <- Gv
    MovStoreQ,   // Ev <- Gv, 64 and 32 bits to memory
    MovStoreD,
    MovImm,      // Ev <- Imm (C6/C7, B0-BF)
    Lea,
    AluEG,       // Ev op= Gv (NoWrite: CMP, TEST)
    AluGE,       // Gv op= Ev
    AluEImm,     // Ev op= Imm (group 1, AL/rAX forms, TEST Ib/Iz)
    IncDec,      // Sub: 0 INC, 1 DEC
    Shift,       // group 2; Sub = operation, Imm = count or ImmCl
    Not,
    Neg,
    MulDiv,      // group 3 /4-/7 (Sub = the reg field)
    Imul2,       // Gv = Gv * Ev
    Imul3,       // Gv = Ev * Imm
    Movzx,       // Sub = source size
    Movsx,       // Sub = source size (MOVSXD: Dword)
    Cmov,        // Sub = condition
    Setcc,       // Sub = condition
    Push,        // PUSH Reg (64-bit)
    Pop,         // POP Reg (64-bit)
    PushImm,
    PushE,       // FF /6
    Cdqe,        // 98: CBW/CWDE/CDQE by Size
    Cqo,         // 99: CWD/CDQ/CQO by Size
    BitTest,     // BT/BTS/BTR/BTC (0F A3/AB/B3/BB, 0F BA /4-/7): Sub = 0-3, Imm = the bit offset or ImmRegister (Reg holds it)
    Sse,         // 0F xx of the SSE/MMX space: the prefixes restored, then the SSE decoder from ModR/M on
                 // (Sub = the opcode, Reg = REX, Rm = ModR/M's offset, Size = F2/F3 or 0, Scale = 66)
    Cmpxchg,     // CMPXCHG Eb,Gb / Ev,Gv (0F B0/B1), memory forms only, LOCK or not
    Xadd,        // XADD Eb,Gb / Ev,Gv (0F C0/C1), memory forms only, LOCK or not
    // control transfers: they end a block
    Jcc,         // Sub = condition, Imm = displacement
    Jmp,
    Call,
    Ret,
    CallE,       // FF /2
    JmpE,        // FF /4
}

/// <summary>
/// One predecoded instruction of a cached block (<c>X86Cpu.Blocks.cs</c>): prefixes, ModR/M, SIB,
/// displacement and immediate decoded once. Register numbers include the REX bits; a byte register
/// 16-19 stands for AH, CH, DH, BH (no REX prefix).
/// </summary>
internal struct X86Insn
{
    public const byte NoRegister = 0xFF, RipBase = 0xFE;
    public const byte Mem = 1, Addr32 = 2, SegFs = 4, SegGs = 8, NoWrite = 16;

    /// <summary>Shift count from CL (<see cref="X86FastOp.Shift"/>).</summary>
    public const ulong ImmCl = ulong.MaxValue;

    /// <summary><see cref="X86FastOp.BitTest"/>'s <see cref="Imm"/> when the bit offset is the register <see cref="Reg"/>.</summary>
    public const ulong ImmRegister = ulong.MaxValue - 1;

    public X86FastOp Op;

    /// <summary>Bytes of the instruction; 0 for a generic instruction whose length was not decoded
    /// (the block ends after it).</summary>
    public byte Length;

    /// <summary>Operand size (<c>X86Cpu.Byte</c> ... <c>X86Cpu.Qword</c>).</summary>
    public byte Size;

    /// <summary>ALU operation, condition code, shift operation, group's reg field, or source size.</summary>
    public byte Sub;

    /// <summary>The G operand (ModR/M.reg) or the register in the opcode.</summary>
    public byte Reg;

    /// <summary>The E operand's register when it is not memory.</summary>
    public byte Rm;

    /// <summary>Memory operand: base and index registers (<see cref="NoRegister"/>, <see cref="RipBase"/>).</summary>
    public byte Base, Index;

    public byte Scale;

    /// <summary><see cref="Mem"/>, <see cref="Addr32"/>, <see cref="SegFs"/>, <see cref="SegGs"/>, <see cref="NoWrite"/>.</summary>
    public byte Flags;

    public int Disp;

    public ulong Imm;
}

/// <summary>Predecoded instructions from one physical address, within one 4 KiB page, ending at the
/// first control transfer.</summary>
internal sealed class X86Block
{
    public ulong PhysicalAddress;
    public X86Insn[] Instructions = [];
    public int Count;

    /// <summary>Up to two blocks that followed this one, at linear addresses <see cref="LinkRip0"/> and
    /// <see cref="LinkRip1"/>; valid while the CPU's link epoch is <see cref="LinkEpoch"/> (no TLB
    /// flush, mode change or code write since they were found).</summary>
    public X86Block? Link0, Link1;
    public ulong LinkRip0, LinkRip1;
    public ulong LinkEpoch;
}
