using System.Diagnostics;
using System.Runtime.InteropServices;
using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Wasm;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The engine with the WebAssembly backend (<see cref="JitOptions.WasmLoader"/>, the browser):
/// regions compile to wasm modules the host instantiates, called through a function pointer
/// (a table index). Compiled functions chain to each other inside wasm through a jump cache in
/// linear memory (per fetch MMU context; entries carry a stamp that changes on TLB flushes and
/// invalidations), and return only on exits: budget spent, the next region not compiled yet,
/// an untranslated instruction, or a load/store/helper needing the slow path, which the
/// interpreter runs here (dispatch goes on unless it trapped or touched a device).
/// </summary>
public sealed unsafe partial class RiscVJitEngine : IDisposable
{
    private static readonly int WasmJumpCacheBytes = ExitContext.JumpCacheBytes(JumpCacheBits);

    private byte* _wasmContext;
    private int _chainStamp = 1;
    /// <summary>TLB generation + epoch when <see cref="_chainStamp"/> was last bumped (both only grow: the sum changes whenever either does).</summary>
    private ulong _chainKey;

    /// <summary>
    /// The stamp a jump-cache entry in generated code's memory must carry to be followed: it changes
    /// whenever the TLB generation or the invalidation epoch does, which retires every entry at once.
    /// It is 32-bit (the wasm entry's field): before it would wrap, every jump cache is cleared and
    /// it starts again, so an entry from before can never match again.
    /// </summary>
    internal int ChainStamp(RiscVHart h)
    {
        ulong key = h.TlbGeneration + _epoch;
        if (key != _chainKey)
        {
            _chainKey = key;
            if (_chainStamp == int.MaxValue)
            {
                ClearJumpCaches();
                _chainStamp = 0;
                Statistics.StampWraps++;
            }
            _chainStamp++;
        }
        return _chainStamp;
    }

    /// <summary>For tests: the chain stamp now, settable to force a wrap.</summary>
    internal int ChainStampForTests
    {
        get => _chainStamp;
        set => _chainStamp = value;
    }

    /// <summary>For tests: the wasm jump caches (one per MMU context, in the context block) and their size in bytes.</summary>
    internal Span<byte> WasmJumpCachesForTests => new(WasmContextBlock + 64, RiscVHart.MmuContexts * WasmJumpCacheBytes);

    /// <summary>Empties the managed jump cache and the jump caches generated code follows (x86-64 and wasm).</summary>
    private void ClearJumpCaches()
    {
        Array.Clear(_jumpCache);
        if (_x64Context != null)
            NativeMemory.Clear(_x64Context + 64, (nuint)(RiscVHart.MmuContexts * X64JumpCacheBytes));
        if (_wasmContext != null)
            NativeMemory.Clear(_wasmContext + 64, (nuint)(RiscVHart.MmuContexts * WasmJumpCacheBytes));
    }
    private int _wasmLive;

    private IWasmCodeLoader? Wasm => Options.WasmLoader;

    /// <summary>The context block, then one jump cache per MMU context.</summary>
    private byte* WasmContextBlock
    {
        get
        {
            if (_wasmContext == null)
            {
                nuint size = (nuint)(64 + RiscVHart.MmuContexts * WasmJumpCacheBytes);
                _wasmContext = (byte*)NativeMemory.AlignedAlloc(size, 64);
                NativeMemory.Clear(_wasmContext, size);
            }
            return _wasmContext;
        }
    }

    private long RunWasm(RiscVHart h, long budget)
    {
        byte* ctx = WasmContextBlock;
        *(ulong*)(ctx + ExitContext.Regs) = (ulong)h.X;
        int context = h.FetchMmuContext;
        long executed = 0;
        while (executed < budget)
        {
            ulong pc = h.Pc;
            RiscVBlock? block = Find(h, context, pc);
            if (block != null && block.WasmIndex == 0)
            {
                if (!block.NoCompile)
                    Compile(h, block);
                if (block.WasmIndex == 0)
                {
                    _hot.Cool(pc);
                    block = null;
                }
            }

            if (block != null)
            {
                byte* jumpCache = ctx + 64 + context * WasmJumpCacheBytes;
                // Publish the block for chained exits of other functions (a page flush of this pc's
                // page must then change the stamp: RiscVHart.FlushTlbPage).
                h.NoteCachedCodePage(pc);
                // (after any compile above: a flush there changes the stamp, retiring entries to freed code)
                int chainStamp = ChainStamp(h);
                byte* slot = jumpCache + (int)((pc >> 1) & ((1 << JumpCacheBits) - 1)) * ExitContext.JumpCacheEntry;
                *(ulong*)(slot + ExitContext.EntryPc) = pc;
                *(int*)(slot + ExitContext.EntryStamp) = chainStamp;
                *(long*)(slot + ExitContext.EntryCode) = block.WasmIndex;
                *(ulong*)(ctx + ExitContext.Tlb) = (ulong)h.TlbFor(h.DataMmuContext);
                *(long*)(ctx + ExitContext.Budget) = Math.Min(budget - executed, int.MaxValue);
                *(ulong*)(ctx + ExitContext.JumpCache) = (ulong)jumpCache;
                *(int*)(ctx + ExitContext.Stamp) = chainStamp;
                int n = ((delegate* unmanaged<int, int, int>)(nint)block.WasmIndex)((int)ctx, 0);
                if (AfterExit(h, (CodeExit)(*(int*)(ctx + ExitContext.ExitKind)), *(ulong*)(ctx + ExitContext.ExitPc), n, ref executed))
                    continue;
                return executed;
            }

            h.HotExit = false;
            long ran = _interpreter.Run(h, budget - executed);
            executed += ran;
            Statistics.ColdInstructions += ran;
            if (!h.HotExit)
                return executed;
            h.HotExit = false;
            context = h.FetchMmuContext;
        }
        return executed;
    }

    /// <summary>Compiles <paramref name="function"/> to a wasm module and loads it (the tail of <see cref="Compile"/>).</summary>
    private void CompileWasm(RiscVHart h, RiscVBlock block, IrFunction function, ulong physPage, long start)
    {
        byte[] module = WasmBackend.Compile(function, RiscVJitHelpers.CodeAbi, Options.WasmChaining);
        int index;
        long loadStart = Stopwatch.GetTimestamp();
        fixed (byte* p = module)
            index = Wasm!.Load(p, module.Length);
        Statistics.LoadTicks += Stopwatch.GetTimestamp() - loadStart;
        Statistics.AddCompileTicks(Stopwatch.GetTimestamp() - start);
        if (index == 0)
        {
            block.NoCompile = true;
            return;
        }
        block.WasmIndex = index;
        block.CodeSize = module.Length;
        _wasmLive++;
        Statistics.AddCompiled(function.GuestInstructions);
        Statistics.CacheBytes += block.CodeSize;
        if (!_bus!.IsCodePage(physPage))
        {
            _bus.MarkCodePage(physPage);
            h.ProtectCodePage(physPage);
        }
    }

    /// <summary>Frees a block's wasm function (invalidation); the epoch bump that follows retires its jump-cache entries.</summary>
    private void ReleaseWasm(RiscVBlock b)
    {
        Wasm!.Release(b.WasmIndex);
        b.WasmIndex = 0;
        _wasmLive--;
        Statistics.CacheBytes -= b.CodeSize;
    }

    private void ReleaseAllWasm()
    {
        if (Wasm == null)
            return;
        foreach (var b in _blocks.Values)
            if (b.WasmIndex != 0)
                ReleaseWasm(b);
    }

    public void Dispose()
    {
        ReleaseAllWasm();
        DisposeX64();
        if (_wasmContext != null)
        {
            NativeMemory.AlignedFree(_wasmContext);
            _wasmContext = null;
        }
    }
}
