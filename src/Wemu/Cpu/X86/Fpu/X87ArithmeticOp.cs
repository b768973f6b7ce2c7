namespace Wemu.Cpu.X86.Fpu;

/// <summary>The two-operand x87 arithmetic group (the reg field of opcodes D8/DC/DA/DE, minus the compares).</summary>
public enum X87ArithmeticOp
{
    /// <summary>FADD: ST(0) + operand.</summary>
    Add,

    /// <summary>FMUL: ST(0) * operand.</summary>
    Mul,

    /// <summary>FSUB: ST(0) - operand.</summary>
    Sub,

    /// <summary>FSUBR: operand - ST(0).</summary>
    SubReverse,

    /// <summary>FDIV: ST(0) / operand.</summary>
    Div,

    /// <summary>FDIVR: operand / ST(0).</summary>
    DivReverse,
}
