using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>RV64I base instructions with edge values (Unpriv. chapters 2 and 5).</summary>
public class RvITests
{
    [Fact]
    public void Add_Sub_Overflow_And_Wrap() => BareMetal.AssertPasses("""
        TEST_RR 2, add, 0, 0, 0
        TEST_RR 3, add, -2, -1, -1
        TEST_RR 4, add, 0x8000000000000000, 0x7fffffffffffffff, 1
        TEST_RR 5, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
        TEST_RR 6, sub, -1, 0, 1
        TEST_RR 7, addw, 0xffffffff80000000, 0x7fffffff, 1
        TEST_RR 8, subw, 0x7fffffff, 0xffffffff80000000, 1
        TEST_RR 9, addw, 0, 0x100000000, 0
        TEST_RI 10, addi, -1, 0, -1
        TEST_RI 11, addi, 0x8000000000000000, 0x80000000000007ff, -2047
        TEST_RI 12, addiw, 0xffffffff80000000, 0x7fffffff, 1
        TEST_RI 13, addiw, 0x7ff, 0xffffffff00000000, 2047
        """);

    [Fact]
    public void Shifts_Use_Low_Six_Or_Five_Bits() => BareMetal.AssertPasses("""
        TEST_RR 2, sll, 0x8000000000000000, 1, 63
        TEST_RR 3, sll, 2, 1, 65
        TEST_RR 4, srl, 1, 0x8000000000000000, 63
        TEST_RR 5, sra, -1, 0x8000000000000000, 63
        TEST_RR 6, sllw, 0xffffffff80000000, 1, 31
        TEST_RR 7, sllw, 2, 1, 33
        TEST_RR 8, srlw, 1, 0xffffffff80000000, 31
        TEST_RR 9, sraw, -1, 0x80000000, 31
        TEST_RR 10, srlw, 0x7fffffff, 0xffffffffffffffff, 1
        TEST_RI 11, slli, 0x8000000000000000, 1, 63
        TEST_RI 12, srli, 1, 0x8000000000000000, 63
        TEST_RI 13, srai, -1, 0x8000000000000000, 63
        TEST_RI 14, slliw, 0xffffffff80000000, 1, 31
        TEST_RI 15, srliw, 0x1, 0xffffffff80000000, 31
        TEST_RI 16, sraiw, -1, 0x80000000, 31
        TEST_RI 17, sraiw, 0, 0xffffffff00000000, 0
        """);

    [Fact]
    public void Compares_Signed_And_Unsigned() => BareMetal.AssertPasses("""
        TEST_RR 2, slt, 1, -1, 0
        TEST_RR 3, sltu, 0, -1, 0
        TEST_RR 4, slt, 1, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR 5, sltu, 0, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RI 6, slti, 1, -2, -1
        TEST_RI 7, sltiu, 1, 0, -1
        TEST_RI 8, sltiu, 0, -1, -1
        TEST_RR 9, slt, 0, 5, 5
        """);

    [Fact]
    public void Logic_And_Upper_Immediates() => BareMetal.AssertPasses("""
        TEST_RR 2, xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR 3, or, 0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR 4, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RI 5, xori, 0xffffffffff00f00f, 0x0000000000ff0ff0, -1
        TEST_RI 6, andi, 0x7f0, 0xfff0, 0x7ff - 0xf
        TEST_RI 7, ori, -1, 0, -1
        li gp, 8
        lui a0, 0x80000
        li t2, 0xffffffff80000000
        bne a0, t2, fail
        li gp, 9
        lui a0, 0x7ffff
        li t2, 0x7ffff000
        bne a0, t2, fail
        li gp, 10
        1: auipc a0, 0
        la t2, 1b
        bne a0, t2, fail
        """);

    [Fact]
    public void Loads_Sign_And_Zero_Extend_Including_Misaligned() => BareMetal.AssertPasses("""
        la s0, data
        li gp, 2
        lb a0, 7(s0)
        li t2, -128
        bne a0, t2, fail
        li gp, 3
        lbu a0, 7(s0)
        li t2, 0x80
        bne a0, t2, fail
        li gp, 4
        lh a0, 6(s0)
        li t2, 0xffffffffffff8070
        bne a0, t2, fail
        li gp, 5
        lhu a0, 6(s0)
        li t2, 0x8070
        bne a0, t2, fail
        li gp, 6
        lw a0, 4(s0)
        li t2, 0xffffffff80706050
        bne a0, t2, fail
        li gp, 7
        lwu a0, 4(s0)
        li t2, 0x80706050
        bne a0, t2, fail
        li gp, 8
        ld a0, 0(s0)
        li t2, 0x8070605040302010
        bne a0, t2, fail
        li gp, 9
        ld a0, 1(s0)
        li t2, 0x0180706050403020
        bne a0, t2, fail
        li gp, 10
        sd zero, 16(s0)
        li t1, 0x1122334455667788
        sd t1, 17(s0)
        ld a0, 16(s0)
        li t2, 0x2233445566778800
        bne a0, t2, fail
        li gp, 11
        sb t1, 0(s0)
        sh t1, 2(s0)
        sw t1, 8(s0)
        lbu a0, 0(s0)
        li t2, 0x88
        bne a0, t2, fail
        lhu a0, 2(s0)
        li t2, 0x7788
        bne a0, t2, fail
        lwu a0, 8(s0)
        li t2, 0x55667788
        bne a0, t2, fail
        j 2f
        .data
        .align 3
        data: .dword 0x8070605040302010, 0x0000000000000001, 0, 0, 0
        .text
        2:
        """);

    [Fact]
    public void Branches_And_Jumps_Link_Correctly() => BareMetal.AssertPasses("""
        li gp, 2
        li a1, -1
        li a2, 1
        blt a2, a1, fail
        bge a1, a2, fail
        bltu a1, a2, fail
        bgeu a2, a1, fail
        beq a1, a2, fail
        bne a1, a1, fail
        li gp, 3
        jal ra, 1f
        j fail
        1: la t2, 1b
        addi t2, t2, -4
        bne ra, t2, fail
        li gp, 4
        la t0, 2f
        addi t0, t0, 1
        jalr t1, 0(t0)
        j fail
        2: la t2, 2b
        addi t2, t2, -4
        bne t1, t2, fail
        li gp, 5
        la t0, 3f
        jalr t0, 0(t0)
        3: la t2, 3b
        bne t0, t2, fail
        """);

    [Fact]
    public void X0_Ignores_Writes() => BareMetal.AssertPasses("""
        li gp, 2
        li x0, 5
        addi x0, x0, 7
        lui x0, 0x12345
        bnez x0, fail
        """);
}
