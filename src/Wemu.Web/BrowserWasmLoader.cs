using System.Runtime.InteropServices.JavaScript;
using System.Runtime.Versioning;
using Wemu.Jit.Wasm;

namespace Wemu.Web;

/// <summary>
/// Loads the JIT's generated WebAssembly in the page's worker (wwwroot/worker.js, module
/// "wemu-jit"): the module is compiled and instantiated synchronously against the runtime's own
/// memory and function table, and its function lands in a table slot, which C# calls as a
/// function pointer (BROWSER.md, "Generating WebAssembly at run time").
/// </summary>
[SupportedOSPlatform("browser")]
internal sealed unsafe partial class BrowserWasmLoader : IWasmCodeLoader
{
    public static readonly BrowserWasmLoader Instance = new();

    [JSImport("load", "wemu-jit")]
    private static partial int LoadModule(int address, int length);

    [JSImport("release", "wemu-jit")]
    private static partial void ReleaseSlot(int index);

    /// <summary>The runtime's WebAssembly memory size in bytes (for <see cref="Wemu.Memory.GuestRam.HeapEnd"/>).</summary>
    [JSImport("heapEnd", "wemu-jit")]
    internal static partial double HeapEnd();

    public int Load(byte* module, int length) => LoadModule((int)module, length);

    public void Release(int index) => ReleaseSlot(index);
}
