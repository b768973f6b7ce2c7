namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart
{
    /// <summary>
    /// Executes a Zicsr instruction. Returns false with an illegal-instruction exception recorded
    /// for an unknown CSR, insufficient privilege or a write to a read-only CSR (Priv. spec 2.1).
    /// </summary>
    internal bool ExecCsr(uint inst, RvOp op)
    {
        int csr = (int)(inst >> 20);
        int rd = (int)((inst >> 7) & 31);
        int rs1 = (int)((inst >> 15) & 31);
        ulong operand = op >= RvOp.Csrrwi ? (ulong)rs1 : X[rs1];
        bool writes = op is RvOp.Csrrw or RvOp.Csrrwi || rs1 != 0;
        bool reads = !(op is RvOp.Csrrw or RvOp.Csrrwi) || rd != 0;

        if (((csr >> 8) & 3) > Priv || (writes && (csr >> 10) == 3))
            return Fault(RvException.IllegalInstruction, inst);

        CsrWriteEndsRun = false;
        ulong old = 0;
        if (reads || writes)
        {
            if (!TryReadCsr(csr, out old))
                return Fault(RvException.IllegalInstruction, inst);
        }
        if (writes)
        {
            // Priv. spec 3.1.9: a read-modify-write of mip/sip uses the software-writable bits only,
            // not the external interrupt pins ORed into reads (else a pending SEIP would stick).
            ulong rmwBase = csr is Csr.Mip or Csr.Sip ? MipSoft : old;
            ulong value = op switch
            {
                RvOp.Csrrw or RvOp.Csrrwi => operand,
                RvOp.Csrrs or RvOp.Csrrsi => rmwBase | operand,
                _ => rmwBase & ~operand,
            };
            ulong mstatusBefore = Mstatus, mieBefore = Mie;
            if (!TryWriteCsr(csr, value))
                return Fault(RvException.IllegalInstruction, inst);
            CsrWriteEndsRun = WriteEndsRun(csr, mstatusBefore, mieBefore);
        }
        if (rd != 0)
            X[rd] = old;
        return true;
    }

    /// <summary>
    /// After <see cref="ExecCsr"/>: the instruction wrote state the machine loop must see before the hart goes on (an
    /// enable of an interrupt that is pending, a pending bit, delegation, translation, PMP, the counters). Reads,
    /// writes of trap-handling state, and enables while nothing they enable is pending leave it false: Linux makes them on every trap and
    /// every interrupt-flag save, and a run that ended at each cost ~2 µs in the page (a return to the machine loop
    /// and back under Mono's interpreter).
    /// </summary>
    internal bool CsrWriteEndsRun;

    private bool WriteEndsRun(int csr, ulong mstatusBefore, ulong mieBefore) => csr switch
    {
        Csr.Sscratch or Csr.Sepc or Csr.Scause or Csr.Stval or Csr.Stvec or Csr.Scounteren or Csr.Senvcfg
            or Csr.Mscratch or Csr.Mepc or Csr.Mcause or Csr.Mtval or Csr.Mtvec or Csr.Mcounteren or Csr.Menvcfg
            or Csr.Fflags or Csr.Frm or Csr.Fcsr => false,
        // (an enable with nothing pending changes nothing yet: devices raise their lines in the machine loop)
        Csr.Sstatus or Csr.Mstatus => (Mstatus & ~mstatusBefore & (RvStatus.Sie | RvStatus.Mie)) != 0 && (Mip & Mie) != 0,
        Csr.Sie or Csr.Mie => (Mie & ~mieBefore & Mip) != 0,
        _ => true,
    };

    private bool CounterAccessible(int index)
    {
        if (Priv == PrivMachine)
            return true;
        if (((Mcounteren >> index) & 1) == 0)
            return false;
        return Priv == PrivSupervisor || ((Scounteren >> index) & 1) != 0;
    }

    private bool FloatEnabled => (Mstatus & RvStatus.Fs) != 0;

    public bool TryReadCsr(int csr, out ulong value)
    {
        value = 0;
        switch (csr)
        {
            case Csr.Fflags: if (!FloatEnabled) return false; value = Fflags; return true;
            case Csr.Frm: if (!FloatEnabled) return false; value = Frm; return true;
            case Csr.Fcsr: if (!FloatEnabled) return false; value = (Frm << 5) | Fflags; return true;
            case Csr.Cycle: case Csr.Instret:
                if (!CounterAccessible(csr - Csr.Cycle)) return false;
                value = InstRet; return true;
            case Csr.Time:
                if (!CounterAccessible(1)) return false;
                value = ReadTime(); return true;
            case >= Csr.Hpmcounter3 and <= Csr.Hpmcounter31:
                return CounterAccessible(csr - Csr.Cycle);
            case Csr.Sstatus: value = SstatusValue(); return true;
            case Csr.Sie: value = Mie & Mideleg; return true;
            case Csr.Stvec: value = Stvec; return true;
            case Csr.Scounteren: value = Scounteren; return true;
            case Csr.Senvcfg: value = Senvcfg; return true;
            case Csr.Sscratch: value = Sscratch; return true;
            case Csr.Sepc: value = Sepc; return true;
            case Csr.Scause: value = Scause; return true;
            case Csr.Stval: value = Stval; return true;
            case Csr.Sip: value = Mip & Mideleg; return true;
            case Csr.Satp:
                if (Priv == PrivSupervisor && (Mstatus & RvStatus.Tvm) != 0) return false;
                value = Satp; return true;
            case Csr.Mvendorid: case Csr.Marchid: case Csr.Mimpid: case Csr.Mconfigptr: return true;
            case Csr.Mhartid: value = (ulong)HartId; return true;
            case Csr.Mstatus: value = MstatusValue(); return true;
            case Csr.Misa: value = Misa; return true;
            case Csr.Medeleg: value = Medeleg; return true;
            case Csr.Mideleg: value = Mideleg; return true;
            case Csr.Mie: value = Mie; return true;
            case Csr.Mtvec: value = Mtvec; return true;
            case Csr.Mcounteren: value = Mcounteren; return true;
            case Csr.Menvcfg: value = Menvcfg; return true;
            case Csr.Mcountinhibit: value = Mcountinhibit; return true;
            case >= Csr.Mhpmevent3 and <= Csr.Mhpmevent31: return true;
            case Csr.Mscratch: value = Mscratch; return true;
            case Csr.Mepc: value = Mepc; return true;
            case Csr.Mcause: value = Mcause; return true;
            case Csr.Mtval: value = Mtval; return true;
            case Csr.Mip: value = Mip; return true;
            case >= Csr.Pmpcfg0 and <= Csr.Pmpcfg15:
                if ((csr & 1) != 0) return false;   // RV64: odd pmpcfg registers do not exist
                for (int i = 0; i < 8; i++)
                    value |= (ulong)PmpCfg[(csr - Csr.Pmpcfg0) * 4 + i] << (8 * i);
                return true;
            case >= Csr.Pmpaddr0 and <= Csr.Pmpaddr63: value = PmpAddr[csr - Csr.Pmpaddr0]; return true;
            case Csr.Mcycle: case Csr.Minstret: value = InstRet; return true;
            case >= Csr.Mhpmcounter3 and <= Csr.Mhpmcounter31: return true;
            default: return false;
        }
    }

    public bool TryWriteCsr(int csr, ulong value)
    {
        switch (csr)
        {
            case Csr.Fflags: if (!FloatEnabled) return false; Fflags = (uint)value & 0x1F; MarkFloatDirty(); return true;
            case Csr.Frm: if (!FloatEnabled) return false; Frm = (uint)value & 7; MarkFloatDirty(); return true;
            case Csr.Fcsr:
                if (!FloatEnabled) return false;
                Fflags = (uint)value & 0x1F; Frm = (uint)(value >> 5) & 7; MarkFloatDirty(); return true;
            case Csr.Sstatus:
                WriteMstatus((Mstatus & ~RvStatus.SstatusMask) | (value & RvStatus.SstatusMask));
                return true;
            case Csr.Sie: Mie = (Mie & ~Mideleg) | (value & Mideleg); return true;
            case Csr.Stvec: Stvec = LegalTvec(value, Stvec); return true;
            case Csr.Scounteren: Scounteren = (uint)value; return true;
            case Csr.Senvcfg: Senvcfg = value & 1; return true;
            case Csr.Sscratch: Sscratch = value; return true;
            case Csr.Sepc: Sepc = value & ~1UL; return true;
            case Csr.Scause: Scause = value; return true;
            case Csr.Stval: Stval = value; return true;
            case Csr.Sip:
                ulong sw = RvStatus.SsipBit & Mideleg;
                MipSoft = (MipSoft & ~sw) | (value & sw);
                return true;
            case Csr.Satp:
                if (Priv == PrivSupervisor && (Mstatus & RvStatus.Tvm) != 0) return false;
                WriteSatp(value);
                return true;
            case Csr.Mstatus: WriteMstatus(value); return true;
            case Csr.Misa: return true;   // WARL: fixed
            case Csr.Medeleg: Medeleg = value & 0xB3FF; return true;   // all but ecall-from-M (11) and reserved
            case Csr.Mideleg: Mideleg = value & RvStatus.SupervisorInterrupts; return true;
            case Csr.Mie: Mie = value & RvStatus.AllInterrupts; return true;
            case Csr.Mtvec: Mtvec = LegalTvec(value, Mtvec); return true;
            case Csr.Mcounteren: Mcounteren = (uint)value; return true;
            case Csr.Menvcfg: Menvcfg = value & 1; return true;   // FIOM only: no Sstc/Svpbmt
            case Csr.Mcountinhibit: Mcountinhibit = (uint)value & ~2u; return true;
            case >= Csr.Mhpmevent3 and <= Csr.Mhpmevent31: return true;
            case Csr.Mscratch: Mscratch = value; return true;
            case Csr.Mepc: Mepc = value & ~1UL; return true;
            case Csr.Mcause: Mcause = value; return true;
            case Csr.Mtval: Mtval = value; return true;
            case Csr.Mip:
                ulong mw = RvStatus.SupervisorInterrupts;
                MipSoft = (MipSoft & ~mw) | (value & mw);
                return true;
            case >= Csr.Pmpcfg0 and <= Csr.Pmpcfg15:
                if ((csr & 1) != 0) return false;
                for (int i = 0; i < 8; i++)
                {
                    int idx = (csr - Csr.Pmpcfg0) * 4 + i;
                    if ((PmpCfg[idx] & 0x80) == 0)   // locked entries ignore writes
                        PmpCfg[idx] = (byte)((value >> (8 * i)) & 0x9F);
                }
                FlushTlb();
                return true;
            case >= Csr.Pmpaddr0 and <= Csr.Pmpaddr63:
                int n = csr - Csr.Pmpaddr0;
                if ((PmpCfg[n] & 0x80) == 0)
                    PmpAddr[n] = value & ((1UL << 54) - 1);
                FlushTlb();
                return true;
            case Csr.Mcycle: case Csr.Minstret: InstRet = value; InstRetWritten = true; return true;
            case >= Csr.Mhpmcounter3 and <= Csr.Mhpmcounter31: return true;
            default: return false;
        }
    }

    private static ulong LegalTvec(ulong value, ulong old) => (value & 3) < 2 ? value & ~2UL : old;

    private ulong MstatusValue()
    {
        ulong s = Mstatus;
        if ((s & RvStatus.Fs) == RvStatus.Fs)
            s |= RvStatus.Sd;
        return s;
    }

    private ulong SstatusValue() => MstatusValue() & RvStatus.SstatusMask;

    private void WriteMstatus(ulong value)
    {
        ulong old = Mstatus;
        ulong s = (old & ~RvStatus.MstatusWritable) | (value & RvStatus.MstatusWritable);
        if (((s >> RvStatus.MppShift) & 3) == 2)   // MPP is WARL: 2 (reserved) keeps the old value
            s = (s & ~RvStatus.Mpp) | (old & RvStatus.Mpp);
        Mstatus = s & ~RvStatus.Sd;
        if (((old ^ s) & RvStatus.Mxr) != 0)
            FlushTlb();
    }

    /// <summary>satp (Priv. spec 4.1.11): modes Bare, Sv39 and Sv48; ASIDLEN=0; other modes leave satp unchanged.</summary>
    private void WriteSatp(ulong value)
    {
        ulong mode = value >> 60;
        if (mode != 0 && mode != 8 && mode != 9)
            return;
        Satp = mode == 0 ? 0 : (value & ((1UL << 44) - 1)) | (mode << 60);
        FlushTlb();
    }

    /// <summary>Set when a CSR instruction wrote mcycle/minstret (it then does not count itself).</summary>
    internal bool InstRetWritten;

    internal void MarkFloatDirty() => Mstatus |= RvStatus.Fs;
}
