using Wemu.Cpu.Float;

namespace Wemu.Tests.Cpu.Float;

/// <summary>One line of vectors/softfloat-vectors.txt.gz: <c>op rm a b c -> result flags</c>.</summary>
internal readonly record struct SoftFloatVector(string Op, RoundingMode Rm, ulong A, ulong B, ulong C, ulong Result, FloatFlags Flags)
{
    public override string ToString() =>
        $"{Op} {(int)Rm} {A:x} {B:x} {C:x} -> {Result:x} {(int)Flags:x}";
}
