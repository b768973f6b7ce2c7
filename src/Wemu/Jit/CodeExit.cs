namespace Wemu.Jit;

/// <summary>
/// Why compiled code returned: the one exit vocabulary of the IR (<see cref="Ir.IrOp.Exit"/>) and of
/// every backend. The x86-64 and WebAssembly backends write it to the exit record of the
/// <see cref="ExitContext"/>; the IL backend encodes it in its return value (<see cref="Il.IlExit"/>).
/// </summary>
public enum CodeExit : byte
{
    /// <summary>Continue at the exit pc (not chained inside generated code: budget spent or the next function unknown).</summary>
    Chain = 0,
    /// <summary>Interpret the instruction at the exit pc (untranslated), then return to the machine loop.</summary>
    Interpret = 1,
    /// <summary>Return to the machine loop (a trap was taken or state the loop watches changed).</summary>
    Stop = 2,
    /// <summary>
    /// The instruction at the exit pc needs the slow path (TLB miss, MMIO, misaligned, code page,
    /// helper): interpret it; keep dispatching unless it trapped or touched a device. Backends
    /// produce it; translators never write it (the IL backend calls its slow paths instead).
    /// </summary>
    Slow = 3,
}
