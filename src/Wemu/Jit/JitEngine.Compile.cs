using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Wemu.Jit.Il;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Wemu.Jit.Wasm;
using Wemu.Jit.X64;

namespace Wemu.Jit;

/// <summary>
/// Compiling a hot block with the engine's backend. x86-64 code compiles in line on the machine
/// thread, in microseconds, into a <see cref="X64CodeArena"/> (called without a GC transition: the
/// code never calls out). WebAssembly modules compile in line too (the browser has one thread) and
/// the host instantiates them (<see cref="IWasmCodeLoader"/>). IL compiles in line or, with
/// <see cref="JitOptions.Background"/>, on another thread from a snapshot of the page, and is
/// installed when the block next comes up.
/// </summary>
public abstract unsafe partial class JitEngine<TCpu, TFrontEnd>
{
    private const int X64ArenaBytes = 64 << 20;
    private const int PageSize = 4096;

    /// <summary>
    /// Compiles handed to the background worker and not done yet, at most. A bounded queue keeps the
    /// wait for a hot block short: when code turns hot faster than it compiles (boot, thresh=1), the
    /// entries that could not be queued come back once they are hot again, rather than piling up.
    /// </summary>
    private const int MaxInFlight = 16;

    private int _inFlight;
    private readonly IGuestTranslator _translator;
    private readonly IGuestTranslator _backgroundTranslator;
    private X64CodeArena? _x64;
    private X64Backend.Compiler? _x64Compiler;
    private int _wasmLive;

    /// <summary>The page and the next page's first bytes, for translators that take instructions crossing the page's end.</summary>
    private byte* _crossPage;

    /// <summary>
    /// The code the translator reads: <paramref name="page"/>, or a copy of it followed by the next page's first bytes
    /// when the translator takes crossing instructions, the next page is mapped for execution now (a fetch translation
    /// that raises nothing; like a CPU's prefetch it may set the page's accessed bit) and the backend's loads leave for
    /// the interpreter on a miss (the translator guards those bytes with loads at run time; the IL backend's slow loads
    /// raise data faults instead, so it does not get them).
    /// </summary>
    private byte* WithNextPage(TCpu cpu, ulong pc, byte* page, out int nextPageBytes)
    {
        nextPageBytes = 0;
        int want = _translator.CrossPageBytes;
        ulong next = (pc & ~PageOffsetMask) + PageSize;
        if (want <= 0 || Backend == JitBackendKind.Il || next == 0 || !_isa.TryTranslateFetch(cpu, next, out byte* nextPage, out _))
            return page;
        _crossPage = _crossPage != null ? _crossPage : (byte*)NativeMemory.Alloc(PageSize + 64);
        Buffer.MemoryCopy(page, _crossPage, PageSize, PageSize);
        Buffer.MemoryCopy(nextPage, _crossPage + PageSize, want, want);
        nextPageBytes = want;
        return _crossPage;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Compile(TCpu cpu, TranslatedBlock<TCpu> block)
    {
        if (!_isa.TryTranslateFetch(cpu, block.VirtualPc, out byte* page, out ulong physPage)
            || physPage != (block.PhysicalPc & ~PageOffsetMask))
        {
            return;
        }
        if (_cache.IsBeingRewritten(physPage, cpu.InstructionsRetired, Options.RewriteWindow))
            return;   // self-modifying code: interpret this page until it has been left alone for a while
        if (Backend != JitBackendKind.X64 && (Statistics.CacheBytes > Options.CacheBytes || _wasmLive >= Options.MaxWasmInstances))
            FlushKeeping(block);   // (the x86-64 arena says when it is full)
        if (Backend == JitBackendKind.Il)
        {
            if (!RuntimeFeature.IsDynamicCodeSupported)
            {
                block.NoCompile = true;   // an ahead-of-time build has no IL JIT: without the x86-64 backend, interpret
                return;
            }
            MarkCode(cpu, physPage);
            if (Options.Background is { } background)
            {
                CompileInBackground(block, page, background);
                return;
            }
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            Options.CompileHookForTests?.Invoke(block.VirtualPc);
            byte* code = WithNextPage(cpu, block.VirtualPc, page, out int nextPageBytes);
            var function = _translator.Translate(block.VirtualPc, block.Mode, code, _hasRun, reuse: true, nextPageBytes);
            long translated = Stopwatch.GetTimestamp();
            if (function.GuestInstructions == 0)
            {
                // (its first instruction cannot be compiled: one that crosses into a page there were no bytes of)
                block.NoCompile = true;
                return;
            }
            IrPipeline.Run(function);
            Statistics.FrontEndTicks += translated - start;
            Statistics.PassTicks += Stopwatch.GetTimestamp() - translated;
            block.GuestInstructions = function.GuestInstructions;
            switch (Backend)
            {
                case JitBackendKind.X64: AddX64(block, function); break;
                case JitBackendKind.Wasm: LoadWasm(block, function); break;
                default:
                    if (RuntimeFeature.IsDynamicCodeSupported)   // (checked above; the AOT analyzer wants it here)
                    {
                        block.Pending = IlBackend.Compile<TCpu>(function, _isa.IlAbi, out block.CodeSize);
                        Install(block);
                        block.Ran = false;
                    }
                    break;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // a translator or backend failure (or the host refusing a module) must not take the machine down: interpret it
            block.NoCompile = true;
            Statistics.NoteCompileFailure(block.VirtualPc, e);
            return;
        }
        Statistics.AddTranslateTicks(Stopwatch.GetTimestamp() - start);
        if (!block.IsRunnable)
            return;
        Statistics.AddCompiled(block.GuestInstructions);
        if (Backend != JitBackendKind.Il)
            MarkCode(cpu, physPage);
    }

    /// <summary>Marks <paramref name="physPage"/> as holding translated code: on the bus, and stores the CPU's TLB lets through directly.</summary>
    private void MarkCode(TCpu cpu, ulong physPage)
    {
        if (!_bus!.IsCodePage(physPage))
        {
            _bus.MarkCodePage(physPage);
            _isa.ProtectCodePage(cpu, physPage);
        }
    }

    private void AddX64(TranslatedBlock<TCpu> block, IrFunction function)
    {
        var code = (_x64Compiler ??= new X64Backend.Compiler(_isa.CodeAbi)).Compile(function);
        byte* entry = _x64!.Add(code);
        if (entry == null)
        {
            FlushKeeping(block);
            entry = _x64.Add(code);
            if (entry == null)
            {
                block.NoCompile = true;
                return;
            }
        }
        block.Entry = (nint)entry;
        block.CodeSize = code.Length;
        Statistics.CacheBytes += code.Length;
        Options.PerfMap?.Add((nint)entry, code.Length, block.VirtualPc);
    }

    private void LoadWasm(TranslatedBlock<TCpu> block, IrFunction function)
    {
        byte[] module = WasmBackend.Compile(function, _isa.CodeAbi, Options.WasmChaining);
        int index;
        long loadStart = Stopwatch.GetTimestamp();
        fixed (byte* p = module)
            index = Options.WasmLoader!.Load(p, module.Length);
        Statistics.LoadTicks += Stopwatch.GetTimestamp() - loadStart;
        if (index == 0)
        {
            block.NoCompile = true;
            return;
        }
        block.Entry = index;
        block.CodeSize = module.Length;
        _wasmLive++;
        Statistics.CacheBytes += block.CodeSize;
    }

    /// <summary>
    /// Translation and the runtime's compile to native code (on the first call; a negative budget
    /// returns at once) run on another thread while the interpreter goes on. They work on a snapshot
    /// of the page and of which of its pcs have run: the page is already marked as code, so a guest
    /// write after this point drops the block (it is never installed), and nothing the worker reads
    /// belongs to the machine.
    /// </summary>
    private void CompileInBackground(TranslatedBlock<TCpu> block, byte* page, Action<Action> background)
    {
        if (Volatile.Read(ref _inFlight) >= MaxInFlight)
            return;   // the worker is behind: this entry comes back after another threshold of arrivals
        Interlocked.Increment(ref _inFlight);
        long start = Stopwatch.GetTimestamp();
        int shift = _pcShift, pcs = PageSize >> shift;
        var snapshot = new byte[PageSize + (pcs + 7) / 8];
        new ReadOnlySpan<byte>(page, PageSize).CopyTo(snapshot);
        ulong pageBase = block.VirtualPc & ~(ulong)(PageSize - 1);
        for (int i = 0; i < pcs; i++)
        {
            if (_hot.HasRun(pageBase + ((ulong)i << shift)))
                snapshot[PageSize + (i >> 3)] |= (byte)(1 << (i & 7));
        }
        Statistics.AddTranslateTicks(Stopwatch.GetTimestamp() - start);
        block.Requested = true;
        block.Ran = true;
        var stats = Statistics;
        var translator = _backgroundTranslator;
        var abi = _isa.IlAbi;
        background(() =>
        {
            long t0 = Stopwatch.GetTimestamp();
            try
            {
                JitCode<TCpu>? code = null;
                lock (translator)
                {
                    fixed (byte* p = snapshot)
                    {
                        byte* hasRun = p + PageSize;
                        var function = translator.Translate(block.VirtualPc, block.Mode, p, pc =>
                        {
                            int i = (int)((pc & (PageSize - 1)) >> shift);
                            return (hasRun[i >> 3] & (1 << (i & 7))) != 0;
                        }, reuse: false);
                        IrPipeline.Run(function);
                        if (RuntimeFeature.IsDynamicCodeSupported)
                            code = IlBackend.Compile<TCpu>(function, abi, out block.CodeSize);
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

    /// <summary>Makes an IL block compiled on another thread (or just now) runnable (machine thread).</summary>
    private void Install(TranslatedBlock<TCpu> block)
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

    /// <summary>Drops a block's compiled code (a wasm function goes back to the host; x86-64 bytes stay in the arena until its reset).</summary>
    private void ReleaseCode(TranslatedBlock<TCpu> b)
    {
        if (Backend == JitBackendKind.Wasm && b.Entry != 0)
        {
            Options.WasmLoader!.Release((int)b.Entry);
            _wasmLive--;
        }
        b.Entry = 0;
        b.Code = null;
        Statistics.CacheBytes -= b.CodeSize;
    }
}
