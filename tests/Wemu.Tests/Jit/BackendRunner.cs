using System.Runtime.InteropServices;
using Wemu.Jit;
using Wemu.Jit.Il;
using Wemu.Jit.Ir;
using Wemu.Jit.Wasm;
using Wemu.Jit.X64;
using Wemu.Memory;
using Wemu.Tests.Jit.Wasm;

namespace Wemu.Tests.Jit;

/// <summary>
/// Runs one IR function on every backend (IL in this process, x86-64 where the host can, WebAssembly
/// in Node) over the same 64 registers and one 4 KiB RAM page mapped at <see cref="PageVa"/>
/// (read-only or writable) in a TLB of real <see cref="TlbEntry"/> structs, and reports how each
/// left: the exit (IL's decoded from its result), the instructions it retired, the registers and
/// the page. Tests compare the outcomes against <see cref="IrEvaluator"/>.
/// </summary>
internal static unsafe class BackendRunner
{
    public const ulong PageVa = 0x5555_0000;
    private const int IndexBits = 10, Budget = 1000;

    private static readonly SoftTlbLayout Layout = SoftTlbLayout.OfTlbEntries(IndexBits);
    private static readonly GuestCodeAbi CodeAbi = new() { Tlb = Layout };

    public sealed record Case(IrFunction Function, ulong[] Registers, byte[] Page, bool Writable);

    public sealed record Outcome(string Backend, CodeExit Kind, ulong Pc, long Count, ulong[] Registers, byte[] Page);

    /// <summary>Each case's outcomes: IL, then x86-64 (if the host runs it), then WebAssembly.</summary>
    public static List<Outcome[]> Run(IReadOnlyList<Case> cases)
    {
        var outcomes = new List<Outcome>[cases.Count];
        for (int c = 0; c < cases.Count; c++)
            outcomes[c] = [RunIl(cases[c])];
        using (var arena = X64CodeArena.TryCreate(8 << 20))
        {
            if (arena != null)
                for (int c = 0; c < cases.Count; c++)
                    outcomes[c].Add(RunX64(arena, cases[c]));
        }
        var wasm = RunWasm(cases);
        for (int c = 0; c < cases.Count; c++)
            outcomes[c].Add(wasm[c]);
        return [.. outcomes.Select(o => o.ToArray())];
    }

    private static void FillTlb(TlbEntry* tlb, bool writable, long pageHost)
    {
        for (int k = 0; k < 1 << IndexBits; k++)
            tlb[k] = new TlbEntry { TagRead = TlbEntry.Invalid, TagWrite = TlbEntry.Invalid, TagExec = TlbEntry.Invalid };
        ref var e = ref tlb[(PageVa >> 12) & (ulong)Layout.IndexMask];
        e.TagRead = PageVa;
        e.TagWrite = writable ? PageVa : TlbEntry.Invalid;
        e.PhysPage = PageVa;
        e.Addend = pageHost - (long)PageVa;
    }

    /// <summary>Native registers, TLB and page for one case; <paramref name="run"/> gets them and returns (kind, pc, count).</summary>
    private static Outcome RunNative(string backend, Case c, Func<ulong[], IntPtr, IntPtr, (CodeExit, ulong, long)> run)
    {
        var tlb = (TlbEntry*)NativeMemory.AlignedAlloc((nuint)(sizeof(TlbEntry) << IndexBits), 64);
        byte* page = (byte*)NativeMemory.AlignedAlloc(4096, 4096);
        var regs = (ulong[])c.Registers.Clone();
        try
        {
            c.Page.CopyTo(new Span<byte>(page, 4096));
            FillTlb(tlb, c.Writable, (long)page);
            var (kind, pc, count) = run(regs, (IntPtr)tlb, (IntPtr)page);
            return new Outcome(backend, kind, pc, count, regs, new ReadOnlySpan<byte>(page, 4096).ToArray());
        }
        finally
        {
            NativeMemory.AlignedFree(tlb);
            NativeMemory.AlignedFree(page);
        }
    }

    private static Outcome RunIl(Case c) => RunNative("IL", c, (regs, tlb, page) =>
    {
        var state = new SlowPathRecorder();
        var code = IlBackend.Compile<SlowPathRecorder>(c.Function, SlowPathRecorder.Abi(Layout), out _);
        long result;
        fixed (ulong* r = regs)
            result = code(state, r, (byte*)tlb, Budget);
        return (IlExit.KindOf(result), state.Pc, result & IlExit.CountMask);
    });

    private static Outcome RunX64(X64CodeArena arena, Case c) => RunNative("x86-64", c, (regs, tlb, page) =>
    {
        byte* ctx = stackalloc byte[ExitContext.Size];
        new Span<byte>(ctx, ExitContext.Size).Clear();
        byte[] code = X64Backend.Compile(c.Function, CodeAbi);
        byte* entry = arena.Add(code);
        if (entry == null)
        {
            arena.Reset();
            entry = arena.Add(code);
        }
        fixed (ulong* r = regs)
        {
            *(ulong**)(ctx + ExitContext.Regs) = r;
            *(IntPtr*)(ctx + ExitContext.Tlb) = tlb;
            *(long*)(ctx + ExitContext.Budget) = Budget;
            long n = arena.Run(ctx, entry);
            return ((CodeExit)(*(int*)(ctx + ExitContext.ExitKind)), *(ulong*)(ctx + ExitContext.ExitPc), n);
        }
    });

    private static Outcome[] RunWasm(IReadOnlyList<Case> cases)
    {
        const int Ctx = 0x100, Regs = 0x1000, Tlb = 0x10000, Page = 0x50000, Size = 0x60000;   // (a TLB of up to 4,096 entries of 64 bytes)
        var wasmCases = new List<NodeWasmRunner.Case>();
        foreach (var c in cases)
        {
            var image = new byte[Size];
            fixed (byte* img = image)
            {
                FillTlb((TlbEntry*)(img + Tlb), c.Writable, Page);
                MemoryMarshal.AsBytes(c.Registers.AsSpan()).CopyTo(image.AsSpan(Regs));
                c.Page.CopyTo(image.AsSpan(Page));
                *(long*)(img + Ctx + ExitContext.Regs) = Regs;
                *(long*)(img + Ctx + ExitContext.Tlb) = Tlb;
                *(long*)(img + Ctx + ExitContext.Budget) = Budget;
            }
            wasmCases.Add(new([WasmBackend.Compile(c.Function, CodeAbi, chain: false)], image, Ctx, 0));
        }
        var results = NodeWasmRunner.Run(wasmCases);
        var outcomes = new Outcome[cases.Count];
        for (int k = 0; k < cases.Count; k++)
        {
            var r = results[k];
            if (r.Error != null)
                throw new InvalidOperationException($"wasm case {k}: {r.Error}");
            var m = r.Memory.AsSpan();
            outcomes[k] = new Outcome("wasm", (CodeExit)BitConverter.ToInt32(m[(Ctx + ExitContext.ExitKind)..]), BitConverter.ToUInt64(m[(Ctx + ExitContext.ExitPc)..]),
                r.Count, MemoryMarshal.Cast<byte, ulong>(m.Slice(Regs, 64 * 8)).ToArray(), m.Slice(Page, 4096).ToArray());
        }
        return outcomes;
    }
}
