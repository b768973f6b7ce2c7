using Wemu.Memory;
using System.Runtime.InteropServices;
using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Wemu.Jit.Wasm;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Jit.Wasm;

/// <summary>
/// Differential tests of the WebAssembly backend, run in Node.js (<see cref="NodeWasmRunner"/>):
/// random IR functions over every pure op against <see cref="IrEvaluator"/>, and regions translated
/// from random RISC-V programs (M-, S- and U-mode) against the interpreter: the program runs in
/// the interpreter to a random point, its registers, data pages and data TLB (with entries dropped
/// or made read-only at random, so loads and stores hit and miss) become a linear-memory image,
/// the regions at that pc and at the jump targets that follow are compiled and chained through the
/// jump cache, and after the wasm returns, the interpreter runs the same number of instructions:
/// pc, registers and data must then be identical, whatever exit (budget, slow path, untranslated
/// instruction, indirect jump) the wasm took.
/// </summary>
public sealed unsafe class WasmBackendTests(ITestOutputHelper output)
{
    // (the TLB: RiscVHart.TlbSize entries of 64 bytes, 256 KiB)
    private const int Ctx = 0x100, Regs = 0x1000, JumpCache = 0x2000, Tlb = 0x4000, Pages = 0x50000, MemorySize = 0x60000;

    /// <summary>Where the image's I/O TLB entries point (as a wrong delta would): it must never change.</summary>
    private const int CanaryArea = 0x58000, CanarySize = 0x2000;
    private const byte Canary = 0xA5;
    private const int JumpCacheBits = 8;

    private static readonly GuestCodeAbi Abi = new()
    {
        Tlb = RiscVHart.TlbLayout,
        JumpCacheBits = JumpCacheBits,
        PcAlignShift = 1,
    };

    private static void SetContext(byte[] image, int budget, int stamp)
    {
        fixed (byte* p = image)
        {
            *(int*)(p + Ctx + ExitContext.Regs) = Regs;
            *(int*)(p + Ctx + ExitContext.Tlb) = Tlb;
            *(int*)(p + Ctx + ExitContext.Budget) = budget;
            *(int*)(p + Ctx + ExitContext.ExitKind) = -1;
            *(int*)(p + Ctx + ExitContext.JumpCache) = JumpCache;
            *(int*)(p + Ctx + ExitContext.Stamp) = stamp;
            *(int*)(p + Ctx + ExitContext.GlobalStamp) = stamp + GlobalStampOffset;
        }
    }

    /// <summary>The context's global stamp is its stamp plus this (they never meet, as the engine's never do).</summary>
    private const int GlobalStampOffset = 1000;

    private static (CodeExit Kind, ulong Pc) ExitOf(byte[] image) =>
        ((CodeExit)BitConverter.ToInt32(image, Ctx + ExitContext.ExitKind), BitConverter.ToUInt64(image, Ctx + ExitContext.ExitPc));

    private static ulong Reg(byte[] image, int r) => BitConverter.ToUInt64(image, Regs + r * 8);

    /// <summary>
    /// Runs a region that chains to <paramref name="target"/> (whose code sets x5 = 0x77 and stops at 0x9998) once per
    /// entry, with only that (slot, pc, stamp) in the jump cache: for each, true if it went on to the target.
    /// </summary>
    private static bool[] Chains(ulong target, (int Slot, ulong Pc, int Stamp)[] entries)
    {
        var source = new IrFunction(0x1000, 32);
        source.Exit(CodeExit.Chain, target, 1);
        var t = new IrFunction(target, 32);
        t.SetReg(5, t.Const(IrType.I64, 0x77));
        t.Exit(CodeExit.Stop, 0x9998, 1);
        byte[][] modules = [WasmBackend.Compile(source, Abi, chain: true), WasmBackend.Compile(t, Abi, chain: true)];
        var cases = new List<NodeWasmRunner.Case>();
        foreach (var (slot, pc, stamp) in entries)
        {
            var image = new byte[MemorySize];
            SetContext(image, 1000, 7);
            int e = JumpCache + slot * ExitContext.JumpCacheEntry;
            BitConverter.TryWriteBytes(image.AsSpan(e + ExitContext.EntryPc), pc);
            BitConverter.TryWriteBytes(image.AsSpan(e + ExitContext.EntryStamp), stamp);
            BitConverter.TryWriteBytes(image.AsSpan(e + ExitContext.EntryCode), 2);   // the target's table index
            cases.Add(new(modules, image, Ctx, 0));
        }
        var results = NodeWasmRunner.Run(cases);
        var went = new bool[entries.Length];
        for (int c = 0; c < entries.Length; c++)
        {
            Assert.Null(results[c].Error);
            var outcome = (results[c].Count, ExitOf(results[c].Memory).Kind, ExitOf(results[c].Memory).Pc, Reg(results[c].Memory, 5));
            went[c] = outcome == (2, CodeExit.Stop, 0x9998UL, 0x77UL);
            Assert.True(went[c] || outcome == (1, CodeExit.Chain, target, 0UL), $"entry {entries[c]}: {outcome}");
        }
        return went;
    }

    /// <summary>
    /// A chained exit follows an entry carrying the context's stamp or its global one (code on global pages, kept across
    /// CR3 writes), and leaves for any other stamp: the one before, the one after, the global stamp's neighbours.
    /// </summary>
    [Fact]
    public void A_Chained_Exit_Follows_The_Context_Stamp_Or_The_Global_Stamp_And_No_Other()
    {
        const ulong Target = 0x4000_2000;
        int slot = ExitContext.JumpCacheIndex(Target, Abi.PcAlignShift, JumpCacheBits);
        int[] stamps = [7, 7 + GlobalStampOffset, 6, 8, 6 + GlobalStampOffset, 8 + GlobalStampOffset, 0];
        Assert.Equal(stamps.Select((_, c) => c < 2), Chains(Target, [.. stamps.Select(stamp => (slot, Target, stamp))]));
    }

    /// <summary>
    /// A chained exit tail-calls its target found at <see cref="ExitContext.JumpCacheIndex"/>, the slot the engine
    /// publishes to (the pc's page number folded in); at the unfolded slot, or with another pc there, it leaves.
    /// </summary>
    [Fact]
    public void A_Chained_Exit_Finds_Its_Target_At_The_Folded_Jump_Cache_Slot()
    {
        const ulong Target = 0x1234_5678_9ABC;
        int folded = ExitContext.JumpCacheIndex(Target, Abi.PcAlignShift, JumpCacheBits);
        int plain = (int)((Target >> Abi.PcAlignShift) & ((1UL << JumpCacheBits) - 1));
        Assert.NotEqual(plain, folded);
        Assert.Equal([true, false, false], Chains(Target, [(folded, Target, 7), (plain, Target, 7), (folded, Target + 2, 7)]));
    }

    [Fact]
    public void Random_Ir_Functions_Match_The_Evaluator()
    {
        var rng = new Random(4242);
        var cases = new List<NodeWasmRunner.Case>();
        var expected = new List<long[]>();
        var descriptions = new List<string[]>();
        for (int c = 0; c < 40; c++)
        {
            var (f, inputs, want, what) = RandomIrFunction.Build(rng, allLive: c % 3 == 1);
            f.Exit(CodeExit.Stop, 0x1234, 0);
            var image = new byte[MemorySize];
            SetContext(image, 1000, 1);
            for (int r = 0; r < 8; r++)
                BitConverter.TryWriteBytes(image.AsSpan(Regs + (1 + r) * 8), inputs[r]);
            cases.Add(new([WasmBackend.Compile(f, Abi, chain: c % 2 == 0)], image, Ctx, 0));
            expected.Add(want);
            descriptions.Add(what);
        }
        var results = NodeWasmRunner.Run(cases);
        for (int c = 0; c < cases.Count; c++)
        {
            var r = results[c];
            Assert.True(r.Error == null, $"case {c}: {r.Error}");
            Assert.Equal((CodeExit.Stop, 0x1234UL), ExitOf(r.Memory));
            for (int j = 0; j < 48; j++)
                Assert.True((ulong)expected[c][j] == Reg(r.Memory, 16 + j),
                    $"case {c}, result {j}: {descriptions[c][j]} = {expected[c][j]:x}, wasm gave {Reg(r.Memory, 16 + j):x}");
        }
    }

    /// <summary>
    /// A loop over an array (load, store, counter) with a budget check on its back-edge: budgets
    /// that end it mid-way (a Chain exit at the loop head), budgets it outlives (its own exit), and a
    /// read-only page (a Slow exit at the store, with the instruction before it completed).
    /// </summary>
    [Fact]
    public void Loops_Exit_On_Budget_And_At_The_Slow_Path()
    {
        const ulong Va = BudgetLoop.Va;
        var rng = new Random(77);
        var cases = new List<NodeWasmRunner.Case>();
        var expected = new List<(CodeExit Kind, ulong Pc, int Count, long R1, long R2, ulong R3, long[] Mem)>();
        for (int c = 0; c < 24; c++)
        {
            var f = BudgetLoop.Build();

            int iterations = rng.Next(1, 300);
            int budget = rng.Next(1, 1000);
            bool readOnly = c % 6 == 5;
            var mem = new long[512];
            for (int k = 0; k < mem.Length; k++)
                mem[k] = rng.NextInt64();
            var image = new byte[MemorySize];
            SetContext(image, budget, 1);
            fixed (byte* img = image)
            {
                var tlb = (TlbEntry*)(img + Tlb);
                for (int k = 0; k < RiscVHart.TlbSize; k++)
                    tlb[k].TagRead = tlb[k].TagWrite = tlb[k].TagExec = TlbEntry.Invalid;
                ref var e = ref tlb[(Va >> 12) & RiscVHart.TlbMask];
                e.TagRead = Va;
                e.TagWrite = readOnly ? TlbEntry.Invalid : Va;
                e.Addend = Pages - (long)Va;
                *(long*)(img + Regs + 8) = iterations;
                *(long*)(img + Regs + 16) = 5;
                *(ulong*)(img + Regs + 24) = Va;
                MemoryMarshal.AsBytes(mem.AsSpan()).CopyTo(image.AsSpan(Pages));
            }
            cases.Add(new([WasmBackend.Compile(f, Abi, chain: c % 2 == 0)], image, Ctx, 0));

            var want = BudgetLoop.Expected(mem, iterations, budget, readOnly);
            expected.Add((want.Kind, want.Pc, want.Count, want.R1, want.R2, want.R3, mem));
        }
        var results = NodeWasmRunner.Run(cases);
        var seen = new HashSet<CodeExit>();
        for (int c = 0; c < cases.Count; c++)
        {
            var r = results[c];
            var e = expected[c];
            Assert.True(r.Error == null, $"case {c}: {r.Error}");
            Assert.Equal((e.Kind, e.Pc), ExitOf(r.Memory));
            Assert.Equal(e.Count, r.Count);
            Assert.Equal((ulong)e.R1, Reg(r.Memory, 1));
            Assert.Equal((ulong)e.R2, Reg(r.Memory, 2));
            Assert.Equal(e.R3, Reg(r.Memory, 3));
            Assert.True(MemoryMarshal.AsBytes(e.Mem.AsSpan()).SequenceEqual(r.Memory.AsSpan(Pages, e.Mem.Length * 8)), $"case {c}: memory differs");
            seen.Add(e.Kind);
        }
        Assert.Equal(3, seen.Count);
    }

    public static TheoryData<int, bool> ProgramCases()
    {
        var data = new TheoryData<int, bool>();
        for (int mode = 0; mode < 3; mode++)
        {
            data.Add(mode, false);
            data.Add(mode, true);
        }
        return data;
    }

    /// <summary>Ten random programs in one mode; ten random starting points each.</summary>
    [Theory]
    [MemberData(nameof(ProgramCases))]
    public void Translated_Regions_Match_The_Interpreter(int modeIndex, bool compressed)
    {
        int mode = modeIndex switch { 0 => RiscVHart.PrivMachine, 1 => RiscVHart.PrivSupervisor, _ => RiscVHart.PrivUser };
        var programs = RandomProgramBatch.Assemble(5000 + modeIndex * 100 + (compressed ? 50 : 0), 10, compressed, mode);
        var cases = new List<NodeWasmRunner.Case>();
        var checks = new List<(RandomProgramBatch.Program Program, int Steps, string Name)>();
        var rng = new Random(modeIndex * 2 + (compressed ? 1 : 0));
        foreach (var p in programs)
        {
            for (int start = 0; start < 10; start++)
            {
                int steps = rng.Next(start * 300, start * 300 + 600);
                var built = BuildCase(p, steps, rng, out string name);
                if (built == null)
                    continue;
                cases.Add(built);
                checks.Add((p, steps, name));
            }
        }
        var results = NodeWasmRunner.Run(cases);
        var kinds = new Dictionary<CodeExit, int>();
        long total = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            var (p, steps, name) = checks[c];
            var r = results[c];
            Assert.True(r.Error == null, $"{name}: {r.Error}");
            var (kind, pc) = ExitOf(r.Memory);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            total += r.Count;
            Assert.True(r.Count >= 0, $"{name}: count {r.Count}");
            // The reference: the interpreter from the same point, as many instructions as the wasm retired.
            using var m = p.CreateMachine();
            var interp = new RiscVInterpreter();
            Step(m, interp, steps);
            for (int n = 0; n < r.Count; n++)
                Assert.True(interp.Run(m.Hart, 1) == 1, $"{name}: the interpreter did not retire instruction {n} of {r.Count}");
            Assert.True(m.Hart.ProgramCounter == pc, $"{name}: after {r.Count} instructions ({kind} exit) wasm is at 0x{pc:x}, the interpreter at 0x{m.Hart.ProgramCounter:x}");
            for (int reg = 1; reg < 32; reg++)
                Assert.True(m.Hart.GetRegister(reg) == Reg(r.Memory, reg),
                    $"{name}: after {r.Count} instructions x{reg} = 0x{Reg(r.Memory, reg):x}, interpreter 0x{m.Hart.GetRegister(reg):x}");
            var data = new Span<byte>(m.Ram.Pointer + (RandomProgramGenerator.DataBase - BareHart.RamBase), RandomProgramGenerator.DataSize);
            Assert.True(data.SequenceEqual(r.Memory.AsSpan(Pages, RandomProgramGenerator.DataSize)), $"{name}: data memory differs");
            Assert.True(r.Memory.AsSpan(CanaryArea, CanarySize).IndexOfAnyExcept(Canary) < 0, $"{name}: an access through an I/O TLB entry reached linear memory");
        }
        output.WriteLine($"{cases.Count} cases, {total} instructions in wasm; exits: {string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}");
        Assert.True(kinds.GetValueOrDefault(CodeExit.Slow) > 0, "no slow-path exit");
        Assert.True(kinds.GetValueOrDefault(CodeExit.Chain) > 0, "no chain or budget exit");
    }

    /// <summary>
    /// The access sweep of <see cref="JitAccessSweepTests"/> (every load and store at every
    /// misalignment against RAM, page ends, the device, unmapped space and code pages) in wasm: regions
    /// from points all through its loop, with the data TLB the interpreter built (the device's I/O
    /// entries included, their delta aimed at a canary area), against the interpreter.
    /// </summary>
    [Theory]
    [MemberData(nameof(ProgramCases))]
    public void Access_Sweep_Regions_Match_The_Interpreter(int modeIndex, bool paging)
    {
        int mode = modeIndex switch { 0 => RiscVHart.PrivMachine, 1 => RiscVHart.PrivSupervisor, _ => RiscVHart.PrivUser };
        if (mode == RiscVHart.PrivMachine && !paging)
            return;   // (M-mode has one form; the theory's other row runs it)
        int seed = 9300 + modeIndex * 2 + (paging ? 1 : 0);
        var p = RandomProgramBatch.Assemble(seed, [JitAccessSweepTests.Source(seed, mode, paging)], false, mode)[0] with { Paging = paging || mode == RiscVHart.PrivMachine };
        var cases = new List<NodeWasmRunner.Case>();
        var steps = new List<int>();
        var rng = new Random(seed);
        for (int start = 300; start < 6000; start += 41)
        {
            var built = BuildCase(p, start, rng, out _);
            if (built == null)
                continue;
            cases.Add(built);
            steps.Add(start);
        }
        var results = NodeWasmRunner.Run(cases);
        int slow = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            var r = results[c];
            string name = $"access sweep ({mode}, paging {paging}) from step {steps[c]}";
            Assert.True(r.Error == null, $"{name}: {r.Error}");
            var (kind, pc) = ExitOf(r.Memory);
            if (kind == CodeExit.Slow)
                slow++;
            using var m = p.CreateMachine();
            var interp = new RiscVInterpreter();
            Step(m, interp, steps[c]);
            for (int n = 0; n < r.Count; n++)
                Assert.True(interp.Run(m.Hart, 1) == 1, $"{name}: the interpreter did not retire instruction {n} of {r.Count}");
            Assert.True(m.Hart.ProgramCounter == pc, $"{name}: after {r.Count} instructions ({kind} exit) wasm is at 0x{pc:x}, the interpreter at 0x{m.Hart.ProgramCounter:x}");
            for (int reg = 1; reg < 32; reg++)
                Assert.True(m.Hart.GetRegister(reg) == Reg(r.Memory, reg), $"{name}: x{reg} = 0x{Reg(r.Memory, reg):x}, interpreter 0x{m.Hart.GetRegister(reg):x}");
            Assert.True(r.Memory.AsSpan(CanaryArea, CanarySize).IndexOfAnyExcept(Canary) < 0, $"{name}: an access through an I/O TLB entry reached linear memory");
        }
        Assert.True(cases.Count > 20, $"only {cases.Count} cases");
        Assert.True(slow >= 5, $"only {slow} of {cases.Count} cases left through the slow path");
    }

    internal static void Step(BareHart m, RiscVInterpreter interp, int steps)
    {
        for (int i = 0; i < steps && !m.Finished; i++)
            interp.Run(m.Hart, 1);
    }

    /// <summary>
    /// Adds to <paramref name="targets"/> the pcs control goes to (not the next instruction) in the 3000 instructions
    /// after <paramref name="steps"/> into <paramref name="p"/>, each once, until the list holds <paramref name="most"/>.
    /// </summary>
    internal static void AddTargetsAhead(RandomProgramBatch.Program p, int steps, List<ulong> targets, int most)
    {
        var interp = new RiscVInterpreter();
        using var ahead = p.CreateMachine();
        Step(ahead, interp, steps);
        for (int i = 0; i < 3000 && !ahead.Finished && targets.Count < most; i++)
        {
            ulong before = ahead.Hart.ProgramCounter;
            interp.Run(ahead.Hart, 1);
            ulong after = ahead.Hart.ProgramCounter;
            if (after - before is not (2 or 4) && !targets.Contains(after))
                targets.Add(after);
        }
    }

    /// <summary>The image and modules for a run from <paramref name="steps"/> instructions into the program, or null if it ended before.</summary>
    private static NodeWasmRunner.Case? BuildCase(RandomProgramBatch.Program p, int steps, Random rng, out string name)
    {
        name = $"{p.Name}, from step {steps}";
        using var m = p.CreateMachine();
        var interp = new RiscVInterpreter();
        Step(m, interp, steps);
        if (m.Finished)
            return null;
        var h = m.Hart;
        ulong entry = h.ProgramCounter;
        name += $" (pc 0x{entry:x})";

        // Where the program goes next: the targets of control transfers in the next 3000 instructions.
        var targets = new List<ulong> { entry };
        AddTargetsAhead(p, steps, targets, 24);
        var image = new byte[MemorySize];
        int budget = rng.Next(4) == 0 ? rng.Next(1, 40) : rng.Next(40, 4000);
        SetContext(image, budget, 7);
        image.AsSpan(CanaryArea, CanarySize).Fill(Canary);
        fixed (byte* img = image)
        {
            for (int r = 0; r < 32; r++)
                *(ulong*)(img + Regs + r * 8) = h.GetRegister(r);
            new Span<byte>(m.Ram.Pointer + (RandomProgramGenerator.DataBase - BareHart.RamBase), RandomProgramGenerator.DataSize)
                .CopyTo(image.AsSpan(Pages));
            // The data TLB as the interpreter left it, pointed at the image's copy of the data pages;
            // some entries dropped or made read-only, every other page (code, tables, devices) missing.
            CopyTlb(h.TlbFor(h.DataMmuContext), (TlbEntry*)(img + Tlb), RandomProgramGenerator.DataBase, RandomProgramGenerator.DataSize, Pages, CanaryArea, rng);
        }

        // Compile the regions (the entry's first), chained through the jump cache.
        var translator = new RiscVTranslator(rng.Next(3) == 0 ? 16 : 256);
        var modules = new List<byte[]>();
        bool chain = rng.Next(4) != 0;
        foreach (ulong t in targets)
        {
            // (U-mode programs trap to an S-mode alias of the code at 0xc0000000: not compiled here)
            bool inCode = t >= BareHart.RamBase && t < BareHart.RamBase + (ulong)p.Code.Length + 4096;
            byte* page = m.Ram.Pointer + ((t & ~0xFFFUL) - BareHart.RamBase);
            if (!inCode || RiscVTranslator.IsInterpretedOnly(t, page))
            {
                if (t == entry)
                    return null;
                continue;
            }
            int salt = rng.Next();
            var f = translator.Translate(t, page, pc => ((pc * 0x9E3779B97F4A7C15UL) >> 60) != (ulong)(salt & 15) || pc == t);
            IrPipeline.Run(f);
            modules.Add(WasmBackend.Compile(f, Abi, chain));
            int index = modules.Count;   // table index (the runner puts module k at k + 1)
            int slot = JumpCache + ExitContext.JumpCacheIndex(t, 1, JumpCacheBits) * ExitContext.JumpCacheEntry;
            BitConverter.TryWriteBytes(image.AsSpan(slot + ExitContext.EntryPc), t);
            BitConverter.TryWriteBytes(image.AsSpan(slot + ExitContext.EntryStamp), rng.Next(8) == 0 ? 6 : 7);
            BitConverter.TryWriteBytes(image.AsSpan(slot + ExitContext.EntryCode), index);
        }
        if (modules.Count == 0)
            return null;
        return new NodeWasmRunner.Case([.. modules], image, Ctx, 0);
    }

    /// <summary>
    /// A TLB as the hart left it, pointed at the image's copy of the physical range [<paramref name="physBase"/>,
    /// + <paramref name="size"/>) at <paramref name="imageAt"/>: entries for other RAM dropped, one in 16 dropped at
    /// random and one in 16 made read-only; I/O entries kept with their tags, their delta aimed at <paramref name="canaryArea"/>.
    /// </summary>
    internal static void CopyTlb(TlbEntry* src, TlbEntry* dst, ulong physBase, int size, int imageAt, int canaryArea, Random rng)
    {
        for (int i = 0; i < RiscVHart.TlbSize; i++)
        {
            dst[i].TagRead = dst[i].TagWrite = dst[i].TagExec = TlbEntry.Invalid;
            ulong phys = src[i].PhysPage;
            ulong tag = src[i].TagRead != TlbEntry.Invalid ? src[i].TagRead : src[i].TagWrite != TlbEntry.Invalid ? src[i].TagWrite : src[i].TagExec;
            if (tag != TlbEntry.Invalid && (tag & TlbEntry.IoFlag) != 0)
            {
                dst[i].TagRead = src[i].TagRead;
                dst[i].TagWrite = src[i].TagWrite;
                dst[i].Addend = canaryArea - (long)(tag & ~0xFFFUL);
                continue;
            }
            if (tag == TlbEntry.Invalid || phys < physBase || phys >= physBase + (ulong)size)
                continue;
            int roll = rng.Next(16);
            if (roll == 0)
                continue;
            ulong vpage = tag & ~0xFFFUL;
            dst[i].TagRead = src[i].TagRead;
            dst[i].TagWrite = roll == 1 ? TlbEntry.Invalid : src[i].TagWrite;
            dst[i].TagExec = src[i].TagExec;
            dst[i].Addend = imageAt + (long)(phys - physBase) - (long)vpage;
        }
    }
}
