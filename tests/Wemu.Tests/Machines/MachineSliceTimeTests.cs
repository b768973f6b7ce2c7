using System.Diagnostics;
using Wemu.Machines;
using Wemu.Tests.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>
/// A slice's time bound (<see cref="Machine.RunSlice"/>'s end timestamp): the page's worker passes the guest's output
/// and input only between slices, and learns a slice's budget in instructions from the slices before; where the guest
/// went on from compiled code into code still to be interpreted and compiled, a budget of millions took 0.2-0.7 s, and
/// the output the guest wrote early in it (x86 pigz's first line) waited that long. The bound ends the slice at the
/// first device update after the time, whatever is left of the budget.
/// </summary>
public sealed class MachineSliceTimeTests
{
    // an endless loop on the spike machine (no timer, no device: nothing else ends a slice)
    private static SpikeMachine Spinning()
    {
        string elf = BareMetal.Assemble("""
            tests:
                li a0, 0
            1:  addi a0, a0, 1
                j 1b
            """);
        var config = new MachineConfig { MachineType = "spike", NoFirmware = true, Kernel = elf, MemorySize = 16UL << 20 };
        return new SpikeMachine(config, new MachineImages { Kernel = File.ReadAllBytes(elf) });
    }

    [Fact]
    public void A_Slice_Past_Its_Time_Ends_At_The_Next_Device_Update()
    {
        using var m = Spinning();
        var status = m.RunSlice(10_000_000_000, Stopwatch.GetTimestamp());
        Assert.Equal(MachineStatus.Running, status);
        Assert.InRange(m.InstructionsRetired, 1UL, 1_000_000UL);
        Assert.Equal(1, m.SlicesEndedByTime);
    }

    [Fact]
    public void A_Slice_Ends_Near_Its_Time_With_Most_Of_Its_Budget_Left()
    {
        using var m = Spinning();
        m.RunSlice(100_000);   // (the first instructions, outside the timing)
        long start = Stopwatch.GetTimestamp();
        var status = m.RunSlice(2_000_000_000, start + Stopwatch.Frequency / 20);
        var took = Stopwatch.GetElapsedTime(start);
        Assert.Equal(MachineStatus.Running, status);
        Assert.True(took >= TimeSpan.FromMilliseconds(50), $"ended after {took.TotalMilliseconds:F1} ms, before its time");
        Assert.True(took < TimeSpan.FromSeconds(2), $"ran {took.TotalSeconds:F1} s past a 50 ms bound");
        Assert.True(m.InstructionsRetired < 1_000_000_000UL, $"{m.InstructionsRetired} instructions: most of the budget ran");
    }

    [Fact]
    public void Without_A_Time_The_Budget_Alone_Ends_The_Slice()
    {
        using var m = Spinning();
        Assert.Equal(MachineStatus.Running, m.RunSlice(3_000_000));
        Assert.InRange(m.InstructionsRetired, 3_000_000UL, 3_100_000UL);
        Assert.Equal(0, m.SlicesEndedByTime);
    }
}
