using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Tests.Jit;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>
/// The guest cannot stop the emulator with the instructions it runs: pages of random instruction words (and of
/// random words with valid-looking opcodes, and of compressed halfwords) run in M-mode, traps going back into them, and
/// may write any CSR (paging,
/// trap vectors, the FPU's state) and touch the probe device, with random and edge-valued registers, through the
/// interpreter and the JIT's x86-64 and IL backends (threshold 1). Every run must end in the guest's terms (traps,
/// the step limit), never a host exception. Deterministic seeds; a failure names the program.
/// </summary>
public sealed unsafe class RvRandomBytesTests
{
    private static readonly ulong[] s_edges = [0, 1, ulong.MaxValue, 1UL << 63, (1UL << 63) - 1, 0x8000_0000, 0xFFFF_FFFF_8000_0000, BareHart.RamBase];

    private static void Load(BareHart m, Random random, int program)
    {
        var code = new byte[4096];
        random.NextBytes(code);
        switch (program % 3)
        {
            case 1:
                // 32-bit words with the major opcodes the decoder knows, funct bits random
                byte[] opcodes = [0x03, 0x07, 0x0F, 0x13, 0x17, 0x1B, 0x23, 0x27, 0x2F, 0x33, 0x37, 0x3B, 0x43, 0x47, 0x4B, 0x4F, 0x53, 0x63, 0x67, 0x6F, 0x73];
                for (int i = 0; i < code.Length; i += 4)
                    code[i] = opcodes[random.Next(opcodes.Length)];
                break;
            case 2:
                // compressed: the low two bits of every halfword not 11
                for (int i = 0; i < code.Length; i += 2)
                    code[i] = (byte)((code[i] & 0xFC) | random.Next(3));
                break;
        }
        // first: mtvec = the page + 0x100 (auipc t0, 0; addi t0, t0, 0x100; csrw mtvec, t0), so a trap runs the
        // random code again from there (it gets hot and compiled) rather than fetching from address 0
        BitConverter.GetBytes(0x00000297u).CopyTo(code, 0);
        BitConverter.GetBytes(0x10028293u).CopyTo(code, 4);
        BitConverter.GetBytes(0x30529073u).CopyTo(code, 8);
        m.Write(BareHart.RamBase, code);
        m.Hart.Reset(BareHart.RamBase);
        for (int r = 1; r < 32; r++)
            m.Hart.SetRegister(r, random.Next(4) == 0 ? s_edges[random.Next(s_edges.Length)]
                : random.Next(2) == 0 ? BareHart.RamBase + (ulong)random.Next(1 << 20) : (ulong)random.NextInt64());
    }

    [Fact]
    public void Random_Words_In_The_Interpreter_End_In_Guest_Terms()
    {
        var random = new Random(21);
        using var m = new BareHart(1 << 20);
        var interpreter = new RiscVInterpreter();
        for (int p = 0; p < 3000; p++)
        {
            Load(m, random, p);
            try
            {
                interpreter.Run(m.Hart, 512);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"program {p} (seed 21): host {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
    }

    public static readonly TheoryData<bool> NativeCode = [true, false];

    [Theory]
    [MemberData(nameof(NativeCode))]
    public void Random_Words_In_Compiled_Code_End_In_Guest_Terms(bool native)
    {
        var random = new Random(22);
        using var m = new BareHart(1 << 20);
        using var jit = new RiscVJitEngine(new JitOptions { Threshold = 1, NativeCode = native, RewriteWindow = 0 });
        for (int p = 0; p < 1500; p++)
        {
            Load(m, random, p);
            try
            {
                for (int calls = 0; calls < 64 && !m.Hart.IsWaiting; calls++)
                    jit.Run(m.Hart, 512);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"program {p} (seed 22, {(native ? "native" : "il")}): host {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        Assert.True(jit.Statistics.CompiledInstructions > 1000, $"compiled code ran {jit.Statistics.CompiledInstructions} instructions");
    }
}
