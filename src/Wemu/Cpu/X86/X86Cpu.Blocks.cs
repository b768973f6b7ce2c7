using System.Runtime.CompilerServices;

namespace Wemu.Cpu.X86;

/// <summary>
/// The decoded-instruction cache: runs of instructions are decoded once into <see cref="X86Block"/>s
/// keyed by physical address, and executed from there (the common instructions by handlers here,
/// the rest through the decoding interpreter at the same address). Blocks never cross a page; a page
/// holding blocks is a code page on the bus, so any store to it (CPU slow path or DMA) drops its
/// blocks and the running block stops after the storing instruction (self-modifying code takes
/// effect from the next instruction, as on hardware). A TLB flush or mode change also stops it.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private const int BlockTableBits = 16;
    private const int MaxBlockInstructions = 64;

    /// <summary>Run from decoded blocks (false: decode every instruction as it executes; tests compare both).</summary>
    internal bool UseBlockCache = Environment.GetEnvironmentVariable("WEMU_X86_BLOCKS") != "0";

    private readonly X86Block?[] _blocks = new X86Block?[1 << BlockTableBits];
    private readonly X86Insn[] _decodeScratch = new X86Insn[MaxBlockInstructions];

    /// <summary>Physical page of the fetch window (<see cref="_fetchPage"/>).</summary>
    private ulong _fetchPhysPage;

    /// <summary>Blocks decoded, and code pages whose blocks a store dropped (statistics).</summary>
    internal long BlocksDecoded, CodePagesWritten;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockSlot(ulong physical) => (int)((physical * 0x9E3779B97F4A7C15UL) >> (64 - BlockTableBits));

    /// <summary>Bumped when links between blocks may be stale: a TLB flush, a mode change, a code write.</summary>
    private ulong _linkEpoch = 1;

    /// <summary>The block to run at <see cref="Pc"/> after <paramref name="previous"/> (null: none ran
    /// before): a link of the previous block, or <see cref="FindBlock"/>, which is then linked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private X86Block? NextBlock(X86Block? previous)
    {
        if (previous == null)
            return FindBlock();
        ulong rip = Pc;
        if (previous.LinkEpoch == _linkEpoch)
        {
            if (previous.LinkRip0 == rip && previous.Link0 != null)
                return previous.Link0;
            if (previous.LinkRip1 == rip && previous.Link1 != null)
                return previous.Link1;
        }
        return FindAndLink(previous, rip);
    }

    private X86Block? FindAndLink(X86Block previous, ulong rip)
    {
        X86Block? block = FindBlock();
        if (block == null)
            return null;
        if (previous.LinkEpoch != _linkEpoch)
        {
            previous.LinkEpoch = _linkEpoch;
            previous.Link0 = previous.Link1 = null;
        }
        if (previous.Link0 == null)
        {
            previous.Link0 = block;
            previous.LinkRip0 = rip;
        }
        else
        {
            // the second slot; a third successor (an indirect jump) replaces it
            previous.Link1 = block;
            previous.LinkRip1 = rip;
        }
        return block;
    }

    /// <summary>The block at <see cref="Pc"/>, decoded now if needed; null when the instruction there
    /// must run through the decoding interpreter (not RAM, or it crosses into the next page).</summary>
    private X86Block? FindBlock()
    {
        ulong rip = Pc;
        if ((rip >> 12) != _fetchPage)
        {
            FetchByte(rip); // translates (faults as an instruction fetch) and moves the window
            if ((rip >> 12) != _fetchPage)
                return null; // not RAM
        }
        ulong physical = _fetchPhysPage | (rip & 0xFFF);
        X86Block? block = _blocks[BlockSlot(physical)];
        if (block != null && block.PhysicalAddress == physical)
            return block;
        return DecodeBlock(physical, (int)(rip & 0xFFF));
    }

    private X86Block? DecodeBlock(ulong physical, int offset)
    {
        X86Insn[] scratch = _decodeScratch;
        int count = 0;
        byte* page = _fetchHost;
        while (count < MaxBlockInstructions && offset < 0x1000)
        {
            ref X86Insn d = ref scratch[count];
            if (!DecodeInstruction(page, offset, ref d))
                break; // it crosses the page: the decoding interpreter runs it
            count++;
            if (d.Length == 0 || d.Op > X86FastOp.Jcc)
                break; // a conditional branch goes on: its taken side leaves the block
            offset += d.Length;
        }
        if (count == 0)
            return null;
        ulong physPage = physical & ~0xFFFUL;
        if (!_bus.IsCodePage(physPage))
        {
            _bus.MarkCodePage(physPage);
            Memory.TlbEntry.ProtectCodePage(Tlb, TlbEntries, physPage);
        }
        var block = new X86Block { PhysicalAddress = physical, Instructions = scratch[..count], Count = count };
        _blocks[BlockSlot(physical)] = block;
        BlocksDecoded++;
        return block;
    }

    /// <summary>A code page was written: its blocks go, and the running block stops after this instruction.</summary>
    private void OnCodePageWritten(ulong physPage)
    {
        CodePagesWritten++;
        _linkEpoch++;
        _checkInterrupts = true;
        if (BlocksDecoded == 0)
            return;
        X86Block?[] blocks = _blocks;
        for (int i = 0; i < blocks.Length; i++)
        {
            X86Block? b = blocks[i];
            if (b != null && (b.PhysicalAddress & ~0xFFFUL) == physPage)
                blocks[i] = null;
        }
    }

    /// <summary>Drops every decoded block (a reset).</summary>
    internal void ClearBlocks()
    {
        Array.Clear(_blocks);
        _linkEpoch++;
        _checkInterrupts = true;
    }

    /// <summary>
    /// Runs up to <paramref name="max"/> instructions of <paramref name="block"/> from its start
    /// (<see cref="Pc"/>), retiring each; stops early when <see cref="_checkInterrupts"/> is raised.
    /// A fault leaves <see cref="InstructionStart"/> at the faulting instruction.
    /// </summary>
    private void ExecuteBlock(X86Block block, long max)
    {
        int n = block.Count;
        if (max < n)
            n = (int)max;
        ulong rip = Pc;
        ref X86Insn first = ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(block.Instructions);
        for (int i = 0; i < n; i++)
        {
            ref X86Insn d = ref Unsafe.Add(ref first, i); // (i < Count <= the array's length)
            InstructionStart = rip;
            ulong next = rip + d.Length;
            switch (d.Op)
            {
                case X86FastOp.Nop:
                    break;
                case X86FastOp.MovLoadQ:
                    Gpr[d.Reg] = Read64(DecodedAddress(ref d));
                    break;
                case X86FastOp.MovLoadD:
                    Gpr[d.Reg] = Read32(DecodedAddress(ref d));
                    break;
                case X86FastOp.MovStoreQ:
                    Write64(DecodedAddress(ref d), Gpr[d.Reg]);
                    break;
                case X86FastOp.MovStoreD:
                    Write32(DecodedAddress(ref d), (uint)Gpr[d.Reg]);
                    break;
                case X86FastOp.MovLoad:
                    SetOperandRegister(d.Size, d.Reg, (d.Flags & X86Insn.Mem) != 0 ? Read(DecodedAddress(ref d), d.Size) : GetOperandRegister(d.Size, d.Rm));
                    break;
                case X86FastOp.MovStore:
                    WriteE(ref d, d.Size, GetOperandRegister(d.Size, d.Reg));
                    break;
                case X86FastOp.MovImm:
                    WriteE(ref d, d.Size, d.Imm);
                    break;
                case X86FastOp.Lea:
                    SetOperandRegister(d.Size, d.Reg, DecodedAddress(ref d));
                    break;
                case X86FastOp.AluEG:
                    AluToE(ref d, GetOperandRegister(d.Size, d.Reg));
                    break;
                case X86FastOp.AluEImm:
                    AluToE(ref d, d.Imm);
                    break;
                case X86FastOp.AluGE:
                    {
                        int s = d.Size;
                        ulong r = Alu(d.Sub, s, GetOperandRegister(s, d.Reg), ReadE(ref d, s));
                        if (d.Sub != 7)
                            SetOperandRegister(s, d.Reg, r);
                        break;
                    }
                case X86FastOp.IncDec:
                    {
                        int s = d.Size;
                        if ((d.Flags & X86Insn.Mem) == 0)
                        {
                            ulong a = GetOperandRegister(s, d.Rm);
                            SetOperandRegister(s, d.Rm, d.Sub == 0 ? Inc(s, a) : Dec(s, a));
                        }
                        else
                        {
                            ulong ea = DecodedAddress(ref d);
                            ulong a = ReadForWrite(ea, s);
                            Write(ea, s, d.Sub == 0 ? Inc(s, a) : Dec(s, a));
                        }
                        break;
                    }
                case X86FastOp.Shift:
                    {
                        int s = d.Size;
                        int count = d.Imm == X86Insn.ImmCl ? (int)(Gpr[Rcx] & 0xFF) : (int)d.Imm;
                        if ((d.Flags & X86Insn.Mem) == 0)
                            SetOperandRegister(s, d.Rm, Shift(d.Sub, s, GetOperandRegister(s, d.Rm), count));
                        else
                        {
                            ulong ea = DecodedAddress(ref d);
                            Write(ea, s, Shift(d.Sub, s, ReadForWrite(ea, s), count));
                        }
                        break;
                    }
                case X86FastOp.Not:
                case X86FastOp.Neg:
                    {
                        int s = d.Size;
                        if ((d.Flags & X86Insn.Mem) == 0)
                        {
                            ulong a = GetOperandRegister(s, d.Rm);
                            SetOperandRegister(s, d.Rm, d.Op == X86FastOp.Not ? ~a & SizeMask[s] : Neg(s, a));
                        }
                        else
                        {
                            ulong ea = DecodedAddress(ref d);
                            ulong a = ReadForWrite(ea, s);
                            Write(ea, s, d.Op == X86FastOp.Not ? ~a & SizeMask[s] : Neg(s, a));
                        }
                        break;
                    }
                case X86FastOp.MulDiv:
                    MulDiv(d.Sub, d.Size, ReadE(ref d, d.Size));
                    break;
                case X86FastOp.Imul2:
                    SetOperandRegister(d.Size, d.Reg, Imul2(d.Size, GetOperandRegister(d.Size, d.Reg), ReadE(ref d, d.Size)));
                    break;
                case X86FastOp.Imul3:
                    SetOperandRegister(d.Size, d.Reg, Imul2(d.Size, ReadE(ref d, d.Size), d.Imm));
                    break;
                case X86FastOp.Movzx:
                    SetOperandRegister(d.Size, d.Reg, ReadE(ref d, d.Sub));
                    break;
                case X86FastOp.Movsx:
                    SetOperandRegister(d.Size, d.Reg, SignExtend(d.Sub, ReadE(ref d, d.Sub)) & SizeMask[d.Size]);
                    break;
                case X86FastOp.Cmov:
                    {
                        ulong v = ReadE(ref d, d.Size); // the source is read even when the condition is false
                        if (ConditionInline(d.Sub))
                            SetOperandRegister(d.Size, d.Reg, v);
                        else if (d.Size == Dword)
                            Gpr[d.Reg] &= 0xFFFF_FFFF; // a 32-bit CMOV zeroes the upper half either way
                        break;
                    }
                case X86FastOp.Setcc:
                    WriteE(ref d, Byte, ConditionInline(d.Sub) ? 1UL : 0);
                    break;
                case X86FastOp.Push:
                    Push64(Gpr[d.Reg]);
                    break;
                case X86FastOp.Pop:
                    {
                        ulong rsp = Gpr[Rsp];
                        ulong v = Read64(rsp);
                        Gpr[Rsp] = rsp + 8;
                        Gpr[d.Reg] = v;
                        break;
                    }
                case X86FastOp.PushImm:
                    Push64(d.Imm);
                    break;
                case X86FastOp.PushE:
                    Push64(ReadE(ref d, Qword));
                    break;
                case X86FastOp.Cdqe:
                    if (d.Size == Word) SetReg(Word, Rax, SignExtend(Byte, Gpr[Rax]));
                    else if (d.Size == Dword) SetReg(Dword, Rax, SignExtend(Word, Gpr[Rax]));
                    else Gpr[Rax] = SignExtend(Dword, Gpr[Rax]);
                    break;
                case X86FastOp.Cqo:
                    SetReg(d.Size, Rdx, (GetReg(d.Size, Rax) >> (SizeBits[d.Size] - 1) & 1) != 0 ? ulong.MaxValue : 0);
                    break;
                case X86FastOp.BitTest:
                    BitTestDecoded(ref d);
                    break;
                case X86FastOp.Cmpxchg:
                    {
                        // as the decoding interpreter (0F B0/B1): the destination is written either way (a locked RMW)
                        int s = d.Size;
                        ulong ea = DecodedAddress(ref d);
                        ulong dest = ReadForWrite(ea, s);
                        ulong acc = GetReg(s, Rax);
                        Alu(7, s, acc, dest);
                        if (acc == dest)
                        {
                            Write(ea, s, GetOperandRegister(s, d.Reg));
                        }
                        else
                        {
                            Write(ea, s, dest);
                            SetReg(s, Rax, dest);
                        }
                        break;
                    }
                case X86FastOp.Xadd:
                    {
                        int s = d.Size;
                        ulong ea = DecodedAddress(ref d);
                        ulong dest = ReadForWrite(ea, s), src = GetOperandRegister(s, d.Reg);
                        ulong sum = Alu(0, s, dest, src);
                        SetOperandRegister(s, d.Reg, dest);
                        Write(ea, s, sum);
                        break;
                    }
                case X86FastOp.Sse:
                    {
                        // the decoder's state after the prefixes and the opcode, as ExecuteOne would leave it
                        int rex = d.Reg;
                        _rex = rex;
                        _opSizePrefix = d.Scale != 0;
                        _repPrefix = d.Size;
                        _lockPrefix = false;
                        _addrSize = (d.Flags & X86Insn.Addr32) != 0 ? Dword : Qword;
                        _segment = (d.Flags & X86Insn.SegFs) != 0 ? Fs : (d.Flags & X86Insn.SegGs) != 0 ? Gs : -1;
                        _opSize = (rex & 8) != 0 ? Qword : d.Scale != 0 ? Word : Dword;
                        BeginFetch();
                        _ip = rip + d.Rm;
                        ExecuteSse(d.Sub);
                        if (_ip != next)
                        {
                            Pc = _ip; // (never: the decoded length disagrees) the decoder's word stands
                            InstRet++;
                            return;
                        }
                        break;
                    }
                case X86FastOp.Jcc:
                    if (ConditionInline(d.Sub))
                    {
                        Pc = next + d.Imm;
                        InstRet++;
                        return;
                    }
                    break;
                case X86FastOp.Jmp:
                    next += d.Imm;
                    break;
                case X86FastOp.Call:
                    Push64(next);
                    next += d.Imm;
                    break;
                case X86FastOp.Ret:
                    next = Read64(Gpr[Rsp]);
                    Gpr[Rsp] += 8;
                    break;
                case X86FastOp.CallE:
                    {
                        ulong target = ReadE(ref d, Qword);
                        Push64(next);
                        next = target;
                        break;
                    }
                case X86FastOp.JmpE:
                    next = ReadE(ref d, Qword);
                    break;
                default:
                    {
                        // everything else: the decoding interpreter at this address
                        BeginFetch();
                        ExecuteOne();
                        Pc = _ip;
                        InstRet++;
                        if (_ip != next || _checkInterrupts || InterruptShadow || IsHalted || ShutdownRequested)
                            return;
                        rip = next;
                        continue;
                    }
            }
            Pc = next;
            rip = next;
            InstRet++;
            if (_checkInterrupts)
                return;
        }
    }

    /// <summary>BT/BTS/BTR/BTC predecoded: as <c>BitTest</c>/<c>BitTestImmediate</c> (a register offset selects any bit from a memory operand, SDM vol. 2A, BT).</summary>
    private void BitTestDecoded(ref X86Insn d)
    {
        int s = d.Size, bits = SizeBits[s];
        bool fromRegister = d.Imm == X86Insn.ImmRegister;
        long offset = fromRegister ? (long)SignExtend(s, GetOperandRegister(s, d.Reg)) : (long)d.Imm;
        int bit = (int)(offset & (bits - 1));
        if ((d.Flags & X86Insn.Mem) == 0)
        {
            ulong v = GetOperandRegister(s, d.Rm);
            if (d.Sub != 0)
                SetOperandRegister(s, d.Rm, BitOp(d.Sub, v, bit));
            SetFlagBits(((v >> bit) & 1) != 0 ? FlagCf : 0, FlagCf);
            return;
        }
        ulong ea = DecodedAddress(ref d);
        if (fromRegister)
        {
            // (no segment base here: the decoder leaves FS/GS forms to the decoding interpreter)
            ea += (ulong)((offset >> (s == Word ? 4 : s == Dword ? 5 : 6)) * (bits / 8));
            if ((d.Flags & X86Insn.Addr32) != 0)
                ea &= 0xFFFF_FFFF;
        }
        ulong m = d.Sub == 0 ? Read(ea, s) : ReadForWrite(ea, s);
        if (d.Sub != 0)
            Write(ea, s, BitOp(d.Sub, m, bit));
        SetFlagBits(((m >> bit) & 1) != 0 ? FlagCf : 0, FlagCf);
    }

    private static ulong BitOp(int kind, ulong v, int bit) => kind switch
    {
        1 => v | (1UL << bit),
        2 => v & ~(1UL << bit),
        _ => v ^ (1UL << bit),
    };

    /// <summary>The linear address of a predecoded memory operand (inline: in the page a call costs Mono's interpreter
    /// more than the rest of most instructions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong DecodedAddress(ref X86Insn d)
    {
        ulong ea = (ulong)(long)d.Disp;
        if (d.Base < 16)
            ea += Gpr[d.Base];
        else if (d.Base == X86Insn.RipBase)
            ea += InstructionStart + d.Length;
        if (d.Index < 16)
            ea += Gpr[d.Index] << d.Scale;
        if ((d.Flags & (X86Insn.Addr32 | X86Insn.SegFs | X86Insn.SegGs)) != 0)
            ea = AdjustDecodedAddress(ea, d.Flags);
        return ea;
    }

    private ulong AdjustDecodedAddress(ulong ea, int flags)
    {
        if ((flags & X86Insn.Addr32) != 0)
            ea &= 0xFFFF_FFFF;
        if ((flags & X86Insn.SegFs) != 0)
            ea += Segments[Fs].Base;
        else if ((flags & X86Insn.SegGs) != 0)
            ea += Segments[Gs].Base;
        return ea;
    }

    /// <summary>A register operand by predecoded number (16-19: AH, CH, DH, BH).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong GetOperandRegister(int size, int r)
    {
        if (size == Byte)
            return r < 16 ? Gpr[r] & 0xFF : (Gpr[r - 16] >> 8) & 0xFF;
        return Gpr[r] & SizeMask[size];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetOperandRegister(int size, int r, ulong value)
    {
        switch (size)
        {
            case Byte:
                if (r < 16)
                    Gpr[r] = (Gpr[r] & ~0xFFUL) | (value & 0xFF);
                else
                    Gpr[r - 16] = (Gpr[r - 16] & ~0xFF00UL) | ((value & 0xFF) << 8);
                break;
            case Word: Gpr[r] = (Gpr[r] & ~0xFFFFUL) | (value & 0xFFFF); break;
            case Dword: Gpr[r] = value & 0xFFFF_FFFF; break;
            default: Gpr[r] = value; break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadE(ref X86Insn d, int size) =>
        (d.Flags & X86Insn.Mem) != 0 ? Read(DecodedAddress(ref d), size) : GetOperandRegister(size, d.Rm);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteE(ref X86Insn d, int size, ulong value)
    {
        if ((d.Flags & X86Insn.Mem) != 0)
            Write(DecodedAddress(ref d), size, value);
        else
            SetOperandRegister(size, d.Rm, value);
    }

    /// <summary>The ALU operation <c>d.Sub</c> on the E operand and <paramref name="b"/>; CMP and TEST only set flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AluToE(ref X86Insn d, ulong b)
    {
        int s = d.Size;
        bool write = (d.Flags & X86Insn.NoWrite) == 0;
        if ((d.Flags & X86Insn.Mem) == 0)
        {
            ulong r = Alu(d.Sub, s, GetOperandRegister(s, d.Rm), b);
            if (write)
                SetOperandRegister(s, d.Rm, r);
        }
        else
        {
            ulong ea = DecodedAddress(ref d);
            if (write)
                Write(ea, s, Alu(d.Sub, s, ReadForWrite(ea, s), b));
            else
                Alu(d.Sub, s, Read(ea, s), b);
        }
    }

    // ---- the decoder ----

    /// <summary>
    /// Reads code bytes of one page (and, for the JIT's translator, the first bytes of the next: <see cref="Limit"/>);
    /// running off the end marks the instruction as crossing.
    /// </summary>
    internal ref struct CodeCursor
    {
        public byte* Page;
        public int Position;
        public bool Overrun;

        /// <summary>The offset where the bytes end: the page's end (0x1000, the default), or past it when the next page's bytes follow.</summary>
        public int Limit;

        public int U8()
        {
            if (Position >= End)
            {
                Overrun = true;
                return 0;
            }
            return Page[Position++];
        }

        public readonly int End => Limit == 0 ? 0x1000 : Limit;

        public int S8() => (sbyte)U8();

        public int U16() => U8() | (U8() << 8);

        public int S32() => U8() | (U8() << 8) | (U8() << 16) | (U8() << 24);

        public ulong U64() => (uint)S32() | ((ulong)(uint)S32() << 32);
    }

    /// <summary>
    /// Decodes the instruction at <paramref name="offset"/> of the code page into <paramref name="d"/>:
    /// a fast operation, or <see cref="X86FastOp.Generic"/> with its length when known. False when the
    /// instruction does not fit in the page (or in the <paramref name="limit"/> bytes there are: the JIT's
    /// translator may have the next page's first bytes after the page).
    /// </summary>
    internal static bool DecodeInstruction(byte* page, int offset, ref X86Insn d, int limit = 0x1000)
    {
        d = default;
        d.Base = d.Index = X86Insn.NoRegister;
        var c = new CodeCursor { Page = page, Position = offset, Limit = limit };
        int rex = 0, rep = 0;
        bool opSizePrefix = false, lockPrefix = false, addr32 = false;
        int b;
        while (true)
        {
            b = c.U8();
            if (c.Overrun)
                return false;
            if (c.Position - offset > 15)
                return Generic(ref d, 0); // too long: the interpreter raises #GP
            switch (b)
            {
                case 0x66: opSizePrefix = true; rex = 0; continue;
                case 0x67: addr32 = true; rex = 0; continue;
                case 0x26: case 0x2E: case 0x36: case 0x3E: rex = 0; continue;
                case 0x64: d.Flags = (byte)((d.Flags & ~X86Insn.SegGs) | X86Insn.SegFs); rex = 0; continue;
                case 0x65: d.Flags = (byte)((d.Flags & ~X86Insn.SegFs) | X86Insn.SegGs); rex = 0; continue;
                case 0xF0: lockPrefix = true; rex = 0; continue;
                case 0xF2: case 0xF3: rep = b; rex = 0; continue;
            }
            if ((b & 0xF0) == 0x40)
            {
                rex = b;
                continue;
            }
            break;
        }
        if (addr32)
            d.Flags |= X86Insn.Addr32;
        int size = (rex & 8) != 0 ? Qword : opSizePrefix ? Word : Dword;
        if (b == 0x0F && !lockPrefix && !c.Overrun && c.Position < c.End && IsSseOpcode(page[c.Position]))
        {
            int modrm = c.Position + 1 - offset;
            if (TwoByteLength(ref c, size) < 0 || c.Overrun)
                return !c.Overrun && Generic(ref d, 0);
            d.Op = X86FastOp.Sse;
            d.Sub = page[offset + modrm - 1];
            d.Reg = (byte)rex;
            d.Rm = (byte)modrm;
            d.Size = (byte)rep;
            d.Scale = (byte)(opSizePrefix ? 1 : 0);
            int length = c.Position - offset;
            d.Length = (byte)(length > 15 ? 0 : length);
            if (length > 15)
                d.Op = X86FastOp.Generic;
            return true;
        }
        // (LOCK: CMPXCHG and XADD, whose fast forms are memory forms; a lone guest CPU makes every RMW atomic)
        bool fast = (!lockPrefix || (b == 0x0F && rep == 0 && c.Position < c.End && page[c.Position] is 0xB0 or 0xB1 or 0xC0 or 0xC1))
            && (rep == 0 || (b == 0xC3) || (b == 0x0F && rep == 0xF3 && c.Position < c.End && page[c.Position] == 0x1E));
        int prefixEnd = c.Position - 1;
        if (fast && DecodeFast(ref c, ref d, b, rex, size, opSizePrefix))
        {
            if (c.Overrun)
                return false;
            int length = c.Position - offset;
            if (length > 15)
                return Generic(ref d, 0);
            d.Length = (byte)length;
            return true;
        }
        // not a fast operation: find its length for the block to go on after it (0 ends the block)
        d = default;
        d.Base = d.Index = X86Insn.NoRegister;
        c.Position = prefixEnd + 1;
        c.Overrun = false;
        int len = InstructionLength(ref c, b, rex, opSizePrefix, addr32);
        if (c.Overrun)
            return false;
        len = len < 0 ? 0 : c.Position - offset;
        return Generic(ref d, len > 15 ? 0 : len);
    }

    /// <summary>0F-map opcodes that go to the SSE/MMX decoder (<c>ExecuteSse</c>) and nowhere else.</summary>
    private static bool IsSseOpcode(int op) =>
        op is (>= 0x10 and <= 0x17) or (>= 0x28 and <= 0x2F) or (>= 0x50 and <= 0x7F) or 0xC2 or (>= 0xC4 and <= 0xC6) or >= 0xD0;

    private static bool Generic(ref X86Insn d, int length)
    {
        d.Op = X86FastOp.Generic;
        d.Length = (byte)length;
        return true;
    }

    /// <summary>A register number of the given operand size: byte registers 4-7 without REX are AH-BH (16-19).</summary>
    private static byte OperandRegister(int size, int r, int rex) =>
        (byte)(size == Byte && rex == 0 && r >= 4 && r < 8 ? r + 12 : r);

    /// <summary>ModR/M (and SIB and displacement) into <paramref name="d"/>; returns the reg field (REX.R applied).</summary>
    internal static int DecodeModRmInto(ref CodeCursor c, ref X86Insn d, int rex, int regSize, int rmSize)
    {
        int modrm = c.U8();
        int mod = modrm >> 6;
        int reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
        int rm = modrm & 7;
        d.Reg = OperandRegister(regSize, reg, rex);
        if (mod == 3)
        {
            d.Rm = OperandRegister(rmSize, rm | ((rex & 1) << 3), rex);
            return reg;
        }
        d.Flags |= X86Insn.Mem;
        if (rm == 4)
        {
            int sib = c.U8();
            int index = ((sib >> 3) & 7) | ((rex & 2) << 2);
            if ((sib & 7) == 5 && mod == 0)
                d.Disp = c.S32();
            else
                d.Base = (byte)((sib & 7) | ((rex & 1) << 3));
            if (index != 4)
            {
                d.Index = (byte)index;
                d.Scale = (byte)(sib >> 6);
            }
        }
        else if (rm == 5 && mod == 0)
        {
            d.Base = X86Insn.RipBase;
            d.Disp = c.S32();
            return reg;
        }
        else
        {
            d.Base = (byte)(rm | ((rex & 1) << 3));
        }
        if (mod == 1)
            d.Disp = c.S8();
        else if (mod == 2)
            d.Disp = c.S32();
        return reg;
    }

    /// <summary>An immediate of operand size, at most 32 bits, sign-extended ("Iz"), as the interpreter reads it.</summary>
    private static ulong ImmZ(ref CodeCursor c, int size) => size switch
    {
        Byte => (ulong)c.U8(),
        Word => (ulong)c.U16(),
        _ => (ulong)(long)c.S32(),
    };

    private static bool DecodeFast(ref CodeCursor c, ref X86Insn d, int b, int rex, int size, bool opSizePrefix)
    {
        if (b == 0x0F)
            return DecodeFastTwoByte(ref c, ref d, rex, size);
        if (b < 0x40)
        {
            if ((b & 7) >= 6)
                return false; // segment pushes and pops, BCD, prefixes
            int op = b >> 3;
            int s = (b & 1) == 0 ? Byte : size;
            d.Size = (byte)s;
            d.Sub = (byte)op;
            if (op == 7)
                d.Flags |= X86Insn.NoWrite;
            switch (b & 7)
            {
                case 0: case 1: d.Op = X86FastOp.AluEG; DecodeModRmInto(ref c, ref d, rex, s, s); return true;
                case 2: case 3: d.Op = X86FastOp.AluGE; DecodeModRmInto(ref c, ref d, rex, s, s); return true;
                default:
                    d.Op = X86FastOp.AluEImm;
                    d.Rm = Rax;
                    d.Imm = ImmZ(ref c, s);
                    return true;
            }
        }
        switch (b)
        {
            case >= 0x50 and <= 0x57:
                if (opSizePrefix) return false;
                d.Op = X86FastOp.Push;
                d.Reg = (byte)((b & 7) | ((rex & 1) << 3));
                return true;
            case >= 0x58 and <= 0x5F:
                if (opSizePrefix) return false;
                d.Op = X86FastOp.Pop;
                d.Reg = (byte)((b & 7) | ((rex & 1) << 3));
                return true;
            case 0x63:
                if (size != Qword) return false;
                d.Op = X86FastOp.Movsx;
                d.Size = Qword;
                d.Sub = Dword;
                DecodeModRmInto(ref c, ref d, rex, Qword, Dword);
                return true;
            case 0x68: case 0x6A:
                if (opSizePrefix) return false;
                d.Op = X86FastOp.PushImm;
                d.Imm = b == 0x68 ? (ulong)(long)c.S32() : (ulong)(long)c.S8();
                return true;
            case 0x69: case 0x6B:
                d.Op = X86FastOp.Imul3;
                d.Size = (byte)size;
                DecodeModRmInto(ref c, ref d, rex, size, size);
                d.Imm = b == 0x69 ? ImmZ(ref c, size) : (ulong)(long)c.S8();
                return true;
            case >= 0x70 and <= 0x7F:
                d.Op = X86FastOp.Jcc;
                d.Sub = (byte)(b & 15);
                d.Imm = (ulong)(long)c.S8();
                return true;
            case 0x80: case 0x81: case 0x83:
                {
                    int s = b == 0x80 ? Byte : size;
                    d.Op = X86FastOp.AluEImm;
                    d.Size = (byte)s;
                    int reg = DecodeModRmInto(ref c, ref d, rex, s, s);
                    d.Sub = (byte)(reg & 7);
                    if (d.Sub == 7)
                        d.Flags |= X86Insn.NoWrite;
                    d.Imm = b == 0x81 ? ImmZ(ref c, s) : b == 0x80 ? (ulong)c.U8() : (ulong)(long)c.S8();
                    return true;
                }
            case 0x84: case 0x85:
                {
                    int s = b == 0x84 ? Byte : size;
                    AsTest(ref d, X86FastOp.AluEG, s);
                    DecodeModRmInto(ref c, ref d, rex, s, s);
                    return true;
                }
            case 0x88: case 0x89: case 0x8A: case 0x8B: // MOV Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev
                {
                    int s = (b & 1) == 0 ? Byte : size;
                    bool load = b >= 0x8A;
                    d.Size = (byte)s;
                    DecodeModRmInto(ref c, ref d, rex, s, s);
                    if ((d.Flags & X86Insn.Mem) == 0 || s < Dword)
                        d.Op = load ? X86FastOp.MovLoad : X86FastOp.MovStore;
                    else if (load)
                        d.Op = s == Qword ? X86FastOp.MovLoadQ : X86FastOp.MovLoadD;
                    else
                        d.Op = s == Qword ? X86FastOp.MovStoreQ : X86FastOp.MovStoreD;
                    return true;
                }
            case 0x8D:
                d.Op = X86FastOp.Lea;
                d.Size = (byte)size;
                d.Flags &= unchecked((byte)~(X86Insn.SegFs | X86Insn.SegGs)); // LEA adds no segment base
                DecodeModRmInto(ref c, ref d, rex, size, size);
                return (d.Flags & X86Insn.Mem) != 0;
            case 0x90:
                if ((rex & 1) != 0) return false;
                d.Op = X86FastOp.Nop;
                return true;
            case 0x98:
                d.Op = X86FastOp.Cdqe;
                d.Size = (byte)size;
                return true;
            case 0x99:
                d.Op = X86FastOp.Cqo;
                d.Size = (byte)size;
                return true;
            case 0xA8: case 0xA9:
                {
                    int s = b == 0xA8 ? Byte : size;
                    AsTest(ref d, X86FastOp.AluEImm, s);
                    d.Rm = Rax;
                    d.Imm = ImmZ(ref c, s);
                    return true;
                }
            case >= 0xB0 and <= 0xB7:
                d.Op = X86FastOp.MovImm;
                d.Size = Byte;
                d.Rm = OperandRegister(Byte, (b & 7) | ((rex & 1) << 3), rex);
                d.Imm = (ulong)c.U8();
                return true;
            case >= 0xB8 and <= 0xBF:
                d.Op = X86FastOp.MovImm;
                d.Size = (byte)size;
                d.Rm = (byte)((b & 7) | ((rex & 1) << 3));
                d.Imm = size == Qword ? c.U64() : size == Word ? (ulong)c.U16() : (ulong)(uint)c.S32();
                return true;
            case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3:
                {
                    int s = (b & 1) == 0 ? Byte : size;
                    d.Op = X86FastOp.Shift;
                    d.Size = (byte)s;
                    d.Sub = (byte)(DecodeModRmInto(ref c, ref d, rex, s, s) & 7);
                    d.Imm = b <= 0xC1 ? (ulong)c.U8() : b <= 0xD1 ? 1UL : X86Insn.ImmCl;
                    return true;
                }
            case 0xC3:
                d.Op = X86FastOp.Ret;
                return true;
            case 0xC6: case 0xC7:
                {
                    int s = b == 0xC6 ? Byte : size;
                    d.Op = X86FastOp.MovImm;
                    d.Size = (byte)s;
                    if ((DecodeModRmInto(ref c, ref d, rex, s, s) & 7) != 0)
                        return false;
                    d.Imm = ImmZ(ref c, s);
                    return true;
                }
            case 0xE8: case 0xE9:
                d.Op = b == 0xE8 ? X86FastOp.Call : X86FastOp.Jmp;
                d.Imm = (ulong)(long)c.S32();
                return true;
            case 0xEB:
                d.Op = X86FastOp.Jmp;
                d.Imm = (ulong)(long)c.S8();
                return true;
            case 0xF6: case 0xF7:
                {
                    int s = b == 0xF6 ? Byte : size;
                    d.Size = (byte)s;
                    int op = DecodeModRmInto(ref c, ref d, rex, s, s) & 7;
                    switch (op)
                    {
                        case 0: case 1:
                            AsTest(ref d, X86FastOp.AluEImm, s);
                            d.Imm = ImmZ(ref c, s);
                            return true;
                        case 2: d.Op = X86FastOp.Not; return true;
                        case 3: d.Op = X86FastOp.Neg; return true;
                        default: d.Op = X86FastOp.MulDiv; d.Sub = (byte)op; return true;
                    }
                }
            case 0xFE: case 0xFF:
                {
                    int s = b == 0xFE ? Byte : size;
                    d.Size = (byte)s;
                    int op = DecodeModRmInto(ref c, ref d, rex, s, s) & 7;
                    switch (op)
                    {
                        case 0: case 1: d.Op = X86FastOp.IncDec; d.Sub = (byte)op; return true;
                        case 2 when b == 0xFF: d.Op = X86FastOp.CallE; return true;
                        case 4 when b == 0xFF: d.Op = X86FastOp.JmpE; return true;
                        case 6 when b == 0xFF && !opSizePrefix: d.Op = X86FastOp.PushE; return true;
                        default: return false;
                    }
                }
        }
        return false;
    }

    /// <summary>TEST: AND that only sets flags.</summary>
    private static void AsTest(ref X86Insn d, X86FastOp op, int size)
    {
        d.Op = op;
        d.Size = (byte)size;
        d.Sub = 4;
        d.Flags |= X86Insn.NoWrite;
    }

    private static bool DecodeFastTwoByte(ref CodeCursor c, ref X86Insn d, int rex, int size)
    {
        int op = c.U8();
        switch (op)
        {
            case 0x1E: case 0x1F: // NOP Ev, ENDBR64 (F3 0F 1E FA)
                DecodeModRmInto(ref c, ref d, rex, size, size);
                d.Op = X86FastOp.Nop;
                d.Flags = 0;
                return true;
            case >= 0x40 and <= 0x4F:
                d.Op = X86FastOp.Cmov;
                d.Size = (byte)size;
                d.Sub = (byte)(op & 15);
                DecodeModRmInto(ref c, ref d, rex, size, size);
                return true;
            case >= 0x80 and <= 0x8F:
                d.Op = X86FastOp.Jcc;
                d.Sub = (byte)(op & 15);
                d.Imm = (ulong)(long)c.S32();
                return true;
            case >= 0x90 and <= 0x9F:
                d.Op = X86FastOp.Setcc;
                d.Size = Byte;
                d.Sub = (byte)(op & 15);
                DecodeModRmInto(ref c, ref d, rex, Byte, Byte);
                return true;
            case 0xA3: case 0xAB: case 0xB3: case 0xBB: // BT, BTS, BTR, BTC Ev, Gv
                d.Op = X86FastOp.BitTest;
                d.Size = (byte)size;
                d.Sub = (byte)((op >> 3) & 3);
                d.Imm = X86Insn.ImmRegister;
                DecodeModRmInto(ref c, ref d, rex, size, size);
                // (a register offset moves a memory operand: with an FS/GS base, the decoding interpreter's)
                return (d.Flags & X86Insn.Mem) == 0 || (d.Flags & (X86Insn.SegFs | X86Insn.SegGs)) == 0;
            case 0xBA: // group 8: BT, BTS, BTR, BTC Ev, Ib (/0-/3 are #UD: the decoding interpreter's)
                {
                    int kind = (DecodeModRmInto(ref c, ref d, rex, size, size) & 7) - 4;
                    if (kind < 0)
                        return false;
                    d.Op = X86FastOp.BitTest;
                    d.Size = (byte)size;
                    d.Sub = (byte)kind;
                    d.Imm = (ulong)(c.U8() & (SizeBits[size] - 1));
                    return true;
                }
            case 0xB0: case 0xB1: case 0xC0: case 0xC1: // CMPXCHG, XADD Eb,Gb / Ev,Gv: memory forms (registers: the decoding interpreter's)
                {
                    int s = (op & 1) == 0 ? Byte : size;
                    d.Op = op < 0xC0 ? X86FastOp.Cmpxchg : X86FastOp.Xadd;
                    d.Size = (byte)s;
                    DecodeModRmInto(ref c, ref d, rex, s, s);
                    return (d.Flags & X86Insn.Mem) != 0;
                }
            case 0xAF:
                d.Op = X86FastOp.Imul2;
                d.Size = (byte)size;
                DecodeModRmInto(ref c, ref d, rex, size, size);
                return true;
            case 0xB6: case 0xB7: case 0xBE: case 0xBF:
                {
                    int source = (op & 1) == 0 ? Byte : Word;
                    d.Op = op < 0xB8 ? X86FastOp.Movzx : X86FastOp.Movsx;
                    d.Size = (byte)size;
                    d.Sub = (byte)source;
                    DecodeModRmInto(ref c, ref d, rex, size, source);
                    return true;
                }
        }
        return false;
    }

    // ---- instruction lengths of everything else (a wrong length costs speed, never correctness:
    //      the block stops when the interpreter's next address differs) ----

    // one-byte map: bit 0 ModR/M; bits 1-3 immediate: 1 = Ib, 2 = Iw, 3 = Iz, 4 = Iv (B8-BF), 5 = Iw+Ib, 6 = moffs; 0x80 = unknown here
    private static readonly byte[] OneByteFormat = BuildOneByteFormat();

    private static byte[] BuildOneByteFormat()
    {
        var f = new byte[256];
        for (int i = 0; i < 0x40; i++)
        {
            if ((i & 7) < 4) f[i] = 1;
            else if ((i & 7) == 4) f[i] = 1 << 1;
            else if ((i & 7) == 5) f[i] = 3 << 1;
        }
        foreach (int i in new[] { 0x06, 0x07, 0x0E, 0x0F, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x60, 0x61, 0x62, 0x82, 0x9A, 0xC4, 0xC5, 0xCE, 0xD4, 0xD5, 0xD6, 0xEA })
            f[i] = 0x80;
        f[0x63] = 1;
        f[0x68] = 3 << 1; f[0x69] = 1 | (3 << 1); f[0x6A] = 1 << 1; f[0x6B] = 1 | (1 << 1);
        for (int i = 0x70; i <= 0x7F; i++) f[i] = 1 << 1;
        f[0x80] = 1 | (1 << 1); f[0x81] = 1 | (3 << 1); f[0x83] = 1 | (1 << 1);
        for (int i = 0x84; i <= 0x8F; i++) f[i] = 1;
        for (int i = 0xA0; i <= 0xA3; i++) f[i] = 6 << 1;
        f[0xA8] = 1 << 1; f[0xA9] = 3 << 1;
        for (int i = 0xB0; i <= 0xB7; i++) f[i] = 1 << 1;
        for (int i = 0xB8; i <= 0xBF; i++) f[i] = 4 << 1;
        f[0xC0] = 1 | (1 << 1); f[0xC1] = 1 | (1 << 1); f[0xC2] = 2 << 1; f[0xC6] = 1 | (1 << 1); f[0xC7] = 1 | (3 << 1);
        f[0xC8] = 5 << 1; f[0xCA] = 2 << 1; f[0xCD] = 1 << 1;
        for (int i = 0xD0; i <= 0xD3; i++) f[i] = 1;
        for (int i = 0xD8; i <= 0xDF; i++) f[i] = 1;
        for (int i = 0xE0; i <= 0xE7; i++) f[i] = 1 << 1;
        f[0xE8] = 3 << 1; f[0xE9] = 3 << 1; f[0xEB] = 1 << 1;
        f[0xF6] = 1; f[0xF7] = 1; f[0xFE] = 1; f[0xFF] = 1;
        return f;
    }

    /// <summary>Moves the cursor past the instruction whose opcode byte <paramref name="b"/> was read; -1 if unknown.</summary>
    private static int InstructionLength(ref CodeCursor c, int b, int rex, bool opSizePrefix, bool addr32)
    {
        int size = (rex & 8) != 0 ? Qword : opSizePrefix ? Word : Dword;
        if (b == 0x0F)
            return TwoByteLength(ref c, size);
        int format = OneByteFormat[b];
        if ((format & 0x80) != 0)
            return -1;
        int modrm = -1;
        if ((format & 1) != 0)
        {
            if (c.Position >= c.End) { c.Overrun = true; return 0; }
            modrm = c.Page[c.Position];
            SkipModRm(ref c);
        }
        switch ((format >> 1) & 7)
        {
            case 1: c.U8(); break;
            case 2: c.U16(); break;
            case 3: if (size == Word) c.U16(); else c.S32(); break;
            case 4: if (size == Qword) c.U64(); else if (size == Word) c.U16(); else c.S32(); break;
            case 5: c.U16(); c.U8(); break;
            case 6: if (addr32) c.S32(); else c.U64(); break;
        }
        if ((b == 0xF6 || b == 0xF7) && ((modrm >> 3) & 7) <= 1)
        {
            if (b == 0xF6 || size == Byte) c.U8();
            else if (size == Word) c.U16();
            else c.S32();
        }
        return 0;
    }

    private static int TwoByteLength(ref CodeCursor c, int size)
    {
        int op = c.U8();
        switch (op)
        {
            case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0B: case 0x0E:
            case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:
            case 0x77: case 0xA0: case 0xA1: case 0xA2: case 0xA8: case 0xA9: case 0xAA:
            case >= 0xC8 and <= 0xCF:
                return 0;
            case >= 0x80 and <= 0x8F:
                c.S32();
                return 0;
            case 0x0F: case 0x36: case 0x39: case 0x3B: case 0x3C: case 0x3D: case 0x3E: case 0x3F:
            case 0x04: case 0x0A: case 0x0C: case 0x24: case 0x25: case 0x26: case 0x27: case 0x7A: case 0x7B:
                return -1;
            case 0x38:
                c.U8();
                SkipModRm(ref c);
                return 0;
            case 0x3A:
                c.U8();
                SkipModRm(ref c);
                c.U8();
                return 0;
            case 0x70: case 0x71: case 0x72: case 0x73: case 0xA4: case 0xAC: case 0xBA: case 0xC2: case 0xC4: case 0xC5: case 0xC6:
                SkipModRm(ref c);
                c.U8();
                return 0;
            default:
                SkipModRm(ref c);
                return 0;
        }
    }

    private static void SkipModRm(ref CodeCursor c)
    {
        int modrm = c.U8();
        int mod = modrm >> 6, rm = modrm & 7;
        if (mod == 3)
            return;
        if (rm == 4 && (c.U8() & 7) == 5 && mod == 0)
            c.S32();
        else if (rm == 5 && mod == 0)
            c.S32();
        if (mod == 1)
            c.U8();
        else if (mod == 2)
            c.S32();
    }
}
