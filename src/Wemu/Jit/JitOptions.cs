namespace Wemu.Jit;

/// <summary>Tiering and cache settings (<c>-accel tcg,thresh=N,tb-size=MB</c>).</summary>
public sealed class JitOptions
{
    /// <summary>Default number of runs in the interpreter before a block is compiled (the IL backend).</summary>
    public const int DefaultThreshold = 2000;

    /// <summary>
    /// The WebAssembly backend's default (the page): a region costs ~1-2 ms to translate under Mono's
    /// interpreter and instantiate in V8, so only code that runs often repays it. Measured in the page
    /// on 2026-12-03 (docs/PERFORMANCE.md): boot 3.5-3.8 s at 20,000 against 5.0 s at 2,000; the
    /// gzip workload 4.8-4.9 s against 4.5 s.
    /// </summary>
    public const int DefaultWasmThreshold = 20_000;

    /// <summary>
    /// Arrivals one chained exit from compiled code to a not yet compiled target counts for in the hot table; null: the
    /// guest's <see cref="IJitFrontEnd{TCpu}.WasmChainedArrivalWeight"/> on the WebAssembly backend, else 1 (natively a
    /// round trip costs about as much as interpreting the target). In the page every exit back to the dispatcher runs C#
    /// under Mono's interpreter (~3-4 µs with the next entry; a region costs ~1.5 ms to compile), so at the wasm
    /// threshold of 20,000 a target reached from compiled code cost ~60 ms of round trips before it compiled.
    /// </summary>
    public int? ChainedArrivalWeight { get; init; }

    /// <summary>Default cap on the translation cache, in MiB of generated code (x86-64 code, IL, or wasm modules).</summary>
    public const int DefaultCacheMegabytes = 64;

    /// <summary>Runs in the interpreter before a block is compiled; null: the backend's default
    /// (<see cref="DefaultNativeThreshold"/> for x86-64 code, <see cref="DefaultWasmThreshold"/> for
    /// WebAssembly, else <see cref="DefaultThreshold"/>).</summary>
    public int? Threshold { get; init; }

    public long CacheBytes { get; init; } = DefaultCacheMegabytes << 20;

    /// <summary>Runs work on another thread (see <see cref="Machines.MachineImages.BackgroundWorker"/>); null compiles in line.</summary>
    public Action<Action>? Background { get; init; }

    /// <summary>
    /// Self-modifying code: a page whose compiled code was rewritten 32 times in a row, each time
    /// within this many instructions of the last, is interpreted until it has been left alone this long.
    /// </summary>
    public ulong RewriteWindow { get; init; } = 50_000_000;

    /// <summary>
    /// Compile to WebAssembly through this host loader instead of to IL (the browser: IL there is
    /// only interpreted). See <see cref="Wasm.WasmBackend"/>.
    /// </summary>
    public Wasm.IWasmCodeLoader? WasmLoader { get; init; }

    /// <summary>Most live WebAssembly instances; at the cap the cache is flushed (browsers run out of memory otherwise).</summary>
    public int MaxWasmInstances { get; init; } = 15_000;

    /// <summary>
    /// With <see cref="WasmLoader"/>: run cold code in the guest's interpreter written in WebAssembly (RISC-V:
    /// <see cref="Cpu.RiscV.RiscVWasmInterpreter"/>) rather than its C# interpreter, which Mono's interpreter runs several
    /// times slower. <c>-accel tcg,wasm-interp=off</c> turns it off.
    /// </summary>
    public bool WasmInterpreter { get; init; } = true;

    /// <summary>Chain compiled WebAssembly functions to each other through the jump cache (tail calls) instead of returning to the dispatcher.</summary>
    public bool WasmChaining { get; init; } = true;

    /// <summary>
    /// Natively on x86-64 Linux, compile regions straight to machine code (<see cref="X64.X64Backend"/>,
    /// microseconds per region) instead of IL for the runtime's JIT (about a millisecond per region).
    /// Ignored where it cannot run (<see cref="X64.X64CodeArena.Supported"/>) and with <see cref="WasmLoader"/>.
    /// Its compiles run in line on the machine thread (<see cref="Background"/> is for IL only): a
    /// handoff to another thread (page snapshot, queue, install) cost more than the compile itself.
    /// </summary>
    public bool NativeCode { get; init; } = true;

    /// <summary>The threshold when the native backend compiles: its compiles are cheap, so code is compiled sooner.</summary>
    public const int DefaultNativeThreshold = 50;

    /// <summary>Most guest instructions in one compiled region.</summary>
    public int MaxRegionInstructions { get; init; } = 256;

    /// <summary>
    /// Most translation records (blocks) kept, compiled or not; reaching it flushes the cache. A
    /// Linux boot makes about 6,000; each record costs a few hundred bytes of host memory.
    /// </summary>
    public int MaxBlocks { get; init; } = 1 << 17;

    /// <summary>-perfmap: names each region of generated x86-64 code for Linux perf (<see cref="PerfMapWriter"/>).</summary>
    public PerfMapWriter? PerfMap { get; init; }

    /// <summary>For tests: called with a block's pc before it is translated in line (an exception
    /// thrown here stands for a translator or backend failure).</summary>
    internal Action<ulong>? CompileHookForTests { get; init; }
}
