using Wemu.Cpu;
using Wemu.Jit.Il;

namespace Wemu.Jit;

/// <summary>
/// A hot entry point of guest code, keyed by (virtual pc, physical pc, mode), and its compiled
/// region: an entry address (x86-64 code, or a wasm function-table index) or an IL delegate.
/// </summary>
public sealed class TranslatedBlock<TCpu> where TCpu : CpuCore
{
    public required ulong VirtualPc { get; init; }

    public required ulong PhysicalPc { get; init; }

    /// <summary>The guest mode it was translated for (<see cref="IJitFrontEnd{TCpu}.BlockMode"/>).</summary>
    public required ulong Mode { get; init; }

    /// <summary>Never compile: it starts with an instruction only the interpreter runs, or its page keeps being rewritten.</summary>
    public bool NoCompile { get; set; }

    /// <summary>x86-64: the compiled code's entry point; WebAssembly: its function-table index (0: none).</summary>
    public nint Entry;

    /// <summary>IL: the compiled function (null: none).</summary>
    public JitCode<TCpu>? Code;

    /// <summary>IL: handed to the background worker, which translates and compiles it and then sets <see cref="Prepared"/>.</summary>
    public bool Requested;

    /// <summary>IL: compiled code prepared on another thread (null if translation failed); becomes <see cref="Code"/> once <see cref="Prepared"/>.</summary>
    public JitCode<TCpu>? Pending;

    public volatile bool Prepared;

    /// <summary>IL: the compiled code has run once (the runtime compiled it to native code then).</summary>
    public bool Ran;

    /// <summary>Bytes of generated code the block holds in the cache (x86-64 code, IL, or a wasm module).</summary>
    public int CodeSize;

    public int GuestInstructions;

    /// <summary>True when it can run (compiled, and installed).</summary>
    public bool IsRunnable => Entry != 0 || Code != null;
}
