using Wemu.Devices;
using Wemu.Memory;

namespace Wemu.Machines;

/// <summary>
/// A whole emulated computer, driven by its host in slices: no threads, no host I/O. Hosts
/// (CLI, web worker, tests) call <see cref="RunSlice"/> in a loop and idle when told to.
/// </summary>
public abstract class Machine : IDisposable
{
    protected Machine(MachineClock clock)
    {
        Clock = clock;
        Bus = new PhysicalBus();
    }

    public PhysicalBus Bus { get; }

    public MachineClock Clock { get; }

    /// <summary>The status the guest asked for when it powered off (0 = success).</summary>
    public int ExitCode { get; protected set; }

    /// <summary>Instructions retired by all harts.</summary>
    public abstract ulong InstructionsRetired { get; }

    /// <summary>Clock tick of the next timer event (ulong.MaxValue if none), for idling hosts.</summary>
    public abstract ulong NextDeadline { get; }

    /// <summary>Runs up to about <paramref name="budget"/> guest instructions.</summary>
    public abstract MachineStatus RunSlice(long budget);

    /// <summary>Makes every completed disk write durable (called on flush requests and at exit).</summary>
    public abstract void Flush();

    public virtual void Dispose()
    {
        foreach (var ram in Bus.RamRegions)
            ram.Dispose();
        GC.SuppressFinalize(this);
    }
}
