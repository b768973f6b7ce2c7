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

    /// <summary>
    /// The ABI of a guest CPU on <see cref="Cpu.CpuCore"/> (its pc and in-flight count) whose slow
    /// paths are public static methods <c>LoadSlow</c>, <c>StoreSlow</c> and <c>RaiseException</c> of
    /// <paramref name="helpers"/>, with the helpers named in <paramref name="helperNames"/> (by number).
    /// </summary>
    public static IlGuestAbi ForCore(Type stateType, [System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicMethods)] Type helpers,
        SoftTlbLayout tlb, params string[] helperNames)
    {
        static FieldInfo Field(string name) =>
            typeof(Cpu.CpuCore).GetField(name, BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new MissingFieldException(nameof(Cpu.CpuCore), name);
        MethodInfo Method(string name) =>
            helpers.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
            ?? throw new MissingMethodException(helpers.Name, name);
        return new IlGuestAbi
        {
            StateType = stateType,
            PcField = Field(nameof(Cpu.CpuCore.Pc)),
            InstructionsInFlightField = Field(nameof(Cpu.CpuCore.InstRetInFlight)),
            LoadSlow = Method("LoadSlow"),
            StoreSlow = Method("StoreSlow"),
            RaiseException = Method("RaiseException"),
            Helpers = [.. helperNames.Select(Method)],
            Tlb = tlb,
        };
    }
}
