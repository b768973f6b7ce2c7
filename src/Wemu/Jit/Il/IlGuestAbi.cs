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

    /// <summary>log2 of the TLB entry size in bytes.</summary>
    public required int TlbEntryShift { get; init; }

    public required long TlbIndexMask { get; init; }

    public required int TlbReadTagOffset { get; init; }

    public required int TlbWriteTagOffset { get; init; }

    /// <summary>Offset of the host-minus-guest address delta in an entry.</summary>
    public required int TlbAddendOffset { get; init; }

    public int PageBits { get; init; } = 12;

    /// <summary>Flag bits a tag may carry that keep it from matching (validated by <see cref="TlbTagLayout.Check"/>).</summary>
    public required ulong TlbTagFlags { get; init; }
}
