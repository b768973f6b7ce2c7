using Wemu.Jit;
using Wemu.Jit.Il;
using Wemu.Memory;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// RISC-V for <see cref="JitEngine{TCpu, TFrontEnd}"/>: the profiling interpreter, the translator,
/// instructions 2-byte aligned (RVC), one jump cache per MMU context (U, S, S with SUM, untranslated),
/// and no mode bits in the block key (RISC-V code decodes the same in every privilege mode).
/// </summary>
public readonly unsafe struct RiscVJitFrontEnd : IJitFrontEnd<RiscVHart>
{
    private readonly RiscVInterpreter _interpreter;

    public RiscVJitFrontEnd(HotTable hot) => _interpreter = new RiscVInterpreter(hot);

    public int PcAlignShift => 1;

    /// <summary>1: with 32 the page's boot compiled 4-5x the regions and reached the prompt ~25 % later.</summary>
    public int WasmChainedArrivalWeight => 1;

    public int FetchContexts => RiscVHart.MmuContexts;

    public GuestCodeAbi CodeAbi => RiscVJitHelpers.CodeAbi;

    public IlGuestAbi IlAbi => RiscVJitHelpers.IlAbi;

    public long Interpret(RiscVHart cpu, long budget) => _interpreter.Run(cpu, budget);

    public int FetchContext(RiscVHart cpu) => cpu.FetchMmuContext;

    public TlbEntry* DataTlb(RiscVHart cpu) => cpu.TlbFor(cpu.DataMmuContext);

    public ulong BlockMode(RiscVHart cpu) => 0;

    public bool TryTranslateFetch(RiscVHart cpu, ulong pc, out byte* page, out ulong physPage) =>
        cpu.TryTranslateFetch(pc, out page, out physPage);

    /// <summary>(Every flush RISC-V does counts for all pages: sfence.vma and satp writes alike.)</summary>
    public bool IsGlobalCode(RiscVHart cpu, ulong pc, ulong physicalPc) => false;

    public bool HasGlobalCode => false;

    public void ProtectCodePage(RiscVHart cpu, ulong physPage) => cpu.ProtectCodePage(physPage);

    /// <summary>
    /// An instruction is 2 or 4 bytes: anything else was a jump or a trap; and a CSR write the machine loop must see
    /// (<see cref="RiscVHart.CsrWriteEndsRun"/>, consumed here) ends the run too.
    /// </summary>
    public bool WentOn(RiscVHart cpu, ulong from)
    {
        bool ended = cpu.CsrWriteEndsRun;
        cpu.CsrWriteEndsRun = false;
        return !ended && cpu.Pc - from is 2 or 4;
    }

    public IGuestTranslator CreateTranslator(int maxInstructions) => new RiscVTranslator(maxInstructions);

    /// <summary>(None where native pointers are not linear-memory addresses: the WebAssembly backend's tests outside a browser.)</summary>
    public byte[]? BuildWasmInterpreter(HotTable hot, int chainedArrivalWeight)
    {
        nint[] addresses = [RiscVInterpreter.PrimaryTable, RiscVInterpreter.ShortTable, RiscVInterpreter.ExpandTable, RiscVInterpreter.NoPage, (nint)hot.Entries];
        if (addresses.Any(a => a <= 0 || a > int.MaxValue))
            return null;
        return RiscVWasmInterpreter.Build(new RiscVWasmInterpreter.Layout(
            (int)addresses[0], (int)addresses[1], (int)addresses[2], (int)addresses[3], (int)addresses[4], hot.Threshold, CodeAbi.JumpCacheBits,
            chainedArrivalWeight));
    }

    public TlbEntry* FetchTlb(RiscVHart cpu) => cpu.TlbFor(cpu.FetchMmuContext);
}
