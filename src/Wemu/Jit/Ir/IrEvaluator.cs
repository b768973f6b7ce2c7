namespace Wemu.Jit.Ir;

/// <summary>
/// The meaning of the pure IR ops, on constants: used by constant folding and as the reference
/// the backends are tested against. I32 values live sign-extended in a long.
/// </summary>
public static class IrEvaluator
{
    public static bool Compare(IrCondition cond, long a, long b) => cond switch
    {
        IrCondition.Eq => a == b,
        IrCondition.Ne => a != b,
        IrCondition.LtS => a < b,
        IrCondition.GeS => a >= b,
        IrCondition.LtU => (ulong)a < (ulong)b,
        _ => (ulong)a >= (ulong)b,
    };

    /// <summary>Evaluates a pure op. I32 operands must be given sign-extended; the result is too.</summary>
    public static long Evaluate(IrOp op, IrType type, IrCondition cond, long a, long b, long c)
    {
        if (type == IrType.I32 && op is not (IrOp.ExtendS or IrOp.ExtendU or IrOp.Compare or IrOp.Select))
            return (int)Evaluate32(op, (int)a, (int)b);
        return op switch
        {
            IrOp.Add => a + b,
            IrOp.Sub => a - b,
            IrOp.Mul => a * b,
            IrOp.And => a & b,
            IrOp.Or => a | b,
            IrOp.Xor => a ^ b,
            IrOp.MulHighS => Math.BigMul(a, b, out _),
            IrOp.MulHighU => (long)Math.BigMul((ulong)a, (ulong)b, out _),
            IrOp.MulHighSU => MulHighSU(a, b),
            IrOp.DivS => DivS(a, b),
            IrOp.DivU => (long)DivU((ulong)a, (ulong)b),
            IrOp.RemS => RemS(a, b),
            IrOp.RemU => (long)RemU((ulong)a, (ulong)b),
            IrOp.Shl => a << (int)(b & 63),
            IrOp.ShrS => a >> (int)(b & 63),
            IrOp.ShrU => (long)((ulong)a >> (int)(b & 63)),
            IrOp.Compare => Compare(cond, a, b) ? 1 : 0,
            IrOp.Select => a != 0 ? b : c,
            IrOp.Wrap => (int)a,
            IrOp.ExtendS => (int)a,
            IrOp.ExtendU => (long)(uint)a,
            _ => throw new ArgumentException($"{op} is not a pure op", nameof(op)),
        };
    }

    private static int Evaluate32(IrOp op, int a, int b) => op switch
    {
        IrOp.Add => a + b,
        IrOp.Sub => a - b,
        IrOp.Mul => a * b,
        IrOp.And => a & b,
        IrOp.Or => a | b,
        IrOp.Xor => a ^ b,
        IrOp.MulHighS => (int)(((long)a * b) >> 32),
        IrOp.MulHighU => (int)(((ulong)(uint)a * (uint)b) >> 32),
        IrOp.MulHighSU => (int)(((long)a * (long)(uint)b) >> 32),
        IrOp.DivS => DivS32(a, b),
        IrOp.DivU => (int)DivU32((uint)a, (uint)b),
        IrOp.RemS => RemS32(a, b),
        IrOp.RemU => (int)RemU32((uint)a, (uint)b),
        IrOp.Shl => a << (b & 31),
        IrOp.ShrS => a >> (b & 31),
        IrOp.ShrU => (int)((uint)a >> (b & 31)),
        IrOp.Wrap => a,
        _ => throw new ArgumentException($"{op} is not a pure I32 op", nameof(op)),
    };

    // Total division (RISC-V Unpriv. 7.2): x/0 = all ones, x%0 = x, MIN/-1 = MIN, MIN%-1 = 0.

    public static long DivS(long a, long b) => b == 0 ? -1 : b == -1 ? unchecked(0 - a) : a / b;

    public static ulong DivU(ulong a, ulong b) => b == 0 ? ulong.MaxValue : a / b;

    public static long RemS(long a, long b) => b == 0 ? a : b == -1 ? 0 : a % b;

    public static ulong RemU(ulong a, ulong b) => b == 0 ? a : a % b;

    public static int DivS32(int a, int b) => b == 0 ? -1 : b == -1 ? unchecked(0 - a) : a / b;

    public static uint DivU32(uint a, uint b) => b == 0 ? uint.MaxValue : a / b;

    public static int RemS32(int a, int b) => b == 0 ? a : b == -1 ? 0 : a % b;

    public static uint RemU32(uint a, uint b) => b == 0 ? a : a % b;

    public static long MulHighS(long a, long b) => Math.BigMul(a, b, out _);

    public static ulong MulHighU(ulong a, ulong b) => Math.BigMul(a, b, out _);

    public static int MulHighS32(int a, int b) => (int)(((long)a * b) >> 32);

    public static uint MulHighU32(uint a, uint b) => (uint)(((ulong)a * b) >> 32);

    public static int MulHighSU32(int a, uint b) => (int)(((long)a * (long)b) >> 32);

    public static long MulHighSU(long a, long b)
    {
        ulong hi = Math.BigMul((ulong)a, (ulong)b, out _);
        return (long)(a < 0 ? hi - (ulong)b : hi);
    }
}
