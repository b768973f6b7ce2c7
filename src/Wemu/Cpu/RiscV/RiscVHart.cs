using System.Runtime.InteropServices;
using Wemu.Devices;
using Wemu.Memory;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// One RV64GC hart: architectural state, CSRs, privilege modes, traps and the MMU (Sv39/Sv48 with
/// a soft TLB). Execution engines (<see cref="RiscVInterpreter"/>, <see cref="RiscVJitEngine"/>) run it in slices.
/// Registers live in native memory so generated code can address them directly.
/// </summary>
public sealed unsafe partial class RiscVHart : CpuCore, IHartInterruptPins, IDisposable
{
    public const int PrivUser = 0, PrivSupervisor = 1, PrivMachine = 3;

    internal const int TlbBits = 12;
    internal const int TlbSize = 1 << TlbBits;
    internal const ulong TlbMask = TlbSize - 1;

    /// <summary>The soft TLB as the JIT's backends see it (one context's table of <see cref="TlbEntry"/>).</summary>
    internal static readonly Jit.SoftTlbLayout TlbLayout = Jit.SoftTlbLayout.OfTlbEntries(TlbBits);

    /// <summary>MMU contexts: U, S, S with SUM, and untranslated (M-mode or satp bare).</summary>
    internal const int MmuUser = 0, MmuSupervisor = 1, MmuSupervisorSum = 2, MmuPhysical = 3, MmuContexts = 4;

    /// <summary>x0..x31 (x0 is forced to zero; <see cref="CpuCore.Registers"/>), then f0..f31 at <see cref="F"/>.</summary>
    internal ulong* X
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => Registers;
    }

    internal readonly ulong* F;
    internal readonly TlbEntry* Tlb;

    // In the native block after the registers, so the page's wasm interpreter runs sstatus CSR instructions (Linux's
    // interrupt-flag saves and restores): the privilege level, mstatus, and the interrupt enables and pending bits.
    internal ref int Priv => ref *(int*)(X + PrivSlot);

    // CSRs (Priv. spec chapters 3 and 4)
    internal ref ulong Mstatus => ref X[MstatusSlot];
    internal ref ulong Mie => ref X[MieSlot];
    internal ref ulong MipSoft => ref X[MipSoftSlot];
    internal ref ulong MipPins => ref X[MipPinsSlot];

    /// <summary>Register-block slots (8 bytes each) of the state above.</summary>
    internal const int MstatusSlot = 65, PrivSlot = 66, MieSlot = 67, MipSoftSlot = 68, MipPinsSlot = 69;

    internal ulong Medeleg, Mideleg;
    internal ulong Mtvec, Stvec, Satp;

    // The trap-handling CSRs, in the native block too: the page's wasm interpreter runs the CSR instructions on them that
    // every trap handler makes (Linux's entry and exit code, OpenSBI's).
    internal ref ulong Sscratch => ref X[SscratchSlot];
    internal ref ulong Sepc => ref X[SscratchSlot + 1];
    internal ref ulong Scause => ref X[SscratchSlot + 2];
    internal ref ulong Stval => ref X[SscratchSlot + 3];
    internal ref ulong Mscratch => ref X[MscratchSlot];
    internal ref ulong Mepc => ref X[MscratchSlot + 1];
    internal ref ulong Mcause => ref X[MscratchSlot + 2];
    internal ref ulong Mtval => ref X[MscratchSlot + 3];

    /// <summary>The slots of sscratch, sepc, scause, stval and of mscratch, mepc, mcause, mtval (in CSR-number order, 0x140-0x143 and 0x340-0x343).</summary>
    internal const int SscratchSlot = 70, MscratchSlot = 74;
    internal uint Mcounteren, Scounteren, Mcountinhibit;
    internal ulong Menvcfg, Senvcfg;
    internal uint Fflags, Frm;
    internal readonly ulong[] PmpAddr = new ulong[64];
    internal readonly byte[] PmpCfg = new byte[64];

    /// <summary>
    /// LR/SC reservation (physical-independent: the virtual address of the last LR), in the native block after the
    /// registers (<see cref="ReservationSlot"/>) so the page's wasm interpreter runs LR and SC too.
    /// </summary>
    internal ref ulong ReservationAddress => ref X[ReservationSlot];

    /// <summary>The register-block slot (8 bytes each) of <see cref="ReservationAddress"/>.</summary>
    internal const int ReservationSlot = 64;

    /// <summary>Pending exception of the current instruction (set by slow paths that return failure).</summary>
    internal int ExceptionCause;
    internal ulong ExceptionValue;

    /// <summary>Set by WFI when no interrupt is pending: the engine returns and the machine idles.</summary>
    public bool IsWaiting { get; internal set; }

    private readonly PhysicalBus _bus;
    private readonly void* _nativeBlock;

    /// <summary>x, f, the reservation, priv, mstatus, mie, mip, the trap CSRs: a multiple of 64 bytes, where the TLB starts.</summary>
    internal const int RegisterBytes = 80 * sizeof(ulong);

    public RiscVHart(PhysicalBus bus, int hartId = 0) : this(bus, hartId, AllocateNativeBlock())
    {
    }

    /// <summary>x, f and the TLBs in one native block (<paramref name="nativeBlock"/>: registers first, zeroed).</summary>
    private RiscVHart(PhysicalBus bus, int hartId, void* nativeBlock) : base(bus, (ulong*)nativeBlock)
    {
        _bus = bus;
        HartId = hartId;
        _nativeBlock = nativeBlock;
        F = X + 32;
        Tlb = (TlbEntry*)((byte*)_nativeBlock + RegisterBytes);
        ReservationAddress = ulong.MaxValue;
        Priv = PrivMachine;
        WipeTlb();
    }

    private static void* AllocateNativeBlock()
    {
        void* block = NativeMemory.AlignedAlloc((nuint)(RegisterBytes + MmuContexts * TlbSize * sizeof(TlbEntry)), 64);
        NativeMemory.Clear(block, RegisterBytes);
        return block;
    }

    public int HartId { get; }

    /// <summary>Reads the <c>time</c> CSR source (the ACLINT's mtime); zero until a board connects it.</summary>
    public Func<ulong> ReadTime { get; set; } = static () => 0;

    /// <summary>misa: RV64 (MXL=2) with A, C, D, F, I, M, S, U.</summary>
    public static ulong Misa => (2UL << 62) | Ext('A') | Ext('C') | Ext('D') | Ext('F') | Ext('I') | Ext('M') | Ext('S') | Ext('U');

    private static ulong Ext(char c) => 1UL << (c - 'A');

    public ulong ProgramCounter { get => Pc; set => Pc = value; }

    public int Privilege => Priv;

    public ulong GetRegister(int index) => X[index & 31];

    public void SetRegister(int index, ulong value)
    {
        if ((index & 31) != 0)
            X[index & 31] = value;
    }

    public ulong GetFloatRegister(int index) => F[index & 31];

    public void SetFloatRegister(int index, ulong value) => F[index & 31] = value;

    /// <summary>Puts the hart in its reset state (Priv. spec 3.4): M-mode, MIE=0, MPRV=0, pc=<paramref name="resetVector"/>.</summary>
    public void Reset(ulong resetVector)
    {
        for (int i = 0; i < 64; i++)
            X[i] = 0;
        Pc = resetVector;
        Priv = PrivMachine;
        Mstatus = (2UL << 32) | (2UL << 34);
        Medeleg = Mideleg = Mie = MipSoft = 0;
        Mtvec = Stvec = Satp = 0;
        Mscratch = Mepc = Mcause = Mtval = 0;
        Sscratch = Sepc = Scause = Stval = 0;
        Mcounteren = Scounteren = Mcountinhibit = 0;
        Menvcfg = Senvcfg = 0;
        Fflags = Frm = 0;
        Array.Clear(PmpAddr);
        Array.Clear(PmpCfg);
        ReservationAddress = ulong.MaxValue;
        IsWaiting = false;
        FlushTlb();
    }

    /// <summary>Interrupt pins from CLINT/PLIC (mip bits MSIP, MTIP, MEIP, SEIP).</summary>
    public void SetInterruptPending(int mipBit, bool level)
    {
        ulong bit = 1UL << mipBit;
        if (level)
            MipPins |= bit;
        else
            MipPins &= ~bit;
    }

    internal ulong Mip => MipSoft | MipPins;

    /// <summary>True when an interrupt is pending and enabled in mie (wakes WFI regardless of xIE).</summary>
    public bool HasWakeUpInterrupt => (Mip & Mie) != 0;

    public void Dispose() => NativeMemory.AlignedFree(_nativeBlock);
}
