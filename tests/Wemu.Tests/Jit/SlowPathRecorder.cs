using System.Reflection;
using Wemu.Jit;
using Wemu.Jit.Il;

namespace Wemu.Tests.Jit;

/// <summary>A guest state for the IL backend whose slow paths only record where they were called (and do nothing).</summary>
public sealed class SlowPathRecorder
{
    public ulong Pc, InFlight, SlowAt;

    public static bool LoadSlow(SlowPathRecorder s, ulong va, int size, ulong pc, ulong retired, out ulong value)
    {
        s.SlowAt = pc;
        value = 0;
        return true;
    }

    public static bool StoreSlow(SlowPathRecorder s, ulong va, int size, ulong value, ulong pc, ulong retired)
    {
        s.SlowAt = pc;
        return true;
    }

    public static void RaiseException(SlowPathRecorder s) { }

    public static IlGuestAbi Abi(SoftTlbLayout tlb) => new()
    {
        StateType = typeof(SlowPathRecorder),
        PcField = typeof(SlowPathRecorder).GetField(nameof(Pc))!,
        InstructionsInFlightField = typeof(SlowPathRecorder).GetField(nameof(InFlight))!,
        LoadSlow = Method(nameof(LoadSlow)),
        StoreSlow = Method(nameof(StoreSlow)),
        RaiseException = Method(nameof(RaiseException)),
        Helpers = [],
        Tlb = tlb,
    };

    private static MethodInfo Method(string name) => typeof(SlowPathRecorder).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
}
