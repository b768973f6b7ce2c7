using Wemu.Jit.Ir;

namespace Wemu.Tests.Jit;

/// <summary>
/// Random straight-line IR over every pure op (both widths, mixed shift- and rotate-count types,
/// compares, selects, division corner cases, bit counts, byte swap, flag helpers), reading guest
/// registers 1..8 and writing results to registers 16..63, with the value each result must have (from <see cref="IrEvaluator"/>): the common input
/// of the backends' differential tests.
/// </summary>
internal static class RandomIrFunction
{
    public const int Results = 48;

    private static readonly long[] Edges =
    [
        0, 1, -1, 2, 31, 32, 33, 63, 64, 65, long.MaxValue, long.MinValue, int.MaxValue, int.MinValue,
        0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, -0x8000_0000L - 1, 0x5555_5555_5555_5555, 7, -7, 3, -3,
    ];

    private static readonly IrOp[] Ops =
    [
        IrOp.Add, IrOp.Sub, IrOp.Mul, IrOp.And, IrOp.Or, IrOp.Xor, IrOp.MulHighS, IrOp.MulHighU, IrOp.MulHighSU,
        IrOp.DivS, IrOp.DivU, IrOp.RemS, IrOp.RemU, IrOp.Shl, IrOp.ShrS, IrOp.ShrU, IrOp.Compare, IrOp.Select,
        IrOp.RotL, IrOp.RotR, IrOp.Clz, IrOp.Ctz, IrOp.Popcnt, IrOp.ByteSwap, IrOp.Parity, IrOp.AddOverflow, IrOp.SubOverflow,
    ];

    /// <summary>
    /// The function (without its final exit), its inputs (registers 1..8), the results and their
    /// descriptions. With <paramref name="allLive"/>, every result is written at the end, in reverse
    /// order, so all are live at once (more than a backend has registers for).
    /// </summary>
    public static (IrFunction F, long[] Inputs, long[] Want, string[] What) Build(Random rng, bool allLive = false)
    {
            var pending = new List<int>();
            var inputs = new long[8];
            for (int r = 0; r < 8; r++)
                inputs[r] = rng.Next(3) == 0 ? rng.NextInt64() : Edges[rng.Next(Edges.Length)];
            var f = new IrFunction(0x1000, 64);
            var want = new long[Results];
            var what = new string[Results];
            for (int j = 0; j < Results; j++)
            {
                var op = Ops[rng.Next(Ops.Length)];
                var type = rng.Next(2) == 0 ? IrType.I32 : IrType.I64;
                int ra = rng.Next(8), rb = rng.Next(8), rc = rng.Next(8);
                long a = inputs[ra], b = inputs[rb], cv = inputs[rc];
                int Operand(int reg, IrType t) => t == IrType.I32 ? f.Convert(IrOp.Wrap, f.GetReg(1 + reg)) : f.GetReg(1 + reg);
                long Value(long v, IrType t) => t == IrType.I32 ? (int)v : v;
                int result;
                long value;
                var cond = (IrCondition)rng.Next(6);
                if (op == IrOp.Compare)
                {
                    var resultType = rng.Next(2) == 0 ? IrType.I32 : IrType.I64;
                    result = f.Compare(cond, Operand(ra, type), Operand(rb, type), resultType);
                    value = IrEvaluator.Evaluate(op, resultType, cond, Value(a, type), Value(b, type), 0);
                    type = resultType;
                }
                else if (op == IrOp.Select)
                {
                    var condType = rng.Next(2) == 0 ? IrType.I32 : IrType.I64;
                    bool zero = rng.Next(3) == 0;
                    int condTemp = zero ? f.Const(condType, 0) : Operand(rc, condType);
                    long condValue = zero ? 0 : Value(cv, condType);
                    result = f.Select(condTemp, Operand(ra, type), Operand(rb, type));
                    value = IrEvaluator.Evaluate(op, type, cond, condValue, Value(a, type), Value(b, type));
                }
                else if (op is IrOp.Clz or IrOp.Ctz or IrOp.Popcnt or IrOp.ByteSwap or IrOp.Parity)
                {
                    result = f.Unary(op, Operand(ra, type));
                    value = IrEvaluator.Evaluate(op, type, cond, Value(a, type), 0, 0);
                }
                else if (op is IrOp.Shl or IrOp.ShrS or IrOp.ShrU or IrOp.RotL or IrOp.RotR)
                {
                    var countType = rng.Next(2) == 0 ? IrType.I32 : IrType.I64;
                    result = f.Binary(op, Operand(ra, type), Operand(rb, countType));
                    value = IrEvaluator.Evaluate(op, type, cond, Value(a, type), Value(b, countType), 0);
                }
                else
                {
                    result = f.Binary(op, Operand(ra, type), Operand(rb, type));
                    value = IrEvaluator.Evaluate(op, type, cond, Value(a, type), Value(b, type), 0);
                }
                if (type == IrType.I32)
                {
                    bool signed = rng.Next(2) == 0;
                    result = f.Convert(signed ? IrOp.ExtendS : IrOp.ExtendU, result);
                    value = signed ? (int)value : (long)(uint)value;
                }
                if (allLive)
                    pending.Add(result);
                else
                    f.SetReg(16 + j, result);
                want[j] = value;
                what[j] = $"{op} {type} {cond} of r{1 + ra}={a:x}, r{1 + rb}={b:x}, r{1 + rc}={cv:x}";
            }
            for (int j = pending.Count - 1; j >= 0; j--)
                f.SetReg(16 + j, pending[j]);
        return (f, inputs, want, what);
    }
}
