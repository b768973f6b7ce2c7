using Iced.Intel;
using Wemu.Cpu.X86;
using Wemu.Memory;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// IA-32e system behaviour against the SDM (vol. 3, 6.14 and vol. 2B SYSCALL/SYSRET, IRET): a user
/// program's SYSCALL into the kernel and SYSRET back, an interrupt gate from CPL 3 that switches to
/// RSP0 and pushes the 5-word frame, IST stacks, IRETQ back to user mode, #GP for privileged
/// instructions at CPL 3 and for unknown MSRs.
/// </summary>
public sealed unsafe class X86SystemTests : IDisposable
{
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Gdt = 0x6000, Idt = 0x7000, Tss = 0x8000;
    private const ulong KernelCode = 0x10_0000, UserCode = 0x11_0000, KernelStack = 0x20_0000, UserStack = 0x21_0000, IstStack = 0x22_0000;
    private const ulong KernelCs = 0x10, KernelSs = 0x18, UserSs = 0x2B, UserCs = 0x33, TssSel = 0x40;

    private readonly PhysicalBus _bus = new();
    private readonly GuestRam _ram;
    private readonly X86Cpu _cpu;

    public X86SystemTests()
    {
        _ram = _bus.AddRam(0, 16 << 20);
        _cpu = new X86Cpu(_bus);
        W(Pml4, Pdpt | 7);
        W(Pdpt, Pd | 7);
        for (ulong i = 0; i < 8; i++)
            W(Pd + i * 8, (i << 21) | 0x87); // identity 0-16 MiB, 2 MiB pages, user-accessible
        W(Gdt + 0x10, 0x00AF_9B00_0000_FFFF);
        W(Gdt + 0x18, 0x00CF_9300_0000_FFFF);
        W(Gdt + 0x28, 0x00CF_F300_0000_FFFF);
        W(Gdt + 0x30, 0x00AF_FB00_0000_FFFF);
        // 64-bit available TSS at 0x40 (16 bytes): base Tss, limit 0x67
        W(Gdt + 0x40, 0x0000_8900_0000_0067 | ((Tss & 0xFFFFFF) << 16) | (((Tss >> 24) & 0xFF) << 56));
        W(Gdt + 0x48, Tss >> 32);
        W(Tss + 4, KernelStack);   // RSP0
        W(Tss + 0x24, IstStack);   // IST1
    }

    public void Dispose()
    {
        _cpu.Dispose();
        _ram.Dispose();
    }

    private void W(ulong pa, ulong v) => *(ulong*)(_ram.Pointer + pa) = v;

    private ulong R(ulong pa) => *(ulong*)(_ram.Pointer + pa);

    private void Gate(int vector, ulong handler, int ist = 0, int dpl = 0)
    {
        ulong low = (handler & 0xFFFF) | (KernelCs << 16) | ((ulong)ist << 32) | ((0x8EUL | ((ulong)dpl << 5)) << 40) | ((handler >> 16 & 0xFFFF) << 48);
        W(Idt + (ulong)vector * 16, low);
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

    private void Load(ulong at, Action<Assembler> build) => Assemble(at, build).CopyTo(new Span<byte>(_ram.Pointer + at, 4096));

    /// <summary>Starts the kernel code at CPL 0 (IDT, TR and the syscall MSRs set up) and runs until HLT.</summary>
    private void RunKernel()
    {
        StartKernel();
        for (int i = 0; i < 200 && !_cpu.IsHalted && !_cpu.ShutdownRequested; i++)
            _cpu.Run(1);
    }

    [Fact]
    public void Syscall_Enters_The_Kernel_And_Sysret_Returns_To_The_User_Program()
    {
        ulong entry = KernelCode + 0x800, user = UserCode;
        Load(KernelCode, a =>
        {
            a.mov(ax, (ushort)TssSel); a.ltr(ax);
            a.mov(ecx, 0xC0000080); a.rdmsr(); a.or(eax, 1); a.wrmsr();                  // EFER.SCE
            a.mov(ecx, 0xC0000081); a.xor(eax, eax); a.mov(edx, (uint)(KernelCs | ((UserSs - 8) << 16))); a.wrmsr(); // STAR
            a.mov(ecx, 0xC0000082); a.mov(eax, (uint)entry); a.xor(edx, edx); a.wrmsr(); // LSTAR
            a.mov(ecx, 0xC0000084); a.mov(eax, 0x200); a.xor(edx, edx); a.wrmsr();       // SFMASK: IF
            // IRETQ to user mode with IF set
            a.push((int)UserSs); a.mov(rax, UserStack); a.push(rax); a.push(0x202); a.push((int)UserCs); a.mov(rax, user); a.push(rax);
            a.iretq();
        });
        Load(entry, a =>
        {
            a.mov(r12, rcx); a.mov(r13, r11); a.pushfq(); a.pop(r14); // what SYSCALL left
            a.add(rax, 1000);
            a.sysretq();
        });
        Load(user, a =>
        {
            a.mov(eax, 42);
            a.syscall();
            a.mov(r15, rax);
            a.hlt(); // #GP at CPL 3
        });
        Gate(13, KernelCode + 0xC00);
        Load(KernelCode + 0xC00, a => { a.pop(rbx); a.hlt(); }); // error code into RBX, then stop
        RunKernel();
        Assert.Equal(1042UL, _cpu.GetRegister(15));                // the kernel saw the call and returned
        Assert.Equal(user + 7, _cpu.GetRegister(12));              // RCX = the instruction after SYSCALL (mov eax,42 is 5 bytes, syscall 2)
        Assert.Equal(0x202UL, _cpu.GetRegister(13) & 0x3FFFFF);    // R11 = RFLAGS at the call
        Assert.Equal(0UL, _cpu.GetRegister(14) & 0x200);           // SFMASK cleared IF in the kernel
        Assert.Equal(0UL, _cpu.GetRegister(X86Cpu.Rbx));          // HLT at CPL 3: #GP(0)
        Assert.Equal(0, _cpu.CurrentPrivilegeLevel);
    }

    [Fact]
    public void An_Interrupt_Gate_From_User_Mode_Switches_To_Rsp0_And_Ist_Stacks_Are_Used_When_Asked()
    {
        Load(KernelCode, a =>
        {
            a.mov(ax, (ushort)TssSel); a.ltr(ax);
            a.push((int)UserSs); a.mov(rax, UserStack); a.push(rax); a.push(0x202); a.push((int)UserCs); a.mov(rax, UserCode); a.push(rax);
            a.iretq();
        });
        Load(UserCode, a =>
        {
            a.db(0xCD, 0x80);        // INT 0x80 (DPL 3 gate): RSP0 stack
            a.mov(r15, rsp);
            a.int3();                // DPL 3 gate with IST 1
        });
        Gate(0x80, KernelCode + 0x800, dpl: 3);
        Load(KernelCode + 0x800, a => { a.mov(r12, rsp); a.iretq(); });
        Gate(3, KernelCode + 0xA00, ist: 1, dpl: 3);
        Load(KernelCode + 0xA00, a => { a.mov(r13, rsp); a.hlt(); });
        RunKernel();
        // INT 0x80 pushed SS, RSP, RFLAGS, CS, RIP on the RSP0 stack (16-byte aligned)
        ulong frame = _cpu.GetRegister(12);
        Assert.Equal(KernelStack - 40, frame);
        Assert.Equal(UserCode + 2, R(frame));          // return RIP after INT 0x80
        Assert.Equal(UserCs, R(frame + 8));
        Assert.Equal(0x202UL, R(frame + 16) & 0x3FFFFF);
        Assert.Equal(UserStack, R(frame + 24));
        Assert.Equal(UserSs, R(frame + 32));
        Assert.Equal(UserStack, _cpu.GetRegister(15));   // IRETQ restored the user stack
        Assert.Equal(IstStack - 40, _cpu.GetRegister(13)); // INT3 used IST1, not RSP0
    }

    [Fact]
    public void Unknown_Msrs_Raise_Gp_And_Rdmsr_At_Cpl3_Too()
    {
        Load(KernelCode, a =>
        {
            a.mov(ecx, 0x12345678);
            a.rdmsr();
            a.hlt();
        });
        Gate(13, KernelCode + 0x800);
        Load(KernelCode + 0x800, a => { a.pop(rbx); a.mov(r12, __qword_ptr[rsp]); a.hlt(); });
        RunKernel();
        Assert.Equal((13, 0u), _cpu.LastException);
        Assert.Equal(KernelCode + 5, _cpu.GetRegister(12)); // the fault reports the RDMSR itself (mov ecx is 5 bytes)
    }

    /// <summary>
    /// IA32_TSC_ADJUST (SDM 17.17.3), which CPUID.(7,0):EBX[1] announces (with the invariant TSC Linux then keeps the TSC
    /// without the watchdog): 0 at reset; a write moves the TSC by the change; a write to IA32_TSC moves it by what the
    /// TSC moved. The machine's clock stands still at 5000 here.
    /// </summary>
    [Fact]
    public void Tsc_Adjust_Is_Announced_And_Follows_Writes_To_Either_Msr()
    {
        _cpu.ReadTsc = static () => 5000;
        Load(KernelCode, a =>
        {
            a.mov(eax, 7); a.xor(ecx, ecx); a.cpuid(); a.mov(r8, rbx);
            a.mov(ecx, 0x3B); a.rdmsr(); a.mov(r9, rax);
            a.mov(ecx, 0x3B); a.mov(eax, 1000); a.xor(edx, edx); a.wrmsr();
            a.rdtsc(); a.mov(r10, rax);
            a.mov(ecx, 0x10); a.mov(eax, 20000); a.xor(edx, edx); a.wrmsr();
            a.mov(ecx, 0x3B); a.rdmsr(); a.mov(r11, rax);
            a.rdtsc(); a.mov(r12, rax);
            a.hlt();
        });
        RunKernel();
        Assert.Equal(2UL, _cpu.GetRegister(8) & 2);   // TSC_ADJUST
        Assert.Equal(0UL, _cpu.GetRegister(9));
        Assert.Equal(6000UL, _cpu.GetRegister(10));
        Assert.Equal(15000UL, _cpu.GetRegister(11));  // 1000 + (20000 - 6000)
        Assert.Equal(20000UL, _cpu.GetRegister(12));
    }

    /// <summary>An interrupt controller with one request for vector 0x30, until acknowledged.</summary>
    private sealed class OneRequest : Wemu.Devices.X86.IX86InterruptController
    {
        public bool Pending = true;
        public bool HasMaskableInterrupt => Pending;
        public int AcknowledgeMaskableInterrupt()
        {
            Pending = false;
            return 0x30;
        }
        public bool HasNmi => false;
        public void TakeNmi() { }
    }

    /// <summary>
    /// STI; HLT (Linux's safe_halt) with an interrupt waiting, after a loop that runs compiled: the HLT must come first
    /// and the interrupt wake it, so the handler returns past the HLT. (If compiled code ran the STI, the interpreter,
    /// which takes what waits before it runs an instruction, took it before the HLT: the handler returned to the HLT,
    /// which slept with nothing left to wake it.) Run as the machine does: the interpreter takes what is deliverable,
    /// the JIT runs, and a halted CPU wakes for a deliverable interrupt. A lone STI does run compiled (IF set).
    /// </summary>
    [Theory]
    [InlineData("native")]
    [InlineData("il")]
    public void Sti_Hlt_After_Compiled_Code_Sleeps_Until_The_Waiting_Interrupt(string backend)
    {
        Load(KernelCode, a =>
        {
            CompiledLoopWithInterruptsOff(a);
            a.sti();
            a.hlt();
            a.mov(r10, 5);
            a.hlt();
        });
        Gate(0x30, KernelCode + 0x800);
        Load(KernelCode + 0x800, a => { a.mov(r14, 7); a.iretq(); });
        var controller = new OneRequest();
        _cpu.InterruptController = controller;
        StartKernel();
        using var jit = new Wemu.Cpu.X86.X86JitEngine(new Wemu.Jit.JitOptions { Threshold = 1, NativeCode = backend == "native" });
        RunAsTheMachine(jit);
        Assert.Equal(7UL, _cpu.GetRegister(14));   // the handler ran
        Assert.False(controller.Pending);
        Assert.Equal(5UL, _cpu.GetRegister(10));   // and returned past the first HLT
        Assert.Equal(45150UL, _cpu.GetRegister(0));
        Assert.True(jit.Statistics.CompiledInstructions > 300, "the loop did not run compiled");
    }

    /// <summary>
    /// An interrupt that waits while IF is clear is taken soon after a compiled STI, not when something next makes the
    /// CPU look (a device tick): the CPU looked once, found IF clear and stopped looking, and compiled code sets no flag,
    /// so a compiled STI leaves for the interpreter while one waits (register slot 39, set before compiled code runs).
    /// With STI compiled regardless, the interrupt waited here for the whole spin loop, and natively the boot with two
    /// pigz runs took 3.5x the untranslated exits.
    /// </summary>
    [Theory]
    [InlineData("native")]
    [InlineData("il")]
    public void A_Waiting_Interrupt_Is_Taken_Soon_After_Sti(string backend)
    {
        Load(KernelCode, a =>
        {
            var spin = a.CreateLabel();
            CompiledLoopWithInterruptsOff(a);
            a.sti();
            a.xor(r11d, r11d);
            a.Label(ref spin);
            a.inc(r11);
            a.cmp(r11, 100_000);
            a.jne(spin);
            a.hlt();
        });
        Gate(0x30, KernelCode + 0x800);
        Load(KernelCode + 0x800, a => { a.mov(r12, r11); a.mov(r14, 7); a.iretq(); });
        var controller = new OneRequest();
        _cpu.InterruptController = controller;
        StartKernel();
        using var jit = new Wemu.Cpu.X86.X86JitEngine(new Wemu.Jit.JitOptions { Threshold = 1, NativeCode = backend == "native" });
        RunAsTheMachine(jit);
        Assert.Equal(7UL, _cpu.GetRegister(14));
        Assert.Equal(100_000UL, _cpu.GetRegister(11));
        Assert.True(_cpu.GetRegister(12) < 1_000, $"the interrupt came after {_cpu.GetRegister(12)} spins");
    }

    /// <summary>CLI, then a loop of 300 (RAX = 45,150) that gets hot and runs compiled.</summary>
    private static void CompiledLoopWithInterruptsOff(Assembler a)
    {
        var top = a.CreateLabel();
        a.cli();
        a.mov(ecx, 300);
        a.Label(ref top);
        a.add(eax, ecx);
        a.dec(ecx);
        a.jnz(top);
    }

    /// <summary>Resets the CPU into the kernel code at CPL 0 (the IDT, kernel stack and long mode set up).</summary>
    private void StartKernel()
    {
        _cpu.Reset();
        _cpu.Cr4 |= X86Cpu.Cr4Osfxsr;
        _cpu.EnterLongMode(KernelCode, Pml4, Gdt, 0x4F, (ushort)KernelCs, 0x00AF_9B00_0000_FFFF, (ushort)KernelSs, 0x00CF_9300_0000_FFFF);
        _cpu.IdtBase = Idt;
        _cpu.IdtLimit = 0xFFF;
        _cpu.SetRegister(X86Cpu.Rsp, KernelStack - 0x100);
    }

    /// <summary>As MicrovmMachine runs the CPU with the JIT: a halted CPU wakes for a deliverable interrupt, the interpreter takes what is deliverable, then compiled code runs. No device ticks.</summary>
    private void RunAsTheMachine(Wemu.Cpu.X86.X86JitEngine jit)
    {
        for (int i = 0; i < 100_000 && !_cpu.ShutdownRequested; i++)
        {
            if (_cpu.IsHalted)
            {
                if (!_cpu.HasWakeUpInterrupt)
                    break;
                _cpu.IsHalted = false;
            }
            if (_cpu.InterruptCheckPending)
                _cpu.Run(1);
            if (!_cpu.IsHalted)
            {
                _cpu.NoteInterruptWaiting();
                jit.Run(_cpu, 50);
            }
        }
    }
}
