using System.Reflection;

namespace Wemu.Jit.Il;

/// <summary>
/// What the IL backend needs to know about a guest CPU's state object: where its pc and its
/// "touched a device" flag live, its soft-TLB layout, and the slow paths and helpers to call.
/// Slow paths: <c>bool LoadSlow(TState, ulong va, int size, ulong pc, ulong retired, out ulong value)</c>,
/// <c>bool StoreSlow(TState, ulong va, int size, ulong value, ulong pc, ulong retired)</c>; helpers:
/// <c>bool Helper(TState, ulong a, ulong b, long imm, ulong pc, ulong retired)</c>. Each first stores
/// <c>pc</c> in <see cref="PcField"/> and <c>retired</c> (instructions retired before this one) in
/// <see cref="InstructionsInFlightField"/>; on false (a guest exception recorded) compiled code calls
/// <c>void RaiseException(TState)</c> and returns the in-flight count with the stop bit.
/// </summary>
public sealed class IlGuestAbi
{
    public required Type StateType { get; init; }

    public required FieldInfo PcField { get; init; }

    /// <summary>A ulong field holding the instructions retired before the current slow path (device clocks read it).</summary>
    public required FieldInfo InstructionsInFlightField { get; init; }

    public required MethodInfo LoadSlow { get; init; }

    public required MethodInfo StoreSlow { get; init; }

    public required MethodInfo RaiseException { get; init; }

    public required MethodInfo[] Helpers { get; init; }

    /// <summary>The soft TLB's layout (shared with <see cref="GuestCodeAbi"/>).</summary>
    public required SoftTlbLayout Tlb { get; init; }
}
