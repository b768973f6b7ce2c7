using Iced.Intel;
using Wemu.Cpu.X86;
using Wemu.Memory;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// Attacks on the x86 interpreter's decoded-instruction cache (<c>X86Cpu.Blocks.cs</c>): code that
/// rewrites itself (the next instruction of the running block, a loop body, the second page of a
/// page-crossing instruction), code a device rewrites, one physical page at two linear addresses,
/// a CR3 write that changes what the next address maps to, faults in the middle of a block,
/// page-crossing, misaligned and unassigned-memory operands at every size. Every program runs with
/// the cache and without it (decoding each instruction as it executes); both must give the
/// architectural answer and retire the same number of instructions. A lockstep test runs random
/// programs from the differential tests' generator as whole blocks against the stepped decoder.
/// </summary>
public unsafe class X86BlockCacheTests : IDisposable
{
    private const ulong Pml4A = 0x1000, PdptA = 0x2000, PdA = 0x3000, PtA = 0x4000;
    private const ulong Pml4B = 0x5000, PdptB = 0x6000, PdB = 0x7000, PtB = 0x8000;
    private const ulong Gdt = 0x9000, Idt = 0xA000;
    private const ulong Code = 0x10_0000, Stack = 0x1F_0000, Handler = 0x18_0000;
    private const ulong Window = 0x40_0000;            // 4 KiB pages: Window -> X (A) or Y (B); Window + 0x1000 not present
    private const ulong X = 0x30_0000, Y = 0x31_0000;
    private const ulong Alias = 0x100_0000;            // the first 2 MiB again
    private const ulong Unassigned = 0x1_0000_0000;    // 4 GiB: no RAM, no device
    private const ulong KernelCs = 0x10, KernelSs = 0x18;

    private readonly PhysicalBus _bus = new();
    private readonly GuestRam _ram;

    public X86BlockCacheTests()
    {
        _ram = _bus.AddRam(0, 32 << 20);
        foreach (var (pml4, pdpt, pd, pt, target) in new[] { (Pml4A, PdptA, PdA, PtA, X), (Pml4B, PdptB, PdB, PtB, Y) })
        {
            W(pml4, pdpt | 3);
            W(pdpt, pd | 3);
            for (ulong i = 0; i < 2; i++)
                W(pd + i * 8, (i << 21) | 0x83); // identity 0-4 MiB, 2 MiB pages
            W(pd + 2 * 8, pt | 3);                // 4-6 MiB: 4 KiB pages
            W(pt, target | 3);                    // Window -> X or Y; Window + 0x1000 not present
            W(pd + 8 * 8, 0x83);                  // Alias -> physical 0
        }
        // unassigned physical memory at 4 GiB, through a second PDPT entry of root A
        W(PdptA + 4 * 8, 0xB000 | 3);
        W(0xB000, 0x1_0000_0000 | 0x83);
        W(Gdt + 0x10, 0x00AF_9B00_0000_FFFF);
        W(Gdt + 0x18, 0x00CF_9300_0000_FFFF);
        Gate(14, Handler); // #PF: RBX = error code, R15 = faulting RIP, then HLT
        Load(Handler, a => { a.pop(rbx); a.pop(r15); a.hlt(); });
    }

    /// <summary>Null: the interpreter's decoded blocks are under attack; else the x86 JIT on this backend ("native", "il"),
    /// compiling every block on first sight (<see cref="X86JitAttackTestsNative"/>, <see cref="X86JitAttackTestsIl"/>).</summary>
    protected virtual string? JitBackend => null;

    private X86JitEngine? _engine;

    private X86JitEngine Engine => _engine ??= new X86JitEngine(new Wemu.Jit.JitOptions
    {
        Threshold = 1,
        NativeCode = JitBackend == "native",
        RewriteWindow = 0, // (the programs reload their code pages on purpose)
    });

    public void Dispose()
    {
        _engine?.Dispose();
        _ram.Dispose();
        GC.SuppressFinalize(this);
    }

    private void W(ulong pa, ulong v) => *(ulong*)(_ram.Pointer + pa) = v;

    private ulong R(ulong pa) => *(ulong*)(_ram.Pointer + pa);

    private void Gate(int vector, ulong handler)
    {
        W(Idt + (ulong)vector * 16, (handler & 0xFFFF) | (KernelCs << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48));
        W(Idt + (ulong)vector * 16 + 8, handler >> 32);
    }

    private static byte[] Assemble(ulong at, Action<Assembler> build)
    {
        var a = new Assembler(64);
        build(a);
        using var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), at);
        return s.ToArray();
    }

    /// <summary>Places code as a loader does (through the bus, so decoded blocks of what was there go).</summary>
    private void Load(ulong at, Action<Assembler> build) => _bus.Load(at, Assemble(at, build));

    /// <summary>Runs from <paramref name="entry"/> at CPL 0 until HLT (on <paramref name="cpu"/> or a new CPU); returns the CPU.</summary>
    private X86Cpu Run(bool blocks, ulong entry = Code, long budget = 1_000_000, X86Cpu? cpu = null)
    {
        cpu ??= new X86Cpu(_bus);
        cpu.UseBlockCache = blocks;
        cpu.Reset();
        cpu.EnterLongMode(entry, Pml4A, Gdt, 0x1F, (ushort)KernelCs, 0x00AF_9B00_0000_FFFF, (ushort)KernelSs, 0x00CF_9300_0000_FFFF);
        cpu.IdtBase = Idt;
        cpu.IdtLimit = 0xFFF;
        cpu.SetRegister(X86Cpu.Rsp, Stack);
        long done = 0;
        for (long calls = 0; done < budget && !cpu.IsHalted && !cpu.ShutdownRequested; calls++)
        {
            Assert.True(calls < budget, "no progress");
            done += blocks && JitBackend != null ? Engine.Run(cpu, 1000) : cpu.Run(blocks ? 1000 : 1);
        }
        Assert.True(cpu.IsHalted, "the program did not reach HLT");
        return cpu;
    }

    /// <summary>Runs the program with and without the cache: the same registers and retired count.</summary>
    private X86Cpu RunBoth(Action? beforeEach = null, ulong entry = Code)
    {
        beforeEach?.Invoke();
        var stepped = Run(false, entry);
        beforeEach?.Invoke();
        var cached = Run(true, entry);
        for (int r = 0; r < 16; r++)
            Assert.True(stepped.GetRegister(r) == cached.GetRegister(r), $"register {r}: stepped {stepped.GetRegister(r):x}, cached {cached.GetRegister(r):x}");
        Assert.Equal(stepped.InstructionsRetired, cached.InstructionsRetired);
        Assert.Equal(stepped.Flags & 0xCD5, cached.Flags & 0xCD5);
        if (JitBackend != null)
            Assert.True(Engine.Statistics.CompiledInstructions > 0, "compiled code did not run");
        else
            Assert.True(cached.BlocksDecoded > 0, "the cache was not used");
        stepped.Dispose();
        return cached;
    }

    [Fact]
    public void A_Store_Into_The_Next_Instruction_Of_The_Running_Block_Takes_Effect()
    {
        var cpu = RunBoth(() => Load(Code, a =>
        {
            var target = a.CreateLabel();
            a.lea(rbx, __[target]);
            a.mov(__byte_ptr[rbx + 1], 0x2A); // the immediate of the MOV below
            a.Label(ref target);
            a.mov(eax, 0);
            a.hlt();
        }));
        Assert.Equal(0x2AUL, cpu.GetRegister(X86Cpu.Rax));
    }

    [Fact]
    public void A_Loop_Body_Rewritten_After_It_Ran_Runs_The_New_Instruction()
    {
        var cpu = RunBoth(() => Load(Code, a =>
        {
            var body = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 3);
            a.lea(rbx, __[body]);
            a.Label(ref body);
            a.add(eax, 1);                        // 05 01 00 00 00: becomes add eax, 100 after the first pass
            a.mov(__byte_ptr[rbx + 1], 100);
            a.dec(ecx);
            a.jnz(body);
            a.hlt();
        }));
        Assert.Equal(201UL, cpu.GetRegister(X86Cpu.Rax));
    }

    [Fact]
    public void An_Instruction_Crossing_Into_The_Next_Page_Sees_Stores_To_Either_Page()
    {
        ulong at = Code + 0x1000 - 4; // MOV RAX, imm64 is 10 bytes: 4 in this page, 6 in the next
        var cpu = RunBoth(() =>
        {
            Load(Code, a =>
            {
                a.mov(ecx, 2);
                a.xor(edx, edx);
                a.mov(rbx, at);
                a.jmp(at);
            });
            Load(at, a =>
            {
                var done = a.CreateLabel();
                a.mov(rax, 0x1111_2222_3333_4444UL);
                a.add(rdx, rax);
                a.mov(__byte_ptr[rbx + 9], 0x77);  // the imm64's top byte, in the second page
                a.mov(__byte_ptr[rbx + 2], 0x55);  // its lowest byte, in the first page
                a.dec(ecx);
                a.jz(done);
                a.jmp(at);
                a.Label(ref done);
                a.hlt();
            });
        });
        Assert.Equal(0x1111_2222_3333_4444UL + 0x7711_2222_3333_4455UL, cpu.GetRegister(X86Cpu.Rdx));
    }

    [Fact]
    public void Code_A_Device_Rewrites_Between_Runs_Is_Decoded_Again()
    {
        Load(Code, a => { a.mov(eax, 1); a.hlt(); });
        using var cpu = Run(true);
        Assert.Equal(1UL, cpu.GetRegister(X86Cpu.Rax));
        // as DMA does: bytes written straight to RAM, then the bus told
        byte[] code = Assemble(Code, a => { a.mov(eax, 2); a.hlt(); });
        code.CopyTo(new Span<byte>(_ram.Pointer + Code, code.Length));
        _bus.NotifyWrite(Code, (ulong)code.Length);
        Run(true, cpu: cpu);
        Assert.Equal(2UL, cpu.GetRegister(X86Cpu.Rax));
        Assert.True(cpu.CodePagesWritten > 0);
    }

    [Fact]
    public void One_Physical_Page_At_Two_Linear_Addresses_Computes_Rip_Relative_Addresses_From_Each()
    {
        ulong f = Code + 0x100;
        var cpu = RunBoth(() =>
        {
            Load(f, a =>
            {
                var here = a.CreateLabel();
                var data = a.CreateLabel();
                a.lea(rcx, __[here]);        // RIP-relative: the address of the next instruction
                a.Label(ref here);
                a.mov(rsi, __qword_ptr[data]);
                a.ret();
                a.Label(ref data);
                a.dq(0xFEED);
            });
            Load(Code, a =>
            {
                a.mov(rax, f); a.call(rax); a.mov(r8, rcx); a.mov(r9, rsi);
                a.mov(rax, Alias + f); a.call(rax); a.mov(r10, rcx); a.mov(r11, rsi);
                a.hlt();
            });
        });
        Assert.Equal(f + 7, cpu.GetRegister(8));
        Assert.Equal(Alias + f + 7, cpu.GetRegister(10));
        Assert.Equal(0xFEEDUL, cpu.GetRegister(9));
        Assert.Equal(0xFEEDUL, cpu.GetRegister(11));
    }

    [Fact]
    public void A_Cr3_Write_Makes_The_Next_Instruction_Come_From_The_New_Mapping()
    {
        // the same code at X and Y up to the CR3 write, different after it
        var cpu = RunBoth(() =>
        {
            Load(X, a => { a.mov(rax, Pml4B); a.mov(cr3, rax); a.mov(edx, 1); a.hlt(); });
            Load(Y, a => { a.mov(rax, Pml4B); a.mov(cr3, rax); a.mov(edx, 2); a.hlt(); });
        }, Window);
        Assert.Equal(2UL, cpu.GetRegister(X86Cpu.Rdx));
    }

    [Fact]
    public void A_Fault_In_The_Middle_Of_A_Block_Reports_That_Instruction_With_The_Earlier_Ones_Retired()
    {
        byte[] program = Assemble(Code, a =>
        {
            a.xor(edx, edx);
            a.mov(eax, 1);
            a.mov(ebx, 2);
            a.mov(rsi, Window + 0x1000);     // not present
            a.add(rcx, __qword_ptr[rsi]);
            a.mov(edx, 3);
            a.hlt();
        });
        var cpu = RunBoth(() => _bus.Load(Code, program));
        ulong load = Code + (ulong)(program.Length - 5 - 1 - 3); // the ADD: before MOV EDX (5) and HLT (1); ADD r64, m64 is 3 bytes
        Assert.Equal(load, cpu.GetRegister(15));          // the faulting RIP the handler found
        Assert.Equal(0UL, cpu.GetRegister(X86Cpu.Rbx)); // error code: read, not present, supervisor
        Assert.Equal(0UL, cpu.GetRegister(X86Cpu.Rdx)); // nothing after the fault ran
        Assert.Equal(1UL, cpu.GetRegister(X86Cpu.Rax));
        Assert.Equal(Window + 0x1000, cpu.Cr2);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Page_Crossing_And_Misaligned_Operands_Of_Every_Size_Read_And_Write_Both_Pages(int size)
    {
        // a store, a load and a read-modify-write straddling two pages at every offset
        ulong pageEnd = Code + 0x3000;
        var cpu = RunBoth(() =>
        {
            new Span<byte>(_ram.Pointer + pageEnd - 16, 32).Clear();
            Load(Code, a =>
            {
                a.xor(r8, r8);
                for (int k = 1; k < Math.Max(size, 2); k++)
                {
                    a.mov(rbx, pageEnd - (ulong)k);
                    a.mov(rax, 0x0102_0304_0506_0708UL * (ulong)k);
                    switch (size)
                    {
                        case 1: a.mov(__byte_ptr[rbx], al); a.add(__byte_ptr[rbx], 3); a.movzx(ecx, __byte_ptr[rbx]); break;
                        case 2: a.mov(__word_ptr[rbx], ax); a.add(__word_ptr[rbx], 3); a.movzx(ecx, __word_ptr[rbx]); break;
                        case 4: a.mov(__dword_ptr[rbx], eax); a.add(__dword_ptr[rbx], 3); a.mov(ecx, __dword_ptr[rbx]); break;
                        default: a.mov(__qword_ptr[rbx], rax); a.add(__qword_ptr[rbx], 3); a.mov(rcx, __qword_ptr[rbx]); break;
                    }
                    a.add(r8, rcx);
                }
                a.hlt();
            });
        });
        ulong expected = 0;
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        for (int k = 1; k < Math.Max(size, 2); k++)
            expected += ((0x0102_0304_0506_0708UL * (ulong)k) + 3) & mask;
        Assert.Equal(expected, cpu.GetRegister(8));
    }

    [Fact]
    public void A_Store_Straddling_Into_A_Missing_Page_Faults_Before_Writing_Either_Page()
    {
        var cpu = RunBoth(() =>
        {
            W(X + 0xFF8, 0x1122_3344_5566_7788);
            Load(Code, a =>
            {
                a.mov(rbx, Window + 0xFFC);
                a.mov(__qword_ptr[rbx - 0xC], rbx); // first a store within the page: its TLB entry is warm (writable, dirty)
                a.mov(rax, ulong.MaxValue);
                a.mov(__qword_ptr[rbx], rax);
                a.hlt();
            });
        });
        Assert.Equal(Window + 0xFFC, R(X + 0xFF0));
        Assert.Equal(0x1122_3344_5566_7788UL, R(X + 0xFF8));
        Assert.Equal((Window + 0x1000) >> 12, cpu.Cr2 >> 12);
        Assert.Equal(2UL, cpu.GetRegister(X86Cpu.Rbx)); // a write to a page that is not present
    }

    [Fact]
    public void Unassigned_Physical_Memory_Reads_As_Zero_And_Drops_Stores_At_Every_Size()
    {
        // linear 4 GiB maps to physical 4 GiB (root A), where nothing is
        var cpu = RunBoth(() => Load(Code, a =>
        {
            a.mov(rbx, Unassigned + 0x10);
            a.mov(rax, ulong.MaxValue);
            a.mov(__qword_ptr[rbx], rax); a.mov(__dword_ptr[rbx + 8], eax); a.mov(__word_ptr[rbx + 12], ax); a.mov(__byte_ptr[rbx + 14], al);
            a.mov(rcx, __qword_ptr[rbx]); a.add(ecx, __dword_ptr[rbx + 8]); a.movzx(edx, __word_ptr[rbx + 12]); a.add(dl, __byte_ptr[rbx + 14]);
            a.add(rdx, rcx);
            a.hlt();
        }));
        Assert.Equal(0UL, cpu.GetRegister(X86Cpu.Rdx));
    }

    [Fact]
    public void A_Store_To_Another_Decoded_Page_Drops_Its_Blocks()
    {
        ulong other = Code + 0x2000;
        var cpu = RunBoth(() =>
        {
            Load(other, a => { a.mov(eax, 0); a.ret(); });
            Load(Code, a =>
            {
                a.mov(rbx, other);
                a.mov(__byte_ptr[rbx + 1], 5);    // a store first: the TLB lets stores into the page before it holds code
                a.call(rbx);                      // decodes the other page
                a.mov(r8, rax);
                a.mov(__byte_ptr[rbx + 1], 9);    // mov eax, 5 -> mov eax, 9
                a.call(rbx);
                a.hlt();
            });
        });
        Assert.Equal(5UL, cpu.GetRegister(8));
        Assert.Equal(9UL, cpu.GetRegister(X86Cpu.Rax));
    }

    [Fact]
    public void Rep_Movs_And_Stos_Across_Pages_Onto_Their_Own_Source_And_Into_Code_Match_The_Element_Loop()
    {
        ulong buf = Code + 0x4000, patched = Code + 0x6000;
        var cpu = RunBoth(() =>
        {
            new Span<byte>(_ram.Pointer + buf - 0x100, 0x3000).Clear();
            Load(patched, a => { a.mov(eax, 1); a.ret(); });
            Load(Code, a =>
            {
                // STOSQ over a page boundary, not 8-byte aligned
                a.mov(rdi, buf + 0xFFD); a.mov(rax, 0x1122_3344_5566_7788UL); a.mov(ecx, 3); a.rep.stosq();
                a.mov(r8, rdi);
                // MOVSB onto its own source, one byte ahead: the first byte repeats
                a.mov(rsi, buf + 0xFFD); a.lea(rdi, __[rsi + 1]); a.mov(ecx, 20); a.rep.movsb();
                a.mov(r9, __qword_ptr[buf + 0x1008]);
                // MOVSB of new code over a page that ran: the next call runs the new code
                a.mov(rax, patched); a.call(rax); a.mov(r10, rax);
                a.mov(rsi, buf + 0x2000); a.mov(__dword_ptr[rsi], 0x0000_07B8); a.mov(__word_ptr[rsi + 4], 0xC300); // mov eax, 7; ret
                a.mov(rdi, patched); a.mov(ecx, 6); a.rep.movsb();
                a.mov(rax, patched); a.call(rax); a.mov(r11, rax);
                a.hlt();
            });
        });
        Assert.Equal(buf + 0xFFD + 24, cpu.GetRegister(8));
        Assert.Equal(0x8888_8888_8888_8888UL, cpu.GetRegister(9)); // 0x88 copied forward over itself
        Assert.Equal(1UL, cpu.GetRegister(10));
        Assert.Equal(7UL, cpu.GetRegister(11));
    }

    [Theory]
    [InlineData(1, new[] { Mnemonic.Add, Mnemonic.Or, Mnemonic.Adc, Mnemonic.Sbb, Mnemonic.And, Mnemonic.Sub, Mnemonic.Xor, Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not })]
    [InlineData(2, new[] { Mnemonic.Rol, Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Add })]
    [InlineData(3, new[] { Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Lea, Mnemonic.Cmove, Mnemonic.Cmovl, Mnemonic.Cmovbe, Mnemonic.Sete, Mnemonic.Setb, Mnemonic.Setg, Mnemonic.Cdqe, Mnemonic.Cqo, Mnemonic.Cwde, Mnemonic.Sub })]
    [InlineData(4, new[] { Mnemonic.Push, Mnemonic.Pop, Mnemonic.Mov, Mnemonic.Add, Mnemonic.Xchg, Mnemonic.Nop, Mnemonic.Cmp })]
    [InlineData(5, new[] { Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Movd, Mnemonic.Pxor, Mnemonic.Pshufd, Mnemonic.Pshuflw, Mnemonic.Punpcklwd, Mnemonic.Psubw, Mnemonic.Pand, Mnemonic.Pcmpeqb, Mnemonic.Pmovmskb, Mnemonic.Addps, Mnemonic.Mulsd, Mnemonic.Cvtsi2sd, Mnemonic.Shufps, Mnemonic.Pextrw, Mnemonic.Add })]
    public void Random_Programs_Run_As_Whole_Blocks_Match_The_Stepped_Decoder(int seed, Mnemonic[] mnemonics)
    {
        var gen = new X86ProgramGenerator(seed, mnemonics);
        using var stepped = new X86TestBench();
        using var cached = new X86TestBench();
        stepped.Cpu.UseBlockCache = false;
        if (JitBackend != null)
            cached.Engine = Engine;
        int compared = 0;
        for (int p = 0; p < 1500; p++)
        {
            var (code, text, _) = gen.NextProgram(8);
            var (state, data) = gen.NextState();
            var a = stepped.Run(code, state, (byte[])data.Clone());
            var b = cached.Run(code, state, (byte[])data.Clone(), wholeProgram: true);
            a.AssertSameAs(b, $"program {p} (seed {seed}): {text}", "stepped", "cached", mxcsr: true);
            if (a.Vector < 0)
                compared++;
        }
        Assert.True(compared > 500, $"only {compared} programs ran to the end");
        Assert.True(cached.Cpu.BlocksDecoded > 0);
    }
}

/// <summary>The same attacks on the x86 JIT's x86-64 backend (inline TLB probes, jump caches, chaining, helper calls).</summary>
public sealed class X86JitAttackTestsNative : X86BlockCacheTests
{
    protected override string? JitBackend => "native";
}

/// <summary>The same attacks on the x86 JIT's IL backend.</summary>
public sealed class X86JitAttackTestsIl : X86BlockCacheTests
{
    protected override string? JitBackend => "il";
}
