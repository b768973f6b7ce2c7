using Wemu.Snapshot;

namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart : IStateful<RiscVHart>
{
    /// <summary>
    /// The architectural state (QEMU's vmstate_riscv_cpu): x and f, pc, the retired count, privilege, every CSR
    /// Wemu implements, PMP, the LR reservation and WFI. Not saved: the TLBs and the engines' cached translations
    /// (flushed on load), the fetch page (each engine run starts without one), pending exceptions (none between
    /// slices).
    /// </summary>
    static VmState<RiscVHart> IStateful<RiscVHart>.State { get; } = new VmState<RiscVHart>("riscv-hart", 1)
        .U64s("x", h => new Span<ulong>(h.X, 32))
        .U64s("f", h => new Span<ulong>(h.F, 32))
        .U64("pc", h => ref h.Pc)
        .U64("instret", h => ref h.InstRet)
        .I32("priv", h => ref h.Priv)
        .U64("mstatus", h => ref h.Mstatus)
        .U64("medeleg", h => ref h.Medeleg)
        .U64("mideleg", h => ref h.Mideleg)
        .U64("mie", h => ref h.Mie)
        .U64("mip-soft", h => ref h.MipSoft)
        .U64("mip-pins", h => ref h.MipPins)
        .U64("mtvec", h => ref h.Mtvec)
        .U64("mscratch", h => ref h.Mscratch)
        .U64("mepc", h => ref h.Mepc)
        .U64("mcause", h => ref h.Mcause)
        .U64("mtval", h => ref h.Mtval)
        .U64("stvec", h => ref h.Stvec)
        .U64("sscratch", h => ref h.Sscratch)
        .U64("sepc", h => ref h.Sepc)
        .U64("scause", h => ref h.Scause)
        .U64("stval", h => ref h.Stval)
        .U64("satp", h => ref h.Satp)
        .U32("mcounteren", h => ref h.Mcounteren)
        .U32("scounteren", h => ref h.Scounteren)
        .U32("mcountinhibit", h => ref h.Mcountinhibit)
        .U64("menvcfg", h => ref h.Menvcfg)
        .U64("senvcfg", h => ref h.Senvcfg)
        .U32("fflags", h => ref h.Fflags)
        .U32("frm", h => ref h.Frm)
        .U64s("pmpaddr", h => h.PmpAddr)
        .Bytes("pmpcfg", h => h.PmpCfg)
        .U64("reservation", h => ref h.ReservationAddress)
        .Field("wfi", (h, w) => w.Bool(h.IsWaiting), (h, r) => h.IsWaiting = r.Bool())
        .PreSave(h =>
        {
            if (h.InstRetInFlight != 0)
                throw new InvalidOperationException("a hart is saved only between slices");
        })
        .PostLoad(h =>
        {
            if (h.Priv is not (PrivUser or PrivSupervisor or PrivMachine))
                throw new SnapshotException($"snapshot: privilege level {h.Priv} is not one of U, S, M");
            h.X[0] = 0;
            h.FlushTlb();
        });
}
