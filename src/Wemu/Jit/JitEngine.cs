using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Wemu.Cpu;
using Wemu.Jit.Il;
using Wemu.Jit.X64;
using Wemu.Memory;

namespace Wemu.Jit;

/// <summary>
/// The translating engine, for any guest ISA (<typeparamref name="TFrontEnd"/>): code starts in the
/// guest's profiling interpreter and a branch target is compiled (guest -> IR -> x86-64 code, IL or
/// WebAssembly) once it has run <see cref="JitOptions.Threshold"/> times. Translations are keyed by
/// guest physical and virtual pc and mode (<see cref="TranslationCache{TCpu}"/>); a jump cache per
/// fetch context maps a virtual pc to its block without a page walk, and is invalidated wholesale
/// by TLB flushes (the stamp holds the TLB generation). Compiled x86-64 and WebAssembly code chains
/// to the next block through a copy of that jump cache in the <see cref="ExitContext"/>, and
/// returns only on exits (<see cref="CodeExit"/>), which one dispatch loop handles for every
/// backend. The bus reports writes to pages holding compiled code (stores reach them only through
/// the guest's slow path, see <see cref="TlbEntry.CodeFlag"/>, and DMA notifies), and their blocks
/// are dropped: self-modifying code, loaders and page reuse are seen without relying on the guest's
/// instruction-cache maintenance.
/// </summary>
public abstract unsafe partial class JitEngine<TCpu, TFrontEnd> : ICpuEngine<TCpu>, IDisposable
    where TCpu : CpuCore
    where TFrontEnd : struct, IJitFrontEnd<TCpu>
{
    private const int JumpCacheBits = 14;
    private const int JumpCacheMask = (1 << JumpCacheBits) - 1;
    private const ulong PageOffsetMask = TranslationCache<TCpu>.PageOffsetMask;

    private struct JumpEntry
    {
        public ulong Pc;
        public int Stamp;
        /// <summary>The block's code is on a global page: <see cref="Stamp"/> is the global chain stamp.</summary>
        public bool Global;
        public TranslatedBlock<TCpu>? Block;
    }

    private readonly TFrontEnd _isa;
    /// <summary>x86-64 code calls the guest's helpers (<see cref="GuestCodeAbi.HelperCall"/>) rather than leaving for them.</summary>
    private readonly bool _helperCalls;
    private readonly int _pcShift;
    private readonly HotTable _hot;
    /// <summary>What the next arrival at a cold target counts for: <see cref="_chainedArrivalWeight"/> right after a chained exit.</summary>
    private int _arrivalWeight = 1;
    private readonly int _chainedArrivalWeight;
    private readonly bool _hasGlobalCode;
    /// <summary><see cref="HotTable.HasRun"/> as the translator's include test (one delegate, not one per compile).</summary>
    private readonly Func<ulong, bool> _hasRun;
    private readonly TranslationCache<TCpu> _cache = new();
    private readonly JumpEntry[] _jumpCache;
    private PhysicalBus? _bus;
    private TCpu? _cpu;
    /// <summary>Bumped whenever compiled code is dropped (invalidation or flush): every jump-cache stamp changes.</summary>
    private ulong _epoch;

    /// <summary>x86-64 and WebAssembly: the <see cref="ExitContext"/>, then one jump cache per fetch context.</summary>
    private byte* _context;
    private readonly int _jumpCacheBytes;
    private int _chainStamp = 1, _globalChainStamp = 2, _stampCounter = 2;
    /// <summary>The TLB generation, global TLB generation and epoch <see cref="_chainStamp"/> and <see cref="_globalChainStamp"/> stand for.</summary>
    private ulong _chainGeneration, _globalChainGeneration, _stampEpoch;
    /// <summary>The native code's entry trampoline (<see cref="X64CodeArena.Enter"/>).</summary>
    private readonly nint _x64Enter;

    protected JitEngine(JitOptions? options, Func<HotTable, TFrontEnd> createFrontEnd)
    {
        Options = options ?? new JitOptions();
        Backend = Options.WasmLoader != null ? JitBackendKind.Wasm
            : Options.NativeCode && (_x64 = X64CodeArena.TryCreate((int)Math.Min(Options.CacheBytes, X64ArenaBytes))) != null ? JitBackendKind.X64
            : JitBackendKind.Il;
        var probe = default(TFrontEnd);
        _pcShift = probe.PcAlignShift;
        _hot = new HotTable(Options.Threshold ?? Backend switch
        {
            JitBackendKind.X64 => JitOptions.DefaultNativeThreshold,
            JitBackendKind.Wasm => JitOptions.DefaultWasmThreshold,
            _ => JitOptions.DefaultThreshold,
        }, _pcShift);
        _chainedArrivalWeight = Math.Max(1, Options.ChainedArrivalWeight ?? (Backend == JitBackendKind.Wasm ? probe.WasmChainedArrivalWeight : 1));
        _isa = createFrontEnd(_hot);
        _hasGlobalCode = _isa.HasGlobalCode;
        _x64Enter = _x64 != null ? (nint)_x64.Enter : 0;
        // The tags' flag bits against the backends' one-compare probe (fails loudly, before any code runs).
        TlbTagLayout.Check(_isa.CodeAbi.Tlb.PageBits, _isa.CodeAbi.Tlb.TagFlags);
        TlbTagLayout.Check(_isa.IlAbi.Tlb.PageBits, _isa.IlAbi.Tlb.TagFlags);
        if (_isa.CodeAbi.PcAlignShift != _pcShift || _isa.CodeAbi.JumpCacheBits != JumpCacheBits)
            throw new InvalidOperationException("the guest's code ABI hashes the jump cache differently from the engine");
        _hasRun = _hot.HasRun;
        _helperCalls = Backend == JitBackendKind.X64 && _isa.CodeAbi.HelperCall != 0;
        _translator = _isa.CreateTranslator(Options.MaxRegionInstructions);
        _backgroundTranslator = _isa.CreateTranslator(Options.MaxRegionInstructions);
        _jumpCache = new JumpEntry[_isa.FetchContexts << JumpCacheBits];
        _jumpCacheBytes = ExitContext.JumpCacheBytes(JumpCacheBits);
        if (Backend != JitBackendKind.Il)
        {
            nuint size = (nuint)(ExitContext.Size + _isa.FetchContexts * _jumpCacheBytes);
            _context = (byte*)NativeMemory.AlignedAlloc(size, 64);
            NativeMemory.Clear(_context, size);
        }
        if (Backend == JitBackendKind.Wasm && Options.WasmInterpreter && _isa.BuildWasmInterpreter(_hot, _chainedArrivalWeight) is { } module)
        {
            fixed (byte* p = module)
                _coldCode = Options.WasmLoader!.Load(p, module.Length);
            *(int*)(_context + ExitContext.ColdCode) = _coldCode;
        }
    }

    /// <summary>The WebAssembly interpreter for cold code (a function-table index), or 0: the guest's C# interpreter runs it.</summary>
    private readonly int _coldCode;

    /// <summary>True when cold code runs in the guest's WebAssembly interpreter (<see cref="IJitFrontEnd{TCpu}.BuildWasmInterpreter"/>).</summary>
    public bool InterpretsInWasm => _coldCode != 0;

    public string Name => "jit";

    public JitBackendKind Backend { get; }

    /// <summary>True when regions compile to x86-64 code.</summary>
    public bool UsesNativeCode => Backend == JitBackendKind.X64;

    /// <summary>Runs before a block is compiled: <see cref="JitOptions.Threshold"/>, else the backend's default.</summary>
    public int Threshold => _hot.Threshold;

    public JitOptions Options { get; }

    public JitStatistics Statistics { get; } = new();

    /// <summary>Translation records held now (compiled or not): at most <see cref="JitOptions.MaxBlocks"/>.</summary>
    public int BlockCount => _cache.Count;

    /// <summary>Runs at most <paramref name="budget"/> instructions; returns how many retired.</summary>
    public long Run(TCpu cpu, long budget)
    {
        if (_cpu != cpu)
            Attach(cpu);
        if (_context != null)
            *(ulong*)(_context + ExitContext.Regs) = (ulong)cpu.Registers;
        int context = _isa.FetchContext(cpu);
        TlbEntry* dtlb = _isa.DataTlb(cpu);
        long executed = 0;
        while (executed < budget)
        {
            ulong pc = cpu.Pc;
            var block = Find(cpu, context, pc, out bool global);
            if (block != null && !block.IsRunnable)
            {
                if (block.Requested)
                {
                    if (block.Prepared)
                        Install(block);
                }
                else if (!block.NoCompile)
                {
                    Compile(cpu, block);
                }
                if (!block.IsRunnable)
                {
                    // Not compilable, or still being compiled: let the interpreter run another
                    // threshold's worth of arrivals before it comes back here.
                    _hot.Cool(pc);
                    block = null;
                }
            }

            if (block != null)
            {
                if (Backend == JitBackendKind.Il ? EnterIl(cpu, block, ref dtlb, budget, ref executed) : EnterCode(cpu, block, global, context, ref dtlb, budget, ref executed))
                    continue;
                return executed;
            }

            if (_coldCode != 0)
            {
                if (EnterCold(cpu, pc, context, dtlb, budget, ref executed))
                {
                    context = _isa.FetchContext(cpu);
                    dtlb = _isa.DataTlb(cpu);
                    continue;
                }
                return executed;
            }

            // Cold code: the profiling interpreter runs until a hot branch target (or until it
            // stops for the machine loop: system instruction, device access, budget).
            cpu.HotExit = false;
            long ran = _isa.Interpret(cpu, budget - executed);
            executed += ran;
            Statistics.ColdInstructions += ran;
            if (!cpu.HotExit)
                return executed;
            cpu.HotExit = false;
            context = _isa.FetchContext(cpu);
            dtlb = _isa.DataTlb(cpu);
        }
        return executed;
    }

    /// <summary>
    /// The block for <paramref name="pc"/>: from the jump cache, else (once the pc is hot) from the
    /// translation table, then cached; null while it is cold.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TranslatedBlock<TCpu>? Find(TCpu cpu, int context, ulong pc, out bool global)
    {
        ref JumpEntry entry = ref _jumpCache[(context << JumpCacheBits) | ExitContext.JumpCacheIndex(pc, _pcShift, JumpCacheBits)];
        UpdateChainStamps(cpu);
        var block = entry.Pc == pc && entry.Stamp == (entry.Global ? _globalChainStamp : _chainStamp) ? entry.Block : null;
        int weight = _arrivalWeight;
        _arrivalWeight = 1;
        if (block == null && _hot.Bump(pc, weight) && (block = Lookup(cpu, pc)) != null)
        {
            entry.Global = _hasGlobalCode && _isa.IsGlobalCode(cpu, pc, block.PhysicalPc);
            cpu.NoteCachedCodePage(pc, entry.Global);
            entry.Pc = pc;
            UpdateChainStamps(cpu);   // (the look-up may have compiled, and a compile may flush)
            entry.Stamp = entry.Global ? _globalChainStamp : _chainStamp;
            entry.Block = block;
        }
        global = entry.Global;
        return block;
    }

    private TranslatedBlock<TCpu>? Lookup(TCpu cpu, ulong pc)
    {
        if (!_isa.TryTranslateFetch(cpu, pc, out byte* page, out ulong physPage))
            return null;
        ulong physicalPc = physPage | (pc & PageOffsetMask), mode = _isa.BlockMode(cpu);
        if (_cache.Find(physicalPc, pc, mode) is { } block)
            return block;
        if (_cache.Count >= Options.MaxBlocks)
        {
            // Blocks that never compile (system instructions first, self-modifying pages) take no
            // arena space, so the arena's cap alone would let a guest that maps one page at millions
            // of addresses grow this table without end: cap the count too.
            FlushCache();
            Statistics.Flushes++;
        }
        return _cache.Add(pc, physicalPc, mode, _translator.IsInterpretedOnly(pc, mode, page));
    }

    /// <summary>Runs an x86-64 or WebAssembly block through the <see cref="ExitContext"/>; true to keep dispatching.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool EnterCode(TCpu cpu, TranslatedBlock<TCpu> block, bool global, int context, ref TlbEntry* dtlb, long budget, ref long executed)
    {
        byte* ctx = _context;
        ulong pc = block.VirtualPc;
        // Publish the block for chained exits of other code (a page flush of this pc's page must
        // then change the stamp: CpuCore.NoteTlbPageFlush). Code on a global page carries the global
        // stamp, which the CR3 writes of context switches leave alone (Find asked once, when it cached the block).
        cpu.NoteCachedCodePage(pc, global);
        // (after any compile: a flush there changes the stamp, retiring entries to freed code)
        UpdateChainStamps(cpu);
        int chainStamp = _chainStamp;
        byte* jumpCache = ctx + ExitContext.Size + context * _jumpCacheBytes;
        byte* slot = jumpCache + ExitContext.JumpCacheIndex(pc, _pcShift, JumpCacheBits) * ExitContext.JumpCacheEntry;
        *(ulong*)(slot + ExitContext.EntryPc) = pc;
        *(int*)(slot + ExitContext.EntryStamp) = global ? _globalChainStamp : chainStamp;
        *(long*)(slot + ExitContext.EntryCode) = block.Entry;
        SetRunContext(cpu, dtlb, jumpCache, chainStamp, budget - executed);
        ulong retiredBefore = cpu.InstRet;   // (only helper calls retire inside the code: x86 on x86-64)
        long n = Backend == JitBackendKind.Wasm
            ? ((delegate* unmanaged<int, int, int>)block.Entry)((int)ctx, 0)
            : _helperCalls
                // (code that calls back into managed helpers must leave cooperative mode first)
                ? ((delegate* unmanaged<byte*, long, nint, long>)_x64Enter)(ctx, 0, block.Entry)
                : ((delegate* unmanaged[SuppressGCTransition]<byte*, long, nint, long>)_x64Enter)(ctx, 0, block.Entry);
        var kind = (CodeExit)(*(int*)(ctx + ExitContext.ExitKind));
        ulong at = *(ulong*)(ctx + ExitContext.ExitPc);
        if (kind == CodeExit.Chain)
            CountChainReturn(jumpCache, at, executed + n >= budget);
        Statistics.CompiledEntries++;
        if (_helperCalls)
            CountRetiredInside(cpu, retiredBefore, ref executed);
        return AfterExit(cpu, kind, at, n, ref executed, ref dtlb);
    }

    /// <summary>What compiled code and the wasm interpreter read in the <see cref="ExitContext"/> for a run of at most <paramref name="budget"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetRunContext(TCpu cpu, TlbEntry* dtlb, byte* jumpCache, int chainStamp, long budget)
    {
        byte* ctx = _context;
        *(ulong*)(ctx + ExitContext.Tlb) = (ulong)dtlb;
        *(long*)(ctx + ExitContext.Budget) = Math.Min(budget, int.MaxValue);
        *(ulong*)(ctx + ExitContext.JumpCache) = (ulong)jumpCache;
        *(int*)(ctx + ExitContext.Stamp) = chainStamp;
        *(int*)(ctx + ExitContext.GlobalStamp) = _globalChainStamp;
        if (_coldCode != 0)
            *(ulong*)(ctx + ExitContext.FetchTlb) = (ulong)_isa.FetchTlb(cpu);
    }

    /// <summary>
    /// Runs cold code from <paramref name="pc"/> in the WebAssembly interpreter (the exits are compiled code's: a hot
    /// target whose code the jump cache lacks leaves as <see cref="CodeExit.Chain"/>, an instruction it does not run as
    /// Slow or Interpret; it chains into compiled code and compiled code back into it); true to keep dispatching.
    /// </summary>
    private bool EnterCold(TCpu cpu, ulong pc, int context, TlbEntry* dtlb, long budget, ref long executed)
    {
        byte* ctx = _context;
        byte* jumpCache = ctx + ExitContext.Size + context * _jumpCacheBytes;
        while (true)
        {
            UpdateChainStamps(cpu);   // (a slow path may have dropped code: a store to a code page)
            SetRunContext(cpu, dtlb, jumpCache, _chainStamp, budget - executed);
            *(ulong*)(ctx + ExitContext.ExitPc) = pc;
            long n = ((delegate* unmanaged<int, int, int>)_coldCode)((int)ctx, -1);
            var kind = (CodeExit)(*(int*)(ctx + ExitContext.ExitKind));
            ulong at = *(ulong*)(ctx + ExitContext.ExitPc);
            bool go = AfterExit(cpu, kind, at, n, ref executed, ref dtlb);
            // A slow path that went on to the next instruction: straight back in (that pc is no branch target to count
            // or look up; the dispatcher's loop would only find it cold again).
            if (!go || kind != CodeExit.Slow || executed >= budget)
                return go;
            pc = cpu.Pc;
        }
    }

    /// <summary>Why a chained exit came back here (<see cref="JitStatistics.ChainReturns"/>): the slot generated code looked in.</summary>
    private void CountChainReturn(byte* jumpCache, ulong at, bool budgetSpent)
    {
        byte* slot = jumpCache + ExitContext.JumpCacheIndex(at, _pcShift, JumpCacheBits) * ExitContext.JumpCacheEntry;
        int why = budgetSpent ? JitStatistics.ChainBudget
            : *(ulong*)(slot + ExitContext.EntryPc) != at || *(long*)(slot + ExitContext.EntryCode) == 0 ? JitStatistics.ChainMissing
            : JitStatistics.ChainStale;
        Statistics.ChainReturns[why]++;
    }

    /// <summary>Runs an IL block (it calls the slow paths itself and encodes its exit in its result, <see cref="IlExit"/>); true to keep dispatching.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool EnterIl(TCpu cpu, TranslatedBlock<TCpu> block, ref TlbEntry* dtlb, long budget, ref long executed)
    {
        var code = block.Code!;
        long result;
        ulong retiredBefore = cpu.InstRet;
        if (block.Ran)
        {
            result = code(cpu, cpu.Registers, (byte*)dtlb, budget - executed);
        }
        else
        {
            // The runtime compiles the IL on the first call: count that as compile time.
            long t0 = Stopwatch.GetTimestamp();
            result = code(cpu, cpu.Registers, (byte*)dtlb, budget - executed);
            Statistics.AddCompileTicks(Stopwatch.GetTimestamp() - t0);
            block.Ran = true;
        }
        cpu.InstRetInFlight = 0;
        Statistics.CompiledEntries++;
        CountRetiredInside(cpu, retiredBefore, ref executed);
        var kind = IlExit.KindOf(result);
        if (cpu.MmioAccessed)
        {
            // a slow path touched a device: back to the machine loop (interrupts)
            cpu.MmioAccessed = false;
            if (kind == CodeExit.Chain)
                kind = CodeExit.Stop;
        }
        return AfterExit(cpu, kind, cpu.Pc, result & IlExit.CountMask, ref executed, ref dtlb);
    }

    /// <summary>
    /// Instructions the guest's interpreter retired inside a call of compiled code (the x86-64 and IL backends' helpers:
    /// an instruction that did not go on, or a store into translated code the interpreter then ran whole), which the
    /// code's own count leaves out: the machine loop's budget and its device ticks count them too (a loop storing into
    /// its own code page otherwise ran with every call counted as 0, and no timer was looked at).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountRetiredInside(TCpu cpu, ulong retiredBefore, ref long executed)
    {
        long inside = (long)(cpu.InstRet - retiredBefore);
        if (inside != 0)
        {
            executed += inside;
            Statistics.Fallbacks += inside;
        }
    }

    /// <summary>
    /// After compiled code returned <paramref name="n"/> instructions with an exit: accounts for
    /// them and, for a slow-path or untranslated instruction, runs it in the interpreter. True to
    /// keep dispatching: a chained exit, or a load, store or helper that went on to the next
    /// instruction without a device access (nothing the machine loop watches changed).
    /// </summary>
    private bool AfterExit(TCpu cpu, CodeExit kind, ulong at, long n, ref long executed, ref TlbEntry* dtlb)
    {
        cpu.Pc = at;
        cpu.InstRet += (ulong)n;
        executed += n;
        // (of which the wasm interpreter ran ColdRetired: compiled code and it chain into each other)
        long cold = 0;
        if (_coldCode != 0)
        {
            cold = *(long*)(_context + ExitContext.ColdRetired);
            *(long*)(_context + ExitContext.ColdRetired) = 0;
            Statistics.ColdInstructions += cold;
        }
        Statistics.CompiledInstructions += n - cold;
        Statistics.ExitsByKind[(int)kind & 3]++;
        if (kind == CodeExit.Chain)
        {
            _arrivalWeight = _chainedArrivalWeight;   // (the dispatcher's next look-up is of the exit's target)
            return true;
        }
        if (kind is CodeExit.Slow or CodeExit.Interpret)
        {
            uint mmio = cpu.MmioAccesses;
            int context = _isa.FetchContext(cpu);
            long one = _isa.Interpret(cpu, 1);
            executed += one;
            Statistics.Fallbacks += one;
            // (a trap whose handler happens to sit at the next pc also looks sequential, but changes
            // privilege: the caller's jump cache belongs to the old fetch context, so go back)
            if (kind == CodeExit.Slow && one == 1 && cpu.MmioAccesses == mmio && _isa.WentOn(cpu, at)
                && _isa.FetchContext(cpu) == context)
            {
                dtlb = _isa.DataTlb(cpu);
                return true;
            }
        }
        return false;
    }

    private void Attach(TCpu cpu)
    {
        if (_bus != null)
            _bus.CodePageWritten -= OnCodePageWritten;
        _cpu = cpu;
        _bus = cpu.Bus;
        _bus.CodePageWritten += OnCodePageWritten;
        if (_context != null && _isa.CodeAbi.HelperCall != 0)
        {
            // what compiled code's helper calls find the CPU by (weak: the machine owns the CPU)
            if (_stateHandle.IsAllocated)
                _stateHandle.Free();
            _stateHandle = GCHandle.Alloc(cpu, GCHandleType.Weak);
            *(nint*)(_context + ExitContext.State) = GCHandle.ToIntPtr(_stateHandle);
        }
        FlushCache();
    }

    private GCHandle _stateHandle;

    /// <summary>
    /// The stamp a jump-cache entry must carry to be followed (generated code's and the dispatcher's): one for each
    /// TLB generation in each invalidation epoch. A flush or an invalidation moves to a new one, which retires every
    /// entry at once; a switch back to an address space whose translations the CPU kept (x86 PCIDs) brings its
    /// generation back, and with it the stamp, so the entries made for that space then are followed again.
    /// It is 32-bit (the wasm entry's field): before it would wrap, every jump cache is cleared and
    /// it starts again, so an entry from before can never match again.
    /// </summary>
    internal int ChainStamp(TCpu cpu)
    {
        UpdateChainStamps(cpu);
        return _chainStamp;
    }

    /// <summary>
    /// The stamp entries for code on global pages carry (<see cref="ExitContext.GlobalStamp"/>): it changes whenever the
    /// global TLB generation or the epoch does. Both stamps come from one counter, so an entry's stamp is never both.
    /// </summary>
    internal int GlobalChainStamp(TCpu cpu)
    {
        UpdateChainStamps(cpu);
        return _globalChainStamp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UpdateChainStamps(TCpu cpu)
    {
        if (cpu.TlbGeneration != _chainGeneration || cpu.GlobalTlbGeneration != _globalChainGeneration || _epoch != _stampEpoch)
            RenewChainStamps(cpu);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RenewChainStamps(TCpu cpu)
    {
        bool wrap = _stampCounter >= int.MaxValue - 1;
        if (wrap)
        {
            ClearJumpCaches();
            _stampCounter = 0;
            Statistics.StampWraps++;
        }
        bool newEpoch = wrap || _epoch != _stampEpoch;
        if (newEpoch || _stampOfGeneration.Count >= MaxRememberedGenerations)
            _stampOfGeneration.Clear();   // (an old epoch's stamps lead to dropped code; past the cap, only reuse is lost)
        _stampEpoch = _epoch;
        // (a global change always comes with a local one: the global generation never moves alone)
        if (newEpoch || cpu.TlbGeneration != _chainGeneration)
        {
            _chainGeneration = cpu.TlbGeneration;
            if (!_stampOfGeneration.TryGetValue(_chainGeneration, out _chainStamp))
                _stampOfGeneration[_chainGeneration] = _chainStamp = ++_stampCounter;
        }
        if (newEpoch || cpu.GlobalTlbGeneration != _globalChainGeneration)
        {
            _globalChainGeneration = cpu.GlobalTlbGeneration;
            _globalChainStamp = ++_stampCounter;
        }
    }

    /// <summary>The stamps of the TLB generations seen in this epoch (<see cref="RenewChainStamps"/>).</summary>
    private readonly Dictionary<ulong, int> _stampOfGeneration = [];
    private const int MaxRememberedGenerations = 256;

    /// <summary>For tests: the chain stamp now, settable to force a wrap.</summary>
    internal int ChainStampForTests
    {
        get => _stampCounter;
        set => _stampCounter = value;
    }

    /// <summary>For tests: the jump caches generated code follows (one per fetch context, after the context block); empty with IL.</summary>
    internal Span<byte> CodeJumpCachesForTests =>
        _context == null ? default : new(_context + ExitContext.Size, _isa.FetchContexts * _jumpCacheBytes);

    /// <summary>For tests: every filled entry of the jump caches generated code follows (context, pc, stamp, code).</summary>
    internal List<(int Context, ulong Pc, int Stamp, nint Code)> CodeJumpCacheEntries()
    {
        var entries = new List<(int, ulong, int, nint)>();
        for (int c = 0; _context != null && c < _isa.FetchContexts; c++)
        {
            byte* cache = _context + ExitContext.Size + c * _jumpCacheBytes;
            for (int i = 0; i <= JumpCacheMask; i++)
            {
                byte* slot = cache + i * ExitContext.JumpCacheEntry;
                nint code = (nint)(*(long*)(slot + ExitContext.EntryCode));
                if (code != 0 || *(ulong*)(slot + ExitContext.EntryPc) != 0)
                    entries.Add((c, *(ulong*)(slot + ExitContext.EntryPc), *(int*)(slot + ExitContext.EntryStamp), code));
            }
        }
        return entries;
    }

    /// <summary>Empties the managed jump cache and the jump caches generated code follows.</summary>
    private void ClearJumpCaches()
    {
        Array.Clear(_jumpCache);
        if (_context != null)
            NativeMemory.Clear(_context + ExitContext.Size, (nuint)(_isa.FetchContexts * _jumpCacheBytes));
    }

    /// <summary>The guest wrote a page holding compiled code: forget every block of that page.</summary>
    private void OnCodePageWritten(ulong physPage)
    {
        if (_cache.RemovePage(physPage, _cpu!.InstructionsRetired, Options.RewriteWindow) is not { } list)
            return;
        foreach (var b in list)
        {
            if (b.IsRunnable)
            {
                ReleaseCode(b);   // (x86-64 code stays in the arena until the next reset)
                Statistics.Invalidations++;
            }
        }
        _epoch++;
        _hot.Clear();
    }

    /// <summary>Drops the whole cache (it is full) but keeps <paramref name="block"/>, which is being compiled.</summary>
    private void FlushKeeping(TranslatedBlock<TCpu> block)
    {
        FlushCache();
        Statistics.Flushes++;
        _cache.Keep(block);
    }

    internal void FlushCache()
    {
        foreach (var b in _cache.Blocks)
            if (b.Entry != 0)
                ReleaseCode(b);
        _x64?.Reset();
        // The arena's offsets and the wasm table's slots are reused from here on: no jump cache may
        // keep an entry that leads to them, whatever its stamp says.
        ClearJumpCaches();
        _cache.Clear();
        _bus?.ClearCodePages();
        Statistics.CacheBytes = 0;
        _epoch++;
        _hot.Clear();
    }

    public void Dispose()
    {
        foreach (var b in _cache.Blocks)
            if (b.Entry != 0)
                ReleaseCode(b);
        _x64?.Dispose();
        _x64 = null;
        if (_crossPage != null)
        {
            NativeMemory.Free(_crossPage);
            _crossPage = null;
        }
        if (_stateHandle.IsAllocated)
            _stateHandle.Free();
        if (_context != null)
        {
            NativeMemory.AlignedFree(_context);
            _context = null;
        }
        GC.SuppressFinalize(this);
    }
}
