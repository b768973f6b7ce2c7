using System.Diagnostics;
using System.Runtime.CompilerServices;
using Wemu.Jit;
using Wemu.Jit.Il;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Wemu.Memory;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The translating engine: blocks start in the interpreter and are compiled (RISC-V -> IR -> x86-64 code, IL or WebAssembly)
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
    private const int MaxTrackedRewrittenPages = 1 << 14;

    private struct JumpEntry
    {
        public ulong Pc;
        public ulong Stamp;
        public RiscVBlock? Block;
    }

    private readonly RiscVInterpreter _interpreter;
    private readonly HotTable _hot;
    /// <summary><see cref="HotTable.HasRun"/> as the translator's include test (one delegate, not one per compile).</summary>
    private readonly Func<ulong, bool> _hasRun;
    private const int PageSize = 4096;

    /// <summary>
    /// Compiles handed to the background worker and not done yet, at most. A bounded queue keeps the
    /// wait for a hot block short: when code turns hot faster than it compiles (boot, thresh=1), the
    /// entries that could not be queued come back once they are hot again, rather than piling up.
    /// </summary>
    private const int MaxInFlight = 16;

    private int _inFlight;

    private readonly RiscVTranslator _translator;
    private readonly RiscVTranslator _backgroundTranslator;
    private readonly Dictionary<(ulong Physical, ulong Virtual), RiscVBlock> _blocks = [];
    private readonly Dictionary<ulong, List<RiscVBlock>> _blocksByPage = [];
    /// <summary>Per physical page: rewrites of compiled code in a row (each within <see cref="JitOptions.RewriteWindow"/>
    /// instructions of the previous one), and when the last one happened.</summary>
    private readonly Dictionary<ulong, (int Count, ulong At)> _pageInvalidations = [];
    private readonly JumpEntry[] _jumpCache = new JumpEntry[RiscVHart.MmuContexts << JumpCacheBits];
    private PhysicalBus? _bus;
    private RiscVHart? _hart;
    /// <summary>Bumped whenever compiled code is dropped (invalidation or flush). Like the hart's
    /// <see cref="RiscVHart.TlbGeneration"/> it only grows, 64-bit, so their sum (the jump caches'
    /// stamp) changes whenever either does and never comes back to an old value.</summary>
    private ulong _epoch;

    public RiscVJitEngine(JitOptions? options = null)
    {
        // The tags' flag bits against the backends' one-compare probe (fails loudly, before any code runs).
        TlbTagLayout.Check(RiscVJitHelpers.CodeAbi.Tlb.PageBits, RiscVJitHelpers.CodeAbi.Tlb.TagFlags);
        TlbTagLayout.Check(RiscVJitHelpers.IlAbi.Tlb.PageBits, RiscVJitHelpers.IlAbi.Tlb.TagFlags);
        Options = options ?? new JitOptions();
        CreateX64();
        _hot = new HotTable(Options.Threshold ?? (_x64 != null ? JitOptions.DefaultNativeThreshold : JitOptions.DefaultThreshold));
        _interpreter = new RiscVInterpreter(_hot);
        _hasRun = _hot.HasRun;
        _translator = new RiscVTranslator(Options.MaxRegionInstructions);
        _backgroundTranslator = new RiscVTranslator(Options.MaxRegionInstructions);
    }

    public string Name => "jit";

    /// <summary>Runs before a block is compiled: <see cref="JitOptions.Threshold"/>, else the backend's default.</summary>
    public int Threshold => _hot.Threshold;

    public JitOptions Options { get; }

    public JitStatistics Statistics { get; } = new();

    /// <summary>Translation records held now (compiled or not): at most <see cref="JitOptions.MaxBlocks"/>.</summary>
    public int BlockCount => _blocks.Count;

    public long Run(RiscVHart h, long budget)
    {
        if (_hart != h)
            Attach(h);
        if (Options.WasmLoader != null)
            return RunWasm(h, budget);
        if (_x64 != null)
            return RunX64(h, budget);
        ulong* x = h.X;
        byte* dtlb = (byte*)h.TlbFor(h.DataMmuContext);
        int context = h.FetchMmuContext;
        long executed = 0;
        while (executed < budget)
        {
            ulong pc = h.Pc;
            RiscVBlock? block = Find(h, context, pc);
            if (block != null && block.Code == null)
            {
                if (block.Requested)
                {
                    if (block.Prepared)
                        Install(block);
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
                long n = result & IlExit.CountMask;
                h.InstRetInFlight = 0;
                h.InstRet += (ulong)n;
                executed += n;
                Statistics.CompiledInstructions += n;
                if ((result & (IlExit.StopBit | IlExit.InterpretBit)) == 0 && !h.MmioAccessed)
                    continue;
                h.MmioAccessed = false;
                if ((result & IlExit.InterpretBit) != 0)
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

    /// <summary>
    /// The block for <paramref name="pc"/>: from the jump cache, else (once the pc is hot) from the
    /// translation table, then cached; null while it is cold.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private RiscVBlock? Find(RiscVHart h, int context, ulong pc)
    {
        ulong stamp = h.TlbGeneration + _epoch;
        ref JumpEntry entry = ref _jumpCache[(context << JumpCacheBits) | (int)((pc >> 1) & ((1 << JumpCacheBits) - 1))];
        RiscVBlock? block = entry.Pc == pc && entry.Stamp == stamp ? entry.Block : null;
        if (block == null && _hot.Bump(pc) && (block = Lookup(h, pc)) != null)
        {
            h.NoteCachedCodePage(pc);
            entry.Pc = pc;
            entry.Stamp = stamp;
            entry.Block = block;
        }
        return block;
    }

    /// <summary>
    /// After generated code (x86-64 or WebAssembly) returned <paramref name="n"/> instructions with
    /// an exit record: accounts for them and, for a slow-path or untranslated instruction, runs it in
    /// the interpreter. True to keep dispatching: a chained exit, or a load, store or helper that went
    /// on to the next instruction without a device access (nothing the machine loop watches changed).
    /// </summary>
    private bool AfterExit(RiscVHart h, CodeExit kind, ulong at, long n, ref long executed)
    {
        h.Pc = at;
        h.InstRet += (ulong)n;
        executed += n;
        Statistics.CompiledInstructions += n;
        Statistics.CompiledEntries++;
        Statistics.ExitsByKind[(int)kind & 3]++;
        if (kind == CodeExit.Chain)
            return true;
        if (kind is CodeExit.Slow or CodeExit.Interpret)
        {
            uint mmio = h.MmioAccesses;
            int context = h.FetchMmuContext;
            long one = _interpreter.Run(h, 1);
            executed += one;
            Statistics.Fallbacks += one;
            // (a trap whose handler happens to sit at the next pc also moves pc by 2 or 4, but changes
            // privilege: the caller's jump cache belongs to the old fetch context, so go back)
            return kind == CodeExit.Slow && one == 1 && h.MmioAccesses == mmio && h.Pc - at is 2 or 4
                && h.FetchMmuContext == context;
        }
        return false;
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
        if (_blocks.Count >= Options.MaxBlocks)
        {
            // Blocks that never compile (system instructions first, self-modifying pages) take no
            // arena space, so the arena's cap alone would let a guest that maps one page at millions
            // of addresses grow this table without end: cap the count too.
            FlushCache();
            Statistics.Flushes++;
        }
        block = new RiscVBlock
        {
            VirtualPc = pc,
            PhysicalPc = key.Item1,
            NoCompile = RiscVTranslator.IsInterpretedOnly(pc, page),
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
        if (_pageInvalidations.TryGetValue(physPage, out var rewrites) && rewrites.Count >= MaxPageInvalidations
            && h.InstructionsRetired - rewrites.At < Options.RewriteWindow)
        {
            return;   // self-modifying code: interpret this page until it has been left alone for a while
        }
        if (_x64 != null)
        {
            CompileX64(h, block, page, physPage);   // cheap: in line, arena-capped
            return;
        }
        if (Statistics.CacheBytes > Options.CacheBytes || _wasmLive >= Options.MaxWasmInstances)
        {
            FlushKeeping(block, physPage);
        }
        if (Options.WasmLoader != null)
        {
            // The browser: one thread, so translate and load the module in line.
            long wasmStart = Stopwatch.GetTimestamp();
            try
            {
                var wasmFunction = _translator.Translate(block.VirtualPc, page, _hasRun);
                IrPipeline.Run(wasmFunction);
                CompileWasm(h, block, wasmFunction, physPage, wasmStart);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // (a translator or backend bug, or the host refusing the module: interpret this block)
                block.NoCompile = true;
                Statistics.NoteCompileFailure(block.VirtualPc, e);
            }
            return;
        }
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            block.NoCompile = true;   // an ahead-of-time build has no IL JIT: without the x86-64 backend, interpret
            return;
        }
        if (!_bus!.IsCodePage(physPage))
        {
            _bus.MarkCodePage(physPage);
            h.ProtectCodePage(physPage);
        }
        if (Options.Background is { } background)
        {
            if (Volatile.Read(ref _inFlight) >= MaxInFlight)
                return;   // the worker is behind: this entry comes back after another threshold of arrivals
            Interlocked.Increment(ref _inFlight);
            // Translation and the runtime's compile to native code (on the first call; a negative
            // budget returns at once) run on another thread while the interpreter goes on. They
            // work on a snapshot of the page and of which of its pcs have run: the page is already
            // marked as code, so a guest write after this point drops the block (it is never
            // installed), and nothing the worker reads belongs to the machine.
            long start = Stopwatch.GetTimestamp();
            var snapshot = new byte[PageSize + PageSize / 16];
            new ReadOnlySpan<byte>(page, PageSize).CopyTo(snapshot);
            ulong pageBase = block.VirtualPc & ~(ulong)(PageSize - 1);
            for (int i = 0; i < PageSize / 2; i++)
            {
                if (_hot.HasRun(pageBase + (ulong)(2 * i)))
                    snapshot[PageSize + (i >> 3)] |= (byte)(1 << (i & 7));
            }
            Statistics.AddTranslateTicks(Stopwatch.GetTimestamp() - start);
            block.Requested = true;
            block.Ran = true;
            var stats = Statistics;
            var translator = _backgroundTranslator;
            background(() =>
            {
                long t0 = Stopwatch.GetTimestamp();
                try
                {
                    JitCode<RiscVHart>? code = null;
                    lock (translator)
                    {
                        fixed (byte* p = snapshot)
                        {
                            byte* hasRun = p + PageSize;
                            var function = translator.Translate(block.VirtualPc, p,
                                pc => (hasRun[(pc & (PageSize - 1)) >> 4] & (1 << (int)((pc >> 1) & 7))) != 0);
                            IrPipeline.Run(function);
                            if (RuntimeFeature.IsDynamicCodeSupported)
                                code = IlBackend.Compile<RiscVHart>(function, RiscVJitHelpers.IlAbi, out block.CodeSize);
                            block.GuestInstructions = function.GuestInstructions;
                        }
                    }
                    code!(null!, null, null, -1);
                    block.Pending = code;
                    stats.AddCompiled(block.GuestInstructions);
                }
                catch (Exception)
                {
                    block.Pending = null;   // a translator bug must not take the machine down: interpret it
                }
                stats.AddCompileTicks(Stopwatch.GetTimestamp() - t0);
                block.Prepared = true;
                Interlocked.Decrement(ref _inFlight);
            });
        }
        else
        {
            long start = Stopwatch.GetTimestamp();
            IrFunction function;
            try
            {
                Options.CompileHookForTests?.Invoke(block.VirtualPc);
                function = _translator.Translate(block.VirtualPc, page, _hasRun);
                IrPipeline.Run(function);
                block.Pending = IlBackend.Compile<RiscVHart>(function, RiscVJitHelpers.IlAbi, out block.CodeSize);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                block.NoCompile = true;   // a translator or backend bug must not take the machine down: interpret it
                Statistics.NoteCompileFailure(block.VirtualPc, e);
                return;
            }
            block.GuestInstructions = function.GuestInstructions;
            Statistics.AddTranslateTicks(Stopwatch.GetTimestamp() - start);
            Statistics.AddCompiled(block.GuestInstructions);
            Install(block);
            block.Ran = false;
        }
    }

    /// <summary>Makes a translated block runnable (machine thread).</summary>
    private void Install(RiscVBlock block)
    {
        block.Requested = false;
        block.Prepared = false;
        if (block.Pending is not { } code)
        {
            block.NoCompile = true;
            return;
        }
        block.Code = code;
        block.Pending = null;
        Statistics.CacheBytes += block.CodeSize;
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
            if (b.NativeEntry != 0)
            {
                b.NativeEntry = 0;   // its bytes stay in the arena until the next reset
                Statistics.Invalidations++;
                Statistics.CacheBytes -= b.CodeSize;
            }
            if (b.Code != null)
            {
                b.Code = null;
                Statistics.Invalidations++;
                Statistics.CacheBytes -= b.CodeSize;
            }
            _blocks.Remove((b.PhysicalPc, b.VirtualPc));
        }
        ulong now = _hart!.InstructionsRetired;
        if (_pageInvalidations.Count >= MaxTrackedRewrittenPages)
            _pageInvalidations.Clear();   // (a heuristic: forgetting only costs a few extra compiles)
        var last = _pageInvalidations.GetValueOrDefault(physPage);
        _pageInvalidations[physPage] = (last.Count > 0 && now - last.At < Options.RewriteWindow ? last.Count + 1 : 1, now);
        _epoch++;
        _hot.Clear();
    }

    /// <summary>Drops the whole cache (it is full) but keeps <paramref name="block"/>, which is being compiled.</summary>
    private void FlushKeeping(RiscVBlock block, ulong physPage)
    {
        FlushCache();
        Statistics.Flushes++;
        _blocks[(block.PhysicalPc, block.VirtualPc)] = block;
        _blocksByPage[physPage] = [block];
    }

    internal void FlushCache()
    {
        ReleaseAllWasm();
        foreach (var b in _blocks.Values)
            b.NativeEntry = 0;
        _x64?.Reset();
        // The arena's offsets and the wasm table's slots are reused from here on: no jump cache may
        // keep an entry that leads to them, whatever its stamp says.
        ClearJumpCaches();
        _blocks.Clear();
        _blocksByPage.Clear();
        _bus?.ClearCodePages();
        Statistics.CacheBytes = 0;
        _epoch++;
        _hot.Clear();
    }
}
