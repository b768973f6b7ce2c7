using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>Traps: ecall/ebreak/illegal causes, xRET and WFI rules, CSR privilege, vectored mtvec (Priv. chapter 3). Each program runs on Wemu and on QEMU (<see cref="BareMetal"/>) unless marked otherwise.</summary>
public class PrivTrapTests
{
    /// <summary>The all-zero halfword (c.unimp) is an illegal instruction (Unpriv. 16.1), not a load.</summary>
    [Fact]
    public void Compressed_Unimp_Is_Illegal() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            2: .word 0
            1: CHECK_CAUSE 2, 2
            CHECK_EPC 3, 2b
        """);

    /// <summary>CSR address bits 9:8 give the lowest privilege (Priv. 2.1): S reading mstatus, U reading sstatus or satp are illegal.</summary>
    [Fact]
    public void Csr_Privilege_Violations_Are_Illegal() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, mstatus
            1: CHECK_CAUSE 2, 2
            CHECK_EPC 3, 2b
            CHECK_TVAL 4, 0x30002573
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrw mscratch, zero
            1: CHECK_CAUSE 5, 2
            la s8, 1f
            GOTO_MODE 0, 2f
            2: csrr a0, sstatus
            1: CHECK_CAUSE 6, 2
            CHECK_EPC 7, 2b
            la s8, 1f
            GOTO_MODE 0, 2f
            2: csrr a0, satp
            1: CHECK_CAUSE 8, 2
            # S may use its own CSRs
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrw sscratch, 5
            csrr a0, sscratch
            3: ecall
            1: CHECK_CAUSE 9, 9
            TEST_EQ 10, a0, 5
            # unknown CSR is illegal even in M
            la s8, 1f
            2: csrr a0, 0x7ff
            1: CHECK_CAUSE 11, 2
        """);

    /// <summary>ebreak: cause 3, mepc = the ebreak; mtval is the pc or zero (Priv. 3.1.16 allows both; QEMU 7.2 writes 0).</summary>
    [Fact]
    public void Ebreak_Is_Breakpoint_With_Pc_Or_Zero_Tval() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            2: ebreak
            1: CHECK_CAUSE 2, 3
            CHECK_EPC 3, 2b
            li gp, 4
            beqz s11, 3f
            la t2, 2b
            bne s11, t2, fail
            3:
            la s8, 1f
            GOTO_MODE 0, 2f
            2: ebreak
            1: CHECK_CAUSE 5, 3
            CHECK_EPC 6, 2b
        """);

    /// <summary>ecall from M, S and U: mcause 11/9/8, mepc = the ecall, mtval = 0, MPP = the trapping mode (Priv. 3.1.15).</summary>
    [Fact]
    public void Ecall_From_M_S_U_Sets_Cause_And_Epc() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            2: ecall
            1: CHECK_CAUSE 2, 11
            CHECK_EPC 3, 2b
            CHECK_TVAL 4, 0
            la s8, 1f
            GOTO_MODE 1, 2f
            2: ecall
            1: CHECK_CAUSE 5, 9
            CHECK_EPC 6, 2b
            CHECK_TVAL 7, 0
            li gp, 8
            csrr t1, mstatus
            srli t1, t1, 11
            andi t1, t1, 3
            li t2, 1
            bne t1, t2, fail
            la s8, 1f
            GOTO_MODE 0, 2f
            2: ecall
            1: CHECK_CAUSE 9, 8
            CHECK_EPC 10, 2b
            li gp, 11
            csrr t1, mstatus
            srli t1, t1, 11
            andi t1, t1, 3
            bnez t1, fail
        """);

    /// <summary>Illegal instructions: cause 2 with mtval = the instruction bits, in M and in U.</summary>
    [Fact]
    public void Illegal_Instruction_Reports_The_Instruction_Bits() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            2: .word 0x0000000b
            1: CHECK_CAUSE 2, 2
            CHECK_EPC 3, 2b
            CHECK_TVAL 4, 0x0000000b
            la s8, 1f
            GOTO_MODE 0, 2f
            2: .word 0x0000707b
            1: CHECK_CAUSE 5, 2
            CHECK_EPC 6, 2b
            CHECK_TVAL 7, 0x0000707b
            # mret from S and U is illegal
            la s8, 1f
            GOTO_MODE 1, 2f
            2: mret
            1: CHECK_CAUSE 8, 2
            CHECK_EPC 9, 2b
            CHECK_TVAL 12, 0x30200073
            la s8, 1f
            GOTO_MODE 0, 2f
            2: mret
            1: CHECK_CAUSE 10, 2
            # sfence.vma from U is illegal
            la s8, 1f
            GOTO_MODE 0, 2f
            2: sfence.vma
            1: CHECK_CAUSE 11, 2
        """);

    /// <summary>xRET to a mode below M clears MPRV (Priv. 3.1.6.3, 1.12+): mret to S or U, and sret.</summary>
    [Fact]
    public void Mret_And_Sret_Below_M_Clear_Mprv()
    {
        // Not checked on QEMU: QEMU 7.2 predates the Priv. 1.12 rule and keeps MPRV.
        PrivAsm.AssertPassesOnWemu(PrivAsm.Common + """
                li t1, 1 << 17
                csrs mstatus, t1
                la s8, 1f
                GOTO_MODE 1, 2f
                2: ecall
                1: CHECK_CAUSE 2, 9
                csrr t1, mstatus
                li gp, 3
                li t2, 1 << 17
                and t1, t1, t2
                bnez t1, fail
                li t1, 1 << 17
                csrs mstatus, t1
                la s8, 1f
                GOTO_MODE 0, 2f
                2: ecall
                1: CHECK_CAUSE 4, 8
                csrr t1, mstatus
                li gp, 5
                li t2, 1 << 17
                and t1, t1, t2
                bnez t1, fail
                # sret executed in M with SPP=U
                li t1, (1 << 17)
                csrs mstatus, t1
                li t1, 1 << 8
                csrc mstatus, t1
                la t1, 2f
                csrw sepc, t1
                la s8, 1f
                sret
                2: ecall
                1: CHECK_CAUSE 6, 8
                csrr t1, mstatus
                li gp, 7
                li t2, 1 << 17
                and t1, t1, t2
                bnez t1, fail
            """);
    }

    /// <summary>mret (Priv. 3.3.2): MIE = MPIE, MPIE = 1, MPP = U; MPRV kept when returning to M (clearing it below M is checked on the hart: QEMU 7.2 predates that rule).</summary>
    [Fact]
    public void Mret_Restores_Mie_From_Mpie_And_Sets_Mpp_To_U() => BareMetal.AssertPasses(PrivAsm.Common + """
            # MPP=M, MPIE=1, MIE=0 -> stays in M with MIE=1
            li t1, 1 << 7
            csrs mstatus, t1
            li t1, 1 << 3
            csrc mstatus, t1
            GOTO_MODE 3, 2f
            2: csrr t1, mstatus
            li gp, 2
            andi t2, t1, 1 << 3
            beqz t2, fail
            li gp, 3
            andi t2, t1, 1 << 7
            beqz t2, fail
            li gp, 4
            li t2, 3 << 11
            and t2, t1, t2
            bnez t2, fail
            # MPIE=0 -> MIE=0, MPIE=1
            li t1, (1 << 7) | (1 << 3)
            csrc mstatus, t1
            GOTO_MODE 3, 2f
            2: csrr t1, mstatus
            li gp, 5
            andi t2, t1, 1 << 3
            bnez t2, fail
            li gp, 6
            andi t2, t1, 1 << 7
            beqz t2, fail
            # MPRV=1 survives mret to M
            li t1, 1 << 17
            csrs mstatus, t1
            GOTO_MODE 3, 2f
            2: csrr t1, mstatus
            li gp, 7
            li t2, 1 << 17
            and t1, t1, t2
            beqz t1, fail
            li t1, 1 << 17
            csrc mstatus, t1
        """);

    /// <summary>sret is illegal in U-mode, and in S-mode when mstatus.TSR=1 (Priv. 3.1.6.5); legal again with TSR=0.</summary>
    [Fact]
    public void Sret_Illegal_In_U_And_With_Tsr() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            GOTO_MODE 0, 2f
            2: sret
            1: CHECK_CAUSE 2, 2
            CHECK_EPC 3, 2b
            li t1, 1 << 22
            csrs mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: sret
            1: CHECK_CAUSE 4, 2
            CHECK_EPC 5, 2b
            CHECK_TVAL 6, 0x10200073
            li t1, 1 << 22
            csrc mstatus, t1
            li t1, 1 << 8
            csrs mstatus, t1
            la t1, 3f
            csrw sepc, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: sret
            3: ecall
            1: CHECK_CAUSE 7, 9
            CHECK_EPC 8, 3b
        """);

    /// <summary>sret from S (Priv. 3.3.2): goes to SPP, SIE = SPIE, SPIE = 1, SPP = U.</summary>
    [Fact]
    public void Sret_Returns_To_Spp_And_Restores_Sie() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li t1, (1 << 5) | (1 << 8)
            csrc sstatus, t1
            li t1, 1 << 5
            csrs sstatus, t1
            la t1, 3f
            csrw sepc, t1
            sret
            3: ecall
            1: CHECK_CAUSE 2, 8
            CHECK_EPC 3, 3b
            csrr t1, mstatus
            li gp, 4
            andi t2, t1, 1 << 1
            beqz t2, fail
            li gp, 5
            andi t2, t1, 1 << 5
            beqz t2, fail
            li gp, 6
            andi t2, t1, 1 << 8
            bnez t2, fail
            # SPP=S returns to S
            li t1, 2
            csrc mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li t1, 1 << 8
            csrs sstatus, t1
            li t1, 1 << 5
            csrc sstatus, t1
            la t1, 3f
            csrw sepc, t1
            sret
            3: ecall
            1: CHECK_CAUSE 7, 9
            CHECK_EPC 8, 3b
            csrr t1, mstatus
            li gp, 9
            andi t2, t1, 1 << 1
            bnez t2, fail
            li gp, 10
            andi t2, t1, 1 << 5
            beqz t2, fail
        """);

    /// <summary>mtvec MODE=1 (Priv. 3.1.7): interrupts go to BASE+4*cause, exceptions to BASE.</summary>
    [Fact]
    public void Vectored_Mtvec_Interrupts_Jump_To_Base_Plus_4_Cause() => BareMetal.AssertPasses(PrivAsm.Common + """
            la t1, vec_table
            ori t1, t1, 1
            csrw mtvec, t1
            csrr t2, mtvec
            li gp, 2
            bne t1, t2, fail
            # an exception goes to BASE
            la s8, 1f
            li s7, -1
            2: ecall
            1: TEST_EQ 3, s7, 0
            CHECK_CAUSE 4, 11
            # supervisor software interrupt, not delegated, taken in M with MIE=1: BASE+4
            li s7, -1
            la s8, 1f
            li t1, 2
            csrw mie, t1
            csrs mip, t1
            csrsi mstatus, 8
            2: nop
            nop
            1: TEST_EQ 5, s7, 1
            CHECK_CAUSE 6, 0x8000000000000001
            # supervisor timer interrupt taken from U: BASE+20
            li s7, -1
            la s8, 1f
            li t1, 0x20
            csrw mie, t1
            csrs mip, t1
            GOTO_MODE 0, 2f
            2: nop
            j fail
            1: TEST_EQ 7, s7, 5
            CHECK_CAUSE 8, 0x8000000000000005
            CHECK_EPC 9, 2b
            # supervisor external interrupt from S: BASE+36
            li s7, -1
            la s8, 1f
            li t1, 0x200
            csrw mie, t1
            csrs mip, t1
            GOTO_MODE 1, 2f
            2: nop
            j fail
            1: TEST_EQ 10, s7, 9
            CHECK_CAUSE 11, 0x8000000000000009
            la t1, trap_vector
            csrw mtvec, t1
            j 9f
            .align 6
            vec_table:
            .irp n, 0,1,2,3,4,5,6,7,8,9,10,11
            j vec_\n
            .endr
            .irp n, 0,1,2,3,4,5,6,7,8,9,10,11
            vec_\n: li s7, \n
            j vec_common
            .endr
            vec_common:
            csrr s9, mcause
            csrr s10, mepc
            csrw mie, zero
            csrw mip, zero
            jr s8
            9:
        """);

    /// <summary>wfi: illegal in U; illegal in S when TW=1; with TW=0 and an enabled interrupt pending it completes.</summary>
    [Fact]
    public void Wfi_Illegal_In_U_And_In_S_With_Tw() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            GOTO_MODE 0, 2f
            2: wfi
            1: CHECK_CAUSE 2, 2
            CHECK_EPC 3, 2b
            li t1, 1 << 21
            csrs mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: wfi
            1: CHECK_CAUSE 4, 2
            CHECK_EPC 5, 2b
            CHECK_TVAL 6, 0x10500073
            # TW=0: SSIP pending and enabled but delegated with SIE=0, so wfi is a nop in S
            li t1, 1 << 21
            csrc mstatus, t1
            li t1, 2
            csrw mideleg, t1
            csrw mie, t1
            csrw mip, t1
            csrc mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: wfi
            3: ecall
            1: CHECK_CAUSE 7, 9
            CHECK_EPC 8, 3b
            csrw mip, zero
            csrw mie, zero
            csrw mideleg, zero
        """);

    /// <summary>CSRs 0xC00-0xFFF are read-only (Priv. 2.1): writes trap, reads (csrrs/csrrsi with x0/0) do not.</summary>
    [Fact]
    public void Writing_Read_Only_Csrs_Is_Illegal() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s8, 1f
            2: csrw cycle, zero
            1: CHECK_CAUSE 2, 2
            CHECK_EPC 3, 2b
            CHECK_TVAL 4, 0xc0001073
            la s8, 1f
            2: csrw mhartid, a0
            1: CHECK_CAUSE 5, 2
            la s8, 1f
            2: csrsi instret, 1
            1: CHECK_CAUSE 6, 2
            la s8, 1f
            2: csrc mvendorid, t1
            1: CHECK_CAUSE 7, 2
            # reads without write side effects are fine
            li s9, -1
            csrrs a0, cycle, zero
            csrrsi a0, mhartid, 0
            csrrc a0, marchid, zero
            TEST_EQ 8, s9, -1
        """);
}
