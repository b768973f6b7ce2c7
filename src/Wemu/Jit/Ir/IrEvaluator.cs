using System.Buffers.Binary;
using System.Numerics;

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
            IrOp.RotL => RotL(a, b),
            IrOp.RotR => RotR(a, b),
            IrOp.Clz => Clz(a),
            IrOp.Ctz => Ctz(a),
            IrOp.Popcnt => Popcnt(a),
            IrOp.ByteSwap => ByteSwap(a),
            IrOp.Parity => Parity(a),
            IrOp.AddOverflow => AddOverflow(a, b),
            IrOp.SubOverflow => SubOverflow(a, b),
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
        IrOp.RotL => RotL32(a, b),
        IrOp.RotR => RotR32(a, b),
        IrOp.Clz => Clz32(a),
        IrOp.Ctz => Ctz32(a),
        IrOp.Popcnt => Popcnt32(a),
        IrOp.ByteSwap => ByteSwap32(a),
        IrOp.Parity => Parity32(a),
        IrOp.AddOverflow => AddOverflow32(a, b),
        IrOp.SubOverflow => SubOverflow32(a, b),
        IrOp.Wrap => a,
        _ => throw new ArgumentException($"{op} is not a pure I32 op", nameof(op)),
    };

    // Rotates, counts and flags (also the IL backend's implementation of them).

    public static long RotL(long a, long b) => (long)BitOperations.RotateLeft((ulong)a, (int)(b & 63));

    public static long RotR(long a, long b) => (long)BitOperations.RotateRight((ulong)a, (int)(b & 63));

    public static int RotL32(int a, int b) => (int)BitOperations.RotateLeft((uint)a, b & 31);

    public static int RotR32(int a, int b) => (int)BitOperations.RotateRight((uint)a, b & 31);

    public static long Clz(long a) => BitOperations.LeadingZeroCount((ulong)a);

    public static long Ctz(long a) => BitOperations.TrailingZeroCount((ulong)a);

    public static long Popcnt(long a) => BitOperations.PopCount((ulong)a);

    public static int Clz32(int a) => BitOperations.LeadingZeroCount((uint)a);

    public static int Ctz32(int a) => BitOperations.TrailingZeroCount((uint)a);

    public static int Popcnt32(int a) => BitOperations.PopCount((uint)a);

    public static long ByteSwap(long a) => BinaryPrimitives.ReverseEndianness(a);

    public static int ByteSwap32(int a) => BinaryPrimitives.ReverseEndianness(a);

    public static long Parity(long a) => (BitOperations.PopCount((ulong)a & 0xFF) & 1) ^ 1;

    public static int Parity32(int a) => (BitOperations.PopCount((uint)a & 0xFF) & 1) ^ 1;

    public static long AddOverflow(long a, long b) => (long)((ulong)((a ^ (a + b)) & (b ^ (a + b))) >> 63);

    public static long SubOverflow(long a, long b) => (long)((ulong)((a ^ b) & (a ^ (a - b))) >> 63);

    public static int AddOverflow32(int a, int b) => (int)((uint)((a ^ (a + b)) & (b ^ (a + b))) >> 31);

    public static int SubOverflow32(int a, int b) => (int)((uint)((a ^ b) & (a ^ (a - b))) >> 31);

    /// <summary>
    /// True if a division op with <see cref="IrDivision.Exit"/> leaves instead of dividing: /0, or the
    /// signed MIN / -1 of the width (operands as in <see cref="Evaluate"/>).
    /// </summary>
    public static bool DivisionExits(IrOp op, IrType type, long a, long b)
    {
        if (type == IrType.I32 ? (int)b == 0 : b == 0)
            return true;
        bool signed = op is IrOp.DivS or IrOp.RemS;
        return signed && (type == IrType.I32 ? (int)a == int.MinValue && (int)b == -1 : a == long.MinValue && b == -1);
    }

    /// <summary>The reference of <see cref="IrOp.CompareAndSwap"/> on little-endian memory: returns the old value (zero-extended).</summary>
    public static ulong CompareAndSwap(Span<byte> memory, int size, ulong expected, ulong value)
    {
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        memory[..size].CopyTo(bytes);
        ulong old = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (old == (expected & mask))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
            bytes[..size].CopyTo(memory);
        }
        return old;
    }

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
