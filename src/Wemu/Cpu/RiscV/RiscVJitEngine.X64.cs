using Wemu.Memory;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Wemu.Jit.X64;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The engine with the x86-64 backend (<see cref="JitOptions.NativeCode"/>, native x86-64 Linux):
/// regions compile in line on the machine thread, in microseconds, to machine code in a
/// <see cref="X64CodeArena"/>, called through an unmanaged function pointer without a GC
/// transition (the code never calls out). The exit protocol is the WebAssembly backend's: the code
/// returns on budget, on a jump out of the region, on an untranslated instruction, and on any
/// load, store or helper that needs the slow path, whose one instruction the interpreter then runs.
/// </summary>
public sealed unsafe partial class RiscVJitEngine
{
    private const int X64ArenaBytes = 64 << 20;

    private static readonly int X64JumpCacheBytes = ExitContext.JumpCacheBytes(JumpCacheBits);

    private X64CodeArena? _x64;
    private X64Backend.Compiler? _x64Compiler;
    /// <summary>The context block, then one jump cache per MMU context.</summary>
    private byte* _x64Context;

    private void CreateX64()
    {
        if (!Options.NativeCode || Options.WasmLoader != null)
            return;
        _x64 = X64CodeArena.TryCreate((int)Math.Min(Options.CacheBytes, X64ArenaBytes));
        if (_x64 != null)
            _x64Context = (byte*)NativeMemory.AllocZeroed((nuint)(64 + RiscVHart.MmuContexts * X64JumpCacheBytes));
    }

    /// <summary>True when regions compile to x86-64 code.</summary>
    public bool UsesNativeCode => _x64 != null;

    /// <summary>For tests: every filled entry of the x86-64 jump caches (context, pc, stamp, code address).</summary>
    internal List<(int Context, ulong Pc, int Stamp, nint Code)> NativeJumpCacheEntries()
    {
        var entries = new List<(int, ulong, int, nint)>();
        if (_x64Context == null)
            return entries;
        for (int c = 0; c < RiscVHart.MmuContexts; c++)
        {
            byte* cache = _x64Context + 64 + c * X64JumpCacheBytes;
            for (int i = 0; i < 1 << JumpCacheBits; i++)
            {
                byte* slot = cache + i * ExitContext.JumpCacheEntry;
                nint code = *(nint*)(slot + ExitContext.EntryCode);
                if (code != 0 || *(ulong*)(slot + ExitContext.EntryPc) != 0)
                    entries.Add((c, *(ulong*)(slot + ExitContext.EntryPc), *(int*)(slot + ExitContext.EntryStamp), code));
            }
        }
        return entries;
    }

    private long RunX64(RiscVHart h, long budget)
    {
        byte* ctx = _x64Context;
        *(ulong**)(ctx + ExitContext.Regs) = h.X;
        int context = h.FetchMmuContext;
        long executed = 0;
        while (executed < budget)
        {
            ulong pc = h.Pc;
            RiscVBlock? block = Find(h, context, pc);
            if (block != null && block.NativeEntry == 0)
            {
                if (!block.NoCompile)
                    Compile(h, block);
                if (block.NativeEntry == 0)
                {
                    _hot.Cool(pc);
                    block = null;
                }
            }

            if (block != null)
            {
                // Publish the block for chained exits of other code (a page flush of this pc's page
                // must then change the stamp: RiscVHart.FlushTlbPage).
                h.NoteCachedCodePage(pc);
                // (after any compile above: a flush there changes the stamp, retiring entries to freed code)
                int chainStamp = ChainStamp(h);
                byte* jumpCache = ctx + 64 + context * X64JumpCacheBytes;
                byte* slot = jumpCache + (int)((pc >> 1) & ((1 << JumpCacheBits) - 1)) * ExitContext.JumpCacheEntry;
                *(ulong*)(slot + ExitContext.EntryPc) = pc;
                *(int*)(slot + ExitContext.EntryStamp) = chainStamp;
                *(nint*)(slot + ExitContext.EntryCode) = block.NativeEntry;
                *(TlbEntry**)(ctx + ExitContext.Tlb) = h.TlbFor(h.DataMmuContext);
                *(long*)(ctx + ExitContext.Budget) = budget - executed;
                *(byte**)(ctx + ExitContext.JumpCache) = jumpCache;
                *(int*)(ctx + ExitContext.Stamp) = chainStamp;
                long n = ((delegate* unmanaged[SuppressGCTransition]<byte*, long, long>)block.NativeEntry)(ctx, 0);
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

    /// <summary>Translates and compiles <paramref name="block"/> to x86-64 code (the tail of <see cref="Compile"/>).</summary>
    private void CompileX64(RiscVHart h, RiscVBlock block, byte* page, ulong physPage)
    {
        long start = Stopwatch.GetTimestamp();
        IrFunction function;
        ReadOnlySpan<byte> code;
        try
        {
            Options.CompileHookForTests?.Invoke(block.VirtualPc);
            function = _translator.Translate(block.VirtualPc, page, _hasRun, reuse: true);
            IrPipeline.Run(function);
            code = (_x64Compiler ??= new X64Backend.Compiler(RiscVJitHelpers.CodeAbi)).Compile(function);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // a translator or backend failure of any kind must not take the machine down: interpret it
            block.NoCompile = true;
            Statistics.NoteCompileFailure(block.VirtualPc, e);
            return;
        }
        byte* entry = _x64!.Add(code);
        if (entry == null)
        {
            FlushKeeping(block, physPage);
            entry = _x64.Add(code);
            if (entry == null)
            {
                block.NoCompile = true;
                return;
            }
        }
        block.NativeEntry = (nint)entry;
        block.CodeSize = code.Length;
        Statistics.CacheBytes += code.Length;
        Statistics.AddCompiled(function.GuestInstructions);
        Statistics.AddTranslateTicks(Stopwatch.GetTimestamp() - start);   // (all of it is on the machine thread)
        if (!_bus!.IsCodePage(physPage))
        {
            _bus.MarkCodePage(physPage);
            h.ProtectCodePage(physPage);
        }
    }

    private void DisposeX64()
    {
        _x64?.Dispose();
        _x64 = null;
        if (_x64Context != null)
        {
            NativeMemory.Free(_x64Context);
            _x64Context = null;
        }
    }
}
