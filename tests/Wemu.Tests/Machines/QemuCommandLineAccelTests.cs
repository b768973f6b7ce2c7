using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Jit.X64;
using Wemu.Machines;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary><c>-accel</c>: the engine, the JIT's threshold and cache, and its backend.</summary>
public class QemuCommandLineAccelTests
{
    [Fact]
    public void Accel_Options_Are_Parsed()
    {
        var c = QemuCommandLine.Parse(["-accel", "tcg,thresh=7,tb-size=16,backend=il"]);
        Assert.Equal(("tcg", 7, 16, "il"), (c.Accelerator, c.JitThreshold, c.JitCacheMegabytes, c.JitBackend));
        var d = QemuCommandLine.Parse([]);
        Assert.Null(d.JitThreshold);
        Assert.Equal("native", d.JitBackend);
        Assert.True(d.JitWasmInterpreter);
        Assert.False(QemuCommandLine.Parse(["-accel", "tcg,wasm-interp=off"]).JitWasmInterpreter);
        Assert.True(QemuCommandLine.Parse(["-accel", "tcg,wasm-interp=on"]).JitWasmInterpreter);
    }

    [Theory]
    [InlineData("tcg,backend=llvm", "invalid -accel backend 'llvm' (native or il)")]
    [InlineData("tcg,thresh=0", "invalid -accel thresh '0' (a count of 1 or more)")]
    [InlineData("interp,backend=il", "unknown -accel option 'backend'")]
    [InlineData("tcg,wasm-interp=yes", "invalid -accel wasm-interp 'yes' (on or off)")]
    public void Bad_Accel_Options_Are_Config_Errors(string spec, string message)
    {
        var e = Assert.Throws<ConfigException>(() => QemuCommandLine.Parse(["-accel", spec]));
        Assert.Equal(message, e.Message);
    }

    /// <summary>The default JIT compiles to x86-64 code where it can, with its own (lower) threshold; backend=il keeps the IL JIT's.</summary>
    [Fact]
    public void The_Backend_Chooses_The_Engine_And_Its_Default_Threshold()
    {
        var images = new MachineImages();
        var native = Assert.IsType<RiscVJitEngine>(RiscVMachine.CreateEngine(QemuCommandLine.Parse([]), images));
        var il = Assert.IsType<RiscVJitEngine>(RiscVMachine.CreateEngine(QemuCommandLine.Parse(["-accel", "tcg,backend=il"]), images));
        using (native)
        using (il)
        {
            Assert.Equal(X64CodeArena.Supported, native.UsesNativeCode);
            Assert.Equal(X64CodeArena.Supported ? JitOptions.DefaultNativeThreshold : JitOptions.DefaultThreshold, native.Threshold);
            Assert.False(il.UsesNativeCode);
            Assert.Equal(JitOptions.DefaultThreshold, il.Threshold);
        }
    }

    /// <summary>In the page (a WebAssembly loader), the JIT compiles to wasm with that backend's default threshold.</summary>
    [Fact]
    public void The_Wasm_Backend_Has_Its_Own_Default_Threshold()
    {
        var images = new MachineImages { WasmLoader = new UnusedWasmLoader() };
        using var wasm = Assert.IsType<RiscVJitEngine>(RiscVMachine.CreateEngine(QemuCommandLine.Parse([]), images));
        Assert.Equal(Wemu.Jit.JitBackendKind.Wasm, wasm.Backend);
        Assert.Equal(JitOptions.DefaultWasmThreshold, wasm.Threshold);
        using var chosen = Assert.IsType<RiscVJitEngine>(RiscVMachine.CreateEngine(QemuCommandLine.Parse(["-accel", "tcg,thresh=300"]), images));
        Assert.Equal(300, chosen.Threshold);
    }

    private sealed unsafe class UnusedWasmLoader : Wemu.Jit.Wasm.IWasmCodeLoader
    {
        public int Load(byte* module, int length) => 0;

        public void Release(int index)
        {
        }
    }
}
