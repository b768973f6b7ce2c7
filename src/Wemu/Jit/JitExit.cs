using Wemu.Jit.Ir;

namespace Wemu.Jit;

/// <summary>The encoding of a compiled function's return value: instruction count plus exit bits.</summary>
public static class JitExit
{
    public const long StopBit = 1L << 62;
    public const long InterpretBit = 1L << 61;
    public const long CountMask = InterpretBit - 1;

    public static long BitsFor(IrExitKind kind) => kind switch
    {
        IrExitKind.Stop => StopBit,
        IrExitKind.Interpret => InterpretBit,
        _ => 0,
    };
}
