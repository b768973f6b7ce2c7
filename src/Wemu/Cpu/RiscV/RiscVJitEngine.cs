using System.Diagnostics;
using System.Runtime.CompilerServices;
using Wemu.Jit;
using Wemu.Jit.Il;
using Wemu.Jit.Passes;
using Wemu.Memory;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The translating engine: blocks start in the interpreter and are compiled (RISC-V -> IR -> IL)
/// once they have run <see cref="JitOptions.Threshold"/> times. Translations are keyed by guest
/// physical and virtual pc; a jump cache per MMU context maps a virtual pc to its block without
/// a page walk, and is invalidated wholesale by TLB flushes (the stamp holds the TLB generation).
/// The bus reports writes to pages holding compiled code (stores reach them only through the
/// hart's slow path, see <see cref="TlbEntry.CodeFlag"/>, and DMA notifies), and their blocks are
/// dropped: self-modifying code, loaders and page reuse are seen without relying on fence.i.
/// </summary>
public sealed unsafe partial class RiscVJitEngine : IRiscVEngine
{
    private const int JumpCacheBits = 12;
    private const int MaxPageInvalidations = 32;

    private struct JumpEntry
    {
        public ulong Pc;
        public ulong Stamp;
        public RiscVBlock? Block;
    }

    private readonly RiscVInterpreter _interpreter;
    private readonly HotTable _hot;
    private readonly RiscVTranslator _translator;
    private readonly Dictionary<(ulong Physical, ulong Virtual), RiscVBlock> _blocks = [];
    private readonly Dictionary<ulong, List<RiscVBlock>> _blocksByPage = [];
    private readonly Dictionary<ulong, int> _pageInvalidations = [];
    private readonly JumpEntry[] _jumpCache = new JumpEntry[RiscVHart.MmuContexts << JumpCacheBits];
    private PhysicalBus? _bus;
    private RiscVHart? _hart;
    private uint _epoch;

    public RiscVJitEngine(JitOptions? options = null)
    {
        Options = options ?? new JitOptions();
        _hot = new HotTable(Options.Threshold);
        _interpreter = new RiscVInterpreter(_hot);
        _translator = new RiscVTranslator(Options.MaxRegionInstructions);
    }

    public string Name => "jit";

    public JitOptions Options { get; }

    public JitStatistics Statistics { get; } = new();

    public long Run(RiscVHart h, long budget)
    {
        if (_hart != h)
            Attach(h);
        if (Options.WasmLoader != null)
            return RunWasm(h, budget);
        ulong* x = h.X;
        byte* dtlb = (byte*)h.TlbFor(h.DataMmuContext);
        int context = h.FetchMmuContext;
        long executed = 0;
        while (executed < budget)
        {
            ulong pc = h.Pc;
            ulong stamp = ((ulong)h.TlbGeneration << 32) | _epoch;
            ref JumpEntry entry = ref _jumpCache[(context << JumpCacheBits) | (int)((pc >> 1) & ((1 << JumpCacheBits) - 1))];
            RiscVBlock? block = entry.Pc == pc && entry.Stamp == stamp ? entry.Block : null;
            if (block == null && _hot.Bump(pc) && (block = Lookup(h, pc)) != null)
            {
                entry.Pc = pc;
                entry.Stamp = stamp;
                entry.Block = block;
            }
            if (block != null && block.Code == null)
            {
                if (block.Pending != null)
                {
                    if (block.Prepared)
                    {
                        block.Code = block.Pending;
                        block.Pending = null;
                    }
                }
                else if (!block.NoCompile)
                {
                    Compile(h, block);
                }
                if (block.Code == null)
                {
                    // Not compilable, or still being compiled: let the interpreter run another
                    // threshold's worth of arrivals before it comes back here.
                    _hot.Cool(pc);
                    block = null;
                }
            }

            if (block != null)
            {
                var code = block.Code!;
                long result;
                if (block.Ran)
                {
                    result = code(h, x, dtlb, budget - executed);
                }
                else
                {
                    // The runtime compiles the IL on the first call: count that as compile time.
                    long t0 = Stopwatch.GetTimestamp();
                    result = code(h, x, dtlb, budget - executed);
                    Statistics.AddCompileTicks(Stopwatch.GetTimestamp() - t0);
                    block.Ran = true;
                }
                long n = result & JitExit.CountMask;
                h.InstRetInFlight = 0;
                h.InstRet += (ulong)n;
                executed += n;
                Statistics.CompiledInstructions += n;
                if ((result & (JitExit.StopBit | JitExit.InterpretBit)) == 0 && !h.MmioAccessed)
                    continue;
                h.MmioAccessed = false;
                if ((result & JitExit.InterpretBit) != 0)
                {
                    executed += _interpreter.Run(h, 1);
                    Statistics.Fallbacks++;
                }
                return executed;
            }

            // Cold code: the profiling interpreter runs until a hot branch target (or until it
            // stops for the machine loop: system instruction, device access, budget).
            h.HotExit = false;
            long ran = _interpreter.Run(h, budget - executed);
            executed += ran;
            Statistics.ColdInstructions += ran;
            if (!h.HotExit)
                return executed;
            h.HotExit = false;
            dtlb = (byte*)h.TlbFor(h.DataMmuContext);
            context = h.FetchMmuContext;
        }
        return executed;
    }

    private void Attach(RiscVHart h)
    {
        if (_bus != null)
            _bus.CodePageWritten -= OnCodePageWritten;
        _hart = h;
        _bus = h.Bus;
        _bus.CodePageWritten += OnCodePageWritten;
        FlushCache();
    }

    private RiscVBlock? Lookup(RiscVHart h, ulong pc)
    {
        if (!h.TryTranslateFetch(pc, out byte* page, out ulong physPage))
            return null;
        var key = (physPage | (pc & 0xFFF), pc);
        if (_blocks.TryGetValue(key, out var block))
            return block;
        block = new RiscVBlock
        {
            VirtualPc = pc,
            PhysicalPc = key.Item1,
            NoCompile = RiscVTranslator.IsInterpretedOnly(pc, page) || _pageInvalidations.GetValueOrDefault(physPage) >= MaxPageInvalidations,
        };
        _blocks[key] = block;
        if (!_blocksByPage.TryGetValue(physPage, out var list))
            _blocksByPage[physPage] = list = [];
        list.Add(block);
        return block;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Compile(RiscVHart h, RiscVBlock block)
    {
        if (!h.TryTranslateFetch(block.VirtualPc, out byte* page, out ulong physPage)
            || physPage != (block.PhysicalPc & ~0xFFFUL))
        {
            return;
        }
        if (Statistics.CacheBytes > Options.CacheBytes || _wasmLive >= Options.MaxWasmInstances)
        {
            FlushCache();
            Statistics.Flushes++;
            _blocks[(block.PhysicalPc, block.VirtualPc)] = block;
            _blocksByPage[physPage] = [block];
        }
        long start = Stopwatch.GetTimestamp();
        var function = _translator.Translate(block.VirtualPc, page, _hot.HasRun);
        IrPipeline.Run(function);
        if (Options.WasmLoader != null)
        {
            CompileWasm(h, block, function, physPage, start);
            return;
        }
        var code = IlBackend.Compile<RiscVHart>(function, RiscVJitHelpers.Abi, out block.IlSize);
        Statistics.AddCompileTicks(Stopwatch.GetTimestamp() - start);
        if (Options.Background is { } background)
        {
            // The runtime compiles the IL to native code on the first call: make that call on
            // another thread (a negative budget returns at once) while the interpreter goes on.
            block.Pending = code;
            block.Ran = true;
            var stats = Statistics;
            background(() =>
            {
                long t0 = Stopwatch.GetTimestamp();
                code(null!, null, null, -1);
                stats.AddCompileTicks(Stopwatch.GetTimestamp() - t0);
                block.Prepared = true;
            });
        }
        else
        {
            block.Code = code;
            block.Ran = false;
        }
        Statistics.BlocksCompiled++;
        Statistics.InstructionsCompiled += function.GuestInstructions;
        Statistics.CacheBytes += block.IlSize;
        if (!_bus!.IsCodePage(physPage))
        {
            _bus.MarkCodePage(physPage);
            h.ProtectCodePage(physPage);
        }
    }

    /// <summary>The guest wrote a page holding compiled code: forget every block of that page.</summary>
    private void OnCodePageWritten(ulong physPage)
    {
        if (!_blocksByPage.Remove(physPage, out var list))
            return;
        foreach (var b in list)
        {
            if (b.WasmIndex != 0)
            {
                ReleaseWasm(b);
                Statistics.Invalidations++;
            }
            if (b.Code != null)
            {
                b.Code = null;
                Statistics.Invalidations++;
                Statistics.CacheBytes -= b.IlSize;
            }
            _blocks.Remove((b.PhysicalPc, b.VirtualPc));
        }
        _pageInvalidations[physPage] = _pageInvalidations.GetValueOrDefault(physPage) + 1;
        _epoch++;
        _hot.Clear();
    }

    private void FlushCache()
    {
        ReleaseAllWasm();
        _blocks.Clear();
        _blocksByPage.Clear();
        _bus?.ClearCodePages();
        Statistics.CacheBytes = 0;
        _epoch++;
        _hot.Clear();
    }
}
