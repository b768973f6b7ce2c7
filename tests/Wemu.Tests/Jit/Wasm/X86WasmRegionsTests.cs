using Iced.Intel;
using Wemu.Cpu.X86;
using Wemu.Jit;
using Wemu.Jit.Passes;
using Wemu.Jit.Wasm;
using Wemu.Memory;
using Wemu.Tests.Cpu.X86;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Jit.Wasm;

/// <summary>
/// x86 regions on the WebAssembly backend, instruction by instruction against the stepped interpreter (the x86-64 and
/// IL backends have <c>X86JitTests</c>; the page ran x86 wasm only whole, through its boot and pigz tests): random
/// programs of the differential tests' generator, each translated from its entry as the page's engine would, run in
/// Node (V8) over a memory image holding the register file and a data TLB for the data pages, then compared with the
/// interpreter after as many instructions as the region retired: general registers, RIP, the arithmetic flags
/// (materialized from the region's lazy flag state), the XMM registers and the data memory. A sixth mix takes the
/// random-bytes tests' programs (<see cref="X86RandomBytesTests"/>).
/// </summary>
public sealed unsafe class X86WasmRegionsTests(ITestOutputHelper output)
{
    private const int Ctx = 0x100, Regs = 0x1000, Tlb = 0x10000, Pages = 0x60000, MemorySize = 0x70000;
    private const int RegisterBytes = X86Cpu.RegisterSlots * 8;

    private static readonly Mnemonic[][] s_mixes =
    [
        [Mnemonic.Add, Mnemonic.Or, Mnemonic.Adc, Mnemonic.Sbb, Mnemonic.And, Mnemonic.Sub, Mnemonic.Xor, Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not],
        [Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Shld, Mnemonic.Shrd, Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub],
        [Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Lea, Mnemonic.Cmove, Mnemonic.Cmovl, Mnemonic.Cmovbe, Mnemonic.Sete, Mnemonic.Setb, Mnemonic.Setg, Mnemonic.Cdqe, Mnemonic.Cqo, Mnemonic.Sub],
        [Mnemonic.Push, Mnemonic.Pop, Mnemonic.Mov, Mnemonic.Add, Mnemonic.Xchg, Mnemonic.Cmp, Mnemonic.Adc, Mnemonic.Setl, Mnemonic.Cmova, Mnemonic.Bsf, Mnemonic.Bt],
        [Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Pxor, Mnemonic.Pcmpeqb, Mnemonic.Pmovmskb, Mnemonic.Add, Mnemonic.Sub, Mnemonic.Cmp, Mnemonic.Setae],
    ];

    /// <summary>Mixes 1-5 above; 6: the random-bytes tests' programs (random bytes, generated ones with bytes overwritten).</summary>
    public static readonly TheoryData<int> Mixes = [1, 2, 3, 4, 5, 6];

    [Theory]
    [MemberData(nameof(Mixes))]
    public void Translated_Regions_Match_The_Interpreter(int mix)
    {
        var gen = new X86ProgramGenerator(700 + mix, s_mixes[Math.Min(mix, s_mixes.Length) - 1]);
        using var bench = new X86TestBench();
        bench.Cpu.UseBlockCache = false;
        var translator = new X86Translator();
        var codePage = new byte[4096];
        var cases = new List<NodeWasmRunner.Case>();
        var programs = new List<(byte[] Code, string Text, X86TestState State, byte[] Data)>();
        using var randomPrograms = X86RandomBytesTests.Programs(706, 600).GetEnumerator();
        for (int p = 0; p < (mix == 6 ? 600 : 150); p++)
        {
            byte[] code;
            string text;
            X86TestState state;
            byte[] data;
            if (mix == 6)
            {
                randomPrograms.MoveNext();
                (code, state, data) = randomPrograms.Current;
                text = "random";
            }
            else
            {
                (code, text, _) = gen.NextProgram(16);
                (state, data) = gen.NextState();
            }
            // the state the interpreter starts from: the bench's CPU with the program loaded, nothing run
            bench.Run(code, state, (byte[])data.Clone(), maxSteps: 0, wholeProgram: true);
            var image = new byte[MemorySize];
            fixed (byte* img = image)
            {
                new ReadOnlySpan<byte>(bench.Cpu.Registers, RegisterBytes).CopyTo(image.AsSpan(Regs));
                *(int*)(img + Ctx + ExitContext.Regs) = Regs;
                *(int*)(img + Ctx + ExitContext.Tlb) = Tlb;
                *(int*)(img + Ctx + ExitContext.Budget) = 100_000;   // (a loop the program falls into ends there, as a slice would)
                *(int*)(img + Ctx + ExitContext.ExitKind) = -1;
                // the user data TLB: the data pages read-write at the image's copy, every other entry invalid
                var tlb = (TlbEntry*)(img + Tlb);
                for (int i = 0; i < X86Cpu.TlbSize; i++)
                    tlb[i].TagRead = tlb[i].TagWrite = tlb[i].TagExec = TlbEntry.Invalid;
                for (int page = 0; page < HostX86Oracle.DataSize / 4096; page++)
                {
                    ulong va = HostX86Oracle.DataAddress + (ulong)page * 4096;
                    ref var e = ref tlb[(int)((va >> 12) & X86Cpu.TlbMask)];
                    e.TagRead = e.TagWrite = va;
                    e.Addend = Pages + page * 4096 - (long)va;
                    e.PhysPage = 0x20_0000 + (ulong)page * 4096;
                }
            }
            data.CopyTo(image.AsSpan(Pages));
            // the code page as the bench has it for a whole program, with its HLT after the program (an instruction
            // running past the program's end reads the same bytes on both sides)
            Array.Clear(codePage);
            code.CopyTo(codePage, 0);
            codePage[code.Length] = 0xF4;
            Wemu.Jit.Ir.IrFunction f;
            fixed (byte* page = codePage)
                f = translator.Translate(HostX86Oracle.CodeAddress, X86Cpu.Mode64, page, _ => true, reuse: false);
            if (f.GuestInstructions == 0)
                continue;
            IrPipeline.Run(f);
            cases.Add(new NodeWasmRunner.Case([WasmBackend.Compile(f, X86JitHelpers.CodeAbi, chain: false)], image, Ctx, 0));
            programs.Add((code, text, state, data));
        }
        var results = NodeWasmRunner.Run(cases);
        long retired = 0;
        var kinds = new Dictionary<CodeExit, int>();
        for (int c = 0; c < cases.Count; c++)
        {
            var (code, text, state, data) = programs[c];
            var r = results[c];
            string name = $"program {c} (mix {mix}): {text} [{Convert.ToHexString(code)}]";
            Assert.True(r.Error == null, $"{name}: {r.Error}");
            var kind = (CodeExit)BitConverter.ToInt32(r.Memory, Ctx + ExitContext.ExitKind);
            ulong pc = BitConverter.ToUInt64(r.Memory, Ctx + ExitContext.ExitPc);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            retired += r.Count;
            // the reference: the interpreter from the same state, as many instructions as the region retired
            var expected = bench.Run(code, state, (byte[])data.Clone(), maxSteps: r.Count, wholeProgram: true);
            Assert.True(expected.Vector < 0, $"{name}: the interpreter faulted ({expected.Vector}) within the {r.Count} instructions the region ran");
            Assert.True(expected.Rip == pc, $"{name}: after {r.Count} instructions ({kind} exit) wasm is at 0x{pc:x}, the interpreter at 0x{expected.Rip:x}");
            // the region's register file, its lazy flags materialized by the CPU that reads them
            r.Memory.AsSpan(Regs, RegisterBytes).CopyTo(new Span<byte>(bench.Cpu.Registers, RegisterBytes));
            for (int g = 0; g < 16; g++)
                Assert.True(expected.State.Gpr[g] == bench.Cpu.GetRegister(g), $"{name}: register {g}: interpreter 0x{expected.State.Gpr[g]:x}, wasm 0x{bench.Cpu.GetRegister(g):x}");
            Assert.True((expected.State.Rflags & 0xDD5) == (bench.Cpu.Flags & 0xDD5), $"{name}: flags: interpreter 0x{expected.State.Rflags:x}, wasm 0x{bench.Cpu.Flags:x}");
            for (int x = 0; x < 16; x++)
                Assert.True(bench.Cpu.GetXmm(x) == (expected.State.Xmm[2 * x], expected.State.Xmm[2 * x + 1]), $"{name}: xmm{x} differs");
            Assert.True(expected.Data.AsSpan().SequenceEqual(r.Memory.AsSpan(Pages, HostX86Oracle.DataSize)), $"{name}: data memory differs");
        }
        output.WriteLine($"{cases.Count} regions, {retired} instructions in wasm; exits: {string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}");
        // (random bytes mostly stop at their first instruction the region does not run: mix 6 compares what they do run)
        Assert.True(retired > (mix == 6 ? cases.Count / 2 : cases.Count * 2), $"the regions ran {retired} instructions in all");
        if (mix != 6)
            Assert.True(kinds.GetValueOrDefault(CodeExit.Interpret) > cases.Count / 4, "few regions ran to the program's end");
    }
}
