using Wemu.Jit;
using Wemu.Jit.Il;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The hart's side of compiled code: slow paths and helpers the IL calls, and the
/// <see cref="IlGuestAbi"/> that tells the backend where things are.
/// </summary>
internal static unsafe class RiscVJitHelpers
{
    public const int HelperAtomic = 0, HelperFloat = 1;

    /// <summary>Compiled code keeps the pc and the retired count in registers: a slow path that may trap
    /// or read a clock first puts them where the hart and the devices look.</summary>
    private static void At(RiscVHart h, ulong pc, ulong retired)
    {
        h.Pc = pc;
        h.InstRetInFlight = retired;
    }

    public static bool LoadSlow(RiscVHart h, ulong va, int size, ulong pc, ulong retired, out ulong value)
    {
        At(h, pc, retired);
        return h.LoadSlow(va, size, out value);
    }

    public static bool StoreSlow(RiscVHart h, ulong va, int size, ulong value, ulong pc, ulong retired)
    {
        At(h, pc, retired);
        return h.StoreSlow(va, size, value);
    }

    public static void RaiseException(RiscVHart h) => h.TakePendingException();

    /// <summary>LR/SC and AMOs: <paramref name="imm"/> is the instruction, <paramref name="op"/> its <see cref="RvOp"/>.</summary>
    public static bool Atomic(RiscVHart h, ulong op, ulong unused, long imm, ulong pc, ulong retired)
    {
        At(h, pc, retired);
        bool ok = h.ExecAtomic((uint)imm, (RvOp)op);
        h.X[0] = 0;
        return ok;
    }

    /// <summary>F and D instructions, executed by the hart's reference implementation.</summary>
    public static bool Float(RiscVHart h, ulong op, ulong unused, long imm, ulong pc, ulong retired)
    {
        At(h, pc, retired);
        bool ok = h.ExecFloat((uint)imm, (RvOp)op, h.TlbFor(h.DataMmuContext));
        h.X[0] = 0;
        return ok;
    }

    /// <summary>For the x86-64 and WebAssembly backends: the soft TLB, and RVC's 2-byte instruction alignment in the jump-cache hash.</summary>
    public static readonly GuestCodeAbi CodeAbi = new()
    {
        Tlb = RiscVHart.TlbLayout,
        PcAlignShift = 1,
    };

    public static readonly IlGuestAbi IlAbi = IlGuestAbi.ForCore(typeof(RiscVHart), typeof(RiscVJitHelpers), RiscVHart.TlbLayout, nameof(Atomic), nameof(Float));
}
