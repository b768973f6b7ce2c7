namespace Wemu.Cpu;

/// <summary>An execution engine for a guest CPU: its interpreter, or a translating JIT (<see cref="Jit.JitEngine{TCpu, TFrontEnd}"/>).</summary>
public interface ICpuEngine<in TCpu> where TCpu : CpuCore
{
    string Name { get; }

    /// <summary>Runs at most <paramref name="budget"/> instructions; returns how many retired.</summary>
    long Run(TCpu cpu, long budget);
}
