namespace Wemu.Cpu.RiscV;

/// <summary>mstatus/sstatus bits (Priv. spec 3.1.6) and mip/mie bits (3.1.9).</summary>
public static class RvStatus
{
    public const ulong Sie = 1UL << 1, Mie = 1UL << 3, Spie = 1UL << 5, Ube = 1UL << 6, Mpie = 1UL << 7;
    public const ulong Spp = 1UL << 8, Mpp = 3UL << 11, Fs = 3UL << 13, Xs = 3UL << 15;
    public const ulong Mprv = 1UL << 17, Sum = 1UL << 18, Mxr = 1UL << 19, Tvm = 1UL << 20, Tw = 1UL << 21, Tsr = 1UL << 22;
    public const ulong Uxl = 3UL << 32, Sxl = 3UL << 34, Sd = 1UL << 63;
    public const int MppShift = 11, FsShift = 13;

    /// <summary>Bits a guest can write in mstatus.</summary>
    public const ulong MstatusWritable = Sie | Mie | Spie | Mpie | Spp | Mpp | Fs | Mprv | Sum | Mxr | Tvm | Tw | Tsr;

    /// <summary>Bits of mstatus visible through sstatus.</summary>
    public const ulong SstatusMask = Sie | Spie | Ube | Spp | Fs | Xs | Sum | Mxr | Uxl | Sd;

    public const int IrqSSoft = 1, IrqMSoft = 3, IrqSTimer = 5, IrqMTimer = 7, IrqSExternal = 9, IrqMExternal = 11;
    public const ulong SsipBit = 1UL << 1, MsipBit = 1UL << 3, StipBit = 1UL << 5, MtipBit = 1UL << 7, SeipBit = 1UL << 9, MeipBit = 1UL << 11;
    public const ulong SupervisorInterrupts = SsipBit | StipBit | SeipBit;
    public const ulong AllInterrupts = SupervisorInterrupts | MsipBit | MtipBit | MeipBit;
}
