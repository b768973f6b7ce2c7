using Wemu.Jit.Il;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// A hot entry point of guest code at one (virtual, physical) pc and its compiled region.
/// </summary>
internal sealed class RiscVBlock
{
    public required ulong VirtualPc { get; init; }

    public required ulong PhysicalPc { get; init; }

    /// <summary>Never compile: it starts with an instruction only the interpreter runs, or its page keeps being rewritten.</summary>
    public bool NoCompile { get; set; }

    public JitCode<RiscVHart>? Code;

    /// <summary>Handed to the background worker, which translates and compiles it and then sets <see cref="Prepared"/>.</summary>
    public bool Requested;

    /// <summary>Compiled code prepared on another thread (null if translation failed); becomes <see cref="Code"/> once <see cref="Prepared"/>.</summary>
    public JitCode<RiscVHart>? Pending;

    public volatile bool Prepared;

    /// <summary>With the WebAssembly backend: the compiled function's table index (0: none).</summary>
    public int WasmIndex;

    /// <summary>With the x86-64 backend: the compiled code's entry point (0: none).</summary>
    public nint NativeEntry;

    /// <summary>Bytes of generated code the block holds in the cache (x86-64 code, IL, or a wasm module).</summary>
    public int CodeSize;

    public int GuestInstructions;

    /// <summary>The compiled code has run once (the runtime compiled it to native code then).</summary>
    public bool Ran;
}
