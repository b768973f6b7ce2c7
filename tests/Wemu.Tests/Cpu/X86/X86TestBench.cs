using Wemu.Cpu.X86;
using Wemu.Memory;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// Wemu's side of the differential tests: an <see cref="X86Cpu"/> in 64-bit user mode (CPL 3) with
/// the oracle's memory layout — code at <see cref="HostX86Oracle.CodeAddress"/>, data at
/// <see cref="HostX86Oracle.DataAddress"/> — mapped by 4-level page tables, and no IDT, so any
/// exception ends the run with its vector.
/// </summary>
public sealed unsafe class X86TestBench : IDisposable
{
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, PtCode = 0x4000, PtData = 0x5000;
    private const ulong CodePhys = 0x10_0000, DataPhys = 0x20_0000, GdtPhys = 0x6000;
    private const ulong UserCode = 0x00AF_FB00_0000_FFFF, UserData = 0x00CF_F300_0000_FFFF;

    private readonly PhysicalBus _bus = new();
    private readonly GuestRam _ram;

    public X86TestBench(X86CpuModel? model = null)
    {
        _ram = _bus.AddRam(0, 16 << 20);
        Cpu = new X86Cpu(_bus, model);
        W64(Pml4, Pdpt | 7);
        W64(Pdpt, Pd | 7);
        W64(Pd + 0x100 * 8, PtCode | 7);
        W64(Pd + 0x180 * 8, PtData | 7);
        for (ulong i = 0; i < 2; i++)
            W64(PtCode + i * 8, (CodePhys + i * 0x1000) | 7);
        for (ulong i = 0; i < HostX86Oracle.DataSize / 0x1000; i++)
            W64(PtData + i * 8, (DataPhys + i * 0x1000) | 7);
        W64(GdtPhys + 0x28, UserData);
        W64(GdtPhys + 0x30, UserCode);
    }

    public X86Cpu Cpu { get; }

    /// <summary>With <c>wholeProgram</c>: run through this engine (the JIT) instead of the interpreter alone.</summary>
    public X86JitEngine? Engine { get; set; }

    private void W64(ulong pa, ulong v) => *(ulong*)(_ram.Pointer + pa) = v;

    /// <param name="setup">Changes to the CPU after the state is loaded (control registers the host cannot vary).</param>
    /// <param name="wholeProgram">Run the program with one <see cref="X86Cpu.Run"/> call up to a HLT placed
    /// after it (which faults at CPL 3 and so ends the run), rather than one instruction per call.</param>
    public X86TestOutcome Run(byte[] code, X86TestState state, byte[] data, int maxSteps = 100_000, Action<X86Cpu>? setup = null, bool wholeProgram = false)
    {
        new Span<byte>(_ram.Pointer + CodePhys, 0x2000).Clear();
        code.CopyTo(new Span<byte>(_ram.Pointer + CodePhys, code.Length));
        if (wholeProgram)
            _ram.Pointer[CodePhys + (ulong)code.Length] = 0xF4;
        data.CopyTo(new Span<byte>(_ram.Pointer + DataPhys, HostX86Oracle.DataSize));
        _bus.NotifyWrite(CodePhys, 0x2000); // as a loader does: decoded blocks of the last program go
        _bus.NotifyWrite(DataPhys, HostX86Oracle.DataSize);
        var cpu = Cpu;
        cpu.Reset();
        cpu.Cr4 |= X86Cpu.Cr4Osfxsr | X86Cpu.Cr4Osxmmexcpt;
        cpu.EnterLongMode(HostX86Oracle.CodeAddress, Pml4, GdtPhys, 0x3F, 0x33, UserCode, 0x2B, UserData);
        for (int i = 0; i < 16; i++)
            cpu.SetRegister(i, state.Gpr[i]);
        for (int i = 0; i < 16; i++)
            cpu.SetXmm(i, state.Xmm[2 * i], state.Xmm[2 * i + 1]);
        cpu.Mxcsr = (uint)state.Mxcsr;
        for (int i = 0; i < 8; i++)
            cpu.Fpu.SetMmx(i, state.X87[2 * i]); // as the oracle: MOVQ to MM0-MM7, then EMMS
        cpu.Fpu.TagWord = 0xFFFF;
        cpu.SetFlags(state.Rflags | X86Cpu.FlagIf);
        setup?.Invoke(cpu);
        cpu.LastException = (-1, 0);
        ulong end = HostX86Oracle.CodeAddress + (ulong)code.Length;
        int vector = -1;
        ulong error = 0;
        if (wholeProgram)
        {
            if (Engine != null)
            {
                long n = 0;
                for (int calls = 0; n < maxSteps && !cpu.IsHalted && !cpu.ShutdownRequested; calls++)
                {
                    if (calls > maxSteps)
                        throw new InvalidOperationException($"the engine made no progress: rip {cpu.ProgramCounter:x}, {cpu.InstructionsRetired} retired, rcx {cpu.GetRegister(1):x} rsi {cpu.GetRegister(6):x} flags {cpu.Flags:x} backend {Engine.Backend}");
                    n += Engine.Run(cpu, maxSteps - n);
                }
            }
            else
            {
                cpu.Run(maxSteps);
            }
            (vector, uint e) = cpu.LastException;
            error = e;
            if (vector == X86Cpu.VectorGp && cpu.ProgramCounter == end)
                vector = -1; // the HLT after the program
        }
        for (int step = 0; !wholeProgram && step < maxSteps && cpu.ProgramCounter != end; step++)
        {
            cpu.Run(1);
            if (cpu.LastException.Vector >= 0)
            {
                (vector, uint e) = cpu.LastException;
                error = e;
                break;
            }
        }
        var final = new X86TestState { Rflags = cpu.Flags, Mxcsr = cpu.Mxcsr };
        var fpu = cpu.Fpu;
        for (int i = 0; i < 8; i++)
        {
            final.X87[2 * i] = fpu.St(i).Significand;
            final.X87[2 * i + 1] = fpu.St(i).SignExponent;
        }
        int abridged = 0;
        for (int p = 0; p < 8; p++)
            if (fpu.Tag(p) != Wemu.Cpu.X86.Fpu.X87State.TagEmpty)
                abridged |= 1 << p;
        final.Fpu = fpu.Control | ((ulong)fpu.Status << 16) | ((ulong)abridged << 32);
        for (int i = 0; i < 16; i++)
            final.Gpr[i] = cpu.GetRegister(i);
        for (int i = 0; i < 16; i++)
            (final.Xmm[2 * i], final.Xmm[2 * i + 1]) = cpu.GetXmm(i);
        var memory = new Span<byte>(_ram.Pointer + DataPhys, HostX86Oracle.DataSize).ToArray();
        return new X86TestOutcome(vector, error, cpu.ProgramCounter, final, memory);
    }

    public void Dispose()
    {
        Cpu.Dispose();
        _ram.Dispose();
    }
}
