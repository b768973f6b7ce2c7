using Wemu.Devices;

namespace Wemu.Tests.Devices;

/// <summary>A deterministic <see cref="MachineClock"/> whose time the test sets (one tick per instruction).</summary>
internal sealed class ManualClock
{
    private ulong _instructions;

    public ManualClock(ulong frequency = 10_000_000)
    {
        Clock = new MachineClock(frequency, deterministic: true, instructionsPerTickShift: 0);
        Clock.AttachInstructionCounter(() => _instructions);
    }

    public MachineClock Clock { get; }

    public void Advance(ulong ticks) => _instructions += ticks;
}
