using System.Runtime.InteropServices;
using Wemu.Devices.X86;
using Wemu.Memory;

namespace Wemu.Cpu.X86;

/// <summary>
/// One x86-64 CPU: architectural state, control registers and MSRs, 4-level paging with a soft TLB,
/// exceptions and interrupt delivery, and the instruction interpreter (partial files
/// <c>X86Cpu.*.cs</c>). Long mode only for now (the boot protocol enters it directly); the decoder
/// keeps the address and operand sizes as variables so 16/32-bit modes can be added.
/// General registers and XMM registers live in native memory so generated code can address them.
/// </summary>
public sealed unsafe partial class X86Cpu : CpuCore, IDisposable
{
    public const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, Rsp = 4, Rbp = 5, Rsi = 6, Rdi = 7;

    public const int Es = 0, Cs = 1, Ss = 2, Ds = 3, Fs = 4, Gs = 5;

    // RFLAGS (SDM vol. 1, 3.4.3)
    public const ulong FlagCf = 1, FlagPf = 1 << 2, FlagAf = 1 << 4, FlagZf = 1 << 6, FlagSf = 1 << 7, FlagTf = 1 << 8,
        FlagIf = 1 << 9, FlagDf = 1 << 10, FlagOf = 1 << 11, FlagIopl = 3 << 12, FlagNt = 1 << 14, FlagRf = 1 << 16,
        FlagVm = 1 << 17, FlagAc = 1 << 18, FlagVif = 1 << 19, FlagVip = 1 << 20, FlagId = 1 << 21;

    /// <summary>The six arithmetic flags the lazy evaluator computes.</summary>
    public const ulong ArithmeticFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    // CR0, CR4, EFER (SDM vol. 3, 2.5 and 2.2.1)
    public const ulong Cr0Pe = 1, Cr0Mp = 2, Cr0Em = 4, Cr0Ts = 8, Cr0Et = 16, Cr0Ne = 32, Cr0Wp = 1 << 16, Cr0Am = 1 << 18,
        Cr0Nw = 1UL << 29, Cr0Cd = 1UL << 30, Cr0Pg = 1UL << 31;
    public const ulong Cr4Vme = 1, Cr4Pvi = 2, Cr4Tsd = 4, Cr4De = 8, Cr4Pse = 16, Cr4Pae = 32, Cr4Mce = 64, Cr4Pge = 128,
        Cr4Pce = 256, Cr4Osfxsr = 512, Cr4Osxmmexcpt = 1024, Cr4Pcide = 1 << 17;
    public const ulong EferSce = 1, EferLme = 1 << 8, EferLma = 1 << 10, EferNxe = 1 << 11;

    // Exception vectors (SDM vol. 3, table 6-1)
    public const int VectorDe = 0, VectorDb = 1, VectorNmi = 2, VectorBp = 3, VectorOf = 4, VectorBr = 5, VectorUd = 6,
        VectorNm = 7, VectorDf = 8, VectorTs = 10, VectorNp = 11, VectorSs = 12, VectorGp = 13, VectorPf = 14,
        VectorMf = 16, VectorAc = 17, VectorMc = 18, VectorXm = 19;

    internal const int TlbBits = 12;
    internal const int TlbSize = 1 << TlbBits;
    internal const ulong TlbMask = TlbSize - 1;

    /// <summary>MMU contexts: CPL 3, CPL 0-2, and paging off.</summary>
    internal const int MmuUser = 0, MmuSupervisor = 1, MmuPhysical = 2, MmuContexts = 3;

    /// <summary>
    /// TLB entries in all: one array per context for data, and one per context for instruction fetch
    /// (at context + <see cref="MmuContexts"/>), so a code page and a data page that index the same
    /// entry do not evict each other (every return to the dispatcher translates the pc: with one
    /// array, a store to such a page left compiled code for the slow path at every iteration).
    /// </summary>
    internal const int TlbEntries = 2 * MmuContexts * TlbSize;

    // The register file in native memory (CpuCore.Registers, 8-byte slots as IR GetReg/SetReg number
    // them): what compiled code reads and writes. RAX..R15, the lazy-flag state, RFLAGS, the six
    // segment registers (3 slots each: selector, base, limit and attributes), then XMM0..XMM15.
    internal const int RegCcOp = 16, RegCcDst = 17, RegCcSrc = 18, RegCcSrc2 = 19, RegRflags = 20, RegSegments = 21,
        SegmentSlots = 3, RegInterruptWaiting = 39, RegXmm = 40, RegisterSlots = RegXmm + 32;

    /// <summary>
    /// Before compiled code runs (<see cref="NoteInterruptWaiting"/>): 1 in register slot <see cref="RegInterruptWaiting"/>
    /// if an NMI or a maskable interrupt waits (taken once IF allows), else 0. A compiled STI goes on only while it is 0.
    /// </summary>
    public void NoteInterruptWaiting()
    {
        var apic = InterruptController;
        Gpr[RegInterruptWaiting] = apic != null && (apic.HasNmi || apic.HasMaskableInterrupt) ? 1UL : 0;
    }

    /// <summary>The register slot holding segment <paramref name="segment"/>'s base.</summary>
    internal static int SegmentBaseRegister(int segment) => RegSegments + segment * SegmentSlots + 1;

    /// <summary>The registers compiled code names: all of them.</summary>
    internal const int JitRegisters = RegisterSlots;

    /// <summary>RAX..R15.</summary>
    internal readonly ulong* Gpr;

    /// <summary>XMM0..XMM15, two 64-bit halves each (low first).</summary>
    internal readonly ulong* Xmm;

    internal readonly TlbEntry* Tlb;

    /// <summary>RFLAGS except the arithmetic flags while <see cref="CcOp"/> is not <see cref="X86CcOp.Eflags"/>.</summary>
    internal ref ulong Rflags => ref Gpr[RegRflags];

    /// <summary>ES, CS, SS, DS, FS, GS, in the register file (compiled code reads FS and GS bases).</summary>
    internal readonly X86Segment* Segments;
    internal X86Segment Ldtr, Tr;
    internal ulong GdtBase, IdtBase;
    internal ushort GdtLimit, IdtLimit;

    internal ulong Cr0 = Cr0Et | Cr0Cd | Cr0Nw, Cr2, Cr3, Cr4, Cr8, Efer;
    internal ulong Star, Lstar, Cstar, Sfmask, KernelGsBase, TscAux, Pat = 0x0007040600070406;
    internal ulong SysenterCs, SysenterEsp, SysenterEip;
    internal ulong Dr0, Dr1, Dr2, Dr3, Dr6 = 0xFFFF0FF0, Dr7 = 0x400;

    /// <summary>MXCSR (SSE control and status).</summary>
    internal uint Mxcsr = 0x1F80;

    /// <summary>Current privilege level (CS.RPL in long mode).</summary>
    internal int Cpl;

    /// <summary>Set by HLT: the engine returns and the machine idles until an interrupt arrives.</summary>
    public bool IsHalted { get; internal set; }

    /// <summary>A triple fault happened (the machine resets, or exits with <c>-no-reboot</c>).</summary>
    public bool ShutdownRequested { get; internal set; }

    private readonly PhysicalBus _bus;
    private readonly void* _nativeBlock;

    private const int RegisterBytes = RegisterSlots * sizeof(ulong);

    public X86Cpu(PhysicalBus bus, X86CpuModel? model = null)
        : base(bus, (ulong*)NativeMemory.AlignedAlloc((nuint)(RegisterBytes + TlbEntries * sizeof(TlbEntry)), 64))
    {
        _bus = bus;
        Model = model ?? X86CpuModel.Qemu64;
        _nativeBlock = Registers;
        NativeMemory.Clear(_nativeBlock, RegisterBytes);
        Gpr = Registers;
        Xmm = Gpr + RegXmm;
        Segments = (X86Segment*)(Gpr + RegSegments);
        Tlb = (TlbEntry*)((byte*)_nativeBlock + RegisterBytes);
        // (flushes visit only the entries filled since: every one starts invalid here)
        NativeMemory.Clear(Tlb, (nuint)(TlbEntries * sizeof(TlbEntry)));
        for (int i = 0; i < TlbEntries; i++)
            Tlb[i].TagRead = Tlb[i].TagWrite = Tlb[i].TagExec = TlbEntry.Invalid;
        X86Segment probe = default;
        if (sizeof(X86Segment) != SegmentSlots * 8 || (byte*)&probe.Base - (byte*)&probe != 8)
            throw new InvalidOperationException("X86Segment's layout is not the register file's");
        // stores into decoded or translated code stop what runs (and CodePagesWritten counts them)
        _bus.CodePageWritten += OnCodePageWritten;
        Fpu = new Fpu.X87State();
        Reset();
    }

    public X86CpuModel Model { get; }

    /// <summary>The local APIC (interrupts, the APIC base MSR); null on a board without one.</summary>
    public IX86InterruptController? InterruptController { get; set; }

    /// <summary>Port-I/O reads (IN, INS): port, size in bytes; unassigned ports read as all ones.</summary>
    public Func<ushort, int, uint> ReadPort { get; set; } = static (_, size) => size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1;

    /// <summary>Port-I/O writes (OUT, OUTS): port, size in bytes, value.</summary>
    public Action<ushort, int, uint> WritePort { get; set; } = static (_, _, _) => { };

    /// <summary>Reads the time-stamp counter's source (the machine clock scaled to the TSC rate).</summary>
    public Func<ulong> ReadTsc { get; set; } = static () => 0;

    /// <summary>The APIC base MSR (0x1b), forwarded to the local APIC.</summary>
    public Func<ulong>? ReadApicBase { get; set; }

    public Action<ulong>? WriteApicBase { get; set; }

    public ulong ProgramCounter { get => Pc; set => Pc = value; }

    public int CurrentPrivilegeLevel => Cpl;

    public ulong GetRegister(int index) => Gpr[index & 15];

    public void SetRegister(int index, ulong value) => Gpr[index & 15] = value;

    public ulong Flags => MaterializedFlags();

    public void SetFlags(ulong value) => WriteFlags(value, ulong.MaxValue);

    public X86Segment GetSegment(int index) => Segments[index];

    public ulong ControlRegister0 => Cr0;

    public ulong ControlRegister2 => Cr2;

    public ulong ControlRegister3 => Cr3;

    public ulong ControlRegister4 => Cr4;

    public ulong ExtendedFeatures => Efer;

    public (ulong Low, ulong High) GetXmm(int index) => (Xmm[(index & 15) * 2], Xmm[(index & 15) * 2 + 1]);

    public void SetXmm(int index, ulong low, ulong high)
    {
        Xmm[(index & 15) * 2] = low;
        Xmm[(index & 15) * 2 + 1] = high;
    }

    /// <summary>The power-on state (SDM vol. 3, table 9-1), except that we never run real mode: a board
    /// puts the CPU in long mode with <see cref="EnterLongMode"/> before running it.</summary>
    public void Reset()
    {
        for (int i = 0; i < RegisterSlots; i++)
            Gpr[i] = 0;
        Gpr[Rdx] = Model.Signature;
        Pc = 0xFFF0;
        Rflags = 2;
        CcOp = X86CcOp.Eflags;
        for (int i = 0; i < 6; i++)
            Segments[i] = new X86Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Attributes = 0x93 };
        Segments[Cs] = new X86Segment { Selector = 0xF000, Base = 0xFFFF0000, Limit = 0xFFFF, Attributes = 0x9B };
        Ldtr = new X86Segment { Limit = 0xFFFF, Attributes = 0x82 };
        Tr = new X86Segment { Limit = 0xFFFF, Attributes = 0x8B };
        GdtBase = IdtBase = 0;
        GdtLimit = IdtLimit = 0xFFFF;
        Cr0 = Cr0Et | Cr0Cd | Cr0Nw;
        Cr2 = Cr3 = Cr4 = Cr8 = Efer = 0;
        Star = Lstar = Cstar = Sfmask = KernelGsBase = TscAux = 0;
        SysenterCs = SysenterEsp = SysenterEip = 0;
        Pat = 0x0007040600070406;
        Mxcsr = 0x1F80;
        Fpu.Initialize();
        Cpl = 0;
        IsHalted = false;
        ShutdownRequested = false;
        InterruptShadow = false;
        UpdateMode();
        FlushTlb(global: true);
    }

    /// <summary>
    /// Loads a 64-bit entry state (Linux's 64-bit boot protocol): paging on, long mode active,
    /// the given flat code and data descriptors, interrupts off.
    /// </summary>
    public void EnterLongMode(ulong rip, ulong cr3, ulong gdtBase, ushort gdtLimit, ushort codeSelector, ulong codeDescriptor,
        ushort dataSelector, ulong dataDescriptor)
    {
        Cr4 |= Cr4Pae;
        Efer |= EferLme | EferLma;
        Cr3 = cr3;
        Cr0 = Cr0Pe | Cr0Pg | Cr0Et | Cr0Ne | Cr0Wp;
        GdtBase = gdtBase;
        GdtLimit = gdtLimit;
        IdtBase = 0;
        IdtLimit = 0;
        Segments[Cs] = X86Segment.FromDescriptor(codeSelector, codeDescriptor);
        var data = X86Segment.FromDescriptor(dataSelector, dataDescriptor);
        Segments[Ds] = Segments[Es] = Segments[Ss] = Segments[Fs] = Segments[Gs] = data;
        Cpl = codeSelector & 3;
        Pc = rip;
        Rflags = 2;
        CcOp = X86CcOp.Eflags;
        UpdateMode();
        FlushTlb(global: true);
    }

    public void Dispose() => NativeMemory.AlignedFree(_nativeBlock);
}
