using Wemu.Devices;

namespace Wemu.Tests.Devices.X86;

/// <summary>Counts rising edges per line and records the current levels.</summary>
internal sealed class EdgeCountingSink : IInterruptSink
{
    public bool[] Levels { get; } = new bool[64];

    public int[] RisingEdges { get; } = new int[64];

    public void SetIrq(int number, bool level)
    {
        if (level && !Levels[number])
            RisingEdges[number]++;
        Levels[number] = level;
    }
}
