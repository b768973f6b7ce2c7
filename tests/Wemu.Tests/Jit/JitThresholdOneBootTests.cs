using System.Text.RegularExpressions;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// The default guest (OpenSBI, Linux, BusyBox) booted through the real CLI with the JIT compiling
/// every block the first time it is reached (<c>-accel tcg,thresh=1</c>): nearly all guest code,
/// firmware, kernel and user space, runs compiled. Slow (compiling dominates), so one test.
/// </summary>
[Collection("Boot")]
public class JitThresholdOneBootTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData("native")]
    [InlineData("il")]
    public void Linux_Boots_And_Runs_A_Shell_With_Every_Block_Compiled(string backend)
    {
        // -icount: no background worker, so each block is compiled before it first runs.
        using var wemu = new WemuProcess("-accel", $"tcg,thresh=1,backend={backend}", "-icount", "shift=0", "-d", "jit");
        wemu.WaitFor("/ # ", BootTimeout);

        wemu.Send("uname -m\n");
        Assert.Contains("riscv64", wemu.WaitFor("/ # ", CommandTimeout));

        wemu.Send("i=0; s=0; while [ $i -lt 300 ]; do s=$((s + i * i % 7)); i=$((i + 1)); done; echo loop\"\"-sum=$s\n");
        Assert.Contains("loop-sum=" + Enumerable.Range(0, 300).Sum(i => i * i % 7), wemu.WaitFor("/ # ", CommandTimeout));

        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));

        // -d jit: the run really was compiled code, not the interpreter: only instructions the
        // translator leaves to the interpreter (CSRs, system instructions) and the first arrival at
        // each block (before it is hot) run there.
        var m = Regex.Match(wemu.Output, @"wemu: jit: (\d+) blocks compiled .* instructions: (\d+) compiled, (\d+) cold in the interpreter");
        Assert.True(m.Success, "no JIT counters in the output (-d jit)");
        long blocks = long.Parse(m.Groups[1].Value), compiled = long.Parse(m.Groups[2].Value), cold = long.Parse(m.Groups[3].Value);
        Assert.True(blocks > 10_000, $"only {blocks} blocks compiled");
        Assert.True(compiled > 20 * cold, $"{compiled} instructions ran compiled, {cold} cold in the interpreter");
    }
}
