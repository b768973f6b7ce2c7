namespace Wemu.Jit;

/// <summary>Why a compiled function returned (the exit record of <see cref="Wasm.WasmContext"/> and <see cref="X64.X64Context"/>), the same for every backend that leaves through exit records.</summary>
public enum CodeExit
{
    /// <summary>Continue at the exit pc (not chained inside generated code: budget spent or the next function unknown).</summary>
    Chain = 0,
    /// <summary>Interpret the instruction at the exit pc (untranslated), then return to the machine loop.</summary>
    Interpret = 1,
    /// <summary>Return to the machine loop.</summary>
    Stop = 2,
    /// <summary>
    /// The instruction at the exit pc needs the slow path (TLB miss, MMIO, misaligned, code page,
    /// atomic, F/D): interpret it; keep dispatching unless it trapped or touched a device.
    /// </summary>
    Slow = 3,
}
