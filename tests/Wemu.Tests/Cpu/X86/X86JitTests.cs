using Iced.Intel;
using Wemu.Cpu.X86;
using Wemu.Jit;
using Xunit;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// The x86 translator (<c>X86Translator</c>) on the shared JIT engine, against the interpreter: random
/// programs from the differential tests' generator run whole through compiled code (threshold 1: the
/// entry compiles on first sight) on the x86-64 and IL backends, and must leave the registers,
/// flags, memory, XMM state and the exception (vector and RIP) the stepped interpreter leaves.
/// </summary>
public sealed class X86JitTests
{
    public static readonly TheoryData<string> Backends = ["native", "il"];

    private static X86JitEngine Engine(string backend, int threshold = 1) =>
        new(new JitOptions { Threshold = threshold, NativeCode = backend == "native", RewriteWindow = 0 }); // (the bench reloads its code page for every program)

    public static TheoryData<int, string> RandomCases()
    {
        var data = new TheoryData<int, string>();
        foreach (var backend in new[] { "native", "il" })
            for (int seed = 1; seed <= 6; seed++)
                data.Add(seed, backend);
        return data;
    }

    private static readonly Mnemonic[][] Mixes =
    [
        [Mnemonic.Add, Mnemonic.Or, Mnemonic.Adc, Mnemonic.Sbb, Mnemonic.And, Mnemonic.Sub, Mnemonic.Xor, Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not],
        [Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Add, Mnemonic.Adc, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Sub, Mnemonic.Sbb],
        [Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Lea, Mnemonic.Cmove, Mnemonic.Cmovl, Mnemonic.Cmovbe, Mnemonic.Sete, Mnemonic.Setb, Mnemonic.Setg, Mnemonic.Cdqe, Mnemonic.Cqo, Mnemonic.Cwde, Mnemonic.Sub],
        [Mnemonic.Push, Mnemonic.Pop, Mnemonic.Mov, Mnemonic.Add, Mnemonic.Xchg, Mnemonic.Nop, Mnemonic.Cmp, Mnemonic.Adc, Mnemonic.Setl, Mnemonic.Cmova],
        [Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Pxor, Mnemonic.Pcmpeqb, Mnemonic.Pmovmskb, Mnemonic.Addps, Mnemonic.Add, Mnemonic.Sub, Mnemonic.Cmp, Mnemonic.Setae],
        // what the translator turns into IR (the rest of SSE runs through the helper)
        [Mnemonic.Movd, Mnemonic.Movq, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movaps, Mnemonic.Movups, Mnemonic.Movapd, Mnemonic.Movupd,
         Mnemonic.Pxor, Mnemonic.Por, Mnemonic.Pand, Mnemonic.Pandn, Mnemonic.Xorps, Mnemonic.Orps, Mnemonic.Andps, Mnemonic.Andnps, Mnemonic.Xorpd,
         Mnemonic.Paddb, Mnemonic.Paddw, Mnemonic.Paddd, Mnemonic.Paddq, Mnemonic.Psubb, Mnemonic.Psubw, Mnemonic.Psubd, Mnemonic.Psubq,
         Mnemonic.Pcmpeqb, Mnemonic.Pcmpeqw, Mnemonic.Pcmpeqd, Mnemonic.Pmovmskb, Mnemonic.Pshufd, Mnemonic.Psubusw,
         Mnemonic.Pshuflw, Mnemonic.Pshufhw, Mnemonic.Punpcklwd, Mnemonic.Pcmpgtd, Mnemonic.Punpckhwd],
    ];

    private static byte[] Assemble(Action<Assembler> build)
    {
        var a = new Assembler(64);
        build(a);
        using var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), HostX86Oracle.CodeAddress);
        return s.ToArray();
    }

    /// <summary>Runs <paramref name="code"/> on the stepped interpreter and through compiled code: the same outcome.</summary>
    private static X86TestOutcome RunBoth(string backend, byte[] code, X86TestState? state = null, int threshold = 1)
    {
        using var stepped = new X86TestBench();
        using var compiled = new X86TestBench();
        using var engine = Engine(backend, threshold);
        stepped.Cpu.UseBlockCache = false;
        compiled.Engine = engine;
        state ??= new X86TestState();
        var data = new byte[HostX86Oracle.DataSize];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(i * 7 + 3);
        var a = stepped.Run(code, state, (byte[])data.Clone(), maxSteps: 1_000_000);
        var b = compiled.Run(code, state, (byte[])data.Clone(), maxSteps: 1_000_000, wholeProgram: true);
        Assert.True(a.Vector == b.Vector, $"exception {a.Vector} stepped, {b.Vector} compiled");
        Assert.True(a.Rip == b.Rip, $"rip {a.Rip:x} stepped, {b.Rip:x} compiled");
        for (int r = 0; r < 16; r++)
            Assert.True(a.State.Gpr[r] == b.State.Gpr[r], $"register {r} {a.State.Gpr[r]:x} stepped, {b.State.Gpr[r]:x} compiled");
        Assert.True((a.State.Rflags & 0xDD5) == (b.State.Rflags & 0xDD5), $"flags {a.State.Rflags:x} stepped, {b.State.Rflags:x} compiled");
        Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), "memory differs");
        Assert.True(engine.Statistics.CompiledInstructions > 0, "no compiled code ran");
        return b;
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Rep_String_Instructions_Longer_Than_A_Chunk_In_Both_Directions_Match(string backend)
    {
        ulong data = HostX86Oracle.DataAddress;
        RunBoth(backend, Assemble(a =>
        {
            var top = a.CreateLabel();
            a.mov(Iced.Intel.AssemblerRegisters.r8, 3);
            a.Label(ref top);
            a.mov(Iced.Intel.AssemblerRegisters.rsi, data + 0x3FFF);
            a.mov(Iced.Intel.AssemblerRegisters.rdi, data + 0x3F00);
            a.mov(Iced.Intel.AssemblerRegisters.ecx, 0x2800);
            a.std();
            a.rep.movsb();
            a.cld();
            a.mov(Iced.Intel.AssemblerRegisters.rsi, data);
            a.mov(Iced.Intel.AssemblerRegisters.rdi, data + 0x10);
            a.mov(Iced.Intel.AssemblerRegisters.ecx, 0x1800);
            a.rep.movsb();
            a.mov(Iced.Intel.AssemblerRegisters.eax, 0x5A);
            a.mov(Iced.Intel.AssemblerRegisters.rdi, data + 0x100);
            a.mov(Iced.Intel.AssemblerRegisters.ecx, 0x300);
            a.rep.stosq();
            a.dec(Iced.Intel.AssemblerRegisters.r8);
            a.jnz(top);
        }));
    }

    [Theory]
    [MemberData(nameof(RandomCases))]
    public void Random_Programs_Run_Compiled_Match_The_Stepped_Interpreter(int seed, string backend)
    {
        var gen = new X86ProgramGenerator(seed, Mixes[(seed - 1) % Mixes.Length]);
        using var stepped = new X86TestBench();
        using var compiled = new X86TestBench();
        using var engine = Engine(backend);
        stepped.Cpu.UseBlockCache = false;
        compiled.Engine = engine;
        int compared = 0;
        for (int p = 0; p < 1000; p++)
        {
            var (code, text, _) = gen.NextProgram(8);
            var (state, data) = gen.NextState();
            var a = stepped.Run(code, state, (byte[])data.Clone());
            var b = compiled.Run(code, state, (byte[])data.Clone(), wholeProgram: true);
            a.AssertSameAs(b, $"program {p} (seed {seed}, {backend}): {text}", "stepped", "compiled");
            if (a.Vector < 0)
                compared++;
        }
        Assert.True(compared > 300, $"only {compared} programs ran to the end");
        Assert.True(engine.Statistics.CompiledInstructions > 1000, $"compiled code ran {engine.Statistics.CompiledInstructions} instructions");
    }
}
