using Wemu.Devices;
using Wemu.Machines;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>Finding F10: at exit every disk is flushed on its own; one failing disk does not leave the next unflushed.</summary>
public class RiscVVirtMachineFlushTests
{
    [Fact]
    public void A_Failing_Disk_Does_Not_Keep_The_Next_One_From_Being_Flushed()
    {
        var failing = new FailingBlockBackend(new MemoryBlockBackend(4096), "Flush", () => new IOException("Input/output error"));
        var next = new CountingBlockBackend(new MemoryBlockBackend(4096));
        var config = new MachineConfig { NoFirmware = true, Deterministic = true };
        using var machine = new RiscVVirtMachine(config, new MachineImages { Drives = [failing, next], Entropy = static s => s.Clear() });
        var e = Assert.Throws<IOException>(machine.Flush);
        Assert.Equal("Input/output error", e.Message);
        Assert.Equal(1, next.Flushes);
    }
}
