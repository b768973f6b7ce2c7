using Wemu.Jit.Ir;

namespace Wemu.Jit;

/// <summary>A guest ISA's translator to IR: one instance per thread that translates (it keeps buffers).</summary>
public unsafe interface IGuestTranslator
{
    /// <summary>
    /// Translates the region entered at <paramref name="entryPc"/> in the guest mode
    /// <paramref name="mode"/> (<see cref="IJitFrontEnd{TCpu}.BlockMode"/>), from the host copy of its
    /// 4 KiB page at <paramref name="page"/>. <paramref name="include"/> says which other pcs of the
    /// page have run (region building may follow branches to them). With <paramref name="reuse"/>,
    /// the function returned is this translator's own buffer, valid until the next call.
    /// </summary>
    IrFunction Translate(ulong entryPc, ulong mode, byte* page, Func<ulong, bool> include, bool reuse);

    /// <summary>True if the instruction at <paramref name="pc"/> only runs in the interpreter (a region can never start there).</summary>
    bool IsInterpretedOnly(ulong pc, ulong mode, byte* page);
}
