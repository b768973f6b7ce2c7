using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Jit.X64;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// What a guest could do to the translation cache's bookkeeping, run in lockstep with the
/// interpreter: the jump caches generated code follows hold raw code addresses (x86-64) or table
/// slots (wasm), checked only by a 32-bit stamp, so a stamp that wrapped, or an arena reset that
/// left entries behind, would send control into freed or reused code; a guest that runs
/// uncompilable code at many addresses must not grow the block table without bound; and a
/// translator or backend failure of any kind must leave the block to the interpreter.
/// </summary>
public sealed class JitCacheBoundsTests
{
    /// <summary>M-mode: a loop that flushes the TLB (a new chain stamp at every entry into compiled code) and calls two functions.</summary>
    private const string FlushingLoop = """
            li s2, 400
        p{0}_loop:
            sfence.vma
            call p{0}_f1
            call p{0}_f2
            addi s2, s2, -1
            bnez s2, p{0}_loop
        p{0}_end:
            wfi
            j p{0}_end
        p{0}_f1:
            addi a0, a0, 1
            ret
        p{0}_f2:
            addi a1, a1, 3
            ret
        p{0}_trap:
            mret
        """;

    /// <summary>M-mode: 256 functions whose first instruction is a CSR access (never compiled), each called three times.</summary>
    private const string UncompilableCalls = """
            li s2, 3
        p{0}_outer:
            la s3, p{0}_funcs
            li s4, 256
        p{0}_inner:
            jalr ra, 0(s3)
            add a1, a1, a0
            addi s3, s3, 8
            addi s4, s4, -1
            bnez s4, p{0}_inner
            addi s2, s2, -1
            bnez s2, p{0}_outer
        p{0}_end:
            wfi
            j p{0}_end
        p{0}_trap:
            mret
            .balign 8
        p{0}_funcs:
            .rept 256
            csrr a0, mscratch
            ret
            .endr
        """;

    private static RandomProgramBatch.Program Program(int seed, string source) =>
        RandomProgramBatch.Assemble(seed, [string.Format(source, seed) + "\n"], compressed: false, RiscVHart.PrivMachine)[0];

    /// <summary>
    /// M-mode: a loop that calls a function through a pointer loaded from memory (an indirect call, a chained exit)
    /// on one iteration in 16: once the loop is compiled, the function is reached only from compiled code.
    /// </summary>
    private const string RareIndirectCall = """
            li s2, 10000
            la s3, p{0}_fptr
        p{0}_loop:
            andi t0, s2, 15
            bnez t0, p{0}_skip
            ld t1, 0(s3)
            jalr ra, 0(t1)
        p{0}_skip:
            addi s2, s2, -1
            bnez s2, p{0}_loop
        p{0}_end:
            wfi
            j p{0}_end
        p{0}_f:
            addi a0, a0, 1
            ret
        p{0}_trap:
            mret
            .balign 8
        p{0}_fptr:
            .dword p{0}_f
        """;

    /// <summary>
    /// A chained exit to a target without code counts for <see cref="JitOptions.ChainedArrivalWeight"/> arrivals: with a
    /// weight of 100 and a threshold of 1,000 the function reached only from compiled code compiles after ~10 such round
    /// trips to the dispatcher; counted one by one it stays cold for the whole run, every call a round trip.
    /// </summary>
    [Fact]
    public void A_Chained_Exit_To_Cold_Code_Counts_For_The_Chained_Arrival_Weight()
    {
        if (!X64CodeArena.Supported)
            return;   // (chained exits are the x86-64 and wasm backends')
        var p = Program(9202, RareIndirectCall);
        long Missing(int weight)
        {
            var jit = JitLockstep.Run(p.CreateMachine, new JitOptions { Threshold = 1000, ChainedArrivalWeight = weight }, 7, $"weight {weight}",
                atEnd: m => Assert.Equal(625UL, m.Hart.GetRegister(10)));
            Assert.True(jit.UsesNativeCode);
            return jit.Statistics.ChainReturns[JitStatistics.ChainMissing];
        }
        long one = Missing(1), hundred = Missing(100);
        Assert.True(one > 400, $"weight 1: only {one} chained exits found no code");
        Assert.True(hundred < 60, $"weight 100: {hundred} chained exits found no code");
    }

    [Fact]
    public void Chain_Stamp_Wrap_Clears_Every_Jump_Cache()
    {
        if (!X64CodeArena.Supported)
            return;   // (the x86-64 backend's jump cache; the wasm one shares the same clearing code)
        var p = Program(9201, FlushingLoop);
        const int Start = int.MaxValue - 40;
        long checkedEntries = 0;
        var jit = JitLockstep.Run(p.CreateMachine, new JitOptions { Threshold = 1 }, 5, "stamp wrap",
            setUp: e => e.ChainStampForTests = Start,
            afterSlice: e =>
            {
                int now = e.ChainStampForTests;
                foreach (var entry in e.CodeJumpCacheEntries())
                {
                    // Stamps only grow until the wrap, which clears everything: an entry from the future is one from before the wrap.
                    Assert.True(entry.Stamp <= now, $"jump-cache entry for 0x{entry.Pc:x} carries stamp {entry.Stamp}, the stamp is now {now}: it survived the wrap");
                    checkedEntries++;
                }
            },
            atEnd: m =>
            {
                Assert.Equal(400UL, m.Hart.GetRegister(10));
                Assert.Equal(1200UL, m.Hart.GetRegister(11));
            });
        Assert.True(jit.UsesNativeCode);
        Assert.True(jit.Statistics.StampWraps >= 1, "the stamp never wrapped");
        Assert.True(jit.ChainStampForTests < Start, $"stamp {jit.ChainStampForTests}");
        Assert.True(checkedEntries > 100, $"only {checkedEntries} jump-cache entries were seen");
        Assert.True(jit.Statistics.CompiledEntries > 400, $"{jit.Statistics.CompiledEntries} entries into compiled code");
    }

    [Fact]
    public void Arena_Reset_Clears_Every_Jump_Cache()
    {
        if (!X64CodeArena.Supported)
            return;
        var p = Program(9202, FlushingLoop);
        int flushes = 0, filledBefore = 0;
        var jit = JitLockstep.Run(p.CreateMachine, new JitOptions { Threshold = 1 }, 6, "arena reset",
            afterSlice: e =>
            {
                int filled = e.CodeJumpCacheEntries().Count;
                if (filled == 0 || flushes >= 20)
                    return;
                filledBefore += filled;
                e.FlushCache();
                flushes++;
                var left = e.CodeJumpCacheEntries();
                if (left.Count != 0)
                    Assert.Fail($"after the arena reset {left.Count} jump-cache entries remain, e.g. pc 0x{left[0].Pc:x} -> 0x{left[0].Code:x}");
            },
            atEnd: m => Assert.Equal(400UL, m.Hart.GetRegister(10)));
        Assert.True(flushes >= 20, $"only {flushes} resets with a filled cache");
        Assert.True(filledBefore > 0);
        // And resets that come from a full arena, in the same run shape: still identical to the interpreter.
        var small = JitLockstep.Run(p.CreateMachine, new JitOptions { Threshold = 1, CacheBytes = 600 }, 7, "tiny arena");
        Assert.True(small.Statistics.Flushes > 10, $"{small.Statistics.Flushes} flushes with a 600-byte arena");
    }

    private sealed unsafe class UnusedWasmLoader : Wemu.Jit.Wasm.IWasmCodeLoader
    {
        public int Load(byte* module, int length) => 0;

        public void Release(int index)
        {
        }
    }

    /// <summary>
    /// The wasm jump caches (in the browser's linear memory, so no wasm runs here): an arena flush
    /// and a stamp about to wrap must leave no entry behind, whatever was in them.
    /// </summary>
    [Fact]
    public void Wasm_Jump_Caches_Are_Cleared_On_Flush_And_Before_The_Stamp_Wraps()
    {
        using var m = new BareHart(1 << 20);
        var jit = new RiscVJitEngine(new JitOptions { WasmLoader = new UnusedWasmLoader() });
        jit.Run(m.Hart, 1);   // attaches the hart
        var caches = jit.CodeJumpCachesForTests;
        caches.Fill(0xA5);
        jit.FlushCache();
        Assert.True(jit.CodeJumpCachesForTests.IndexOfAnyExcept((byte)0) < 0, "an arena flush left wasm jump-cache entries");

        jit.CodeJumpCachesForTests.Fill(0xA5);
        jit.ChainStampForTests = int.MaxValue;
        m.Hart.TlbGeneration++;
        int stamp = jit.ChainStamp(m.Hart);
        // (the wrap gives both stamps, the context's and the global pages', fresh values from the one counter)
        Assert.Equal(1, stamp);
        Assert.Equal(2, jit.GlobalChainStamp(m.Hart));
        Assert.Equal(1, jit.Statistics.StampWraps);
        Assert.True(jit.CodeJumpCachesForTests.IndexOfAnyExcept((byte)0) < 0, "the stamp wrapped with wasm jump-cache entries left");
        // Below the end, a new stamp leaves the caches alone (entries are retired by the stamp alone); a local
        // generation change leaves the global stamp, a global one changes both.
        jit.CodeJumpCachesForTests.Fill(0xA5);
        m.Hart.TlbGeneration++;
        Assert.Equal(3, jit.ChainStamp(m.Hart));
        Assert.Equal(2, jit.GlobalChainStamp(m.Hart));
        m.Hart.TlbGeneration++;
        m.Hart.GlobalTlbGeneration++;
        Assert.Equal(4, jit.ChainStamp(m.Hart));
        Assert.Equal(5, jit.GlobalChainStamp(m.Hart));
        Assert.True(jit.CodeJumpCachesForTests.IndexOfAnyExcept((byte)0xA5) < 0);
    }

    /// <summary>
    /// A TLB generation that comes back (x86: a CR3 write that keeps a PCID's translations) brings back the stamp the
    /// jump caches' entries for it carry, so they are followed again; once code was dropped (a new epoch) no stamp of
    /// before comes back, whatever the generation.
    /// </summary>
    [Fact]
    public void A_Returning_Tlb_Generation_Brings_Its_Stamp_Back_Within_An_Epoch()
    {
        using var m = new BareHart(1 << 20);
        var jit = new RiscVJitEngine(new JitOptions { WasmLoader = new UnusedWasmLoader() });
        jit.Run(m.Hart, 1);
        ulong g = m.Hart.TlbGeneration;
        int first = jit.ChainStamp(m.Hart), global = jit.GlobalChainStamp(m.Hart);
        m.Hart.TlbGeneration = g + 1000;   // another address space
        int other = jit.ChainStamp(m.Hart);
        Assert.NotEqual(first, other);
        m.Hart.TlbGeneration = g;           // back, its translations kept
        Assert.Equal(first, jit.ChainStamp(m.Hart));
        Assert.Equal(global, jit.GlobalChainStamp(m.Hart));
        jit.FlushCache();                   // the code is gone
        int after = jit.ChainStamp(m.Hart);
        Assert.True(after != first && after != other && jit.GlobalChainStamp(m.Hart) != global, "a stamp of before the flush came back");
        m.Hart.TlbGeneration = g + 1000;
        Assert.True(jit.ChainStamp(m.Hart) is int s && s != first && s != other && s != after);
    }

    public static TheoryData<bool> Backends() => new() { true, false };

    [Theory]
    [MemberData(nameof(Backends))]
    public void Block_Records_Are_Bounded_By_Count(bool native)
    {
        var p = Program(9203 + (native ? 0 : 10), UncompilableCalls);
        int most = 0;
        var jit = JitLockstep.Run(p.CreateMachine, new JitOptions { Threshold = 1, MaxBlocks = 40, NativeCode = native }, 8, "block flood",
            afterSlice: e => most = Math.Max(most, e.BlockCount));
        Assert.True(most <= 40, $"{most} block records held, the cap is 40");
        Assert.True(jit.Statistics.Flushes >= 10, $"{jit.Statistics.Flushes} flushes: the cap was not what bounded the table");
        // Without the cap the same run holds a record per function.
        var uncapped = JitLockstep.Run(p.CreateMachine, new JitOptions { Threshold = 1, NativeCode = native }, 8, "block flood, default cap");
        Assert.True(uncapped.BlockCount > 256, $"{uncapped.BlockCount} records without a low cap");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void A_Failing_Compile_Leaves_The_Block_To_The_Interpreter(bool native)
    {
        var p = Program(9204 + (native ? 0 : 10), FlushingLoop);
        var exceptions = new Func<Exception>[]
        {
            () => new IndexOutOfRangeException("injected"), () => new ArgumentOutOfRangeException("injected"),
            () => new NullReferenceException("injected"), () => new InvalidCastException("injected"),
        };
        int calls = 0;
        var jit = JitLockstep.Run(p.CreateMachine, new JitOptions
        {
            Threshold = 1,
            NativeCode = native,
            CompileHookForTests = pc =>
            {
                if ((pc & 4) == 0)
                    throw exceptions[calls++ % exceptions.Length]();
            },
        }, 9, "failing compiles", atEnd: m => Assert.Equal(1200UL, m.Hart.GetRegister(11)));
        Assert.True(jit.Statistics.CompileFailures > 0, "no compile failed");
        Assert.True(jit.Statistics.CompiledInstructions > 0, "nothing compiled at all");
        Assert.Contains("failed to compile and were interpreted (first at pc 0x", jit.Statistics.ToString());
    }
}
