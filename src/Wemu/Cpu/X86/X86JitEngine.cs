using Wemu.Jit;

namespace Wemu.Cpu.X86;

/// <summary>
/// The translating engine for an x86-64 CPU: the guest-neutral <see cref="JitEngine{TCpu, TFrontEnd}"/>
/// over <see cref="X86JitFrontEnd"/> (the interpreter with its decoded blocks, <see cref="X86Translator"/>,
/// the CPU's MMU contexts).
/// </summary>
public sealed class X86JitEngine(JitOptions? options = null)
    : JitEngine<X86Cpu, X86JitFrontEnd>(options, static hot => new X86JitFrontEnd(hot))
{
}
