using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
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
            for (int seed = 1; seed <= Mixes.Length; seed++)
                data.Add(seed, backend);
        return data;
    }

    private static readonly Mnemonic[][] Mixes =
    [
        [Mnemonic.Add, Mnemonic.Or, Mnemonic.Adc, Mnemonic.Sbb, Mnemonic.And, Mnemonic.Sub, Mnemonic.Xor, Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not],
        [Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Shld, Mnemonic.Shrd, Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Add, Mnemonic.Adc, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Sub, Mnemonic.Sbb],
        [Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Lea, Mnemonic.Cmove, Mnemonic.Cmovl, Mnemonic.Cmovbe, Mnemonic.Sete, Mnemonic.Setb, Mnemonic.Setg, Mnemonic.Cdqe, Mnemonic.Cqo, Mnemonic.Cwde, Mnemonic.Sub],
        [Mnemonic.Push, Mnemonic.Pop, Mnemonic.Mov, Mnemonic.Add, Mnemonic.Xchg, Mnemonic.Nop, Mnemonic.Cmp, Mnemonic.Adc, Mnemonic.Setl, Mnemonic.Cmova],
        [Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Pxor, Mnemonic.Pcmpeqb, Mnemonic.Pmovmskb, Mnemonic.Addps, Mnemonic.Add, Mnemonic.Sub, Mnemonic.Cmp, Mnemonic.Setae],
        // what the translator turns into IR (the rest of SSE runs through the helper)
        [Mnemonic.Movd, Mnemonic.Movq, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movaps, Mnemonic.Movups, Mnemonic.Movapd, Mnemonic.Movupd,
         Mnemonic.Pxor, Mnemonic.Por, Mnemonic.Pand, Mnemonic.Pandn, Mnemonic.Xorps, Mnemonic.Orps, Mnemonic.Andps, Mnemonic.Andnps, Mnemonic.Xorpd,
         Mnemonic.Paddb, Mnemonic.Paddw, Mnemonic.Paddd, Mnemonic.Paddq, Mnemonic.Psubb, Mnemonic.Psubw, Mnemonic.Psubd, Mnemonic.Psubq,
         Mnemonic.Pcmpeqb, Mnemonic.Pcmpeqw, Mnemonic.Pcmpeqd, Mnemonic.Pmovmskb, Mnemonic.Pshufd, Mnemonic.Psubusw,
         Mnemonic.Pshuflw, Mnemonic.Pshufhw, Mnemonic.Punpcklwd, Mnemonic.Pcmpgtd, Mnemonic.Punpckhwd,
         Mnemonic.Movss, Mnemonic.Movsd, Mnemonic.Punpckldq, Mnemonic.Punpcklqdq, Mnemonic.Punpckhqdq, Mnemonic.Addsd, Mnemonic.Mulss,
         Mnemonic.Comisd, Mnemonic.Ucomisd, Mnemonic.Comisd, Mnemonic.Ucomisd, Mnemonic.Seta, Mnemonic.Setp, Mnemonic.Sete],
        // bit tests (register and immediate offsets, register and memory operands), scans, BSWAP and rotates between flag setters and readers
        [Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc, Mnemonic.Bsf, Mnemonic.Bsr, Mnemonic.Bswap, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Add, Mnemonic.Sub, Mnemonic.Inc, Mnemonic.Cmp, Mnemonic.Adc, Mnemonic.Setb, Mnemonic.Cmovae, Mnemonic.Sete, Mnemonic.Setl],
        // CMPXCHG and XADD (memory forms as IR, LOCK or not; register forms through the helper) between flag setters and readers
        [Mnemonic.Cmpxchg, Mnemonic.Xadd, Mnemonic.Mov, Mnemonic.Add, Mnemonic.Sub, Mnemonic.Cmp, Mnemonic.Adc, Mnemonic.Sete, Mnemonic.Setb, Mnemonic.Cmovne],
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
    private static X86TestOutcome RunBoth(string backend, byte[] code, X86TestState? state = null, int threshold = 1, Action<X86JitEngine>? check = null)
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
        check?.Invoke(engine);
        return b;
    }

    /// <summary>
    /// A loop that stores into its own code page at every turn: compiled code leaves each such store to the interpreter,
    /// which runs the instruction whole inside the call (x86-64 and IL). What the engine reports as run must count it,
    /// or the machine loop's budget and device ticks fall behind the guest: cut at 2,000 instructions, the CPU retires
    /// no more than that (it retired a quarter more, one uncounted store in each five-instruction turn).
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Stores_Into_Its_Own_Code_Page_Count_As_Run(string backend)
    {
        using var bench = new X86TestBench();
        using var engine = Engine(backend);
        bench.Engine = engine;
        var code = Assemble(a =>
        {
            var top = a.CreateLabel();
            var patch = a.CreateLabel();
            a.mov(ecx, 100_000);
            a.Label(ref top);
            a.mov(__byte_ptr[patch], 0x90);
            a.Label(ref patch);
            a.nop();
            a.add(rbx, 1);
            a.dec(ecx);
            a.jnz(top);
        });
        var data = new byte[HostX86Oracle.DataSize];
        var outcome = bench.Run(code, new X86TestState(), data, maxSteps: 2000, wholeProgram: true);
        Assert.Equal(-1, outcome.Vector);
        ulong retired = bench.Cpu.InstructionsRetired;
        Assert.True(retired is >= 2000 and <= 2016, $"the engine was asked for 2,000 instructions and the CPU retired {retired}");
        Assert.True(outcome.State.Gpr[3] > 300, $"the loop turned {outcome.State.Gpr[3]} times");
    }

    /// <summary>
    /// DIV and IDIV of 32- and 64-bit operands, registers and memory, as IR: quotients and remainders of both signs, a
    /// 64-bit dividend with rDX its zero or sign extension, EDX:EAX dividends whose quotient just fits, each result
    /// stored; all of it without the interpreter (X86TranslatorTests checks it is IR, not the helper). Then what the code leaves to the interpreter at the
    /// instruction, which raises #DE there: a zero divisor, a 32-bit quotient one past the range, INT64_MIN / -1 (in
    /// EDX:EAX, where the interpreter's own divide threw a host OverflowException before), INT128_MIN / -1; and a 128-bit
    /// dividend, which the interpreter divides.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Div_And_Idiv_Run_Compiled_And_Leave_Where_They_Fault(string backend)
    {
        ulong data = HostX86Oracle.DataAddress;
        (bool Signed, bool Wide, bool Memory, long Rdx, long Rax, long Divisor)[] cases =
        [
            (false, false, false, 0, 100, 7), (false, false, true, 3, 0x1234_5678, 0x10), (false, false, false, 0x7, unchecked((int)0xFFFF_FFFF), 0x8),
            (true, false, false, -1, -100, 7), (true, false, true, -1, -100, -7), (true, false, false, 0, 100, -7),
            (true, false, false, 0x3FFF_FFFF, unchecked((int)0xFFFF_FFFF), 0x7FFF_FFFF),
            (false, true, false, 0, unchecked((long)0xFEDC_BA98_7654_3210), 0x1_0000_0001), (false, true, true, 0, 12345, 1),
            (true, true, false, -1, -1_000_000_007, 13), (true, true, true, 0, 1_000_000_007, -13), (true, true, false, -1, long.MinValue, 3),
        ];
        var state = new X86TestState();
        RunBoth(backend, Assemble(a =>
        {
            ulong at = data + 0x100;
            var top = a.CreateLabel();
            a.mov(r15d, 20);
            a.Label(ref top);
            foreach (var (signed, wide, memory, hi, lo, divisor) in cases)
            {
                a.mov(rdx, hi);
                a.mov(rax, lo);
                a.mov(rcx, divisor);
                a.mov(__qword_ptr[at], rcx);
                if (wide)
                {
                    if (memory) { if (signed) a.idiv(__qword_ptr[at]); else a.div(__qword_ptr[at]); }
                    else if (signed) a.idiv(rcx);
                    else a.div(rcx);
                }
                else
                {
                    a.mov(edx, (int)hi);
                    a.mov(eax, (int)lo);
                    if (memory) { if (signed) a.idiv(__dword_ptr[at]); else a.div(__dword_ptr[at]); }
                    else if (signed) a.idiv(ecx);
                    else a.div(ecx);
                }
                a.mov(__qword_ptr[at + 8], rax);
                a.mov(__qword_ptr[at + 16], rdx);
                at += 24;
            }
            a.dec(r15d);
            a.jnz(top);
        }), state, check: engine => Assert.True(engine.Statistics.Fallbacks <= 1, $"{engine.Statistics.Fallbacks} instructions fell back to the interpreter (the program's end is one)"));
        // what faults: #DE at the instruction, with the registers as the interpreter leaves them
        foreach (Action<Assembler> divide in new Action<Assembler>[]
        {
            a => { a.xor(ecx, ecx); a.mov(eax, 5); a.div(ecx); },
            a => { a.mov(ecx, 1); a.mov(edx, 1); a.xor(eax, eax); a.div(ecx); },                        // 0x1_0000_0000 / 1: one past 32 bits
            a => { a.mov(ecx, -1); a.mov(edx, unchecked((int)0x8000_0000)); a.xor(eax, eax); a.idiv(ecx); },   // INT64_MIN / -1 as EDX:EAX
            a => { a.mov(rcx, -1); a.mov(rax, long.MinValue); a.cqo(); a.idiv(rcx); },
            a => { a.mov(rcx, -1); a.mov(rdx, long.MinValue); a.xor(eax, eax); a.idiv(rcx); },                // RDX:RAX = INT128_MIN / -1
            a => { a.mov(ecx, 2); a.mov(edx, 0x4000_0000); a.xor(eax, eax); a.idiv(ecx); },             // 2^62 / 2 = 2^61: too wide for 32 bits
        })
        {
            var faulted = RunBoth(backend, Assemble(a =>
            {
                a.mov(r8d, 3);
                var top = a.CreateLabel();
                a.Label(ref top);
                a.add(r9, r8);
                a.dec(r8d);
                a.jnz(top);
                divide(a);
                a.mov(esi, 1);
            }));
            Assert.Equal(0, faulted.Vector);
        }
        // a 128-bit dividend: the interpreter divides it (2^64 + 10) / 3
        var wide = RunBoth(backend, Assemble(a => { a.mov(edx, 1); a.mov(eax, 10); a.mov(ecx, 3); a.div(rcx); a.mov(rsi, rax); }));
        Assert.Equal(-1, wide.Vector);
        Assert.Equal((ulong)((((UInt128)1 << 64) + 10) / 3), wide.State.Gpr[6]);
    }

    /// <summary>
    /// A loop whose <c>MOV RAX, imm64</c> starts 4 bytes before the end of the code page: the x86-64 backend compiles it
    /// into the page's region (behind a check of its 6 bytes on the next page) instead of leaving for the interpreter on
    /// every iteration; the IL backend leaves. Half-way, the loop rewrites the immediate's first byte on the next page
    /// (a page the region does not cover, so no invalidation tells it): the check must see it, and every backend must
    /// add up what the stepped interpreter does. The patch is made again at each of the 6 bytes in turn.
    /// </summary>
    [Theory]
    [InlineData("native", 0)]
    [InlineData("native", 3)]
    [InlineData("native", 5)]
    [InlineData("il", 0)]
    public void An_Instruction_Crossing_The_Code_Page_Runs_Compiled_And_Sees_Its_Next_Page_Bytes_Change(string backend, int patched)
    {
        const int Iterations = 400, Crossing = 0xFFC;
        ulong code = HostX86Oracle.CodeAddress;
        static byte[] Chunk(ulong at, Action<Assembler, Label> build)
        {
            var a = new Assembler(64);
            var top = a.CreateLabel();
            a.Label(ref top);
            build(a, top);
            using var s = new MemoryStream();
            a.Assemble(new StreamCodeWriter(s), at);
            return s.ToArray();
        }
        // top: cmp r8d, N/2; jne skip; mov byte [rcx], 0x99; skip: mov rax, imm64 (crossing); add rbx, rax; dec r8d; jnz top
        void Head(Assembler a, Label top)
        {
            var skip = a.CreateLabel();
            a.cmp(r8d, Iterations / 2);
            a.jne(skip);
            a.mov(__byte_ptr[rcx], 0x99);
            a.Label(ref skip);
        }
        int headLength = Chunk(code, (a, top) => { Head(a, top); a.nop(); }).Length - 1;
        ulong topAt = code + (ulong)(Crossing - headLength);
        var loop = Chunk(topAt, (a, top) =>
        {
            Head(a, top);
            a.mov(rax, 0x1122334455667788UL);
            a.add(rbx, rax);
            a.dec(r8d);
            a.jnz(top);
        });
        var start = Chunk(code, (a, _) =>
        {
            a.mov(r8d, Iterations);
            a.xor(ebx, ebx);
            a.mov(rcx, code + 0x1000 + (ulong)patched);   // the immediate's bytes on the next page: 0x1000.. is its 3rd..8th byte
            a.jmp(topAt);
        });
        var program = new byte[Crossing - headLength + loop.Length];
        start.CopyTo(program, 0);
        loop.CopyTo(program, Crossing - headLength);
        Assert.Equal((0x48, 0xB8), (program[Crossing], program[Crossing + 1]));   // REX.W B8: the MOV starts where it should
        using var stepped = new X86TestBench();
        using var compiled = new X86TestBench();
        using var engine = Engine(backend);
        stepped.Cpu.UseBlockCache = false;
        compiled.Engine = engine;
        var state = new X86TestState();
        var data = new byte[HostX86Oracle.DataSize];
        var a = stepped.Run(program, state, (byte[])data.Clone(), maxSteps: 1_000_000);
        var b = compiled.Run(program, state, (byte[])data.Clone(), maxSteps: 1_000_000, wholeProgram: true);
        a.AssertSameAs(b, $"crossing loop ({backend}, patched byte {patched})", "stepped", "compiled");
        ulong before = 0x1122334455667788UL, after = before & ~(0xFFUL << (8 * (2 + patched))) | (0x99UL << (8 * (2 + patched)));
        Assert.Equal(unchecked(before * (Iterations / 2) + after * (Iterations / 2)), b.State.Gpr[3]);
        if (backend == "native")
            Assert.True(engine.Statistics.ColdInstructions < Iterations / 4,
                $"{engine.Statistics.ColdInstructions} instructions ran in the interpreter: the crossing MOV was not compiled");
    }

    /// <summary>
    /// The interpreter running an instruction that crosses into the next page leaves that page readable in the data TLB:
    /// compiled code's check of the bytes there is a data load, and on the WebAssembly backend its miss leaves for the
    /// interpreter (which only fetches), so without this every run of the instruction would leave again.
    /// </summary>
    [Fact]
    public unsafe void Interpreting_A_Crossing_Instruction_Makes_Its_Next_Page_Readable_In_The_Data_Tlb()
    {
        var program = new byte[0x1006];
        program[0] = 0xE9;   // jmp rel32 to 0xFFC
        BitConverter.GetBytes(0xFFC - 5).CopyTo(program, 1);
        program[0xFFC] = 0x48;   // mov rax, imm64 from 0xFFC to 0x1005
        program[0xFFD] = 0xB8;
        using var bench = new X86TestBench();
        bench.Cpu.UseBlockCache = false;
        var outcome = bench.Run(program, new X86TestState(), new byte[HostX86Oracle.DataSize], wholeProgram: true);
        Assert.Equal(0UL, outcome.State.Gpr[0]);
        ulong next = HostX86Oracle.CodeAddress + 0x1000;
        var layout = X86JitHelpers.TlbLayout;
        var entry = bench.Cpu.DataTlb[(int)((next >> layout.PageBits) & (ulong)layout.IndexMask)];
        Assert.Equal(next, entry.TagRead);
    }

    /// <summary>
    /// Two regions 4 KiB apart (the same offset in consecutive pages) jump to each other 10,000 times: generated code
    /// finds each in the jump cache, so the host enters compiled code a handful of times, not on every jump. With the
    /// slot taken from the pc's low bits alone both took one slot and every jump went back to the host.
    /// </summary>
    [Fact]
    public void Regions_At_The_Same_Offset_Of_Two_Pages_Chain_Without_The_Host()
    {
        var program = new byte[0x1105];
        byte[] Jmp(int from, int to) => [0xE9, .. BitConverter.GetBytes(to - (from + 5))];
        new byte[] { 0xB9, 0x10, 0x27, 0x00, 0x00 }.CopyTo(program, 0);          // mov ecx, 10000
        Jmp(5, 0x100).CopyTo(program, 5);
        new byte[] { 0xFF, 0xC9, 0x0F, 0x84 }.CopyTo(program, 0x100);               // dec ecx; jz end
        BitConverter.GetBytes(0x1105 - 0x108).CopyTo(program, 0x104);
        Jmp(0x108, 0x1100).CopyTo(program, 0x108);
        Jmp(0x1100, 0x100).CopyTo(program, 0x1100);
        using var stepped = new X86TestBench();
        using var compiled = new X86TestBench();
        using var engine = Engine("native");
        stepped.Cpu.UseBlockCache = false;
        compiled.Engine = engine;
        var a = stepped.Run(program, new X86TestState(), new byte[HostX86Oracle.DataSize], maxSteps: 1_000_000);
        var b = compiled.Run(program, new X86TestState(), new byte[HostX86Oracle.DataSize], maxSteps: 1_000_000, wholeProgram: true);
        a.AssertSameAs(b, "two regions chaining", "stepped", "compiled");
        Assert.Equal(0UL, b.State.Gpr[1]);
        Assert.True(engine.Statistics.CompiledEntries < 100, $"{engine.Statistics.CompiledEntries} entries into compiled code for 20,000 jumps between two regions");
        Assert.NotEqual(ExitContext.JumpCacheIndex(HostX86Oracle.CodeAddress + 0x100, 0, 12), ExitContext.JumpCacheIndex(HostX86Oracle.CodeAddress + 0x1100, 0, 12));
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

    /// <summary>
    /// The scalar and unpack moves and the bit tests the translator turns into IR, each form once with
    /// distinct lane values (the XMM registers are then stored to memory, which RunBoth compares): a
    /// register MOVSS keeps the upper 96 bits, a loaded one zeroes them; BT with a negative register
    /// offset reaches the operand before the address.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Scalar_Moves_Unpacks_And_Bit_Tests_Match(string backend)
    {
        ulong data = HostX86Oracle.DataAddress;
        var state = new X86TestState();
        for (int x = 0; x < 32; x++)
            state.Xmm[x] = 0x1111_1111_1111_1111UL * (ulong)(x % 15 + 1) ^ ((ulong)x << 56);
        for (int r = 0; r < 16; r++)
            state.Gpr[r] = 0x0101_0101_0101_0101UL * (ulong)r;
        static AssemblerRegisterXMM X(int n) => new(Register.XMM0 + n);
        RunBoth(backend, Assemble(a =>
        {
            a.movss(X(1), X(2));
            a.movsd(X(3), X(4));
            a.movss(X(5), __dword_ptr[data + 4]);
            a.movsd(X(6), __qword_ptr[data + 8]);
            a.movss(__dword_ptr[data + 0x40], X(7));
            a.movsd(__qword_ptr[data + 0x48], X(8));
            a.punpckldq(X(9), X(10));
            a.punpcklqdq(X(11), X(12));
            a.punpckhqdq(X(13), __xmmword_ptr[data + 0x60]);
            a.punpckldq(X(14), X(14));
            a.mov(rbx, data + 0x80);
            a.mov(rcx, -37L);
            a.bts(__qword_ptr[rbx], rcx);        // bit 27 of the qword at data + 0x78
            a.setb(__byte_ptr[data + 0x50]);
            a.mov(edx, 70);
            a.btr(__dword_ptr[rbx + 4], edx);    // bit 6 of the dword at data + 0x8c
            a.setb(__byte_ptr[data + 0x51]);
            a.btc(__word_ptr[rbx], 13);
            a.bt(rsi, 63);
            a.setb(__byte_ptr[data + 0x52]);
            a.bts(edi, 31);                      // a 32-bit register form zeroes the upper half
            a.mov(eax, 200);
            a.btr(r9, rax);                      // 200 mod 64
            a.bt(r10w, ax);
            a.adc(r11, 0);
            for (int x = 0; x < 16; x++)
                a.movdqu(__xmmword_ptr[data + 0x100 + (ulong)(16 * x)], X(x));
        }), state);
    }

    /// <summary>
    /// COMISD/UCOMISD on every pair of special and ordinary doubles (zeros of both signs, negatives,
    /// infinities, the largest and smallest normals, denormals and NaNs, which leave for the
    /// interpreter), from registers and memory, with the flags and MXCSR stored after each.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Scalar_Double_Compares_Match(string backend)
    {
        ulong data = HostX86Oracle.DataAddress;
        double[] values = [0.0, -0.0, 1.0, -1.0, 1.5, -2.5, double.PositiveInfinity, double.NegativeInfinity,
            double.MaxValue, double.MinValue, 2.2250738585072014E-308, -2.2250738585072014E-308, double.Epsilon, -double.Epsilon, double.NaN];
        var code = Assemble(a =>
        {
            a.mov(rbx, data);
            for (int i = 0; i < values.Length; i++)
            {
                a.mov(rax, BitConverter.DoubleToInt64Bits(values[i]));
                a.mov(__qword_ptr[rbx + 0x800 + 8 * i], rax);
            }
            a.lea(rdi, __[rbx + 0x1000]);
            var outer = a.CreateLabel();
            var inner = a.CreateLabel();
            a.xor(r8d, r8d);
            a.Label(ref outer);
            a.xor(r9d, r9d);
            a.Label(ref inner);
            a.movsd(xmm1, __qword_ptr[rbx + r8 * 8 + 0x800]);
            a.movsd(xmm2, __qword_ptr[rbx + r9 * 8 + 0x800]);
            a.comisd(xmm1, xmm2);
            a.setb(__byte_ptr[rdi]); a.sete(__byte_ptr[rdi + 1]); a.setp(__byte_ptr[rdi + 2]); a.seto(__byte_ptr[rdi + 3]); a.sets(__byte_ptr[rdi + 4]);
            a.stmxcsr(__dword_ptr[rdi + 8]);
            a.ucomisd(xmm1, __qword_ptr[rbx + r9 * 8 + 0x800]);
            a.setb(__byte_ptr[rdi + 12]); a.sete(__byte_ptr[rdi + 13]); a.setp(__byte_ptr[rdi + 14]);
            a.add(rdi, 16);
            a.inc(r9);
            a.cmp(r9, values.Length);
            a.jb(inner);
            a.inc(r8);
            a.cmp(r8, values.Length);
            a.jb(outer);
        });
        var outcome = RunBoth(backend, code);
        Assert.True(outcome.Vector < 0, $"exception {outcome.Vector} at {outcome.Rip:x}");
    }

    /// <summary>
    /// SHLD/SHRD by CL (0, 1, 2, the width - 1 and beyond it: masked) and by immediates, on 32- and
    /// 64-bit registers and memory, each followed by SETC/SETO/SETZ into memory: the count of 1 (no
    /// bits of the source in the last bit out) and of 0 (flags kept, the operand written back) included.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Double_Shifts_Match(string backend)
    {
        ulong data = HostX86Oracle.DataAddress;
        var state = new X86TestState();
        state.Gpr[0] = 0x8123_4567_89AB_CDEFUL;   // rax
        state.Gpr[2] = 0xF0E1_D2C3_B4A5_9687UL;   // rdx
        RunBoth(backend, Assemble(a =>
        {
            ulong at = data + 0x200;
            foreach (int count in new[] { 0, 1, 2, 31, 33, 63, 64, 65 })
            {
                // b = ~a: the bits b would put into the last bit out always differ from a's
                a.mov(rax, 0x0123_4567_89AB_CDEEL ^ (count * 0x1111L));
                a.mov(rdx, ~(0x0123_4567_89AB_CDEEL ^ (count * 0x1111L)));
                a.cmp(eax, eax);
                a.mov(ecx, count);
                a.mov(rbx, rax);
                a.shld(rbx, rdx, cl);
                a.setc(__byte_ptr[at]); a.seto(__byte_ptr[at + 1]); a.setz(__byte_ptr[at + 2]);
                a.mov(__qword_ptr[at + 8], rbx);
                a.mov(esi, eax);
                a.shrd(esi, edx, cl);
                a.setc(__byte_ptr[at + 3]); a.seto(__byte_ptr[at + 4]); a.sets(__byte_ptr[at + 5]);
                a.mov(__qword_ptr[at + 16], rsi);
                a.mov(__qword_ptr[at + 24], rax);
                a.shrd(__qword_ptr[at + 24], rdx, cl);
                a.setc(__byte_ptr[at + 6]);
                a.mov(__dword_ptr[at + 32], edx);
                a.shld(__dword_ptr[at + 32], eax, cl);
                a.setc(__byte_ptr[at + 7]);
                at += 40;
            }
            foreach (byte count in new byte[] { 0, 1, 7, 31, 32, 63 })
            {
                a.mov(rbx, rax);
                a.shld(rbx, rdx, count);
                a.setc(__byte_ptr[at]); a.seto(__byte_ptr[at + 1]);
                a.mov(__qword_ptr[at + 8], rbx);
                a.mov(edi, edx);
                a.shrd(edi, eax, count);
                a.setc(__byte_ptr[at + 2]); a.setp(__byte_ptr[at + 3]);
                a.mov(__qword_ptr[at + 16], rdi);
                a.add(rdx, rax);
                at += 24;
            }
        }), state);
    }

    /// <summary>
    /// PUSHF as IR pushes RFLAGS with the arithmetic flags of whatever set them last (known in the region, or read from
    /// the lazy state at its entry) and VM and RF as 0, to an aligned stack and to one where every push crosses a page;
    /// the popped values are compared whole. CLI at CPL 3 with IOPL 0
    /// leaves for the interpreter, which raises #GP at it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Pushf_Materializes_The_Flags_And_Cli_In_User_Mode_Faults(string backend)
    {
        // rsp in the data area (compared as memory): aligned, and misaligned so that each push crosses into the next page
        foreach (ulong rsp in new[] { HostX86Oracle.DataAddress + 0x2000, HostX86Oracle.DataAddress + 0x1004 })
        {
            var state = new X86TestState { Rflags = 0x2 | 0x1 | 0x80 };
            state.Gpr[4] = rsp;
            RunBoth(backend, Assemble(a =>
            {
                a.pushfq();                          // the lazy state at the region's entry
                a.pop(r8);
                a.mov(eax, 0x7FFF_FFFF);
                a.add(eax, 1);                       // OF, SF, AF, PF
                a.pushfq();
                a.pop(r9);
                a.sub(ebx, ebx);                     // ZF, PF
                a.pushfq();
                a.pop(r10);
                a.stc();
                a.rcl(ecx, 1);                       // CF from the rotate
                a.pushfq();
                a.pop(r11);
                a.mov(edx, 0x80);
                a.shl(dl, 1);                        // CF, ZF, OF, a byte result
                a.pushfq();
                a.pop(r12);
                a.std();                             // DF
                a.pushfq();
                a.pop(r13);
                a.cld();
                a.inc(esi);                          // CF kept from before
                a.pushfq();
                a.pop(r14);
            }), state);
        }
        // CLI and STI (translated at CPL 0): at CPL 3 they leave for the interpreter, which faults at them
        foreach (var (interruptFlag, count) in new (Action<Assembler>, int)[] { (a => a.cli(), 50), (a => a.sti(), 40) })
        {
            var faulted = RunBoth(backend, Assemble(a =>
            {
                var top = a.CreateLabel();
                a.mov(ecx, count);
                a.Label(ref top);
                a.add(eax, ecx);
                a.dec(ecx);
                a.jnz(top);
                interruptFlag(a);                // #GP
                a.mov(eax, 2);
            }));
            Assert.Equal(13, faulted.Vector);
            Assert.Equal((ulong)(count * (count + 1) / 2), faulted.State.Gpr[0]);
        }
    }

    /// <summary>
    /// A rotate's flags are left out when the next instructions overwrite them all first; not when
    /// one of those can fault before it does: the #PF of the ADD's load must see the ROR's CF and OF
    /// (and the ZF kept from the CMP), and a rotate whose flags do go unseen leaves the same state.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void A_Fault_After_A_Rotate_Sees_Its_Flags(string backend)
    {
        var faulted = RunBoth(backend, Assemble(a =>
        {
            a.mov(eax, 0x8000_0001);
            a.mov(rbx, 0x1000);                  // not mapped
            a.cmp(eax, eax);                     // CF 0, ZF 1
            a.ror(eax, 1);                       // 0xc0000000: CF 1, OF 0 (the top two bits agree)
            a.lea(rdx, __[rax + 4]);
            a.add(ecx, __dword_ptr[rbx]);        // #PF before its flags
        }));
        Assert.Equal(14, faulted.Vector);
        Assert.Equal(0x41UL, faulted.State.Rflags & 0x8C1);    // OF clear, ZF and CF set
        var ran = RunBoth(backend, Assemble(a =>
        {
            a.mov(eax, 0x8000_0001);
            a.cmp(eax, eax);
            a.ror(eax, 1);
            a.mov(edx, eax);
            a.add(ecx, edx);                     // all six flags overwritten: the ROR's are never seen
            a.ror(edx, 3);
            a.adc(esi, 0);                       // read: the ROR's CF
        }));
        Assert.True(ran.Vector < 0);
    }

    /// <summary>
    /// The lazy flags a branch leaves behind are dropped there only when every block after it sets them before it could
    /// leave: here both blocks after the JAE load first (and set the flags after), so when the load faults its #PF must
    /// see the CMP's flags (CF and SF set), not those the previous iteration's DEC left in the register file. Threshold
    /// 50: the loop's region is compiled once both blocks have run, so they are labels of it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void A_Fault_After_A_Branch_Sees_The_Flags_Set_Before_It(string backend)
    {
        var faulted = RunBoth(backend, Assemble(a =>
        {
            var top = a.CreateLabel();
            var skip = a.CreateLabel();
            var next = a.CreateLabel();
            a.mov(ecx, 100);
            a.mov(rbx, (long)HostX86Oracle.DataAddress);
            a.mov(rsi, 0x1000);                  // not mapped
            a.Label(ref top);
            a.cmp(ecx, 20);
            a.cmovb(rbx, rsi);                   // from ecx = 19 on, the loads fault
            a.cmp(ecx, 60);                      // ecx < 60: CF and SF set
            a.jae(skip);
            a.add(eax, __dword_ptr[rbx]);        // load first, flags after
            a.jmp(next);
            a.Label(ref skip);
            a.add(eax, __dword_ptr[rbx + 8]);    // the same
            a.Label(ref next);
            a.dec(ecx);
            a.jnz(top);
        }), threshold: 50);
        Assert.Equal(14, faulted.Vector);
        Assert.Equal(19UL, faulted.State.Gpr[1]);
        Assert.Equal(0x81UL, faulted.State.Rflags & 0x8C1);    // SF and CF set, ZF and OF clear
    }

    /// <summary>
    /// String instructions (every operation and size, REP/REPE/REPNE, 32-bit addressing, both
    /// directions) run by the helper from what the translator decoded, against the stepped interpreter.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Random_String_Programs_Run_Compiled_Match_The_Stepped_Interpreter(string backend)
    {
        var gen = new X86ProgramGenerator(8, [Mnemonic.Add]);
        using var stepped = new X86TestBench();
        using var compiled = new X86TestBench();
        using var engine = Engine(backend);
        stepped.Cpu.UseBlockCache = false;
        compiled.Engine = engine;
        for (int p = 0; p < 600; p++)
        {
            var (code, text, _) = gen.NextStringProgram();
            var (state, data) = gen.NextStringState();
            var a = stepped.Run(code, state, (byte[])data.Clone());
            var b = compiled.Run(code, state, (byte[])data.Clone(), wholeProgram: true);
            a.AssertSameAs(b, $"program {p} ({backend}): {text}", "stepped", "compiled");
        }
        Assert.True(engine.Statistics.CompiledInstructions > 600, $"compiled code ran {engine.Statistics.CompiledInstructions} instructions");
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
