using System.Reflection;

namespace Wemu.Jit.Il;

/// <summary>
/// What the IL backend needs to know about a guest CPU's state object: where its pc and its
/// "touched a device" flag live, its soft-TLB layout, and the slow paths and helpers to call.
/// Slow paths: <c>bool LoadSlow(TState, ulong va, int size, out ulong value)</c>,
/// <c>bool StoreSlow(TState, ulong va, int size, ulong value)</c>, <c>void RaiseException(TState)</c>
/// (takes the exception the failed slow path recorded); helpers:
/// <c>bool Helper(TState, ulong a, ulong b, long imm)</c>.
/// </summary>
public sealed class IlGuestAbi
{
    public required Type StateType { get; init; }

    public required FieldInfo PcField { get; init; }

    /// <summary>A ulong field set to the instructions retired so far before every slow path (device clocks read it).</summary>
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
}
