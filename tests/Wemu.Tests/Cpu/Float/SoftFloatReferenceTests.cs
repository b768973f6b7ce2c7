using Wemu.Cpu.Float;
using Xunit;

namespace Wemu.Tests.Cpu.Float;

/// <summary>
/// Every SoftFloat operation against real RISC-V results (vectors/gen.sh runs
/// the F/D instructions under qemu-riscv64 in all five rounding modes and
/// records result and fflags).
/// </summary>
public class SoftFloatReferenceTests
{
    private static readonly string[] s_opNames =
    [
            "fadd.d", "fsub.d", "fmul.d", "fdiv.d", "fsqrt.d", "fmadd.d", "fmsub.d", "fnmadd.d", "fnmsub.d",
            "fmin.d", "fmax.d", "feq.d", "flt.d", "fle.d", "fclass.d",
            "fcvt.s.d", "fcvt.w.d", "fcvt.wu.d", "fcvt.l.d", "fcvt.lu.d",
            "fadd.s", "fsub.s", "fmul.s", "fdiv.s", "fsqrt.s", "fmadd.s", "fmsub.s", "fnmadd.s", "fnmsub.s",
            "fmin.s", "fmax.s", "feq.s", "flt.s", "fle.s", "fclass.s",
            "fcvt.d.s", "fcvt.w.s", "fcvt.wu.s", "fcvt.l.s", "fcvt.lu.s",
            "fcvt.d.w", "fcvt.d.wu", "fcvt.d.l", "fcvt.d.lu", "fcvt.s.w", "fcvt.s.wu", "fcvt.s.l", "fcvt.s.lu",
        "fmv.s.box",
    ];

    public static TheoryData<string> Ops() => new(s_opNames);

    [Theory]
    [MemberData(nameof(Ops))]
    public void MatchesRiscVReference(string op)
    {
        Assert.True(SoftFloatVectorFile.ByOp.TryGetValue(op, out var vectors), $"no vectors for {op}");
        Assert.NotEmpty(vectors);
        var (failed, report) = SoftFloatVectorFile.Check(vectors);
        Assert.True(failed == 0, $"{op}: {failed} of {vectors.Count} vectors differ (op rm a b c -> expected flags):\n{report}");
    }

    [Fact]
    public void EveryOpInTheFileIsChecked()
    {
        var known = s_opNames.ToHashSet();
        Assert.All(SoftFloatVectorFile.ByOp.Keys, op => Assert.Contains(op, known));
    }

    [Fact]
    public void CheckerReportsAWrongResultOrFlag()
    {
        // fadd.d RNE 1 + 2^-53 -> 1 inexact; a wrong expected result, and a
        // wrong expected flag set, must both be reported.
        var good = SoftFloatVectorFile.Parse("fadd.d 0 3ff0000000000000 3ca0000000000000 0 -> 3ff0000000000000 1");
        Assert.Equal(0, SoftFloatVectorFile.Check([good]).Failed);
        Assert.Equal(1, SoftFloatVectorFile.Check([good with { Result = 0x3ff0000000000001 }]).Failed);
        Assert.Equal(1, SoftFloatVectorFile.Check([good with { Flags = FloatFlags.None }]).Failed);
    }
}
