using Wemu.Cpu.X86.Fpu;
using Xunit;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>
/// Instructions with a memory operand (FADD m32/m64, FSUBR m64, FMUL m32, FDIV m64, FDIVR m32, FIADD m32,
/// FCOM m32), FTST and FXAM of an empty register against the host x87,
/// through <see cref="X87Arithmetic.ApplyMemory"/> and
/// <see cref="X87Compare.CompareMemory"/>.
/// </summary>
public class X87MemoryOperandTests(HostFpuOracle oracle) : IClassFixture<HostFpuOracle>
{
    private static List<(ushort, Float80, Float80)> Cases(int seed, bool d)
    {
        var list = new List<(ushort, Float80, Float80)>();
        var edges = d ? SseTestData.DoubleEdges : SseTestData.SingleEdges;
        foreach (ushort cw in X87TestData.Controls())
            foreach (var a in X87TestData.Edges)
                foreach (ulong b in edges)
                    list.Add((cw, a, new Float80(0, b)));
        var rng = new Random(seed);
        var controls = X87TestData.Controls().ToArray();
        for (int i = 0; i < 20000; i++)
            list.Add((controls[rng.Next(controls.Length)], X87TestData.Random(rng), new Float80(0, SseTestData.Random(rng, d))));
        return list;
    }

    private static X87TestData.Outcome Compose(ushort cw, Float80 a, Float80 m, bool d, X87ArithmeticOp op)
    {
        var s = new X87Status();
        var r = X87Arithmetic.ApplyMemory(op, a, m.Significand, d, new X87Control(cw), ref s);
        return new(r, default, s.Word, 0);
    }

    [Fact]
    public void FaddM32() => X87TestData.Check(oracle, 0x28, "fadd m32", Cases(1, false), (cw, a, b) => Compose(cw, a, b, false, X87ArithmeticOp.Add));

    [Fact]
    public void FaddM64() => X87TestData.Check(oracle, 0x29, "fadd m64", Cases(2, true), (cw, a, b) => Compose(cw, a, b, true, X87ArithmeticOp.Add));

    [Fact]
    public void FdivM64() => X87TestData.Check(oracle, 0x2A, "fdiv m64", Cases(3, true), (cw, a, b) => Compose(cw, a, b, true, X87ArithmeticOp.Div));

    [Fact]
    public void FsubrM64() => X87TestData.Check(oracle, 0x2D, "fsubr m64", Cases(7, true), (cw, a, b) => Compose(cw, a, b, true, X87ArithmeticOp.SubReverse));

    [Fact]
    public void FdivrM32() => X87TestData.Check(oracle, 0x2E, "fdivr m32", Cases(8, false), (cw, a, b) => Compose(cw, a, b, false, X87ArithmeticOp.DivReverse));

    [Fact]
    public void FmulM32() => X87TestData.Check(oracle, 0x2F, "fmul m32", Cases(9, false), (cw, a, b) => Compose(cw, a, b, false, X87ArithmeticOp.Mul));

    [Fact]
    public void FiaddM32() => X87TestData.Check(oracle, 0x2B, "fiadd m32", Cases(4, false), (cw, a, b) =>
    {
        var s = new X87Status();
        var r = X87Arithmetic.Add(a, X87Convert.FromInt32((int)b.Significand), new X87Control(cw), ref s);
        return new(r, default, s.Word, 0);
    });

    [Fact]
    public void FcomM32() => X87TestData.Check(oracle, 0x2C, "fcom m32", Cases(5, false).Where(c => c.Item1 == 0x37F).ToList(), (cw, a, b) =>
    {
        var s = new X87Status();
        X87Compare.CompareMemory(a, b.Significand, false, false, ref s);
        return new(a, default, s.Word, 0);
    });

    [Fact]
    public void Ftst() => X87TestData.Check(oracle, 0x26, "ftst", X87TestData.Pairs(6, 5000, binary: false).Where(c => c.Cw == 0x37F).ToList(), (cw, a, b) =>
    {
        var s = new X87Status();
        X87Compare.Test(a, ref s);
        return new(a, default, s.Word, 0);
    });

    [Fact]
    public void FxamEmpty() => X87TestData.Check(oracle, 0x27, "fxam empty", [(0x37F, default, default)], (cw, a, b) =>
    {
        // After FNINIT every register is empty and holds +0.
        var s = new X87Status();
        X87Compare.Examine(Float80.Zero, true, ref s);
        return new(default, default, s.Word, 0);
    });
}
