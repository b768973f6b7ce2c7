using Wemu.Cpu;
using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Machines;
using Wemu.Tests.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Self-modifying code: a loop runs (and is compiled), then an instruction it executes is
/// overwritten and the loop runs again; the new instruction must take effect on both engines
/// (lockstep against the interpreter, self-checks validated on QEMU), and the JIT must have
/// dropped compiled blocks to get there (<see cref="JitStatistics.Invalidations"/>), which shows
/// the invalidation ran rather than the stale block happening to be gone.
/// </summary>
public sealed class JitSelfModifyingCodeTests
{
    /// <summary>The patching sequences: each copies the 32-bit instruction at t0 over the one at t2.</summary>
    public static TheoryData<string, bool> StoreKinds()
    {
        var data = new TheoryData<string, bool>();
        foreach (string kind in (string[])["sw", "sb", "amoswap.w", "sc.w", "fsw"])
        {
            data.Add(kind, false);
            data.Add(kind, true);
        }
        return data;
    }

    private static string PatchSequence(string kind) => kind switch
    {
        "sw" => """
                lw t1, 0(t0)
                sw t1, 0(t2)
            """,
        "sb" => """
                lbu t1, 0(t0)
                sb t1, 0(t2)
                lbu t1, 1(t0)
                sb t1, 1(t2)
                lbu t1, 2(t0)
                sb t1, 2(t2)
                lbu t1, 3(t0)
                sb t1, 3(t2)
            """,
        "amoswap.w" => """
                lw t1, 0(t0)
                amoswap.w x0, t1, (t2)
            """,
        "sc.w" => """
                lw t1, 0(t0)
            7:  lr.w t3, (t2)
                sc.w t4, t1, (t2)
                bnez t4, 7b
            """,
        _ => """
                flw ft0, 0(t0)
                fsw ft0, 0(t2)
            """,
    };

    private static void AssertInvalidated(RiscVJitEngine[] engines)
    {
        foreach (var jit in engines)
        {
            Assert.True(jit.Statistics.Invalidations > 0, $"threshold {jit.Threshold}: no compiled block was invalidated ({jit.Statistics})");
            // Blocks of the patched page were compiled again after the patch.
            Assert.True(jit.Statistics.BlocksCompiled > jit.Statistics.Invalidations, $"threshold {jit.Threshold}: {jit.Statistics}");
        }
    }

    /// <summary>
    /// A function with a loop is called six times; after the fourth call, code of the same page
    /// patches it (at threshold 1 from inside a compiled region, which runs on to the fence.i,
    /// where it ends). By then the calling loop is compiled with the function inlined into its
    /// region, so only invalidation can make the last two calls see the new instruction.
    /// </summary>
    [Theory]
    [MemberData(nameof(StoreKinds))]
    public void Store_Into_The_Same_Page_Then_Fence_I(string kind, bool compressed) => AssertInvalidated(JitBareMetal.AssertLockstep($$"""
            li t0, 0x6000
            csrs mstatus, t0
            li s3, 6
            li a0, 0
        smc_outer:
            jal ra, smc_func
            addi s3, s3, -1
            li t0, 2
            bne s3, t0, smc_next
            la t0, smc_template
            la t2, smc_patch
        {{PatchSequence(kind)}}
            fence.i
        smc_next:
            bnez s3, smc_outer
            TEST_EQ 2, a0, 80
            j smc_end
        smc_func:
            li s2, 10
        smc_loop:
            .option push
            .option norvc
        smc_patch:
            addi a0, a0, 1
            .option pop
            addi s2, s2, -1
            bnez s2, smc_loop
            ret
            .option push
            .option norvc
        smc_template:
            addi a0, a0, 2
            .option pop
        smc_end:
        """, compressed));

    /// <summary>
    /// Code in one page patches a function in another page that the loop calls: first followed by
    /// fence.i, then without it (Wemu, like QEMU, sees a store to code at once; the interpreter
    /// always does, and the JIT must agree with it).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Store_From_Another_Page_With_And_Without_Fence_I(bool compressed) => AssertInvalidated(JitBareMetal.AssertLockstep("""
            li a0, 0
            li s3, 0
        b_again:
            li s2, 10
        b_loop:
            jal ra, b_func
            addi s2, s2, -1
            bnez s2, b_loop
            li t0, 1
            beq s3, t0, b_phase2
            li t0, 2
            beq s3, t0, b_done
            li s3, 1
            la t0, b_template2
            la t2, b_func
            lw t1, 0(t0)
            sw t1, 0(t2)
            fence.i
            j b_again
        b_phase2:
            li s3, 2
            la t0, b_template3
            la t2, b_func
            lw t1, 0(t0)
            sw t1, 0(t2)
            j b_again
        b_done:
            TEST_EQ 2, a0, 60
            j b_end
            .option push
            .option norvc
        b_template2:
            addi a0, a0, 2
        b_template3:
            addi a0, a0, 3
            .balign 4096
        b_func:
            addi a0, a0, 1
            ret
            .option pop
            .balign 4096
        b_end:
        """, compressed));

    /// <summary>
    /// A misaligned doubleword store that starts at the end of one page and ends in the first
    /// instruction of the next page, which holds a compiled loop: the store's second half must
    /// invalidate it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Store_Crossing_Into_The_Code_Page(bool compressed) => AssertInvalidated(JitBareMetal.AssertLockstep("""
            li a0, 0
            li s3, 0
        x_again:
            li s2, 10
            jal ra, x_func
            bnez s3, x_done
            li s3, 1
            la t0, x_template
            la t2, x_func
            lwu t3, -4(t2)
            lwu t1, 0(t0)
            slli t1, t1, 32
            or t1, t1, t3
            sd t1, -4(t2)
            fence.i
            j x_again
        x_done:
            TEST_EQ 2, a0, 30
            j x_end
            .option push
            .option norvc
        x_template:
            addi a0, a0, 2
            .balign 4096
        x_func:
            addi a0, a0, 1
            addi s2, s2, -1
            bnez s2, x_func
            ret
            .option pop
            .balign 4096
        x_end:
        """, compressed));

    /// <summary>
    /// A function's immediate rewritten before each of 40 calls (sum 0..39): at threshold 1 its
    /// page is compiled and invalidated again and again until the engine gives up compiling it
    /// (after 32 invalidations) and interprets it; the results must not change on the way.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Page_Rewritten_Over_And_Over(bool compressed)
    {
        var engines = JitBareMetal.AssertLockstep("""
                li s3, 0
                li a0, 0
                la s4, many_template
                lw s5, 0(s4)
                la s6, many_func
            many_loop:
                slli t0, s3, 20
                or t1, s5, t0
                sw t1, 0(s6)
                fence.i
                jal ra, many_func
                addi s3, s3, 1
                li t0, 40
                blt s3, t0, many_loop
                TEST_EQ 2, a0, 780
                j many_end
                .option push
                .option norvc
            many_template:
                addi a0, a0, 0
                .balign 4096
            many_func:
                addi a0, a0, 0
                ret
                .option pop
                .balign 4096
            many_end:
            """, compressed);
        Assert.True(engines[0].Statistics.Invalidations >= 32, $"threshold 1: {engines[0].Statistics}");
        Assert.True(engines[1].Statistics.Invalidations > 0, $"threshold 2: {engines[1].Statistics}");
    }

    /// <summary>
    /// A page given up as self-modifying (rewritten 40 times in a row) is compiled again once it has
    /// been left alone for <see cref="JitOptions.RewriteWindow"/> instructions: then 50,000 calls of
    /// its function (100,000 instructions) run compiled; with an endless window they stay interpreted.
    /// </summary>
    [Fact]
    public void Page_Left_Alone_Is_Compiled_Again()
    {
        string elfPath = BareMetal.Assemble("""
                li s3, 0
                li a0, 0
                la s4, again_template
                lw s5, 0(s4)
                la s6, again_func
            again_loop:
                slli t0, s3, 20
                or t1, s5, t0
                sw t1, 0(s6)
                fence.i
                jal ra, again_func
                addi s3, s3, 1
                li t0, 40
                blt s3, t0, again_loop
                TEST_EQ 2, a0, 780
                # leave the page alone for a while
                li t0, 100000
            again_wait:
                addi t0, t0, -1
                bnez t0, again_wait
                li s3, 50000
            again_calls:
                jal ra, again_func
                addi s3, s3, -1
                bnez s3, again_calls
                TEST_EQ 3, a0, 1950780
                j again_end
                .option push
                .option norvc
            again_template:
                addi a0, a0, 0
                .balign 4096
            again_func:
                addi a0, a0, 0
                ret
                .option pop
                .balign 4096
            again_end:
            """);
        var elf = ElfImage.Parse(File.ReadAllBytes(elfPath));
        long Compiled(ulong window)
        {
            int exit = -1;
            var jit = JitLockstep.Run(() => BareHart.FromElf(elf), new JitOptions { Threshold = 1, RewriteWindow = window }, seed: 5,
                $"window {window}", maxInstructions: 5_000_000, atEnd: m => exit = m.ExitCode);
            Assert.True(exit == 0, $"window {window}: both engines fail test number {exit}");
            return jit.Statistics.CompiledInstructions;
        }
        long endless = Compiled(ulong.MaxValue), shortWindow = Compiled(50_000);
        Assert.True(shortWindow - endless >= 90_000, $"compiled instructions: {shortWindow} with a 50,000-instruction window, {endless} with an endless one");
    }

    /// <summary>
    /// A write from outside the hart (a loader or device DMA through <see cref="Memory.PhysicalBus.Load"/>)
    /// over compiled code: the next run sees the new instruction.
    /// </summary>
    [Fact]
    public void Host_Write_Over_Compiled_Code()
    {
        string elfPath = BareMetal.Assemble("""
            .globl dma_start
        dma_start:
            li a0, 0
            li s2, 10
        dma_loop:
            .option push
            .option norvc
        dma_patch:
            addi a0, a0, 1
            .option pop
            addi s2, s2, -1
            bnez s2, dma_loop
            wfi
            .option push
            .option norvc
        dma_template:
            addi a0, a0, 2
            .option pop
        """);
        var elf = ElfImage.Parse(File.ReadAllBytes(elfPath));
        ulong start = elf.Symbols["dma_start"], patch = elf.Symbols["dma_patch"], template = elf.Symbols["dma_template"];
        var reference = new RiscVInterpreter();
        var jit = new RiscVJitEngine(new JitOptions { Threshold = 1 });
        using var a = BareHart.FromElf(elf);
        using var b = BareHart.FromElf(elf);
        foreach (var (m, engine) in (ReadOnlySpan<(BareHart, ICpuEngine<RiscVHart>)>)[(a, reference), (b, jit)])
        {
            m.Hart.ProgramCounter = start;
            RunToWfi(m, engine);
            Assert.Equal(10UL, m.Hart.GetRegister(10));
            m.Write(patch, BitConverter.GetBytes((uint)m.Read64(template)));
            m.Hart.ProgramCounter = start;
            m.Hart.IsWaiting = false;
            RunToWfi(m, engine);
            Assert.Equal(20UL, m.Hart.GetRegister(10));
        }
        Assert.Equal("", JitLockstep.Compare(a, b));
        Assert.True(jit.Statistics.Invalidations > 0, jit.Statistics.ToString());
    }

    private static void RunToWfi(BareHart m, ICpuEngine<RiscVHart> engine)
    {
        for (int i = 0; i < 10_000 && !m.Hart.IsWaiting; i++)
            engine.Run(m.Hart, 100);
        Assert.True(m.Hart.IsWaiting, $"{engine.Name}: no WFI");
    }
}
