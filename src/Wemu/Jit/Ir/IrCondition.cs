namespace Wemu.Jit.Ir;

/// <summary>Comparison conditions for <see cref="IrOp.Branch"/> and the compare ops.</summary>
public enum IrCondition : byte
{
    Eq,
    Ne,
    LtS,
    GeS,
    LtU,
    GeU,
}
