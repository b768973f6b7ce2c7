using Wemu.Memory;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The reference execution engine: fetch, decode through <see cref="RvOpcodeTable"/>, execute.
/// Shaped for both hosts (BROWSER.md): one hot method, switches of at most 128 cases, guest traps
/// as return paths not exceptions, no calls on the common path except inlined ones; loads and
/// stores go through the soft TLB inline and fall back to the hart's slow paths.
/// </summary>
public sealed unsafe class RiscVInterpreter : ICpuEngine<RiscVHart>
{
    /// <summary>The decode tables (<see cref="RvDecodeTables"/>: prebuilt, in native memory).</summary>
    private static readonly byte* s_primary = RvDecodeTables.Primary;
    private static readonly uint* s_expand = RvDecodeTables.Expand;

    /// <summary>A page of zeros used as the "no page cached" fetch target: fetching from it decodes
    /// as illegal, and the illegal path notices and fetches for real.</summary>
    private static readonly byte* s_noPage = (byte*)NativeMemory.AllocZeroed(4096 + 8);

    /// <summary>The decode tables and the page of zeros in native memory (what <see cref="RiscVWasmInterpreter"/> reads too).</summary>
    internal static nint PrimaryTable => (nint)RvDecodeTables.Primary;

    internal static nint ExpandTable => (nint)RvDecodeTables.Expand;

    internal static nint ShortTable => (nint)RvDecodeTables.Short;

    /// <summary>In <see cref="ShortTable"/>: the primary table must be read (funct7 matters).</summary>
    internal const byte ShortNeedsFunct7 = RvDecodeTables.ShortNeedsFunct7;

    internal static nint NoPage => (nint)s_noPage;

    private readonly Jit.HotTable? _hot;

    public RiscVInterpreter() { }

    /// <summary>
    /// An interpreter that profiles for a JIT: every taken branch or jump counts its target in
    /// <paramref name="hot"/>, and a target that is hot ends the run (with <see cref="CpuCore.HotExit"/>
    /// set) so the JIT can run or compile the code there.
    /// </summary>
    public RiscVInterpreter(Jit.HotTable hot) => _hot = hot;

    public string Name => "interp";

    /// <summary>
    /// Runs up to <paramref name="budget"/> instructions. Returns early after anything that may
    /// change interrupt state (CSR writes that enable or raise an interrupt, xRET, device accesses), on WFI,
    /// and on fence.i.
    /// Returns the number of instructions retired.
    /// </summary>
    [SkipLocalsInit]
    public long Run(RiscVHart h, long budget)
    {
        ulong* x = h.X;
        byte* primary = s_primary;
        uint* expand = s_expand;
        long executed = 0;
        long counted = 0;   // instructions already added to h.InstRet (CSR reads must see exact counts)
        Jit.HotTable.Entry* hot = _hot != null ? _hot.Entries : null;
        int hotThreshold = _hot != null ? _hot.Threshold : 0;
        ulong pc;
        TlbEntry* dtlb;
        TlbEntry* itlb;
        TlbEntry* fetchEntry;
        ulong fetchBase;
        byte* fetchHost;

    Reload:
        pc = h.Pc;
        dtlb = h.TlbFor(h.DataMmuContext);
        itlb = h.TlbFor(h.FetchMmuContext);
        fetchBase = 0;
        fetchHost = s_noPage;

        while (executed < budget)
        {
            uint inst;
            ulong off = pc - fetchBase;
            if (off <= 0xFFC)
                inst = *(uint*)(fetchHost + off);
            else if ((pc & 0xFFF) <= 0xFFC && (fetchEntry = itlb + ((pc >> 12) & RiscVHart.TlbMask))->TagExec == (pc & ~0xFFFUL))
            {
                // Another page the TLB lets us execute from: no call (in the page, a call ends the
                // jiterpreter's trace, and jumps between pages come every ~20 instructions at boot).
                fetchBase = pc & ~0xFFFUL;
                fetchHost = (byte*)(fetchEntry->Addend + (long)fetchBase);
                inst = *(uint*)(fetchHost + (pc & 0xFFF));
            }
            else
            {
                h.Pc = pc;
                long fetched = FetchSlow(h, pc);
                if (fetched < 0)
                {
                    executed++;
                    goto Trap;
                }
                inst = (uint)fetched;
                fetchBase = h.FetchBase;
                fetchHost = h.FetchHost;
            }
            ulong len = 4;
            uint raw = inst;
            if ((inst & 3) != 3)
            {
                inst = expand[(ushort)inst];
                len = 2;
            }
            RvOp op = (RvOp)primary[RvKey.Of(inst)];
            if (op == RvOp.Secondary)
                op = RvOpcodeTable.DecodeSecondary(inst);
            x[0] = 0;
            int rd = (int)(inst >> 7) & 31;
            int rs1 = (int)(inst >> 15) & 31;
            int rs2 = (int)(inst >> 20) & 31;
            executed++;
            switch (op)
            {
                // RV64I: upper immediates, jumps, branches (Unpriv. 2.4, 2.5)
                case RvOp.Lui: x[rd] = (ulong)(long)(int)(inst & 0xFFFFF000); break;
                case RvOp.Auipc: x[rd] = pc + (ulong)(long)(int)(inst & 0xFFFFF000); break;
                case RvOp.Jal:
                    x[rd] = pc + len;
                    pc += (ulong)(long)ImmJ(inst);
                    goto Transfer;
                case RvOp.Jalr:
                {
                    ulong target = (x[rs1] + (ulong)(long)((int)inst >> 20)) & ~1UL;
                    x[rd] = pc + len;
                    pc = target;
                    goto Transfer;
                }
                case RvOp.Beq: if (x[rs1] == x[rs2]) goto Taken; break;
                case RvOp.Bne: if (x[rs1] != x[rs2]) goto Taken; break;
                case RvOp.Blt: if ((long)x[rs1] < (long)x[rs2]) goto Taken; break;
                case RvOp.Bge: if ((long)x[rs1] >= (long)x[rs2]) goto Taken; break;
                case RvOp.Bltu: if (x[rs1] < x[rs2]) goto Taken; break;
                case RvOp.Bgeu: if (x[rs1] >= x[rs2]) goto Taken; break;

                // Loads (Unpriv. 2.6): TLB hit inline, everything else in the hart's slow path
                case RvOp.Lb:
                case RvOp.Lh:
                case RvOp.Lw:
                case RvOp.Ld:
                case RvOp.Lbu:
                case RvOp.Lhu:
                case RvOp.Lwu:
                {
                    ulong va = x[rs1] + (ulong)(long)((int)inst >> 20);
                    TlbEntry* e = dtlb + ((va >> 12) & RiscVHart.TlbMask);
                    ulong v;
                    if (e->TagRead == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFF8)
                    {
                        byte* p = (byte*)(e->Addend + (long)va);
                        v = op switch
                        {
                            RvOp.Lb => (ulong)(sbyte)*p,
                            RvOp.Lh => (ulong)*(short*)p,
                            RvOp.Lw => (ulong)*(int*)p,
                            RvOp.Ld => *(ulong*)p,
                            RvOp.Lbu => *p,
                            RvOp.Lhu => *(ushort*)p,
                            _ => *(uint*)p,
                        };
                    }
                    else
                    {
                        h.Pc = pc;
                        SyncInstRet(h, executed, ref counted);
                        int size = 1 << (int)((inst >> 12) & 3);
                        if (!h.LoadSlow(va, size, out v))
                            goto Trap;
                        if ((inst & 0x4000) == 0)
                            v = size switch { 1 => (ulong)(sbyte)v, 2 => (ulong)(short)v, 4 => (ulong)(int)v, _ => v };
                        if (h.MmioAccessed) { h.MmioAccessed = false; budget = executed; }
                    }
                    x[rd] = v;
                    break;
                }

                // Stores (Unpriv. 2.6)
                case RvOp.Sb:
                case RvOp.Sh:
                case RvOp.Sw:
                case RvOp.Sd:
                {
                    ulong va = x[rs1] + (ulong)(long)ImmS(inst);
                    TlbEntry* e = dtlb + ((va >> 12) & RiscVHart.TlbMask);
                    ulong v = x[rs2];
                    if (e->TagWrite == (va & ~0xFFFUL) && (va & 0xFFF) <= 0xFF8)
                    {
                        byte* p = (byte*)(e->Addend + (long)va);
                        switch (op)
                        {
                            case RvOp.Sb: *p = (byte)v; break;
                            case RvOp.Sh: *(ushort*)p = (ushort)v; break;
                            case RvOp.Sw: *(uint*)p = (uint)v; break;
                            default: *(ulong*)p = v; break;
                        }
                    }
                    else
                    {
                        h.Pc = pc;
                        SyncInstRet(h, executed, ref counted);
                        if (!h.StoreSlow(va, 1 << (int)((inst >> 12) & 3), v))
                            goto Trap;
                        if (h.MmioAccessed) { h.MmioAccessed = false; budget = executed; }
                    }
                    break;
                }

                // Integer register-immediate (Unpriv. 2.4, 5.2)
                case RvOp.Addi: x[rd] = x[rs1] + (ulong)(long)((int)inst >> 20); break;
                case RvOp.Slti: x[rd] = (long)x[rs1] < (long)((int)inst >> 20) ? 1UL : 0; break;
                case RvOp.Sltiu: x[rd] = x[rs1] < (ulong)(long)((int)inst >> 20) ? 1UL : 0; break;
                case RvOp.Xori: x[rd] = x[rs1] ^ (ulong)(long)((int)inst >> 20); break;
                case RvOp.Ori: x[rd] = x[rs1] | (ulong)(long)((int)inst >> 20); break;
                case RvOp.Andi: x[rd] = x[rs1] & (ulong)(long)((int)inst >> 20); break;
                case RvOp.Slli: x[rd] = x[rs1] << (int)((inst >> 20) & 63); break;
                case RvOp.Srli: x[rd] = x[rs1] >> (int)((inst >> 20) & 63); break;
                case RvOp.Srai: x[rd] = (ulong)((long)x[rs1] >> (int)((inst >> 20) & 63)); break;
                case RvOp.Addiw: x[rd] = (ulong)(long)(int)((uint)x[rs1] + (uint)((int)inst >> 20)); break;
                case RvOp.Slliw: x[rd] = (ulong)(long)(int)((uint)x[rs1] << rs2); break;
                case RvOp.Srliw: x[rd] = (ulong)(long)(int)((uint)x[rs1] >> rs2); break;
                case RvOp.Sraiw: x[rd] = (ulong)(long)((int)x[rs1] >> rs2); break;

                // Integer register-register (Unpriv. 2.4, 5.2)
                case RvOp.Add: x[rd] = x[rs1] + x[rs2]; break;
                case RvOp.Sub: x[rd] = x[rs1] - x[rs2]; break;
                case RvOp.Sll: x[rd] = x[rs1] << (int)(x[rs2] & 63); break;
                case RvOp.Slt: x[rd] = (long)x[rs1] < (long)x[rs2] ? 1UL : 0; break;
                case RvOp.Sltu: x[rd] = x[rs1] < x[rs2] ? 1UL : 0; break;
                case RvOp.Xor: x[rd] = x[rs1] ^ x[rs2]; break;
                case RvOp.Srl: x[rd] = x[rs1] >> (int)(x[rs2] & 63); break;
                case RvOp.Sra: x[rd] = (ulong)((long)x[rs1] >> (int)(x[rs2] & 63)); break;
                case RvOp.Or: x[rd] = x[rs1] | x[rs2]; break;
                case RvOp.And: x[rd] = x[rs1] & x[rs2]; break;
                case RvOp.Addw: x[rd] = (ulong)(long)(int)((uint)x[rs1] + (uint)x[rs2]); break;
                case RvOp.Subw: x[rd] = (ulong)(long)(int)((uint)x[rs1] - (uint)x[rs2]); break;
                case RvOp.Sllw: x[rd] = (ulong)(long)(int)((uint)x[rs1] << (int)(x[rs2] & 31)); break;
                case RvOp.Srlw: x[rd] = (ulong)(long)(int)((uint)x[rs1] >> (int)(x[rs2] & 31)); break;
                case RvOp.Sraw: x[rd] = (ulong)(long)((int)x[rs1] >> (int)(x[rs2] & 31)); break;

                // M (Unpriv. chapter 7)
                case RvOp.Mul: x[rd] = x[rs1] * x[rs2]; break;
                case RvOp.Mulh: x[rd] = (ulong)Math.BigMul((long)x[rs1], (long)x[rs2], out _); break;
                case RvOp.Mulhsu:
                {
                    ulong a = x[rs1], b = x[rs2];
                    ulong hi = Math.BigMul(a, b, out _);
                    x[rd] = (long)a < 0 ? hi - b : hi;
                    break;
                }
                case RvOp.Mulhu: x[rd] = Math.BigMul(x[rs1], x[rs2], out _); break;
                case RvOp.Div:
                {
                    long a = (long)x[rs1], b = (long)x[rs2];
                    x[rd] = b == 0 ? ulong.MaxValue : (b == -1 ? (ulong)(0 - a) : (ulong)(a / b));
                    break;
                }
                case RvOp.Divu: { ulong b = x[rs2]; x[rd] = b == 0 ? ulong.MaxValue : x[rs1] / b; break; }
                case RvOp.Rem:
                {
                    long a = (long)x[rs1], b = (long)x[rs2];
                    x[rd] = b == 0 ? (ulong)a : (b == -1 ? 0 : (ulong)(a % b));
                    break;
                }
                case RvOp.Remu: { ulong b = x[rs2]; x[rd] = b == 0 ? x[rs1] : x[rs1] % b; break; }
                case RvOp.Mulw: x[rd] = (ulong)(long)(int)((uint)x[rs1] * (uint)x[rs2]); break;
                case RvOp.Divw:
                {
                    int a = (int)x[rs1], b = (int)x[rs2];
                    x[rd] = (ulong)(long)(b == 0 ? -1 : (b == -1 ? (int)(0u - (uint)a) : a / b));
                    break;
                }
                case RvOp.Divuw:
                {
                    uint b = (uint)x[rs2];
                    x[rd] = (ulong)(long)(int)(b == 0 ? uint.MaxValue : (uint)x[rs1] / b);
                    break;
                }
                case RvOp.Remw:
                {
                    int a = (int)x[rs1], b = (int)x[rs2];
                    x[rd] = (ulong)(long)(b == 0 ? a : (b == -1 ? 0 : a % b));
                    break;
                }
                case RvOp.Remuw:
                {
                    uint b = (uint)x[rs2];
                    x[rd] = (ulong)(long)(int)(b == 0 ? (uint)x[rs1] : (uint)x[rs1] % b);
                    break;
                }

                case RvOp.Fence: break;
                case RvOp.FenceI:
                    // The interpreter fetches from memory every time, so it is always coherent;
                    // leave the loop so a translating engine can drop stale blocks.
                    budget = executed;
                    break;

                // A (Unpriv. chapter 8)
                case >= RvOp.LrW and <= RvOp.AmomaxuD:
                    h.Pc = pc;
                    SyncInstRet(h, executed, ref counted);
                    if (!h.ExecAtomic(inst, op))
                        goto Trap;
                    if (h.MmioAccessed) { h.MmioAccessed = false; budget = executed; }
                    break;

                // Zicsr: may change privilege-relevant state (SUM, MPRV), so reload the cached contexts afterwards;
                // leave for the machine loop only after a write it must see (RiscVHart.CsrWriteEndsRun)
                case >= RvOp.Csrrw and <= RvOp.Csrrci:
                    h.Pc = pc;
                    // instret/cycle read by this instruction count every earlier instruction, not
                    // this one; a write to them replaces this instruction's own increment.
                    h.InstRet += (ulong)(executed - 1 - counted);
                    counted = executed;
                    h.InstRetWritten = false;
                    if (!h.ExecCsr(inst, op))
                        goto TrapTaken;   // already left out of instret above
                    if (!h.InstRetWritten)
                        h.InstRet++;
                    pc += len;
                    h.Pc = pc;
                    if (h.CsrWriteEndsRun)
                    {
                        budget = executed;
                        goto Exit;
                    }
                    // Compiled code stops before CSR instructions, so the next one starts a block: count it as
                    // an arrival, and leave for its code if it is hot.
                    if (hot != null && Jit.HotTable.Bump(hot, pc, hotThreshold, pcShift: 1))
                    {
                        h.HotExit = true;
                        goto Exit;
                    }
                    goto Reload;

                case RvOp.Illegal:
                    if (off <= 0xFFC && fetchHost == s_noPage)
                    {
                        // Nothing was cached: fetch for real and decode again.
                        executed--;
                        h.Pc = pc;
                        if (FetchSlow(h, pc) < 0)
                        {
                            executed++;
                            goto Trap;
                        }
                        fetchBase = h.FetchBase;
                        fetchHost = h.FetchHost;
                        continue;
                    }
                    h.Pc = pc;
                    h.Fault(RvException.IllegalInstruction, len == 2 ? raw & 0xFFFF : raw);
                    goto Trap;

                default:
                    // F and D, and secondary-decoded system instructions
                    h.Pc = pc;
                    if (op >= RvOp.FirstFloat)
                    {
                        SyncInstRet(h, executed, ref counted);
                        if (!h.ExecFloat(inst, op, dtlb))
                            goto Trap;
                        if (h.MmioAccessed) { h.MmioAccessed = false; budget = executed; }
                        break;
                    }
                    if (!ExecSystem(h, inst, op, len))
                        goto Trap;
                    budget = executed;
                    goto Exit;
            }
            pc += len;
            continue;

        Taken:
            pc += (ulong)(long)ImmB(inst);
        Transfer:
            if (hot != null && Jit.HotTable.Bump(hot, pc, hotThreshold, pcShift: 1))
            {
                h.HotExit = true;
                break;
            }
        }
        h.Pc = pc;
    Exit:
        x[0] = 0;
        h.InstRet += (ulong)(executed - counted);
        return executed;

    Trap:
        // The faulting instruction counts against the budget (progress) but does not retire.
        counted++;
    TrapTaken:
        // h.Pc holds the faulting instruction's address; the exception is recorded in the hart.
        x[0] = 0;
        h.TakePendingException();
        if (executed < budget)
            goto Reload;
        h.InstRet += (ulong)(executed - counted);
        return executed;
    }

    /// <summary>Instructions the primary table could not tell apart and that are not F/D (ecall, ebreak, mret, sret, wfi, sfence.vma).</summary>
    private static bool ExecSystem(RiscVHart h, uint inst, RvOp op, ulong len)
    {
        switch (op)
        {
            case RvOp.Ecall:
                return h.Fault(RvException.EcallFromU + (h.Priv == RiscVHart.PrivMachine ? 3 : h.Priv), 0);
            case RvOp.Ebreak:
                return h.Fault(RvException.Breakpoint, h.Pc);
            case RvOp.Mret:
                return h.Mret();
            case RvOp.Sret:
                return h.Sret();
            case RvOp.Wfi:
                if (!h.Wfi())
                    return false;
                h.Pc += len;
                return true;
            case RvOp.SfenceVma:
                if (h.Priv == RiscVHart.PrivUser || (h.Priv == RiscVHart.PrivSupervisor && (h.Mstatus & RvStatus.Tvm) != 0))
                    return h.Fault(RvException.IllegalInstruction, inst);
                int rs1 = (int)((inst >> 15) & 31);
                if (rs1 != 0)
                    h.FlushTlbPage(h.X[rs1]);
                else
                    h.FlushTlb();
                h.Pc += len;
                return true;
            default:
                return h.Fault(RvException.IllegalInstruction, inst);
        }
    }

    /// <summary>
    /// Fetches the instruction at <paramref name="pc"/> through the TLB: returns it (zero-extended),
    /// or -1 with the exception recorded. Leaves the page to fetch from next in
    /// <see cref="RiscVHart.FetchBase"/>/<see cref="RiscVHart.FetchHost"/> (the no-page page after a
    /// page-crossing instruction). Nothing is passed by reference, so the hot loop keeps its fetch
    /// state in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long FetchSlow(RiscVHart h, ulong pc)
    {
        h.FetchBase = 0;
        h.FetchHost = s_noPage;
        if ((pc & 0xFFF) <= 0xFFC)
        {
            byte* page = h.FetchPage(pc);
            if (page == null)
                return -1;
            h.FetchBase = pc & ~0xFFFUL;
            h.FetchHost = page;
            return *(uint*)(page + (pc & 0xFFF));
        }
        // The last halfword(s) of a page: a 32-bit instruction may straddle two pages.
        byte* first = h.FetchPage(pc);
        if (first == null)
            return -1;
        ushort lo = *(ushort*)(first + (pc & 0xFFF));
        if ((lo & 3) != 3 || (pc & 0xFFF) == 0xFFC)
            return (pc & 0xFFF) == 0xFFC ? *(uint*)(first + 0xFFC) : lo;
        byte* second = h.FetchPage(pc + 2);
        if (second == null)
            return -1;   // Priv. spec: tval is the address of the portion that faulted.
        return lo | ((uint)*(ushort*)second << 16);
    }

    /// <summary>
    /// Before a slow path that may reach a device: instret covers every earlier instruction, so
    /// a clock derived from it (<c>-icount</c>) reads the same whatever the engine's run length.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SyncInstRet(RiscVHart h, long executed, ref long counted)
    {
        h.InstRet += (ulong)(executed - 1 - counted);
        counted = executed - 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ImmS(uint inst) => ((int)(inst & 0xFE000000) >> 20) | (int)((inst >> 7) & 0x1F);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ImmB(uint inst) =>
        ((int)(inst & 0x80000000) >> 19) | (int)((inst & 0x80) << 4) | (int)((inst >> 20) & 0x7E0) | (int)((inst >> 7) & 0x1E);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ImmJ(uint inst) =>
        ((int)(inst & 0x80000000) >> 11) | (int)(inst & 0xFF000) | (int)((inst >> 9) & 0x800) | (int)((inst >> 20) & 0x7FE);
}
