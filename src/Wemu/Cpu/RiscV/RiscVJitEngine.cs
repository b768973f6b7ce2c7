using Wemu.Jit;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The translating engine for a RISC-V hart: the guest-neutral <see cref="JitEngine{TCpu, TFrontEnd}"/>
/// over <see cref="RiscVJitFrontEnd"/> (the profiling <see cref="RiscVInterpreter"/>, <see cref="RiscVTranslator"/>,
/// the hart's MMU contexts and RVC's 2-byte alignment).
/// </summary>
public sealed class RiscVJitEngine(JitOptions? options = null)
    : JitEngine<RiscVHart, RiscVJitFrontEnd>(options, static hot => new RiscVJitFrontEnd(hot))
{
}
