using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;

namespace Wemu.Tests.Jit;

/// <summary>
/// A loop over an array (load, store, counter) with a budget check on its back-edge, as IR, and
/// the same loop in C#: the common case of the backends' loop tests. Budgets that end it mid-way
/// give a Chain exit at the loop head, budgets it outlives its own exit, and a read-only page a
/// Slow exit at the store, with the instruction before it completed.
/// </summary>
internal static class BudgetLoop
{
    public const ulong Head = 0x2000, Done = 0x3000, Va = 0x7000_0000;

    /// <summary>r1: iterations left, r2: accumulator, r3: pointer (starts at <see cref="Va"/>).</summary>
    public static IrFunction Build()
    {
        var f = new IrFunction(Head, 32);
        int head = f.NewLabel(), stub = f.NewLabel();
        f.Label(head);
        int t = f.GetReg(1), a = f.GetReg(2), p = f.GetReg(3);
        int v = f.Load(p, 0, 8, true, Head, 0);
        f.SetReg(2, f.Binary(IrOp.Add, a, f.Binary(IrOp.Xor, v, t)));
        f.Store(p, 8, f.Binary(IrOp.Add, v, t), 8, Head + 4, 1);
        f.SetReg(3, f.Binary(IrOp.Add, p, f.Const(IrType.I64, 8)));
        int next = f.Binary(IrOp.Sub, t, f.Const(IrType.I64, 1));
        f.SetReg(1, next);
        f.Retire(3);
        f.Branch(IrCondition.Ne, next, f.Const(IrType.I64, 0), stub);
        f.Exit(CodeExit.Stop, Done, 0);
        f.Label(stub);
        f.ExitIfBudget(Head);
        f.Jump(head);
        IrPipeline.Run(f);
        return f;
    }

    /// <summary>Runs the loop on <paramref name="mem"/> (changed in place) starting with r2 = 5: the exit, count and registers compiled code must end with.</summary>
    public static (CodeExit Kind, ulong Pc, int Count, long R1, long R2, ulong R3) Expected(long[] mem, int iterations, int budget, bool readOnly)
    {
        long r1 = iterations, r2 = 5, r3 = 0;
        int count = 0;
        while (true)
        {
            long value = mem[r3];
            r2 += value ^ r1;
            if (readOnly)
                return (CodeExit.Slow, Head + 4, count + 1, r1, r2, Va + (ulong)r3 * 8);
            mem[r3 + 1] = value + r1;
            r3++;
            r1--;
            count += 3;
            if (r1 == 0)
                return (CodeExit.Stop, Done, count, r1, r2, Va + (ulong)r3 * 8);
            if (count >= budget)
                return (CodeExit.Chain, Head, count, r1, r2, Va + (ulong)r3 * 8);
        }
    }
}
