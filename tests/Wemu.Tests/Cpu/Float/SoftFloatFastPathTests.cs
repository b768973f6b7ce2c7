using Wemu.Cpu.Float;
using Xunit;

namespace Wemu.Tests.Cpu.Float;

/// <summary>
/// The host-arithmetic fast paths against the integer-only software path on
/// many more random operands than the reference file holds (the software
/// path itself is checked against RISC-V in <see cref="SoftFloatReferenceTests"/>).
/// Operands concentrate on the cases the error-free transformations must get
/// right: ties, near-cancellation in add and fused multiply-add, results just
/// inside the fast-path range.
/// </summary>
public class SoftFloatFastPathTests
{
    private const int Iterations = 60_000;
    private static readonly RoundingMode[] s_modes =
    [
        RoundingMode.NearestEven, RoundingMode.TowardZero, RoundingMode.Down, RoundingMode.Up, RoundingMode.NearestMaxMagnitude,
    ];

    private static ulong Random64(Random rng, int exponentCentre, int spread)
    {
        int exp = Math.Clamp(exponentCentre + rng.Next(-spread, spread + 1), 0, 0x7FF);
        ulong mant = (ulong)rng.NextInt64() & 0x000F_FFFF_FFFF_FFFF;
        if (rng.Next(4) == 0)
            mant &= ~0UL << rng.Next(52); // short significands: exact results and ties
        return ((ulong)rng.Next(2) << 63) | ((ulong)exp << 52) | mant;
    }

    private static uint Random32(Random rng, int exponentCentre, int spread)
    {
        int exp = Math.Clamp(exponentCentre + rng.Next(-spread, spread + 1), 0, 0xFF);
        uint mant = (uint)rng.Next() & 0x007F_FFFF;
        if (rng.Next(4) == 0)
            mant &= ~0U << rng.Next(23);
        return ((uint)rng.Next(2) << 31) | ((uint)exp << 23) | mant;
    }

    private static int Centre64(Random rng) => rng.Next(3) switch { 0 => 1023, 1 => rng.Next(0x7FF), _ => rng.Next(2) == 0 ? 60 : 0x7F0 };

    private static int Centre32(Random rng) => rng.Next(3) switch { 0 => 127, 1 => rng.Next(0xFF), _ => rng.Next(2) == 0 ? 20 : 0xF0 };

    private static void Same(string what, ulong fast, FloatFlags fastFlags, ulong slow, FloatFlags slowFlags, List<string> failures)
    {
        if ((fast != slow || fastFlags != slowFlags) && failures.Count < 20)
            failures.Add($"{what}: fast {fast:x} {(int)fastFlags:x}, software {slow:x} {(int)slowFlags:x}");
    }

    [Fact]
    public void Binary64FastPathsMatchSoftware()
    {
        var rng = new Random(1234);
        var failures = new List<string>();
        for (int i = 0; i < Iterations; i++)
        {
            int centre = Centre64(rng);
            ulong a = Random64(rng, centre, 3);
            ulong b = Random64(rng, rng.Next(2) == 0 ? centre : 1023, 3);
            // Addend near -(a*b): heavy cancellation in the fused multiply-add.
            double p = BitConverter.UInt64BitsToDouble(a) * BitConverter.UInt64BitsToDouble(b);
            ulong c = rng.Next(2) == 0
                ? (BitConverter.DoubleToUInt64Bits(-p) + (ulong)rng.Next(-3, 4)) ^ (rng.Next(8) == 0 ? 0x8000_0000_0000_0000 : 0)
                : Random64(rng, centre, 60);
            foreach (var rm in s_modes)
            {
                FloatFlags f1 = 0, f2 = 0;
                Same($"Add64 {rm} {a:x} {b:x}", SoftFloat.Add64(a, b, rm, ref f1), f1, SoftFloat.AddSlow(a, b, true, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Add64 {rm} {a:x} {c:x}", SoftFloat.Add64(a, c, rm, ref f1), f1, SoftFloat.AddSlow(a, c, true, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Mul64 {rm} {a:x} {b:x}", SoftFloat.Mul64(a, b, rm, ref f1), f1, SoftFloat.MulSlow(a, b, true, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Div64 {rm} {a:x} {b:x}", SoftFloat.Div64(a, b, rm, ref f1), f1, SoftFloat.DivSlow(a, b, true, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Sqrt64 {rm} {a:x}", SoftFloat.Sqrt64(a, rm, ref f1), f1, SoftFloat.SqrtSlow(a, true, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"MulAdd64 {rm} {a:x} {b:x} {c:x}", SoftFloat.MulAdd64(a, b, c, rm, ref f1), f1, SoftFloat.MulAddSlow(a, b, c, true, rm, ref f2), f2, failures);
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Binary32FastPathsMatchSoftware()
    {
        var rng = new Random(5678);
        var failures = new List<string>();
        for (int i = 0; i < Iterations; i++)
        {
            int centre = Centre32(rng);
            uint a = Random32(rng, centre, 3);
            uint b = Random32(rng, rng.Next(2) == 0 ? centre : 127, 3);
            float p = BitConverter.UInt32BitsToSingle(a) * BitConverter.UInt32BitsToSingle(b);
            uint c = rng.Next(2) == 0
                ? (uint)(BitConverter.SingleToUInt32Bits(-p) + rng.Next(-3, 4)) ^ (rng.Next(8) == 0 ? 0x8000_0000 : 0)
                : Random32(rng, centre, 30);
            ulong w = BitConverter.DoubleToUInt64Bits(BitConverter.UInt32BitsToSingle(a) * (1.0 + rng.NextDouble()));
            foreach (var rm in s_modes)
            {
                FloatFlags f1 = 0, f2 = 0;
                Same($"Add32 {rm} {a:x} {b:x}", SoftFloat.Add32(a, b, rm, ref f1), f1, SoftFloat.AddSlow(a, b, false, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Add32 {rm} {a:x} {c:x}", SoftFloat.Add32(a, c, rm, ref f1), f1, SoftFloat.AddSlow(a, c, false, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Mul32 {rm} {a:x} {b:x}", SoftFloat.Mul32(a, b, rm, ref f1), f1, SoftFloat.MulSlow(a, b, false, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Div32 {rm} {a:x} {b:x}", SoftFloat.Div32(a, b, rm, ref f1), f1, SoftFloat.DivSlow(a, b, false, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"Sqrt32 {rm} {a:x}", SoftFloat.Sqrt32(a, rm, ref f1), f1, SoftFloat.SqrtSlow(a, false, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"MulAdd32 {rm} {a:x} {b:x} {c:x}", SoftFloat.MulAdd32(a, b, c, rm, ref f1), f1, SoftFloat.MulAddSlow(a, b, c, false, rm, ref f2), f2, failures);
                f1 = f2 = 0;
                Same($"F64ToF32 {rm} {w:x}", SoftFloat.F64ToF32(w, rm, ref f1), f1, SoftFloat.F64ToF32Slow(w, rm, ref f2), f2, failures);
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
