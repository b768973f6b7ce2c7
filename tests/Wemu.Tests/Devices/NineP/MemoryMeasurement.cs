using Xunit;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// Tests that measure the process's live heap (GC.GetTotalMemory) run alone: another test allocating at the same
/// time would count against them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurement
{
    public const string Name = "Memory measurement";
}
