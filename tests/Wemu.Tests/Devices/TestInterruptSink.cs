using Wemu.Devices;

namespace Wemu.Tests.Devices;

/// <summary>Records the level of every interrupt line and how often each changed.</summary>
internal sealed class TestInterruptSink : IInterruptSink
{
    public bool[] Levels { get; } = new bool[1024];

    public int Changes { get; private set; }

    public void SetIrq(int number, bool level)
    {
        Levels[number] = level;
        Changes++;
    }
}
