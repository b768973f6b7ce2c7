using Wemu.Cpu;
using Wemu.Memory;

namespace Wemu.Jit;

/// <summary>
/// What <see cref="JitEngine{TCpu, TFrontEnd}"/> needs from one guest ISA (QEMU's <c>TCGCPUOps</c>):
/// its profiling interpreter, its translator, its instruction alignment, its MMU contexts and the
/// mode bits a translation depends on. Implemented by a struct, so the engine's calls are direct
/// (and inlined) calls: they sit on the dispatch loop's path after every interpreted instruction.
/// </summary>
public unsafe interface IJitFrontEnd<TCpu> where TCpu : CpuCore
{
    /// <summary>log2 of the instruction alignment: the pc bits the jump cache and the hot table drop (RISC-V with C: 1; x86: 0).</summary>
    int PcAlignShift { get; }

    /// <summary>
    /// On the WebAssembly backend, the arrivals a chained exit to a target without code counts for (see
    /// <see cref="JitOptions.ChainedArrivalWeight"/>): measured per guest in the page, docs/PERFORMANCE.md.
    /// </summary>
    int WasmChainedArrivalWeight { get; }

    /// <summary>Fetch contexts (one jump cache each), <see cref="FetchContext"/> below this.</summary>
    int FetchContexts { get; }

    /// <summary>For the x86-64 and WebAssembly backends (its <see cref="GuestCodeAbi.PcAlignShift"/> is <see cref="PcAlignShift"/>).</summary>
    GuestCodeAbi CodeAbi { get; }

    /// <summary>For the IL backend.</summary>
    Il.IlGuestAbi IlAbi { get; }

    /// <summary>
    /// Runs the profiling interpreter (counting branch targets in the engine's <see cref="HotTable"/>)
    /// from the pc: at most <paramref name="budget"/> instructions, until something the machine loop
    /// must see, or until a hot branch target (then <see cref="CpuCore.HotExit"/> is set). Returns the instructions retired.
    /// </summary>
    long Interpret(TCpu cpu, long budget);

    /// <summary>
    /// Which jump cache fetches use now: a virtual pc means the same code within one context. A mode
    /// change that changes what a pc translates to must change this or the TLB generation.
    /// </summary>
    int FetchContext(TCpu cpu);

    /// <summary>The soft TLB loads and stores use now.</summary>
    TlbEntry* DataTlb(TCpu cpu);

    /// <summary>The mode bits a translation depends on, part of a block's key (RISC-V: none; x86: CS.L/CS.D, CPL).</summary>
    ulong BlockMode(TCpu cpu);

    /// <summary>Translates <paramref name="pc"/> for execution without raising anything: the host address of its 4 KiB page and the physical page, or false.</summary>
    bool TryTranslateFetch(TCpu cpu, ulong pc, out byte* page, out ulong physPage);

    /// <summary>
    /// True if the fetch translation of <paramref name="pc"/> cached now is global and maps it to <paramref name="physicalPc"/>:
    /// it survives the flushes <see cref="CpuCore.GlobalTlbGeneration"/> does not count (x86: CR3 writes with CR4.PGE).
    /// </summary>
    bool IsGlobalCode(TCpu cpu, ulong pc, ulong physicalPc);

    /// <summary>False if <see cref="IsGlobalCode"/> never says true (the dispatcher then does not ask: in the page every step of it runs under Mono's interpreter).</summary>
    bool HasGlobalCode { get; }

    /// <summary>Makes stores to <paramref name="physPage"/> take the slow path (it now holds translated code).</summary>
    void ProtectCodePage(TCpu cpu, ulong physPage);

    /// <summary>After the interpreter ran the one instruction at <paramref name="from"/>: true if it went on to the next one (no jump, no trap).</summary>
    bool WentOn(TCpu cpu, ulong from);

    /// <summary>A translator for one thread, with regions of at most <paramref name="maxInstructions"/>.</summary>
    IGuestTranslator CreateTranslator(int maxInstructions);

    /// <summary>
    /// The guest's interpreter for cold code as a WebAssembly module (compiled code's ABI, <see cref="ExitContext"/>),
    /// counting arrivals in <paramref name="hot"/> (where compiled code chained to as <paramref name="chainedArrivalWeight"/>
    /// arrivals, as the dispatcher counts a chained exit's target); null if the guest has none (its C# interpreter then
    /// runs cold code).
    /// </summary>
    byte[]? BuildWasmInterpreter(HotTable hot, int chainedArrivalWeight);

    /// <summary>The soft TLB instruction fetch goes through now (<see cref="ExitContext.FetchTlb"/>).</summary>
    TlbEntry* FetchTlb(TCpu cpu);
}
