using System.Runtime.InteropServices;
using Wemu.Jit;
using Wemu.Jit.Il;

namespace Wemu.Cpu.X86;

/// <summary>
/// The x86 CPU's side of compiled code for the IL backend: slow paths and the one helper (an
/// instruction the translator leaves to the decoding interpreter), and the ABIs that tell the
/// backends where things are. The x86-64 and WebAssembly backends call nothing: their slow paths
/// and helpers are exits the engine runs in the interpreter.
/// </summary>
internal static unsafe class X86JitHelpers
{
    /// <summary>Helper 0: run the instruction at the pc in the interpreter; <c>a</c> is the next instruction's address.</summary>
    public const int HelperExecute = 0;

    /// <summary>The x86-64 backend's TLB refill (<see cref="GuestCodeAbi.TlbFillHelper"/>).</summary>
    public const int TlbFill = 0xFFFF;

    /// <summary>
    /// The helper's immediate: how the instruction was decoded at translation (<see cref="PlanKindShift"/>
    /// and up: the kind; 0 decodes it again at run time). A string operation carries its opcode
    /// (bits 0-7), operand and address sizes (8-11, 12-15), REP prefix (16-23) and segment + 1 (24-27).
    /// </summary>
    public const int PlanKindShift = 32;
    public const long PlanString = 1, PlanRdtsc = 2;

    public static bool LoadSlow(X86Cpu c, ulong va, int size, ulong pc, ulong retired, out ulong value) =>
        c.JitLoad(va, size, pc, retired, out value);

    public static bool StoreSlow(X86Cpu c, ulong va, int size, ulong value, ulong pc, ulong retired) =>
        c.JitStore(va, size, value, pc, retired);

    public static void RaiseException(X86Cpu c) => c.DeliverPendingException();

    public static bool Execute(X86Cpu c, ulong next, ulong unused, long imm, ulong pc, ulong retired) =>
        c.JitExecute(pc, next, retired, imm);

    /// <summary>
    /// The x86-64 backend's helper calls (<see cref="GuestCodeAbi.HelperCall"/>): runs the helper with
    /// the arguments compiled code left in the exit context; on a guest exception (or a stop) it
    /// delivers it and leaves the pc to go on at for the code's stop exit.
    /// </summary>
    [UnmanagedCallersOnly]
    private static int CallFromCode(byte* ctx)
    {
        var c = (X86Cpu)GCHandle.FromIntPtr(*(nint*)(ctx + ExitContext.State)).Target!;
        if (*(long*)(ctx + ExitContext.HelperIndex) == TlbFill)
            return c.JitFillTlb(*(ulong*)(ctx + ExitContext.HelperA), *(long*)(ctx + ExitContext.HelperB)) ? 1 : 0;
        bool ok = c.JitExecute(*(ulong*)(ctx + ExitContext.HelperPc), *(ulong*)(ctx + ExitContext.HelperA), *(ulong*)(ctx + ExitContext.HelperRetired),
            *(long*)(ctx + ExitContext.HelperImm));
        if (!ok)
        {
            c.DeliverPendingException();
            *(ulong*)(ctx + ExitContext.ExitPc) = c.Pc;
        }
        c.InstRetInFlight = 0; // (the count lives in the code's register until it exits)
        return ok ? 1 : 0;
    }

    /// <summary>The soft TLB (one table of <see cref="X86Cpu.TlbSize"/> entries per MMU context).</summary>
    public static readonly SoftTlbLayout TlbLayout = SoftTlbLayout.OfTlbEntries(X86Cpu.TlbBits) with { Misaligned = true };

    public static readonly GuestCodeAbi CodeAbi = new()
    {
        Tlb = TlbLayout,
        PcAlignShift = 0,
        HelperCall = (nint)(delegate* unmanaged<byte*, int>)&CallFromCode,
        TlbFillHelper = TlbFill,
    };

    public static readonly IlGuestAbi IlAbi = IlGuestAbi.ForCore(typeof(X86Cpu), typeof(X86JitHelpers), TlbLayout, nameof(Execute));
}
