namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart
{
    /// <summary>Records an exception for the current instruction; the engine then calls <see cref="TakePendingException"/>.</summary>
    internal bool Fault(int cause, ulong tval)
    {
        ExceptionCause = cause;
        ExceptionValue = tval;
        return false;
    }

    internal void TakePendingException() => Trap((ulong)ExceptionCause, ExceptionValue, interrupt: false);

    /// <summary>Enters the trap handler (Priv. spec 3.1.6.1, 3.1.8 delegation, 4.1.1).</summary>
    internal void Trap(ulong cause, ulong tval, bool interrupt)
    {
        ulong deleg = interrupt ? Mideleg : Medeleg;
        ReservationAddress = ulong.MaxValue;
        if (Priv <= PrivSupervisor && ((deleg >> (int)cause) & 1) != 0)
        {
            Scause = cause | (interrupt ? 1UL << 63 : 0);
            Sepc = Pc;
            Stval = tval;
            ulong s = Mstatus;
            s = (s & RvStatus.Sie) != 0 ? s | RvStatus.Spie : s & ~RvStatus.Spie;
            s &= ~RvStatus.Sie;
            s = Priv == PrivSupervisor ? s | RvStatus.Spp : s & ~RvStatus.Spp;
            Mstatus = s;
            Priv = PrivSupervisor;
            Pc = (Stvec & ~3UL) + ((Stvec & 1) != 0 && interrupt ? 4 * cause : 0);
        }
        else
        {
            Mcause = cause | (interrupt ? 1UL << 63 : 0);
            Mepc = Pc;
            Mtval = tval;
            ulong s = Mstatus;
            s = (s & RvStatus.Mie) != 0 ? s | RvStatus.Mpie : s & ~RvStatus.Mpie;
            s &= ~(RvStatus.Mie | RvStatus.Mpp);
            s |= (ulong)Priv << RvStatus.MppShift;
            Mstatus = s;
            Priv = PrivMachine;
            Pc = (Mtvec & ~3UL) + ((Mtvec & 1) != 0 && interrupt ? 4 * cause : 0);
        }
    }

    /// <summary>
    /// Takes the highest-priority pending and enabled interrupt, if any (Priv. spec 3.1.9:
    /// MEI, MSI, MTI, SEI, SSI, STI). Returns true if a trap was taken.
    /// </summary>
    public bool CheckInterrupts()
    {
        ulong pending = Mip & Mie;
        if (pending == 0)
            return false;
        ulong m = pending & ~Mideleg;
        bool mEnabled = Priv < PrivMachine || (Mstatus & RvStatus.Mie) != 0;
        ulong take = mEnabled ? m : 0;
        if (take == 0)
        {
            ulong s = pending & Mideleg;
            bool sEnabled = Priv < PrivSupervisor || (Priv == PrivSupervisor && (Mstatus & RvStatus.Sie) != 0);
            take = sEnabled ? s : 0;
        }
        if (take == 0)
            return false;
        int irq = PickInterrupt(take);
        IsWaiting = false;
        Trap((ulong)irq, 0, interrupt: true);
        return true;
    }

    private static int PickInterrupt(ulong take)
    {
        if ((take & RvStatus.MeipBit) != 0) return RvStatus.IrqMExternal;
        if ((take & RvStatus.MsipBit) != 0) return RvStatus.IrqMSoft;
        if ((take & RvStatus.MtipBit) != 0) return RvStatus.IrqMTimer;
        if ((take & RvStatus.SeipBit) != 0) return RvStatus.IrqSExternal;
        if ((take & RvStatus.SsipBit) != 0) return RvStatus.IrqSSoft;
        if ((take & RvStatus.StipBit) != 0) return RvStatus.IrqSTimer;
        return System.Numerics.BitOperations.TrailingZeroCount(take);
    }

    /// <summary>
    /// Encodings of MRET, SRET and WFI (they have no operand fields): Priv. spec 3.1.16, an
    /// illegal-instruction trap writes the instruction bits to xtval, as the CSR and decoder
    /// paths do (and QEMU), and the engines call these without the encoding.
    /// </summary>
    private const uint MretBits = 0x30200073, SretBits = 0x10200073, WfiBits = 0x10500073;

    /// <summary>MRET (Priv. spec 3.3.2). Returns false (illegal instruction) outside M-mode.</summary>
    internal bool Mret()
    {
        if (Priv != PrivMachine)
            return Fault(RvException.IllegalInstruction, MretBits);
        ulong s = Mstatus;
        int mpp = (int)((s >> RvStatus.MppShift) & 3);
        s = (s & RvStatus.Mpie) != 0 ? s | RvStatus.Mie : s & ~RvStatus.Mie;
        s |= RvStatus.Mpie;
        s &= ~RvStatus.Mpp;
        if (mpp != PrivMachine)
            s &= ~RvStatus.Mprv;
        Mstatus = s;
        Priv = mpp;
        Pc = Mepc;
        ReservationAddress = ulong.MaxValue;
        return true;
    }

    /// <summary>SRET (Priv. spec 3.3.2): illegal in U-mode, and in S-mode when mstatus.TSR=1.</summary>
    internal bool Sret()
    {
        if (Priv == PrivUser || (Priv == PrivSupervisor && (Mstatus & RvStatus.Tsr) != 0))
            return Fault(RvException.IllegalInstruction, SretBits);
        ulong s = Mstatus;
        int spp = (s & RvStatus.Spp) != 0 ? PrivSupervisor : PrivUser;
        s = (s & RvStatus.Spie) != 0 ? s | RvStatus.Sie : s & ~RvStatus.Sie;
        s |= RvStatus.Spie;
        s &= ~(RvStatus.Spp | RvStatus.Mprv);
        Mstatus = s;
        Priv = spp;
        Pc = Sepc;
        ReservationAddress = ulong.MaxValue;
        return true;
    }

    /// <summary>WFI (Priv. spec 3.3.3): illegal in U-mode, and in S-mode when mstatus.TW=1.</summary>
    internal bool Wfi()
    {
        if (Priv == PrivUser || (Priv == PrivSupervisor && (Mstatus & RvStatus.Tw) != 0))
            return Fault(RvException.IllegalInstruction, WfiBits);
        if (!HasWakeUpInterrupt)
            IsWaiting = true;
        return true;
    }
}
