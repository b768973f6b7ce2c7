namespace Wemu.Cpu.X86;

/// <summary>
/// String instructions (SDM vol. 2: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) with REP/REPE/REPNE.
/// Registers advance element by element, so a fault in the middle leaves RSI/RDI/RCX where the
/// architecture says and the instruction restarts from there; a long REP yields (the instruction
/// retires and re-executes, so interrupts are taken) each time RCX reaches a multiple of
/// <see cref="RepChunk"/>. Where it yields depends on RCX alone, not on where this execution
/// began, so compiled code that did part of a REP can hand the rest to this loop and the
/// instruction still retires at the same points (<see cref="RepChunkOf"/>).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    public const int RepChunk = 4096;

    /// <summary>Elements an execution of a REP with <paramref name="count"/> in RCX does at most: to the next multiple of <see cref="RepChunk"/> below it (a whole chunk from a multiple).</summary>
    public static ulong RepChunkOf(ulong count) => ((count - 1) & (RepChunk - 1)) + 1;

    private void StringInstruction(int b)
    {
        int s = (b & 1) == 0 ? Byte : _opSize;
        int kind = b switch
        {
            0x6C or 0x6D => 0, // INS
            0x6E or 0x6F => 1, // OUTS
            0xA4 or 0xA5 => 2, // MOVS
            0xA6 or 0xA7 => 3, // CMPS
            0xAA or 0xAB => 4, // STOS
            0xAC or 0xAD => 5, // LODS
            _ => 6,            // SCAS
        };
        if (kind <= 1)
        {
            s = (b & 1) == 0 ? Byte : _opSize == Word ? Word : Dword;
            CheckIoPermission((ushort)Gpr[Rdx], s);
        }
        int a = _addrSize;
        ulong amask = SizeMask[a];
        ulong step = (Rflags & FlagDf) != 0 ? (ulong)-(1L << s) : 1UL << s;
        bool rep = _repPrefix != 0;
        int limit = rep ? (int)RepChunkOf(Gpr[Rcx] & amask) : 1;
        for (int n = 0; n < limit; n++)
        {
            if (rep && (Gpr[Rcx] & amask) == 0)
                return;
            ulong rsi = Gpr[Rsi] & amask, rdi = Gpr[Rdi] & amask;
            if (rep && (kind == 2 || kind == 4) && a == Qword && _segment < 0 && (Rflags & FlagDf) == 0)
            {
                long bulk = RepBulk(kind == 2, s, rsi, rdi, Math.Min(Gpr[Rcx], (ulong)(limit - n)));
                if (bulk > 0)
                {
                    n += (int)bulk - 1;
                    continue;
                }
            }
            ulong src = AddSegmentBase(rsi, Ds);
            switch (kind)
            {
                case 0: // INS: ES:rDI <- port DX
                    {
                        ProbeWrite(rdi, 1 << s);
                        uint v = ReadPort((ushort)Gpr[Rdx], 1 << s);
                        Write(rdi, s, v);
                        SetReg(a, Rdi, rdi + step);
                        break;
                    }
                case 1: // OUTS: port DX <- DS:rSI
                    {
                        ulong v = Read(src, s);
                        WritePort((ushort)Gpr[Rdx], 1 << s, (uint)v);
                        SetReg(a, Rsi, rsi + step);
                        _checkInterrupts = true;
                        break;
                    }
                case 2: // MOVS
                    Write(rdi, s, Read(src, s));
                    SetReg(a, Rsi, rsi + step);
                    SetReg(a, Rdi, rdi + step);
                    break;
                case 3: // CMPS: compare DS:rSI with ES:rDI
                    {
                        ulong x = Read(src, s), y = Read(rdi, s);
                        Alu(7, s, x, y);
                        SetReg(a, Rsi, rsi + step);
                        SetReg(a, Rdi, rdi + step);
                        break;
                    }
                case 4: // STOS
                    Write(rdi, s, GetReg(s, Rax));
                    SetReg(a, Rdi, rdi + step);
                    break;
                case 5: // LODS
                    SetReg(s, Rax, Read(src, s));
                    SetReg(a, Rsi, rsi + step);
                    break;
                default: // SCAS: compare rAX with ES:rDI
                    Alu(7, s, GetReg(s, Rax), Read(rdi, s));
                    SetReg(a, Rdi, rdi + step);
                    break;
            }
            if (!rep)
                return;
            SetReg(a, Rcx, (Gpr[Rcx] - 1) & amask);
            // REPE/REPNE end on the ZF condition for CMPS and SCAS only
            if (kind == 3 || kind == 6)
            {
                bool zf = Condition(4);
                if (_repPrefix == 0xF3 ? !zf : zf)
                    return;
            }
        }
        if ((Gpr[Rcx] & amask) != 0)
        {
            _ip = InstructionStart; // more to do: run this instruction again after a look at interrupts
            _checkInterrupts = true;
        }
    }

    /// <summary>The soft TLB's layout as <see cref="Jit.PageBulk"/> takes it (what compiled code's bulk ops pass too).</summary>
    private static readonly long BulkLayout = Jit.PageBulk.Pack(X86JitHelpers.TlbLayout);

    /// <summary>
    /// REP MOVS / REP STOS forwards (64-bit addresses, no override) on whole elements within one page
    /// of RAM on each side that the TLB already lets through (no I/O, no code page): up to
    /// <paramref name="max"/> elements at once, with the same meaning as compiled code's
    /// <see cref="Jit.Ir.IrOp.PageCopy"/>/<see cref="Jit.Ir.IrOp.PageFill"/>, registers advanced as the
    /// element loop would. Returns the elements done (0: take the element loop).
    /// </summary>
    private long RepBulk(bool movs, int s, ulong rsi, ulong rdi, ulong max)
    {
        byte* tlb = (byte*)(Tlb + (MmuContext << TlbBits));
        ulong k = movs ? Jit.PageBulk.Copy(tlb, BulkLayout, rdi, rsi, max, 1 << s) : Jit.PageBulk.Fill(tlb, BulkLayout, rdi, Gpr[Rax], max, 1 << s);
        if (k == 0)
            return 0;
        ulong bytes = k << s;
        if (movs)
            Gpr[Rsi] = rsi + bytes;
        Gpr[Rdi] = rdi + bytes;
        Gpr[Rcx] -= k;
        return (long)k;
    }
}
