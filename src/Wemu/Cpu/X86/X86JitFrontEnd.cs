using Wemu.Jit;
using Wemu.Jit.Il;
using Wemu.Memory;

namespace Wemu.Cpu.X86;

/// <summary>
/// x86-64 for <see cref="JitEngine{TCpu, TFrontEnd}"/>: the interpreter with its decoded blocks as
/// the profiling interpreter, <see cref="X86Translator"/>, byte-aligned instructions, one jump cache
/// per MMU context (CPL 3, CPL 0-2, paging off), and CS.L/CS.D in the block key.
/// </summary>
public readonly unsafe struct X86JitFrontEnd : IJitFrontEnd<X86Cpu>
{
    private readonly HotTable _hot;

    public X86JitFrontEnd(HotTable hot) => _hot = hot;

    public int PcAlignShift => 0;

    /// <summary>32: pigz in the page ~10 % faster (chained exits back to the dispatcher 1.7 M -> 0.5 M over boot and three runs), boot ~4 % slower (twice the regions compiled).</summary>
    public int WasmChainedArrivalWeight => 32;

    public int FetchContexts => X86Cpu.MmuContexts;

    public GuestCodeAbi CodeAbi => X86JitHelpers.CodeAbi;

    public IlGuestAbi IlAbi => X86JitHelpers.IlAbi;

    public long Interpret(X86Cpu cpu, long budget) => cpu.Run(budget, _hot);

    public int FetchContext(X86Cpu cpu) => cpu.MmuContext;

    public TlbEntry* DataTlb(X86Cpu cpu) => cpu.DataTlb;

    public ulong BlockMode(X86Cpu cpu) => cpu.CodeMode;

    public bool TryTranslateFetch(X86Cpu cpu, ulong pc, out byte* page, out ulong physPage) =>
        cpu.TryTranslateFetch(pc, out page, out physPage);

    public bool IsGlobalCode(X86Cpu cpu, ulong pc, ulong physicalPc) => cpu.IsGlobalFetch(pc, physicalPc);

    public bool HasGlobalCode => true;

    public void ProtectCodePage(X86Cpu cpu, ulong physPage) => cpu.ProtectCodePage(physPage);

    public bool WentOn(X86Cpu cpu, ulong from) => cpu.WentOnQuietly(from);

    public IGuestTranslator CreateTranslator(int maxInstructions) => new X86Translator(maxInstructions);

    /// <summary>None yet: the x86 page interprets cold code in C#.</summary>
    public byte[]? BuildWasmInterpreter(HotTable hot, int chainedArrivalWeight) => null;

    public TlbEntry* FetchTlb(X86Cpu cpu) => null;
}
