using System.Diagnostics;

namespace Wemu.Jit;

/// <summary>What the JIT did: printed by <c>-d jit</c> and by the benchmarks.</summary>
public sealed class JitStatistics
{
    private long _blocksCompiled, _instructionsCompiled;

    /// <summary>Regions compiled (including recompilations after invalidation).</summary>
    public long BlocksCompiled => Interlocked.Read(ref _blocksCompiled);

    /// <summary>Guest instructions in all compiled regions.</summary>
    public long InstructionsCompiled => Interlocked.Read(ref _instructionsCompiled);

    /// <summary>Counts a compiled region (from any thread).</summary>
    internal void AddCompiled(int guestInstructions)
    {
        Interlocked.Increment(ref _blocksCompiled);
        Interlocked.Add(ref _instructionsCompiled, guestInstructions);
    }

    private long _compileTicks;
    private long _translateTicks;

    /// <summary>Of <see cref="CompileTicks"/>, the part spent on the machine thread (guest -> IR -> generated code), in Stopwatch ticks.</summary>
    public long TranslateTicks { get => Interlocked.Read(ref _translateTicks); internal set => _translateTicks = value; }

    internal void AddTranslateTicks(long ticks)
    {
        Interlocked.Add(ref _translateTicks, ticks);
        Interlocked.Add(ref _compileTicks, ticks);
    }

    /// <summary>Time translating and compiling (including the runtime's compile to native code), in Stopwatch ticks.</summary>
    public long CompileTicks { get => Interlocked.Read(ref _compileTicks); internal set => _compileTicks = value; }

    internal void AddCompileTicks(long ticks) => Interlocked.Add(ref _compileTicks, ticks);

    public TimeSpan CompileTime => Stopwatch.GetElapsedTime(0, CompileTicks);

    /// <summary>Generated code bytes currently in the cache (x86-64 code, IL, or wasm modules).</summary>
    public long CacheBytes { get; internal set; }

    /// <summary>Instructions run by the interpreter: cold code, before a block is hot.</summary>
    public long ColdInstructions { get; internal set; }

    /// <summary>Instructions compiled code handed to the interpreter (system, CSR, untranslatable).</summary>
    public long Fallbacks { get; internal set; }

    /// <summary>Instructions retired in compiled code.</summary>
    public long CompiledInstructions { get; internal set; }

    /// <summary>Calls from the dispatcher into compiled code (x86-64 and WebAssembly backends; chained calls inside generated code not counted).</summary>
    public long CompiledEntries { get; internal set; }

    /// <summary>Part of the compile time spent in the host's WebAssembly loader (compile and instantiate), in Stopwatch ticks.</summary>
    public long LoadTicks { get; internal set; }

    /// <summary>Part of the machine thread's compile time spent in the guest's translator (guest code -> IR), in Stopwatch ticks.</summary>
    public long FrontEndTicks { get; internal set; }

    /// <summary>Part of the machine thread's compile time spent in the IR passes, in Stopwatch ticks.</summary>
    public long PassTicks { get; internal set; }

    /// <summary>Exits of x86-64 and WebAssembly code by <see cref="CodeExit"/> kind.</summary>
    public long[] ExitsByKind { get; } = new long[4];

    /// <summary>
    /// The chained exits that came back to the host, by why generated code did not go on: the instruction budget
    /// was spent, the jump cache's slot held no entry for the target (never entered from the host, another pc in
    /// the slot, or no compiled code), or its entry carried an old stamp (a TLB flush or invalidation since).
    /// </summary>
    public long[] ChainReturns { get; } = new long[3];
    public const int ChainBudget = 0, ChainMissing = 1, ChainStale = 2;

    /// <summary>Compiled blocks dropped because the guest wrote their page.</summary>
    public long Invalidations { get; internal set; }

    /// <summary>Whole-cache flushes (size or block-count cap reached).</summary>
    public long Flushes { get; internal set; }

    /// <summary>Times the 32-bit chain stamp came to its end and every jump cache was cleared.</summary>
    public long StampWraps { get; internal set; }

    /// <summary>Regions the translator or a backend failed on (interpreted instead), and the first failure.</summary>
    public long CompileFailures { get; internal set; }

    public string? FirstCompileFailure { get; internal set; }

    internal void NoteCompileFailure(ulong pc, Exception e)
    {
        CompileFailures++;
        FirstCompileFailure ??= $"at pc 0x{pc:x}: {e.GetType().Name}: {e.Message}";
    }

    public override string ToString() =>
        $"{BlocksCompiled} blocks compiled ({InstructionsCompiled} guest instructions) in {CompileTime.TotalMilliseconds:F0} ms " +
        $"({Stopwatch.GetElapsedTime(0, TranslateTicks).TotalMilliseconds:F0} ms translating on the machine thread), " +
        $"cache {CacheBytes / 1024} KiB, {Invalidations} invalidated, {Flushes} flushes; instructions: " +
        $"{CompiledInstructions} compiled, {ColdInstructions} cold in the interpreter, {Fallbacks} fallbacks to the interpreter" +
        (CompiledEntries == 0 ? "" : $"; {CompiledEntries} calls into compiled code, exits: {ExitsByKind[0]} chained, " +
            $"{ExitsByKind[1]} untranslated, {ExitsByKind[2]} stop, {ExitsByKind[3]} slow path; chained exits back to the host: " +
            $"{ChainReturns[ChainBudget]} budget spent, {ChainReturns[ChainMissing]} target not in the jump cache, {ChainReturns[ChainStale]} old stamp") +
        (CompileFailures == 0 ? "" : $"; {CompileFailures} regions failed to compile and were interpreted (first {FirstCompileFailure})");
}
