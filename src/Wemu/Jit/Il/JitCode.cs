namespace Wemu.Jit.Il;

/// <summary>
/// A compiled function: runs guest code with the guest registers at <paramref name="regs"/> and the
/// data soft TLB at <paramref name="tlb"/>, until an exit or until <paramref name="budget"/>
/// instructions have retired at a loop back-edge. Returns the instructions retired, with the
/// <see cref="IlExit"/> bits saying what the dispatcher does next.
/// </summary>
public unsafe delegate long JitCode<TState>(TState state, ulong* regs, byte* tlb, long budget);
