using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Hand-written programs aimed at the translator's tricky parts (regions of several blocks with
/// internal loops, entries in the middle of a compiled block, the page end, x0, jalr with
/// rd == rs1, the region size cap, interpreter exits inside loops). Each is self-checking,
/// validated on QEMU, and run in lockstep against the interpreter (<see cref="JitBareMetal"/>),
/// without and with RVC.
/// </summary>
public sealed class JitTranslatorEdgeTests
{
    /// <summary>A loop whose body is five blocks in one page (two-way branch, join, call and return) compiles as one region with an internal back edge.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Loop_Body_Of_Several_Blocks_In_One_Page(bool compressed) => JitBareMetal.AssertLockstep("""
            li s2, 20
            li a0, 0
            li a1, 0
            li a2, 0
            li a3, 0
        1:  andi t0, s2, 1
            beqz t0, 2f
            addi a0, a0, 3
            j 3f
        2:  addi a1, a1, 5
            andi t1, s2, 3
            bnez t1, 3f
            addi a2, a2, 7
        3:  jal ra, 5f
            addi s2, s2, -1
            bnez s2, 1b
            # s2 = 20..1: ten odd values, ten even, five multiples of 4
            TEST_EQ 2, a0, 30
            TEST_EQ 3, a1, 50
            TEST_EQ 4, a2, 35
            TEST_EQ 5, a3, 20
            j 6f
        5:  addi a3, a3, 1
            ret
        6:
        """, compressed);

    /// <summary>
    /// Entering compiled code in the middle: a back edge to an instruction inside the entry block
    /// (the region then holds that code twice), and a jump into the middle of a block that was
    /// compiled from its start.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Branch_Into_The_Middle_Of_A_Block(bool compressed) => JitBareMetal.AssertLockstep("""
            # back edge into the middle of the block entered at 1:
            li s2, 5
            li a0, 0
            li a1, 0
        1:  addi a0, a0, 1
        2:  addi a1, a1, 1
            addi s2, s2, -1
            bnez s2, 2b
            TEST_EQ 2, a0, 1
            TEST_EQ 3, a1, 5
            # a loop compiled from its head, then entered at an inner instruction
            li s3, 0
            li s2, 5
            li a0, 0
            li a1, 0
            li a2, 0
        3:  addi a0, a0, 1
        4:  addi a1, a1, 1
            addi a2, a2, 2
            addi s2, s2, -1
            bnez s2, 3b
            bnez s3, 5f
            li s3, 1
            li s2, 4
            j 4b
        5:  TEST_EQ 4, a0, 8
            TEST_EQ 5, a1, 9
            TEST_EQ 6, a2, 18
        """, compressed);

    /// <summary>
    /// A loop whose head is at page offset 0xff0 and whose fourth instruction, a 32-bit addi at
    /// 0xffe, crosses into the next page (RVC places it there in both builds): the region ends
    /// before it, the interpreter runs it, and the loop tail on the next page is its own region.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Thirty_Two_Bit_Instruction_Crossing_The_Page_End(bool compressed) => JitBareMetal.AssertLockstep("""
            li s2, 10
            li a0, 0
            li a1, 0
            li a2, 0
            li a3, 0
            li a4, 0
            j cross_head
            .balign 4096
            .skip 0xff0
        cross_head:
            .option push
            .option norvc
            addi a0, a0, 1
            addi a1, a1, 2
            addi a2, a2, 3
            .option rvc
            c.addi a3, 4
            .option norvc
        cross_insn:
            addi a4, a4, 5
            addi s2, s2, -1
            bnez s2, cross_head
            .option pop
            la t0, cross_insn
            li t1, 0xfff
            and t0, t0, t1
            TEST_EQ 2, t0, 0xffe
            TEST_EQ 3, a0, 10
            TEST_EQ 4, a1, 20
            TEST_EQ 5, a2, 30
            TEST_EQ 6, a3, 40
            TEST_EQ 7, a4, 50
        """, compressed);

    /// <summary>x0 as the destination of loads, ALU ops, M ops, AMOs, LR/SC, F-to-integer moves, CSR reads and jumps: the results vanish, side effects (memory, traps) stay, and later reads of x0 in the same block see 0.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void X0_As_Destination(bool compressed) => JitBareMetal.AssertLockstep("""
            li t0, 0x6000
            csrs mstatus, t0
            la s0, x0_data
            li a0, 0x1234
            sd a0, 0(s0)
            fmv.d.x f1, a0
            li s2, 4
        1:  ld x0, 0(s0)
            lw zero, 0(s0)
            lbu zero, 1(s0)
            lh zero, 2(s0)
            addi x0, a0, 1
            add x0, a0, a0
            slli x0, a0, 3
            lui x0, 0x12345
            auipc x0, 0
            mul x0, a0, a0
            divu x0, a0, x0
            addw x0, a0, a0
            add a1, x0, x0
            bnez a1, fail
            bnez x0, fail
            amoadd.d x0, a0, (s0)
            lr.d x0, (s0)
            sc.d x0, a0, (s0)
            fmv.x.d x0, f1
            fcvt.l.d x0, f1
            feq.d x0, f1, f1
            csrr x0, mscratch
            jal x0, 2f
            j fail
        2:  la t0, 3f
            jalr x0, 0(t0)
            j fail
        3:  addi a2, x0, 7
            sd x0, 8(s0)
            ld a3, 8(s0)
            bnez a3, fail
            TEST_EQ 2, a2, 7
            addi s2, s2, -1
            bnez s2, 1b
            # amoadd added a0 four times; the last sc.d stored a0
            ld a4, 0(s0)
            TEST_EQ 3, a4, 0x1234
            j 4f
            .section .data
            .balign 8
        x0_data: .dword 0, 0
            .section .text
        4:
        """, compressed);

    /// <summary>jalr with rd == rs1 (the target is read before the link is written), with an offset, with bit 0 of the target set, and jalr ra, 0(ra) (c.jalr ra under RVC).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Jalr_With_Rd_Equal_To_Rs1(bool compressed) => JitBareMetal.AssertLockstep("""
            li s2, 4
            li a0, 0
            li a1, 0
            li a2, 0
        1:  la t0, jr_callee
            jalr t0, 0(t0)
        jr_back:
            la t0, jr_callee2 + 9
            jalr t0, -8(t0)
        jr_back2:
            la ra, jr_callee3
            jalr ra, 0(ra)
            addi s2, s2, -1
            bnez s2, 1b
            TEST_EQ 2, a0, 4
            TEST_EQ 3, a1, 4
            TEST_EQ 4, a2, 4
            j 9f
        jr_callee:
            la t1, jr_back
            bne t0, t1, fail
            addi a0, a0, 1
            jalr t0, 0(t0)
        jr_callee2:
            la t1, jr_back2
            bne t0, t1, fail
            addi a1, a1, 1
            jr t0
        jr_callee3:
            addi a2, a2, 1
            ret
        9:
        """, compressed);

    /// <summary>A loop body longer than a region may be (256 instructions): the region ends mid-block and chains.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Block_Longer_Than_A_Region(bool compressed) => JitBareMetal.AssertLockstep("""
            li s2, 3
            li a0, 0
            li a1, 0
        1:  .rept 300
            addi a0, a0, 1
            .endr
            addi a1, a1, 1
            addi s2, s2, -1
            bnez s2, 1b
            TEST_EQ 2, a0, 900
            TEST_EQ 3, a1, 3
        """, compressed);

    /// <summary>
    /// Instructions only the interpreter runs (CSR accesses, fence.i) inside a compiled loop: the
    /// region exits to the interpreter and comes back. instret read in the loop is checked
    /// against the interpreter by the lockstep (QEMU's instret is not exact without -icount).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Interpreter_Exits_Inside_A_Loop(bool compressed) => JitBareMetal.AssertLockstep("""
            li s2, 8
            li a0, 0
            li a5, 0
        1:  addi a0, a0, 1
            csrw mscratch, a0
            csrr a1, mscratch
            bne a0, a1, fail
            csrr t0, instret
            addi a2, a2, 1
            fence.i
            addi a3, a3, 1
            csrr t1, minstret
            sub t2, t1, t0
            add a5, a5, t2
            addi s2, s2, -1
            bnez s2, 1b
            TEST_EQ 2, a0, 8
        """, compressed);
}
