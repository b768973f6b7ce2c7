namespace Wemu.Jit;

/// <summary>What an engine compiles regions to, chosen once from the options and the host.</summary>
public enum JitBackendKind
{
    /// <summary>IL in a DynamicMethod (<see cref="Il.IlBackend"/>): the JIT runtime compiles it.</summary>
    Il,
    /// <summary>x86-64 machine code (<see cref="X64.X64Backend"/>).</summary>
    X64,
    /// <summary>WebAssembly modules the host loads (<see cref="Wasm.WasmBackend"/>): the browser.</summary>
    Wasm,
}
