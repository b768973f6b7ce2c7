using Wemu.Snapshot;

namespace Wemu.Cpu.X86;

public sealed unsafe partial class X86Cpu : IStateful<X86Cpu>
{
    /// <summary>The CPU model is part of the layout: a file resumes only on the same model.</summary>
    string IStateful.StateLayout => $"x86-cpu/{Model.Name}";

    /// <summary>
    /// The architectural state: the register file (general registers, the lazy flags, RFLAGS, the six segment
    /// registers, XMM), rip, the retired count, LDTR/TR, the descriptor tables, control, debug and model-specific
    /// registers, CPL, the TSC offset, HLT and the interrupt shadow, and the x87/MMX/MXCSR state as an FXSAVE image.
    /// Not saved: TLBs, decoded blocks and compiled code (dropped on load), the fetch page.
    /// </summary>
    static VmState<X86Cpu> IStateful<X86Cpu>.State { get; } = new VmState<X86Cpu>("x86-cpu", 1)
        .U64s("registers", c => new Span<ulong>(c.Registers, RegisterSlots))
        .U64("rip", c => ref c.Pc)
        .U64("instret", c => ref c.InstRet)
        .Field("ldtr", (c, w) => WriteSegment(w, c.Ldtr), (c, r) => c.Ldtr = ReadSegment(r))
        .Field("tr", (c, w) => WriteSegment(w, c.Tr), (c, r) => c.Tr = ReadSegment(r))
        .U64("gdt-base", c => ref c.GdtBase)
        .U16("gdt-limit", c => ref c.GdtLimit)
        .U64("idt-base", c => ref c.IdtBase)
        .U16("idt-limit", c => ref c.IdtLimit)
        .U64("cr0", c => ref c.Cr0)
        .U64("cr2", c => ref c.Cr2)
        .U64("cr3", c => ref c.Cr3)
        .U64("cr4", c => ref c.Cr4)
        .U64("cr8", c => ref c.Cr8)
        .U64("efer", c => ref c.Efer)
        .U64("star", c => ref c.Star)
        .U64("lstar", c => ref c.Lstar)
        .U64("cstar", c => ref c.Cstar)
        .U64("sfmask", c => ref c.Sfmask)
        .U64("kernel-gs-base", c => ref c.KernelGsBase)
        .U64("tsc-aux", c => ref c.TscAux)
        .U64("pat", c => ref c.Pat)
        .U64("sysenter-cs", c => ref c.SysenterCs)
        .U64("sysenter-esp", c => ref c.SysenterEsp)
        .U64("sysenter-eip", c => ref c.SysenterEip)
        .U64s("dr", c => c._debugScratch.AsSpan())
        .U32("mxcsr", c => ref c.Mxcsr)
        .I32("cpl", c => ref c.Cpl)
        .Field("tsc-offset", (c, w) => w.I64(c._tscOffset), (c, r) => c._tscOffset = r.I64())
        .Field("halted", (c, w) => w.Bool(c.IsHalted), (c, r) => c.IsHalted = r.Bool())
        .Bool("interrupt-shadow", c => ref c.InterruptShadow)
        .Field("fxsave", (c, w) =>
        {
            var area = new byte[Wemu.Cpu.X86.Fpu.X87State.FxSaveSize];
            c.Fpu.FxSave(area);
            w.Blob(area);
        }, (c, r) =>
        {
            var area = r.Blob(Wemu.Cpu.X86.Fpu.X87State.FxSaveSize);
            if (area.Length != Wemu.Cpu.X86.Fpu.X87State.FxSaveSize || !c.Fpu.FxRestore(area.Span))
                throw new SnapshotException($"snapshot: {r.Where}: the x87/SSE state is not one FXRSTOR takes");
        })
        .PreSave(c =>
        {
            if (c.InstRetInFlight != 0)
                throw new InvalidOperationException("a CPU is saved only between slices");
            c._debugScratch = [c.Dr0, c.Dr1, c.Dr2, c.Dr3, c.Dr6, c.Dr7];
        })
        .PostLoad(c =>
        {
            (c.Dr0, c.Dr1, c.Dr2, c.Dr3, c.Dr6, c.Dr7) = (c._debugScratch[0], c._debugScratch[1], c._debugScratch[2], c._debugScratch[3], c._debugScratch[4], c._debugScratch[5]);
            if ((uint)c.Cpl > 3)
                throw new SnapshotException($"snapshot: CPL {c.Cpl} is not a privilege level");
            c.ClearBlocks();
            c.FlushTlb(global: true);
            c.UpdateMode();
            c._checkInterrupts = true;
        });

    /// <summary>DR0-3, DR6, DR7 in one array for the description (loaded into the registers after).</summary>
    private ulong[] _debugScratch = new ulong[6];

    private static void WriteSegment(StateWriter w, X86Segment s)
    {
        w.U16(s.Selector);
        w.U64(s.Base);
        w.U32(s.Limit);
        w.U16(s.Attributes);
    }

    private static X86Segment ReadSegment(StateReader r) => new() { Selector = r.U16(), Base = r.U64(), Limit = r.U32(), Attributes = r.U16() };
}
