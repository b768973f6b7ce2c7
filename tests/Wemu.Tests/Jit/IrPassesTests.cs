using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// The IR passes keep meaning: random straight-line functions rich in what the known-bits folding
/// looks at (masks, zero-extensions, shifts by constants, compares, selects) give the same guest
/// registers before and after <see cref="IrPipeline"/>, run by a small IR interpreter over
/// <see cref="IrEvaluator"/>; and the masks it can prove redundant are gone.
/// </summary>
public sealed class IrPassesTests
{
    /// <summary>
    /// ConstantFolding's table of the pure ops seen since the last label, against a dictionary: a key found again gives
    /// the first temp, a key that differs in any one field is new, Clear forgets everything at once, and nothing is lost
    /// as the table grows (thousands of ops in one stretch, in a table that starts with 256 slots).
    /// </summary>
    [Fact]
    public void The_Table_Of_Ops_Seen_Finds_Repeats_And_Nothing_Else()
    {
        var seen = new ConstantFolding.SeenTable();
        var model = new Dictionary<(int, int, int, int, long), int>();
        var recent = new List<(int Kind, int A, int B, int C, long Imm)>();
        var rng = new Random(12);
        int repeats = 0;
        for (int step = 0; step < 40_000; step++)
        {
            if (step % 10_000 == 0)
            {
                seen.Clear();
                model.Clear();
                recent.Clear();
            }
            (int Kind, int A, int B, int C, long Imm) key;
            if (recent.Count > 0 && rng.Next(3) == 0)
            {
                // a recorded key, or one field away from it
                key = recent[rng.Next(recent.Count)];
                switch (rng.Next(7))
                {
                    case 0: key.Kind ^= 1 << rng.Next(32); break;
                    case 1: key.A++; break;
                    case 2: key.B--; break;
                    case 3: key.C ^= 2; break;
                    case 4: key.Imm ^= 1L << rng.Next(64); break;
                }
            }
            else
            {
                key = (rng.Next(), rng.Next(-1, 4000), rng.Next(-1, 4000), rng.Next(-1, 3), rng.Next(2) == 0 ? rng.NextInt64(long.MinValue, long.MaxValue) : rng.Next(16));
            }
            int expected = model.TryGetValue(key, out int t) ? t : -1;
            Assert.Equal(expected, seen.FindOrAdd(key.Kind, key.A, key.B, key.C, key.Imm, step));
            if (expected < 0)
            {
                model[key] = step;
                recent.Add(key);
            }
            else
            {
                repeats++;
            }
        }
        Assert.True(repeats > 2000, $"only {repeats} repeats");
    }

    private static readonly long[] Masks = [0xFF, 0xFFFF, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 1, 0xF0, -1, 0xFFFF_0000, 0x1_FFFF_FFFF];

    /// <summary>Runs a straight-line function (GetReg, SetReg, pure ops, Exit) on <paramref name="regs"/>.</summary>
    private static void Interpret(IrFunction f, long[] regs)
    {
        var v = new long[f.TempCount];
        foreach (var i in f.Code)
        {
            switch (i.Op)
            {
                case IrOp.Nop or IrOp.Exit:
                    break;
                case IrOp.Const:
                    v[i.Dst] = i.Imm;
                    break;
                case IrOp.GetReg:
                    v[i.Dst] = regs[i.Imm];
                    break;
                case IrOp.SetReg:
                    regs[i.Imm] = f.TypeOf(i.A) == IrType.I32 ? (int)v[i.A] : v[i.A];
                    break;
                default:
                    Assert.True(i.IsPure, $"unexpected {i.Op}");
                    long a = i.A >= 0 ? v[i.A] : 0, b = i.B >= 0 ? v[i.B] : 0, c = i.C >= 0 ? v[i.C] : 0;
                    if (i.A >= 0 && f.TypeOf(i.A) == IrType.I32)
                    {
                        a = (int)a;
                        b = (int)b;
                    }
                    long r = IrEvaluator.Evaluate(i.Op, i.Type, i.Cond, a, b, c);
                    v[i.Dst] = i.Type == IrType.I32 ? (int)r : r;
                    break;
            }
        }
    }

    private static IrFunction Build(int seed)
    {
        var rng = new Random(seed);
        var f = new IrFunction(0x1000, 64);
        var t64 = new List<int>();
        var t32 = new List<int>();
        for (int r = 0; r < 6; r++)
            t64.Add(f.GetReg(r));
        // operands mostly from the last few values, so masks, sums and shifts form chains
        int Recent(List<int> ts) => ts[rng.Next(2) == 0 ? Math.Max(0, ts.Count - 1 - rng.Next(3)) : rng.Next(ts.Count)];
        int Pick64() => Recent(t64);
        int Pick32() => t32.Count == 0 || rng.Next(4) == 0 ? f.Convert(IrOp.Wrap, Pick64()) : Recent(t32);
        // a third of the masks are constants the passes fold (m - 1 + 1): a folded constant is known exactly
        int Mask(IrType type)
        {
            long m = Masks[rng.Next(Masks.Length)];
            return rng.Next(3) == 0 ? f.Binary(IrOp.Add, f.Const(type, m - 1), f.Const(type, 1)) : f.Const(type, m);
        }
        for (int k = 0; k < 60; k++)
        {
            bool narrow = rng.Next(4) == 0;
            var type = narrow ? IrType.I32 : IrType.I64;
            int Pick() => narrow ? Pick32() : Pick64();
            int t = rng.Next(12) switch
            {
                0 or 1 or 2 => f.Binary(IrOp.And, Pick(), Mask(type)),
                3 => f.Binary(IrOp.And, Mask(type), Pick()),
                4 => f.Binary(rng.Next(2) == 0 ? IrOp.Or : IrOp.Xor, Pick(), Pick()),
                5 => f.Binary(IrOp.Add, Pick(), Pick()),
                6 => f.Binary(new[] { IrOp.Shl, IrOp.ShrU, IrOp.ShrS }[rng.Next(3)], Pick(), f.Const(type, rng.Next(70))),
                7 => f.Compare((IrCondition)rng.Next(6), Pick(), Pick(), type),
                8 => f.Select(Pick64(), Pick(), Pick()),
                9 => f.Binary(IrOp.Mul, Pick(), Pick()),
                10 => narrow ? f.Convert(IrOp.Wrap, Pick64()) : f.Convert(rng.Next(2) == 0 ? IrOp.ExtendU : IrOp.ExtendS, Pick32()),
                _ => f.Unary(new[] { IrOp.Clz, IrOp.Popcnt, IrOp.Parity }[rng.Next(3)], Pick()),
            };
            (f.TypeOf(t) == IrType.I32 ? t32 : t64).Add(t);
        }
        for (int r = 0; r < 40; r++)
            f.SetReg(8 + r, r < t64.Count ? t64[t64.Count - 1 - r] : t32[rng.Next(t32.Count)]);
        f.Exit(CodeExit.Stop, 0x1000, 0);
        return f;
    }

    [Fact]
    public void Known_Bits_Folding_Keeps_Every_Value()
    {
        var rng = new Random(99);
        int removed = 0;
        for (int c = 0; c < 4000; c++)
        {
            var regs = new long[64];
            for (int r = 0; r < 6; r++)
                regs[r] = rng.Next(3) switch { 0 => rng.NextInt64(), 1 => rng.Next(), _ => -rng.Next(1000) };
            var plain = Build(c);
            var optimised = Build(c);
            int before = optimised.Count;
            IrPipeline.Run(optimised);
            removed += before - optimised.Count;
            var want = (long[])regs.Clone();
            var got = (long[])regs.Clone();
            Interpret(plain, want);
            Interpret(optimised, got);
            for (int r = 0; r < 64; r++)
                Assert.True(want[r] == got[r], $"case {c}, r{r}: {want[r]:x} before the passes, {got[r]:x} after\n{plain}");
        }
        Assert.True(removed > 0);
    }

    [Fact]
    public void Masks_Nobody_Reads_Through_Are_Removed_And_Compares_Fuse_Into_Branches()
    {
        var f = new IrFunction(0x1000, 16);
        const long M = 0xFFFF_FFFF;
        int x = f.GetReg(1);
        // a 32-bit decrement: mask, subtract, mask; the inner mask goes
        int dec = f.Binary(IrOp.And, f.Binary(IrOp.Sub, f.Binary(IrOp.And, x, f.Const(IrType.I64, M)), f.Const(IrType.I64, 1)), f.Const(IrType.I64, M));
        f.SetReg(2, dec);
        // a 2-byte store of a masked value: the mask goes
        f.Store(x, 0, f.Binary(IrOp.And, f.GetReg(3), f.Const(IrType.I64, 0xFFFF)), 2, 0x1000, 0);
        // a 4-byte store of a value masked to one byte: that mask stays
        f.Store(x, 8, f.Binary(IrOp.And, f.GetReg(4), f.Const(IrType.I64, 0xFF)), 4, 0x1000, 0);
        // branch on (x <u y) ^ 1 != 0: on x >=u y
        int notBelow = f.Binary(IrOp.Xor, f.Compare(IrCondition.LtU, x, f.GetReg(5)), f.Const(IrType.I64, 1));
        int taken = f.NewLabel();
        f.Branch(IrCondition.Ne, notBelow, f.Const(IrType.I64, 0), taken);
        f.Exit(CodeExit.Stop, 0x1000, 0);
        f.Label(taken);
        f.Exit(CodeExit.Stop, 0x2000, 0);
        IrPipeline.Run(f);
        var ops = f.Code.ToArray();
        Assert.Equal(2, ops.Count(i => i.Op == IrOp.And));
        Assert.DoesNotContain(ops, i => i.Op is IrOp.Compare or IrOp.Xor);
        var branch = Assert.Single(ops, i => i.Op == IrOp.Branch);
        Assert.Equal(IrCondition.GeU, branch.Cond);
    }

    [Fact]
    public void Masks_Of_Masked_Values_And_Narrow_Loads_Are_Removed()
    {
        var f = new IrFunction(0x1000, 16);
        int x = f.GetReg(1);
        int low16 = f.Binary(IrOp.And, x, f.Const(IrType.I64, 0xFFFF));
        int again = f.Binary(IrOp.And, low16, f.Const(IrType.I64, 0xFFFF_FFFF));   // redundant
        f.SetReg(2, again);
        int loaded = f.Load(x, 0, 4, signed: false, 0x1000, 0);
        f.SetReg(3, f.Binary(IrOp.And, loaded, f.Const(IrType.I64, 0xFFFF_FFFF)));  // redundant
        f.SetReg(4, f.Binary(IrOp.And, loaded, f.Const(IrType.I64, 0xFF)));         // not
        int shifted = f.Binary(IrOp.ShrU, x, f.Const(IrType.I64, 40));
        f.SetReg(5, f.Binary(IrOp.And, f.Const(IrType.I64, 0xFF_FFFF), shifted));   // redundant
        f.Exit(CodeExit.Stop, 0x1000, 0);
        IrPipeline.Run(f);
        int ands = 0;
        foreach (var i in f.Code)
            if (i.Op == IrOp.And)
                ands++;
        Assert.Equal(2, ands);
    }

    /// <summary>
    /// x86's `xor eax, eax` reads the register twice and masks each read: the repeated mask is the first one's temp,
    /// so the xor is of a value with itself and folds to 0; a repeated sum with its operands swapped is one sum.
    /// </summary>
    [Fact]
    public void Repeated_Ops_Share_One_Temp_And_A_Value_Xored_With_Itself_Is_Zero()
    {
        var f = new IrFunction(0x1000, 16);
        const long M = 0xFFFF_FFFF;
        int eax = f.GetReg(0);
        int low1 = f.Binary(IrOp.And, eax, f.Const(IrType.I64, M));
        int low2 = f.Binary(IrOp.And, eax, f.Const(IrType.I64, M));
        f.SetReg(0, f.Binary(IrOp.Xor, low2, low1));
        int x = f.GetReg(1), y = f.GetReg(2);
        f.SetReg(3, f.Binary(IrOp.Add, x, y));
        f.SetReg(4, f.Binary(IrOp.Add, y, x));
        f.Exit(CodeExit.Stop, 0x1000, 0);
        IrPipeline.Run(f);
        var ops = f.Code.ToArray();
        Assert.DoesNotContain(ops, i => i.Op is IrOp.Xor or IrOp.And);
        var zero = Assert.Single(ops, i => i.Op == IrOp.SetReg && i.Imm == 0);
        Assert.Contains(ops, i => i.Op == IrOp.Const && i.Dst == zero.A && i.Imm == 0);
        Assert.Single(ops, i => i.Op == IrOp.Add);
    }

    /// <summary>
    /// A value computed before a label need not have been computed on every path to it: the same sum after the label
    /// is computed again, not taken from the one the branch jumps over.
    /// </summary>
    [Fact]
    public void Values_Are_Not_Shared_Across_A_Label()
    {
        var f = new IrFunction(0x1000, 16);
        int x = f.GetReg(1);
        int skip = f.NewLabel();
        f.Branch(IrCondition.Eq, x, f.Const(IrType.I64, 0), skip);
        f.SetReg(2, f.Binary(IrOp.Add, x, f.Const(IrType.I64, 5)));
        f.Label(skip);
        f.SetReg(3, f.Binary(IrOp.Add, x, f.Const(IrType.I64, 5)));
        f.Exit(CodeExit.Stop, 0x1000, 0);
        IrPipeline.Run(f);
        var ops = f.Code.ToArray();
        int label = Array.FindIndex(ops, i => i.Op == IrOp.Label);
        int set3 = Array.FindIndex(ops, i => i.Op == IrOp.SetReg && i.Imm == 3);
        int def = Array.FindIndex(ops, i => i.HasDst && i.Dst == ops[set3].A);
        Assert.True(def > label, $"r3's value is defined at {def}, before the label at {label}\n{f}");
        Assert.Equal(2, ops.Count(i => i.Op == IrOp.Add));
    }
}
