using Iced.Intel;
using Wemu.Cpu.X86;
using Wemu.Jit;
using Xunit;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// The guest cannot stop the emulator with the instructions it runs: random bytes, and generated programs with random
/// bytes written into them, run at CPL 3 (and at CPL 0) in the stepped interpreter and through compiled code (x86-64 and IL backends),
/// and every run must end in the guest's own terms (an exception vector, or the step limit), never a host exception.
/// Deterministic seeds, so a failure reproduces; its message carries the code bytes.
/// </summary>
public sealed class X86RandomBytesTests
{
    private static readonly Mnemonic[] s_mix =
    [
        Mnemonic.Add, Mnemonic.Sub, Mnemonic.Imul, Mnemonic.Mul, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Shl, Mnemonic.Sar, Mnemonic.Rcl,
        Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Lea, Mnemonic.Cmovl, Mnemonic.Bsf, Mnemonic.Bt, Mnemonic.Cqo, Mnemonic.Cdq,
    ];

    /// <summary>Programs: 1 in 3 wholly random bytes, the rest generated ones with 1-4 bytes overwritten or random bytes appended.</summary>
    internal static IEnumerable<(byte[] Code, X86TestState State, byte[] Data)> Programs(int seed, int count)
    {
        var random = new Random(seed);
        var gen = new X86ProgramGenerator(seed, s_mix);
        for (int p = 0; p < count; p++)
        {
            byte[] code;
            if (p % 3 == 0)
            {
                code = new byte[1 + random.Next(48)];
                random.NextBytes(code);
            }
            else
            {
                var generated = gen.NextProgram(6).Code;
                code = new byte[generated.Length + (p % 3 == 1 ? 0 : 1 + random.Next(16))];
                generated.CopyTo(code, 0);
                for (int i = generated.Length; i < code.Length; i++)
                    code[i] = (byte)random.Next(256);
                for (int m = random.Next(1, 5); m > 0; m--)
                    code[random.Next(code.Length)] = (byte)random.Next(256);
            }
            var (state, data) = gen.NextState();
            // edge values: what divides, shifts and string counts meet at their limits; in one program of four the
            // dividends of the overflowing divisions (RDX:RAX or EDX:EAX the most negative value) and -1 elsewhere
            long[] edges = [0, -1, long.MinValue, long.MaxValue, int.MinValue, 0x8000_0000, 1];
            for (int r = 0; r < 4; r++)
                if (random.Next(3) == 0)
                    state.Gpr[random.Next(16) is var g && g != 4 ? g : 0] = (ulong)edges[random.Next(edges.Length)];
            if (random.Next(4) == 0)
            {
                state.Gpr[0] = random.Next(2) == 0 ? 0 : unchecked((ulong)long.MinValue);
                state.Gpr[2] = random.Next(2) == 0 ? 0x8000_0000UL : unchecked((ulong)long.MinValue);
                for (int r = 0; r < 16; r++)
                    if (r is not (0 or 2 or 4) && random.Next(2) == 0)
                        state.Gpr[r] = ulong.MaxValue;
            }
            yield return (code, state, data);
        }
    }

    /// <summary>
    /// At CPL 0 (a kernel code segment, no IDT): privileged instructions run too, random control-register, MSR,
    /// descriptor-table and port accesses among them.
    /// </summary>
    private static void Kernel(X86Cpu cpu) =>
        cpu.EnterLongMode(HostX86Oracle.CodeAddress, 0x1000, 0x6000, 0x3F, 0x10, 0x00AF_9B00_0000_FFFF, 0x18, 0x00CF_9300_0000_FFFF);

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(4, true)]
    public void Random_Bytes_In_The_Interpreter_End_In_Guest_Terms(int seed, bool kernel)
    {
        using var bench = new X86TestBench();
        bench.Cpu.UseBlockCache = seed == 2;
        int faulted = 0, total = 0;
        foreach (var (code, state, data) in Programs(seed, 6000))
        {
            total++;
            try
            {
                faulted += bench.Run(code, state, data, maxSteps: 64, setup: kernel ? Kernel : null).Vector >= 0 ? 1 : 0;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"program {total} [{Convert.ToHexString(code)}]: host {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        Assert.True(faulted > total / 10 && faulted < total, $"{faulted} of {total} faulted: the programs are not what this test means");
    }

    public static readonly TheoryData<string, bool> Backends = new() { { "native", false }, { "il", false }, { "native", true }, { "il", true } };

    [Theory]
    [MemberData(nameof(Backends))]
    public void Random_Bytes_In_Compiled_Code_End_In_Guest_Terms(string backend, bool kernel)
    {
        using var bench = new X86TestBench();
        using var engine = new X86JitEngine(new JitOptions { Threshold = 1, NativeCode = backend == "native", RewriteWindow = 0 });
        bench.Engine = engine;
        int total = 0;
        foreach (var (code, state, data) in Programs(kernel ? 5 : 3, 3000))
        {
            total++;
            try
            {
                bench.Run(code, state, data, maxSteps: 256, setup: kernel ? Kernel : null, wholeProgram: true);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"program {total} [{Convert.ToHexString(code)}] ({backend}): host {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        Assert.True(engine.Statistics.CompiledInstructions > 1000, $"compiled code ran {engine.Statistics.CompiledInstructions} instructions");
    }
}
