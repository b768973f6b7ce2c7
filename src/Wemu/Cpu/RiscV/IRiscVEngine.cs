namespace Wemu.Cpu.RiscV;

/// <summary>An execution engine for a RISC-V hart: the interpreter, or a translating JIT.</summary>
public interface IRiscVEngine
{
    string Name { get; }

    /// <summary>Runs at most <paramref name="budget"/> instructions; returns how many retired.</summary>
    long Run(RiscVHart hart, long budget);
}
