using Wemu.Memory;
using System.Runtime.InteropServices;
using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Wemu.Jit.X64;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Jit.X64;

/// <summary>
/// Differential tests of the x86-64 backend, run in this process (on hosts that can run it): random
/// IR functions over every pure op against <see cref="IrEvaluator"/>; a loop with loads, stores and
/// budget checks against the same loop in C#; and regions translated from random RISC-V programs
/// (M-, S- and U-mode) against the interpreter, from random points with the interpreter's data TLB
/// (entries dropped or made read-only at random): after the code returns, the interpreter runs as
/// many instructions, and pc, registers and data must be identical, whatever the exit.
/// </summary>
public sealed unsafe class X64BackendTests(ITestOutputHelper output) : IDisposable
{
    private readonly X64CodeArena? _arena = X64CodeArena.TryCreate(16 << 20);
    private readonly byte* _ctx = (byte*)NativeMemory.AllocZeroed(ExitContext.Size);
    private readonly byte* _jumpCache = (byte*)NativeMemory.AllocZeroed((nuint)ExitContext.JumpCacheBytes(Abi.JumpCacheBits));
    private readonly ulong* _regs = (ulong*)NativeMemory.AllocZeroed(64 * 8);
    private readonly TlbEntry* _tlb = (TlbEntry*)NativeMemory.AlignedAlloc((nuint)(RiscVHart.TlbSize * sizeof(TlbEntry)), 64);

    private static GuestCodeAbi Abi => RiscVJitHelpers.CodeAbi;

    public void Dispose()
    {
        _arena?.Dispose();
        NativeMemory.Free(_ctx);
        NativeMemory.Free(_jumpCache);
        NativeMemory.Free(_regs);
        NativeMemory.AlignedFree(_tlb);
    }

    private void ClearTlb()
    {
        for (int k = 0; k < RiscVHart.TlbSize; k++)
            _tlb[k].TagRead = _tlb[k].TagWrite = _tlb[k].TagExec = TlbEntry.Invalid;
    }

    private byte* AddCode(byte[] code)
    {
        byte* entry = _arena!.Add(code);
        if (entry == null)
        {
            _arena.Reset();
            entry = _arena.Add(code);
        }
        return entry;
    }

    /// <summary>Compiles and runs <paramref name="f"/> on the test's registers, TLB and jump cache: (count, exit kind, exit pc).</summary>
    private (long Count, CodeExit Kind, ulong Pc) Run(IrFunction f, long budget)
    {
        byte* entry = AddCode(X64Backend.Compile(f, Abi));
        *(ulong**)(_ctx + ExitContext.Regs) = _regs;
        *(TlbEntry**)(_ctx + ExitContext.Tlb) = _tlb;
        *(long*)(_ctx + ExitContext.Budget) = budget;
        *(int*)(_ctx + ExitContext.ExitKind) = -1;
        *(byte**)(_ctx + ExitContext.JumpCache) = _jumpCache;
        *(int*)(_ctx + ExitContext.Stamp) = 7;
        *(int*)(_ctx + ExitContext.GlobalStamp) = 7 + GlobalStampOffset;
        long n = _arena!.Run(_ctx, entry);
        return (n, (CodeExit)(*(int*)(_ctx + ExitContext.ExitKind)), *(ulong*)(_ctx + ExitContext.ExitPc));
    }

    /// <summary>The context's global stamp is its stamp plus this (they never meet, as the engine's never do).</summary>
    private const int GlobalStampOffset = 1000;

    /// <summary>
    /// A region that chains to <paramref name="target"/> (a constant pc, whose jump-cache slot the backend computes when
    /// it compiles; or, <paramref name="computed"/>, a pc from a register, hashed at run time), and the target's code
    /// (x5 = 0x77, then a stop at 0x9998).
    /// </summary>
    private (IrFunction Source, nint TargetCode) ChainPair(ulong target, bool computed = false)
    {
        var t = new IrFunction(target, 32);
        t.SetReg(5, t.Const(IrType.I64, 0x77));
        t.Exit(CodeExit.Stop, 0x9998, 1);
        var source = new IrFunction(0x1000, 32);
        if (computed)
        {
            _regs[9] = target;
            source.ExitTo(CodeExit.Chain, source.GetReg(9), 1);
        }
        else
        {
            source.Exit(CodeExit.Chain, target, 1);
        }
        return (source, (nint)AddCode(X64Backend.Compile(t, Abi)));
    }

    /// <summary>Runs <paramref name="source"/> with only (<paramref name="pc"/>, <paramref name="stamp"/>, <paramref name="code"/>) in jump-cache slot <paramref name="slot"/>: true if it went on to the target.</summary>
    private bool Chains(IrFunction source, ulong target, int slot, ulong pc, int stamp, nint code)
    {
        NativeMemory.Clear(_jumpCache, (nuint)ExitContext.JumpCacheBytes(Abi.JumpCacheBits));
        byte* e = _jumpCache + slot * ExitContext.JumpCacheEntry;
        *(ulong*)(e + ExitContext.EntryPc) = pc;
        *(int*)(e + ExitContext.EntryStamp) = stamp;
        *(long*)(e + ExitContext.EntryCode) = code;
        _regs[5] = 0;
        var result = Run(source, 100);
        bool went = result == (2L, CodeExit.Stop, 0x9998UL) && _regs[5] == 0x77;
        Assert.True(went || (result == (1L, CodeExit.Chain, target) && _regs[5] == 0), $"exit {result}, x5 = 0x{_regs[5]:x}");
        return went;
    }

    /// <summary>
    /// A chained exit follows an entry carrying the context's stamp or its global one (code on global pages, kept across
    /// CR3 writes), and leaves for any other stamp: the one before, the one after, the global stamp's neighbours.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_Chained_Exit_Follows_The_Context_Stamp_Or_The_Global_Stamp_And_No_Other(bool computed)
    {
        if (_arena == null)
            return;
        const ulong Target = 0x4000_2000;
        int slot = ExitContext.JumpCacheIndex(Target, Abi.PcAlignShift, Abi.JumpCacheBits);
        var (source, code) = ChainPair(Target, computed);
        int[] stamps = [7, 7 + GlobalStampOffset, 6, 8, 6 + GlobalStampOffset, 8 + GlobalStampOffset, 0];
        for (int c = 0; c < stamps.Length; c++)
            Assert.True(Chains(source, Target, slot, Target, stamps[c], code) == c < 2, $"stamp {stamps[c]}");
    }

    /// <summary>
    /// A chained exit finds its target in the jump cache at <see cref="ExitContext.JumpCacheIndex"/>, the slot the engine
    /// publishes to (the pc's page number folded into its offset bits), and follows it; at the unfolded slot, or with
    /// another pc in the right one, it leaves.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_Chained_Exit_Finds_Its_Target_At_The_Folded_Jump_Cache_Slot(bool computed)
    {
        if (_arena == null)
            return;
        const ulong Target = 0x1234_5678_9ABC;
        int folded = ExitContext.JumpCacheIndex(Target, Abi.PcAlignShift, Abi.JumpCacheBits);
        int plain = (int)((Target >> Abi.PcAlignShift) & ((1UL << Abi.JumpCacheBits) - 1));
        Assert.NotEqual(plain, folded);
        var (source, code) = ChainPair(Target, computed);
        Assert.True(Chains(source, Target, folded, Target, 7, code));
        Assert.False(Chains(source, Target, plain, Target, 7, code));
        Assert.False(Chains(source, Target, folded, Target + 2, 7, code));
    }

    /// <summary>Generated code is never in memory that is writable and executable at once (W^X): it runs from a read-execute view of a memfd whose only writable view is not executable.</summary>
    [Fact]
    public void Code_Memory_Is_Never_Writable_And_Executable()
    {
        if (_arena == null)
        {
            Assert.False(X64CodeArena.Supported, "x64 host, but no code memory");
            return;
        }
        var f = new IrFunction(0x1000, 32);
        f.Exit(CodeExit.Stop, 0x1234, 0);
        ulong entry = (ulong)AddCode(X64Backend.Compile(f, Abi));
        var views = File.ReadAllLines("/proc/self/maps").Where(l => l.Contains("memfd:wemu-jit")).ToList();
        Assert.True(views.Count >= 2, string.Join("\n", views));
        foreach (var line in views)
        {
            string perms = line.Split(' ')[1];
            Assert.False(perms.Contains('w') && perms.Contains('x'), $"writable and executable: {line}");
            var range = line.Split(' ')[0].Split('-');
            ulong lo = Convert.ToUInt64(range[0], 16), hi = Convert.ToUInt64(range[1], 16);
            if (entry >= lo && entry < hi)
                Assert.Equal("r-xs", perms);
        }
        Assert.Equal((0L, CodeExit.Stop, 0x1234UL), Run(f, 10));
    }

    /// <summary>
    /// Temps live across a helper call keep their values whatever the helper does to the registers the
    /// calling convention lets it clobber: the helper here is machine code that overwrites every
    /// caller-saved register (rax aside: its result) and returns 1. More temps are live than there are
    /// registers for them, so every temp register (r11, the caller-saved one, too) and stack slots hold some.
    /// </summary>
    [Fact]
    public void Temps_Survive_A_Helper_That_Clobbers_Every_Caller_Saved_Register()
    {
        if (_arena == null)
            return;
        var clobber = new X64Assembler();
        foreach (var r in new[] { Reg.Rcx, Reg.Rdx, Reg.Rsi, Reg.Rdi, Reg.R8, Reg.R9, Reg.R10, Reg.R11 })
            clobber.MovImm(r, unchecked((long)0xDEAD_BEEF_0BAD_F00D));
        clobber.MovImm(Reg.Rax, 1);
        clobber.Ret();
        clobber.Finish();
        byte* helper = AddCode(clobber.Code.ToArray());
        var abi = new GuestCodeAbi { Tlb = Abi.Tlb, JumpCacheBits = Abi.JumpCacheBits, PcAlignShift = Abi.PcAlignShift, HelperCall = (nint)helper };
        var f = new IrFunction(0x1000, 64);
        var live = new List<int>();
        for (int j = 0; j < 12; j++)
            live.Add(f.Binary(IrOp.Add, f.GetReg(1 + j % 8), f.Const(IrType.I64, 1000 * (j + 1))));
        f.Call(0, live[0], live[1], 7, 0x1000, 0);
        for (int j = 0; j < live.Count; j++)
            f.SetReg(16 + j, f.Binary(IrOp.Xor, live[j], f.Const(IrType.I64, j)));
        f.Exit(CodeExit.Stop, 0x2000, 0);
        NativeMemory.Clear(_regs, 64 * 8);
        for (int r = 1; r <= 8; r++)
            _regs[r] = (ulong)(r * 0x1_0000_0001L);
        byte* entry = AddCode(X64Backend.Compile(f, abi));
        *(ulong**)(_ctx + ExitContext.Regs) = _regs;
        *(TlbEntry**)(_ctx + ExitContext.Tlb) = _tlb;
        *(long*)(_ctx + ExitContext.Budget) = 100;
        *(byte**)(_ctx + ExitContext.JumpCache) = _jumpCache;
        long n = _arena!.Run(_ctx, entry);
        Assert.Equal((CodeExit.Stop, 0x2000UL), ((CodeExit)(*(int*)(_ctx + ExitContext.ExitKind)), *(ulong*)(_ctx + ExitContext.ExitPc)));
        Assert.Equal(0, n);
        for (int j = 0; j < live.Count; j++)
            Assert.Equal((ulong)(((1 + j % 8) * 0x1_0000_0001L + 1000 * (j + 1)) ^ j), _regs[16 + j]);
    }

    /// <summary>
    /// Regions share the frame the entry trampoline sets up (<see cref="X64Backend.Compiler.FrameSlots"/> slots) and
    /// chain by jumping, so a region with more temps than that widens the frame at its entry and must narrow it again
    /// before every chained jump and exit. This region has far more live temps than registers and slots, calls a
    /// helper (machine code that records rsp) and chains to itself until the budget runs out: rsp at every call is
    /// the same and 16-byte aligned at the call, and every temp keeps its value (two sizes: an odd and an even
    /// number of extra slots).
    /// </summary>
    [Theory]
    [InlineData(24)]
    [InlineData(25)]
    public void A_Region_Beyond_The_Shared_Frame_Chains_With_Its_Stack_Restored(int beyond)
    {
        if (_arena == null)
            return;
        ulong* cells = (ulong*)NativeMemory.AllocZeroed(64 * 8);
        try
        {
            // helper: cells[++cells[0]] = rsp; return 1
            var record = new X64Assembler();
            record.MovImm(Reg.Rcx, (long)cells);
            record.Load64(Reg.Rdx, Reg.Rcx, 0);
            record.AluRI(X64Assembler.Alu.Add, Reg.Rdx, 1, true);
            record.Store64(Reg.Rcx, 0, Reg.Rdx);
            record.ShiftImm(4, Reg.Rdx, 3, true);
            record.AluRR(X64Assembler.Alu.Add, Reg.Rcx, Reg.Rdx, true);
            record.Store64(Reg.Rcx, 0, Reg.Rsp);
            record.MovImm(Reg.Rax, 1);
            record.Ret();
            record.Finish();
            byte* helper = AddCode(record.Code.ToArray());
            var abi = new GuestCodeAbi { Tlb = Abi.Tlb, JumpCacheBits = Abi.JumpCacheBits, PcAlignShift = Abi.PcAlignShift, HelperCall = (nint)helper };
            const ulong Pc = 0x1000;
            int Temps = X64Backend.Compiler.FrameSlots + beyond;
            var f = new IrFunction(Pc, 64);
            var live = new List<int>();
            for (int j = 0; j < Temps; j++)
                live.Add(f.Binary(IrOp.Add, f.GetReg(1 + j % 8), f.Const(IrType.I64, 1000 * (j + 1))));
            f.Call(0, live[0], live[1], 7, Pc, 0);
            int sum = live[0];
            for (int j = 1; j < live.Count; j++)
                sum = f.Binary(IrOp.Xor, sum, f.Binary(IrOp.Add, live[j], f.Const(IrType.I64, j)));
            f.SetReg(20, sum);
            f.Exit(CodeExit.Chain, Pc, 1);
            byte* entry = AddCode(X64Backend.Compile(f, abi));
            NativeMemory.Clear(_jumpCache, (nuint)ExitContext.JumpCacheBytes(Abi.JumpCacheBits));
            byte* e = _jumpCache + ExitContext.JumpCacheIndex(Pc, Abi.PcAlignShift, Abi.JumpCacheBits) * ExitContext.JumpCacheEntry;
            *(ulong*)(e + ExitContext.EntryPc) = Pc;
            *(int*)(e + ExitContext.EntryStamp) = 7;
            *(long*)(e + ExitContext.EntryCode) = (long)entry;
            NativeMemory.Clear(_regs, 64 * 8);
            for (int r = 1; r <= 8; r++)
                _regs[r] = (ulong)(r * 0x1_0000_0001L);
            ulong expected = 0;
            for (int j = 0; j < Temps; j++)
                expected ^= (ulong)((1 + j % 8) * 0x1_0000_0001L + 1000 * (j + 1)) + (ulong)j;
            *(ulong**)(_ctx + ExitContext.Regs) = _regs;
            *(TlbEntry**)(_ctx + ExitContext.Tlb) = _tlb;
            *(long*)(_ctx + ExitContext.Budget) = 5;
            *(byte**)(_ctx + ExitContext.JumpCache) = _jumpCache;
            *(int*)(_ctx + ExitContext.Stamp) = 7;
            *(int*)(_ctx + ExitContext.GlobalStamp) = 7 + GlobalStampOffset;
            long n = _arena.Run(_ctx, entry);
            Assert.Equal((5L, CodeExit.Chain, Pc), (n, (CodeExit)(*(int*)(_ctx + ExitContext.ExitKind)), *(ulong*)(_ctx + ExitContext.ExitPc)));
            Assert.Equal(5UL, cells[0]);
            for (int k = 1; k <= 5; k++)
            {
                Assert.Equal(cells[1], cells[k]);
                Assert.True((cells[k] + 8) % 16 == 0, $"call {k}: rsp 0x{cells[k]:x} is not 16-byte aligned at the call");
            }
            Assert.Equal(expected, _regs[20]);
        }
        finally
        {
            NativeMemory.Free(cells);
        }
    }

    [Fact]
    public void Random_Ir_Functions_Match_The_Evaluator()
    {
        if (_arena == null)
        {
            Assert.False(X64CodeArena.Supported, "x64 host, but no executable memory");
            return;
        }
        var rng = new Random(4242);
        for (int c = 0; c < 200; c++)
        {
            // a third with all results live at once: most temps spill to the stack
            var (f, inputs, want, what) = RandomIrFunction.Build(rng, allLive: c % 3 == 1);
            f.Exit(CodeExit.Stop, 0x1234, 0);
            if (c % 2 == 0)
                IrPipeline.Run(f);
            NativeMemory.Clear(_regs, 64 * 8);
            for (int r = 0; r < inputs.Length; r++)
                _regs[1 + r] = (ulong)inputs[r];
            var (count, kind, pc) = Run(f, 1000);
            Assert.Equal((0L, CodeExit.Stop, 0x1234UL), (count, kind, pc));
            for (int r = 0; r < inputs.Length; r++)
                Assert.Equal((ulong)inputs[r], _regs[1 + r]);
            for (int j = 0; j < want.Length; j++)
                Assert.True((ulong)want[j] == _regs[16 + j], $"case {c}, result {j}: {what[j]} = {want[j]:x}, x64 gave {_regs[16 + j]:x}");
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
        if (_arena == null)
            return;
        var rng = new Random(77);
        var seen = new HashSet<CodeExit>();
        var page = (long*)NativeMemory.AlignedAlloc(4096 + 8, 4096);
        try
        {
            for (int c = 0; c < 40; c++)
            {
                var f = BudgetLoop.Build();

                int iterations = rng.Next(1, 300);
                int budget = rng.Next(1, 1000);
                bool readOnly = c % 6 == 5;
                var mem = new long[512];
                for (int k = 0; k < mem.Length; k++)
                    page[k] = mem[k] = rng.NextInt64();
                ClearTlb();
                ref var e = ref _tlb[(BudgetLoop.Va >> 12) & RiscVHart.TlbMask];
                e.TagRead = BudgetLoop.Va;
                e.TagWrite = readOnly ? TlbEntry.Invalid : BudgetLoop.Va;
                e.Addend = (long)page - (long)BudgetLoop.Va;
                _regs[1] = (ulong)iterations;
                _regs[2] = 5;
                _regs[3] = BudgetLoop.Va;
                var (count, kind, pc) = Run(f, budget);

                var want = BudgetLoop.Expected(mem, iterations, budget, readOnly);
                Assert.Equal((want.Kind, want.Pc, (long)want.Count), (kind, pc, count));
                Assert.Equal(((ulong)want.R1, (ulong)want.R2, want.R3), (_regs[1], _regs[2], _regs[3]));
                Assert.True(new ReadOnlySpan<long>(page, 512).SequenceEqual(mem), $"case {c}: memory differs");
                seen.Add(kind);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(page);
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
        if (_arena == null)
            return;
        int mode = modeIndex switch { 0 => RiscVHart.PrivMachine, 1 => RiscVHart.PrivSupervisor, _ => RiscVHart.PrivUser };
        var programs = RandomProgramBatch.Assemble(7000 + modeIndex * 100 + (compressed ? 50 : 0), 10, compressed, mode);
        var rng = new Random(modeIndex * 2 + (compressed ? 1 : 0));
        var kinds = new Dictionary<CodeExit, int>();
        long total = 0;
        int cases = 0;
        foreach (var p in programs)
        {
            for (int start = 0; start < 10; start++)
            {
                int steps = rng.Next(start * 300, start * 300 + 600);
                using var m = p.CreateMachine();
                var interp = new RiscVInterpreter();
                Step(m, interp, steps);
                if (m.Finished)
                    continue;
                var h = m.Hart;
                ulong entry = h.ProgramCounter;
                string name = $"{p.Name}, from step {steps} (pc 0x{entry:x})";
                // Compile the entry's region and the regions at the targets of the next control
                // transfers, published in the jump cache (a few under a stale stamp), so chained
                // exits continue in compiled code.
                var targets = new List<ulong> { entry };
                using (var ahead = p.CreateMachine())
                {
                    Step(ahead, interp, steps);
                    for (int i = 0; i < 3000 && !ahead.Finished && targets.Count < 24; i++)
                    {
                        ulong before = ahead.Hart.ProgramCounter;
                        interp.Run(ahead.Hart, 1);
                        ulong next = ahead.Hart.ProgramCounter;
                        if (next - before is not (2 or 4) && !targets.Contains(next))
                            targets.Add(next);
                    }
                }
                var translator = new RiscVTranslator(rng.Next(3) == 0 ? 16 : 256);
                NativeMemory.Clear(_jumpCache, (nuint)ExitContext.JumpCacheBytes(Abi.JumpCacheBits));
                IrFunction? f = null;
                foreach (ulong t in targets)
                {
                    // (U-mode programs trap to an S-mode alias of the code at 0xc0000000: not compiled here)
                    bool tInCode = t >= BareHart.RamBase && t < BareHart.RamBase + (ulong)p.Code.Length + 4096;
                    byte* tPage = m.Ram.Pointer + ((t & ~0xFFFUL) - BareHart.RamBase);
                    if (!tInCode || RiscVTranslator.IsInterpretedOnly(t, tPage))
                        continue;
                    int salt = rng.Next();
                    var g = translator.Translate(t, tPage, pc => ((pc * 0x9E3779B97F4A7C15UL) >> 60) != (ulong)(salt & 15) || pc == t);
                        IrPipeline.Run(g);
                    if (t == entry)
                    {
                        f = g;
                        continue;
                    }
                    byte* slot = _jumpCache + (int)((t >> 1) & (ulong)((1 << Abi.JumpCacheBits) - 1)) * ExitContext.JumpCacheEntry;
                    *(ulong*)(slot + ExitContext.EntryPc) = t;
                    *(int*)(slot + ExitContext.EntryStamp) = rng.Next(8) == 0 ? 6 : 7;
                    *(nint*)(slot + ExitContext.EntryCode) = (nint)AddCode(X64Backend.Compile(g, Abi));
                }
                if (f == null)
                    continue;   // the entry is not compiled (outside the code, or interpreted only)

                // The compiled code works on a copy of the data pages, through a copy of the
                // interpreter's data TLB (some entries dropped or made read-only, others missing).
                var data = new byte[RandomProgramGenerator.DataSize];
                new Span<byte>(m.Ram.Pointer + (RandomProgramGenerator.DataBase - BareHart.RamBase), data.Length).CopyTo(data);
                for (int r = 0; r < 32; r++)
                    _regs[r] = h.GetRegister(r);
                ClearTlb();
                fixed (byte* copy = data)
                {
                    TlbEntry* src = h.TlbFor(h.DataMmuContext);
                    for (int k = 0; k < RiscVHart.TlbSize; k++)
                    {
                        ulong phys = src[k].PhysPage;
                        ulong tag = src[k].TagRead != TlbEntry.Invalid ? src[k].TagRead : src[k].TagWrite;
                        if (tag == TlbEntry.Invalid || phys < RandomProgramGenerator.DataBase || phys >= RandomProgramGenerator.DataBase + RandomProgramGenerator.DataSize)
                            continue;
                        int roll = rng.Next(16);
                        if (roll == 0)
                            continue;
                        _tlb[k].TagRead = src[k].TagRead;
                        _tlb[k].TagWrite = roll == 1 ? TlbEntry.Invalid : src[k].TagWrite;
                        _tlb[k].Addend = (long)copy + (long)(phys - RandomProgramGenerator.DataBase) - (long)(tag & ~0xFFFUL);
                    }
                    int budget = rng.Next(4) == 0 ? rng.Next(1, 40) : rng.Next(40, 4000);
                    var (count, kind, pc) = Run(f!, budget);
                    kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
                    total += count;
                    cases++;
                    for (int n = 0; n < count; n++)
                        Assert.True(interp.Run(h, 1) == 1, $"{name}: the interpreter did not retire instruction {n} of {count}");
                    Assert.True(h.ProgramCounter == pc, $"{name}: after {count} instructions ({kind} exit) x64 is at 0x{pc:x}, the interpreter at 0x{h.ProgramCounter:x}");
                    for (int r = 1; r < 32; r++)
                        Assert.True(h.GetRegister(r) == _regs[r], $"{name}: after {count} instructions x{r} = 0x{_regs[r]:x}, interpreter 0x{h.GetRegister(r):x}");
                }
                var after = new Span<byte>(m.Ram.Pointer + (RandomProgramGenerator.DataBase - BareHart.RamBase), data.Length);
                Assert.True(after.SequenceEqual(data), $"{name}: data memory differs");
            }
        }
        output.WriteLine($"{cases} cases, {total} instructions in x64 code; exits: {string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}");
        Assert.True(cases >= 25, $"only {cases} cases");
        Assert.True(kinds.GetValueOrDefault(CodeExit.Slow) > 0, "no slow-path exit");
        Assert.True(kinds.GetValueOrDefault(CodeExit.Chain) > 0, "no chain or budget exit");
    }

    private static void Step(BareHart m, RiscVInterpreter interp, int steps)
    {
        for (int i = 0; i < steps && !m.Finished; i++)
            interp.Run(m.Hart, 1);
    }
}
