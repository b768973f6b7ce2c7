namespace Wemu.Jit.Il;

/// <summary>
/// How IL code returns a <see cref="CodeExit"/>: the instructions retired in the low bits, the
/// kind in two high bits (no bit: <see cref="CodeExit.Chain"/>). IL calls its slow paths itself, so
/// it never returns <see cref="CodeExit.Slow"/>.
/// </summary>
public static class IlExit
{
    public const long StopBit = 1L << 62;
    public const long InterpretBit = 1L << 61;
    public const long CountMask = InterpretBit - 1;

    public static long BitsFor(CodeExit kind) => kind switch
    {
        CodeExit.Stop => StopBit,
        CodeExit.Interpret => InterpretBit,
        _ => 0,
    };

    public static CodeExit KindOf(long result) =>
        (result & StopBit) != 0 ? CodeExit.Stop : (result & InterpretBit) != 0 ? CodeExit.Interpret : CodeExit.Chain;
}
