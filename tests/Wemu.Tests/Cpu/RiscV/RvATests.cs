using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>A extension: LR/SC reservations and every AMO, word and doubleword (Unpriv. chapter 8).</summary>
public class RvATests
{
    [Fact]
    public void Amo_Return_Old_Value_And_Store_Result() => BareMetal.AssertPasses("""
        la s0, amo_data
        li t1, 0x80000000
        sw t1, 0(s0)
        li gp, 2
        li a1, -1
        amoadd.w a0, a1, (s0)
        li t2, 0xffffffff80000000
        bne a0, t2, fail
        lw a0, 0(s0)
        li t2, 0x7fffffff
        bne a0, t2, fail
        li gp, 3
        li a1, 5
        amominu.w a0, a1, (s0)
        lw a0, 0(s0)
        li t2, 5
        bne a0, t2, fail
        li gp, 4
        li a1, -9
        amomin.w a0, a1, (s0)
        lw a0, 0(s0)
        li t2, -9
        bne a0, t2, fail
        li gp, 5
        li a1, 3
        amomaxu.w a0, a1, (s0)
        lw a0, 0(s0)
        li t2, -9
        bne a0, t2, fail
        li gp, 6
        li a1, -1
        sd a1, 8(s0)
        li a1, 1
        addi s1, s0, 8
        amomax.d a0, a1, (s1)
        li t2, -1
        bne a0, t2, fail
        ld a0, 8(s0)
        li t2, 1
        bne a0, t2, fail
        li gp, 7
        li a1, 0xf0
        amoor.d a0, a1, (s0)
        li a1, 0xff
        amoand.d a0, a1, (s0)
        li a1, 0x0f
        amoxor.d a0, a1, (s0)
        ld a0, 0(s0)
        li t2, 0xf7 ^ 0x0f
        bne a0, t2, fail
        li gp, 8
        li a1, 0x1234
        amoswap.d a0, a1, (s0)
        li t2, 0xf8
        bne a0, t2, fail
        ld a0, 0(s0)
        li t2, 0x1234
        bne a0, t2, fail
        j 1f
        .data
        .align 4
        amo_data: .dword 0, 0
        .text
        1:
        """);

    [Fact]
    public void LrSc_Succeeds_Once_Then_Fails() => BareMetal.AssertPasses("""
        la s0, lr_data
        li gp, 2
        lr.d a0, (s0)
        li a1, 42
        sc.d a2, a1, (s0)
        bnez a2, fail
        ld a0, 0(s0)
        li t2, 42
        bne a0, t2, fail
        li gp, 3
        li a1, 7
        sc.d a2, a1, (s0)
        beqz a2, fail
        ld a0, 0(s0)
        li t2, 42
        bne a0, t2, fail
        li gp, 4
        lr.w a0, (s0)
        li t2, 42
        bne a0, t2, fail
        sc.w a2, zero, (s0)
        bnez a2, fail
        lw a0, 0(s0)
        bnez a0, fail
        j 1f
        .data
        .align 3
        lr_data: .dword 0
        .text
        1:
        """);
}
