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
    /// <paramref name="nextPageBytes"/> (at most <see cref="CrossPageBytes"/>) bytes of the next page follow
    /// the page in the buffer: an instruction crossing into them may be translated, behind a run-time
    /// check that those bytes are still there.
    /// </summary>
    IrFunction Translate(ulong entryPc, ulong mode, byte* page, Func<ulong, bool> include, bool reuse, int nextPageBytes = 0);

    /// <summary>How many bytes of the next page the translator can use for instructions that cross the page's end (0: none).</summary>
    int CrossPageBytes { get; }

    /// <summary>True if the instruction at <paramref name="pc"/> only runs in the interpreter (a region can never start there).</summary>
    bool IsInterpretedOnly(ulong pc, ulong mode, byte* page);
}
