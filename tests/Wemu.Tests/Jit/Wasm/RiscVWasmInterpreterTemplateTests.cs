using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Xunit;

namespace Wemu.Tests.Jit.Wasm;

/// <summary>
/// The page's RISC-V interpreter in WebAssembly ships prebuilt for the default settings, with its linear-memory addresses
/// patched in at start-up (<see cref="RiscVWasmInterpreter.Template"/>): the shipped template must be what the emitter
/// makes now, and a patched template must be byte for byte the module the emitter builds for the same addresses.
/// </summary>
public class RiscVWasmInterpreterTemplateTests
{
    private static readonly int JumpCacheBits = RiscVJitHelpers.CodeAbi.JumpCacheBits;

    [Fact]
    public void The_Shipped_Template_Is_What_The_Emitter_Makes()
    {
        var made = RiscVWasmInterpreter.Template.Make(JitOptions.DefaultWasmThreshold, JumpCacheBits, chainedArrivalWeight: 1).ToFile();
        string file = Path.Combine(WemuProcess.RepoRoot, "src", "Wemu", "Cpu", "RiscV", "rv-wasm-interpreter.bin");
        if (Environment.GetEnvironmentVariable("WEMU_WRITE_WASM_INTERPRETER") == "1")
            File.WriteAllBytes(file, made);
        using var stream = typeof(RiscVWasmInterpreter).Assembly.GetManifestResourceStream(RiscVWasmInterpreter.Template.ResourceName)!;
        var shipped = new byte[stream.Length];
        stream.ReadExactly(shipped);
        Assert.True(shipped.AsSpan().SequenceEqual(made),
            $"{file} ({shipped.Length} bytes) is not what the emitter makes ({made.Length} bytes): after changing RiscVWasmInterpreter, " +
            "run this test with WEMU_WRITE_WASM_INTERPRETER=1 and rebuild");
        Assert.NotNull(RiscVWasmInterpreter.Prebuilt.Template);
        // the page's engine fits it: the defaults are the template's
        var layout = new RiscVWasmInterpreter.Layout(0x10000, 0x20000, 0x30000, 0x40000, 0x50000, JitOptions.DefaultWasmThreshold, JumpCacheBits,
            new RiscVJitFrontEnd(new HotTable(1, 1)).WasmChainedArrivalWeight);
        Assert.True(RiscVWasmInterpreter.Prebuilt.Template!.Fits(layout));
    }

    [Fact]
    public void A_Patched_Template_Is_The_Module_Built_For_Its_Addresses()
    {
        var template = RiscVWasmInterpreter.Template.Make(JitOptions.DefaultWasmThreshold, JumpCacheBits, 1);
        var rng = new Random(17);
        for (int i = 0; i < 12; i++)
        {
            int A() => i == 0 ? 0 : i == 1 ? int.MaxValue - 0x10_0000 : rng.Next(0x1000, int.MaxValue / 2) & ~7;
            var layout = new RiscVWasmInterpreter.Layout(A(), A(), A(), A(), A(), JitOptions.DefaultWasmThreshold, JumpCacheBits, 1);
            Assert.True(template.Fits(layout));
            Assert.True(template.Patch(layout).AsSpan().SequenceEqual(RiscVWasmInterpreter.BuildFresh(layout)), $"layout {layout}");
            // and Build takes the template's path for it
            Assert.True(RiscVWasmInterpreter.Build(layout).AsSpan().SequenceEqual(RiscVWasmInterpreter.BuildFresh(layout)), $"Build, layout {layout}");
        }
        // other settings are built, not patched
        var other = new RiscVWasmInterpreter.Layout(0x10000, 0x20000, 0x30000, 0x40000, 0x50000, 5, JumpCacheBits, 1);
        Assert.False(template.Fits(other));
        Assert.True(RiscVWasmInterpreter.Build(other).AsSpan().SequenceEqual(RiscVWasmInterpreter.BuildFresh(other)));
    }
}
