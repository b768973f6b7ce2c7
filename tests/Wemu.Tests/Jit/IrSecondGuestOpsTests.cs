using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// The IR ops a second guest needs (rotates, bit counts, byte swap, parity and overflow flags, a
/// division that leaves on /0 and overflow, compare-and-swap) on the IL, x86-64 and WebAssembly
/// backends against <see cref="IrEvaluator"/>: every op at both widths over edge values, then random
/// functions over every pure op (the IL backend's first such test).
/// </summary>
public sealed class IrSecondGuestOpsTests
{
    private const ulong Pc = 0x2000;

    private static readonly long[] Edges =
    [
        0, 1, -1, 2, 7, 31, 32, 33, 63, 64, 0x80, 0xFF, 0x100, 0x7F, 0x8000, 0x1234_5678, int.MaxValue, int.MinValue,
        0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, long.MaxValue, long.MinValue, 0x0123_4567_89AB_CDEF, -0x5555_5555_5555_5556,
    ];

    private static readonly IrOp[] Unary = [IrOp.Clz, IrOp.Ctz, IrOp.Popcnt, IrOp.ByteSwap, IrOp.Parity];

    private static readonly IrOp[] Binary = [IrOp.RotL, IrOp.RotR, IrOp.AddOverflow, IrOp.SubOverflow];

    private static IrFunction Finish(IrFunction f)
    {
        f.Exit(CodeExit.Stop, Pc + 4, 0);
        return f;
    }

    [Fact]
    public void New_Ops_At_Edge_Values_Match_The_Evaluator_On_Every_Backend()
    {
        // (built in groups of 8, each its own function with its own inputs)
        var cases = new List<BackendRunner.Case>();
        var wants = new List<List<(string What, long Want)>>();
        var all = new List<(IrOp Op, IrType Type, long A, long B)>();
        foreach (var type in new[] { IrType.I32, IrType.I64 })
        {
            foreach (var op in Unary)
                foreach (long a in Edges)
                    all.Add((op, type, a, 0));
            foreach (var op in Binary)
                foreach (long a in Edges)
                    foreach (long b in Edges)
                        all.Add((op, type, a, b));
        }
        for (int start = 0; start < all.Count; start += 8)
        {
            var f = new IrFunction(Pc, 64);
            var regs = new ulong[64];
            var want = new List<(string, long)>();
            for (int k = 0; k < 8 && start + k < all.Count; k++)
            {
                var (op, type, a, b) = all[start + k];
                regs[1 + k] = (ulong)a;
                int ta = f.GetReg(1 + k);
                if (type == IrType.I32)
                    ta = f.Convert(IrOp.Wrap, ta);
                int t = Array.IndexOf(Unary, op) >= 0 ? f.Unary(op, ta) : f.Binary(op, ta, f.Const(type, b));
                if (type == IrType.I32)
                    t = f.Convert(IrOp.ExtendS, t);
                f.SetReg(16 + k, t);
                long va = type == IrType.I32 ? (int)a : a, vb = type == IrType.I32 ? (int)b : b;
                long v = IrEvaluator.Evaluate(op, type, default, va, vb, 0);
                want.Add(($"{op} {type} a=0x{a:x} b=0x{b:x}", type == IrType.I32 ? (int)v : v));
            }
            cases.Add(new BackendRunner.Case(Finish(f), regs, new byte[4096], true));
            wants.Add(want);
        }
        var outcomes = BackendRunner.Run(cases);
        Assert.Equal(Wemu.Jit.X64.X64CodeArena.Supported ? 3 : 2, outcomes[0].Length);
        for (int c = 0; c < cases.Count; c++)
        {
            foreach (var o in outcomes[c])
            {
                Assert.True(o.Kind == CodeExit.Stop, $"{o.Backend}: {o.Kind} exit");
                for (int k = 0; k < wants[c].Count; k++)
                    Assert.True((ulong)wants[c][k].Want == o.Registers[16 + k],
                        $"{o.Backend}: {wants[c][k].What} = 0x{wants[c][k].Want:x}, got 0x{o.Registers[16 + k]:x}");
            }
        }
    }

    [Fact]
    public void Random_Ir_Functions_Match_The_Evaluator_On_Every_Backend()
    {
        var rng = new Random(6161);
        var cases = new List<BackendRunner.Case>();
        var wants = new List<(long[] Want, string[] What)>();
        for (int c = 0; c < 30; c++)
        {
            var (f, inputs, want, what) = RandomIrFunction.Build(rng, allLive: c % 3 == 1);
            f.Exit(CodeExit.Stop, Pc, 0);
            if (c % 2 == 0)
                IrPipeline.Run(f);
            var regs = new ulong[64];
            for (int r = 0; r < inputs.Length; r++)
                regs[1 + r] = (ulong)inputs[r];
            cases.Add(new BackendRunner.Case(f, regs, new byte[4096], true));
            wants.Add((want, what));
        }
        var outcomes = BackendRunner.Run(cases);
        for (int c = 0; c < cases.Count; c++)
            foreach (var o in outcomes[c])
                for (int j = 0; j < RandomIrFunction.Results; j++)
                    Assert.True((ulong)wants[c].Want[j] == o.Registers[16 + j],
                        $"{o.Backend}, case {c}, result {j}: {wants[c].What[j]} = 0x{wants[c].Want[j]:x}, got 0x{o.Registers[16 + j]:x}");
    }

    /// <summary>
    /// <see cref="IrDivision.Exit"/>: r3 = r1 op r2 at <see cref="Pc"/> with 3 instructions completed
    /// before it; /0 and MIN / -1 must leave with an interpret exit there (3 retired, r3 untouched),
    /// every other pair divide as the evaluator does.
    /// </summary>
    [Fact]
    public void Exiting_Division_Leaves_At_Zero_And_Overflow_On_Every_Backend()
    {
        var cases = new List<BackendRunner.Case>();
        var expected = new List<(bool Exits, long Value, string What)>();
        long[] values = [0, 1, -1, 7, -7, int.MinValue, long.MinValue, int.MaxValue, long.MaxValue, 0xFFFF_FFFF];
        foreach (var type in new[] { IrType.I32, IrType.I64 })
            foreach (var op in new[] { IrOp.DivS, IrOp.DivU, IrOp.RemS, IrOp.RemU })
                foreach (long a in values)
                    foreach (long b in values)
                    {
                        var f = new IrFunction(Pc, 64);
                        int ta = f.GetReg(1), tb = f.GetReg(2);
                        if (type == IrType.I32)
                        {
                            ta = f.Convert(IrOp.Wrap, ta);
                            tb = f.Convert(IrOp.Wrap, tb);
                        }
                        int q = f.Divide(op, ta, tb, IrDivision.Exit, Pc, 3);
                        f.SetReg(3, type == IrType.I32 ? f.Convert(IrOp.ExtendS, q) : q);
                        f.Retire(4);
                        f.Exit(CodeExit.Stop, Pc + 4, 0);
                        var regs = new ulong[64];
                        regs[1] = (ulong)a;
                        regs[2] = (ulong)b;
                        regs[3] = 0xDEAD;
                        cases.Add(new BackendRunner.Case(f, regs, new byte[4096], true));
                        long va = type == IrType.I32 ? (int)a : a, vb = type == IrType.I32 ? (int)b : b;
                        bool exits = IrEvaluator.DivisionExits(op, type, va, vb);
                        long v = exits ? 0 : IrEvaluator.Evaluate(op, type, default, va, vb, 0);
                        expected.Add((exits, type == IrType.I32 ? (int)v : v, $"{op} {type} 0x{a:x} / 0x{b:x}"));
                    }
        var outcomes = BackendRunner.Run(cases);
        int exited = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            var (exits, value, what) = expected[c];
            exited += exits ? 1 : 0;
            foreach (var o in outcomes[c])
            {
                if (exits)
                {
                    Assert.True((o.Kind, o.Pc, o.Count, o.Registers[3]) == (CodeExit.Interpret, Pc, 3L, 0xDEADUL),
                        $"{o.Backend}: {what} should leave to interpret at 0x{Pc:x} after 3: {o.Kind} at 0x{o.Pc:x} after {o.Count}, r3 0x{o.Registers[3]:x}");
                }
                else
                {
                    Assert.True((o.Kind, o.Pc, o.Count) == (CodeExit.Stop, Pc + 4, 4L), $"{o.Backend}: {what}: {o.Kind} at 0x{o.Pc:x} after {o.Count}");
                    Assert.True((ulong)value == o.Registers[3], $"{o.Backend}: {what} = 0x{value:x}, got 0x{o.Registers[3]:x}");
                }
            }
        }
        Assert.True(exited > 20, $"only {exited} exiting cases");
    }

    /// <summary>
    /// r4 = CAS [r1 + offset], r2 -> r3 at <see cref="Pc"/> (1 instruction completed before it), every
    /// size: equal and unequal values, upper bits of the expected value beyond the size, a read-only
    /// page and a misaligned address (both leave for the interpreter: a slow exit, IL's interpret exit).
    /// </summary>
    [Fact]
    public void Compare_And_Swap_On_Every_Backend()
    {
        var rng = new Random(99);
        var cases = new List<BackendRunner.Case>();
        var expected = new List<(bool Leaves, ulong Old, byte[] Page, string What)>();
        foreach (int size in new[] { 1, 2, 4, 8 })
            foreach (bool writable in new[] { true, false })
                for (int k = 0; k < 6; k++)
                {
                    var page = new byte[4096];
                    rng.NextBytes(page);
                    int offset = 0x100 + k * 16 + (k == 5 && size > 1 ? 1 : 0);
                    ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
                    ulong current = BitConverter.ToUInt64(page, offset) & mask;
                    ulong exp = k switch
                    {
                        0 or 5 => current,
                        1 => current | ~mask,                         // equal in the low bytes only
                        2 => current ^ 1,                             // unequal
                        3 => current ^ (1UL << (size * 8 - 1)),       // unequal in the top bit
                        _ => current,
                    };
                    ulong value = (ulong)rng.NextInt64();
                    var f = new IrFunction(Pc, 64);
                    int old = f.CompareAndSwap(f.GetReg(1), offset, f.GetReg(2), f.GetReg(3), size, Pc, 1);
                    f.SetReg(4, old);
                    f.Retire(2);
                    f.Exit(CodeExit.Stop, Pc + 4, 0);
                    var regs = new ulong[64];
                    regs[1] = BackendRunner.PageVa;
                    regs[2] = exp;
                    regs[3] = value;
                    regs[4] = 0xDEAD;
                    cases.Add(new BackendRunner.Case(f, regs, (byte[])page.Clone(), writable));
                    bool leaves = !writable || offset % size != 0;
                    var after = (byte[])page.Clone();
                    ulong was = leaves ? 0 : IrEvaluator.CompareAndSwap(after.AsSpan(offset), size, exp, value);
                    expected.Add((leaves, was, after, $"cas{size} at +0x{offset:x} ({(writable ? "writable" : "read-only")}), memory 0x{current:x}, expected 0x{exp:x}"));
                }
        var outcomes = BackendRunner.Run(cases);
        int swapped = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            var (leaves, old, after, what) = expected[c];
            foreach (var o in outcomes[c])
            {
                Assert.True(o.Page.AsSpan().SequenceEqual(after), $"{o.Backend}: {what}: memory differs");
                if (leaves)
                {
                    var kind = o.Backend == "IL" ? CodeExit.Interpret : CodeExit.Slow;
                    Assert.True((o.Kind, o.Pc, o.Count, o.Registers[4]) == (kind, Pc, 1L, 0xDEADUL), $"{o.Backend}: {what}: {o.Kind} at 0x{o.Pc:x} after {o.Count}");
                }
                else
                {
                    Assert.True((o.Kind, o.Count, o.Registers[4]) == (CodeExit.Stop, 2L, old), $"{o.Backend}: {what}: {o.Kind}, old 0x{o.Registers[4]:x}, want 0x{old:x}");
                }
            }
            swapped += !leaves && !after.AsSpan().SequenceEqual(cases[c].Page) ? 1 : 0;
        }
        Assert.True(swapped >= 8, $"only {swapped} swaps");
    }
}
