namespace Wemu.Jit.Wasm;

/// <summary>
/// The host's side of the WebAssembly backend (the browser host implements it with a JS import):
/// instantiates generated modules against the runtime's own memory and function table and makes
/// their exported <c>f</c> callable from C# as <c>delegate* unmanaged&lt;int, int, int&gt;</c>.
/// </summary>
public unsafe interface IWasmCodeLoader
{
    /// <summary>
    /// Compiles and instantiates the module at <paramref name="module"/> (imports <c>m.h</c>: the
    /// memory, <c>m.t</c>: the function table) and puts its <c>f</c> in the function table; returns
    /// the table index (a function pointer), or 0 if it could not.
    /// </summary>
    int Load(byte* module, int length);

    /// <summary>Frees a table index <see cref="Load"/> returned; its function is never called again.</summary>
    void Release(int index);
}
