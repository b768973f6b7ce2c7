using Wemu.Cpu.RiscV;
using Wemu.Memory;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>Machine and supervisor CSRs: misa, counters and their enables, PMP registers, WARL fields (Priv. 3.1, 3.7, 4.1). Each program runs on Wemu and on QEMU (<see cref="BareMetal"/>) unless marked otherwise.</summary>
public class PrivCsrTests
{
    /// <summary>mcounteren/scounteren (Priv. 3.1.11, 4.1.4): cycle/instret readable in S only with mcounteren, in U with both (QEMU's spike has no time CSR).</summary>
    [Fact]
    public void Counter_Enables_Gate_S_And_U() => BareMetal.AssertPasses(PrivAsm.Common + """
            csrw mcounteren, zero
            csrw scounteren, zero
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, cycle
            1: CHECK_CAUSE 2, 2
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, instret
            1: CHECK_CAUSE 3, 2
            la s8, 1f
            GOTO_MODE 0, 2f
            2: csrr a0, cycle
            1: CHECK_CAUSE 4, 2
            # mcounteren = CY|TM|IR: S may read, U still may not
            li t1, 7
            csrw mcounteren, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, cycle
            csrr a0, instret
            ecall
            1: CHECK_CAUSE 5, 9
            la s8, 1f
            GOTO_MODE 0, 2f
            2: csrr a0, instret
            1: CHECK_CAUSE 6, 2
            # scounteren = IR only: U reads instret, not cycle
            li t1, 4
            csrw scounteren, t1
            la s8, 1f
            GOTO_MODE 0, 2f
            2: csrr a0, instret
            ecall
            1: CHECK_CAUSE 7, 8
            la s8, 1f
            GOTO_MODE 0, 2f
            2: csrr a0, cycle
            1: CHECK_CAUSE 8, 2
            # mcounteren = CY only: S cannot read instret
            li t1, 1
            csrw mcounteren, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, cycle
            ecall
            1: CHECK_CAUSE 9, 9
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, instret
            1: CHECK_CAUSE 11, 2
            # scounteren does not matter for S
            li t1, 7
            csrw scounteren, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, instret
            1: CHECK_CAUSE 12, 2
            csrw mcounteren, zero
            csrw scounteren, zero
        """);

    /// <summary>minstret counts up (Priv. 3.1.10) and is writable from M; instret mirrors it.</summary>
    [Fact]
    public void Minstret_Counts_And_Is_Writable() => BareMetal.AssertPasses(PrivAsm.Common + """
            csrr a0, minstret
            .rept 20
            nop
            .endr
            csrr a1, minstret
            li gp, 2
            bleu a1, a0, fail
            li t1, 1 << 40
            csrw minstret, t1
            csrr a0, minstret
            li gp, 3
            bltu a0, t1, fail
            li t2, (1 << 40) + (1 << 32)
            bgeu a0, t2, fail
            csrr a1, instret
            li gp, 4
            bltu a1, a0, fail
            csrr a0, mcycle
            csrr a1, cycle
            li gp, 5
            bltu a1, a0, fail
        """);

    /// <summary>minstret counts exactly the retired instructions (Priv. 3.1.10): 20 nops and a csrr between two reads is 21.</summary>
    [Fact]
    public void Minstret_Counts_Each_Retired_Instruction()
    {
        // Not checked on QEMU: QEMU without -icount counts host ticks in minstret.
        PrivAsm.AssertPassesOnWemu(PrivAsm.Common + """
                csrr a0, minstret
                .rept 20
                nop
                .endr
                csrr a1, minstret
                sub a0, a1, a0
                TEST_EQ 2, a0, 21
                li a2, 1000
                csrw minstret, a2
                csrr a0, minstret
                TEST_EQ 3, a0, 1000
                li a2, 1000
                nop
                nop
                csrw minstret, a2
                nop
                csrr a0, minstret
                TEST_EQ 4, a0, 1001
            """);
    }

    /// <summary>misa: MXL=2 (RV64) with I, M, A, F, D, C, S, U (QEMU may add more, e.g. H); writes are ignored; mhartid = 0.</summary>
    [Fact]
    public void Misa_And_Id_Registers() => BareMetal.AssertPasses(PrivAsm.Common + """
            csrr s7, misa
            srli a0, s7, 62
            TEST_EQ 2, a0, 2
            li t1, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
            and a0, s7, t1
            li gp, 3
            bne a0, t1, fail
            # E, Q and N are not there
            li t1, (1 << 4) | (1 << 16) | (1 << 13)
            and a0, s7, t1
            TEST_EQ 4, a0, 0
            csrw misa, zero
            csrr a0, misa
            li gp, 5
            bne a0, s7, fail
            csrr a0, mhartid
            TEST_EQ 6, a0, 0
            # the ID registers are readable (values are implementation-defined)
            csrr a0, mvendorid
            csrr a0, marchid
            csrr a0, mimpid
        """);

    /// <summary>mstatus.MPP is WARL (Priv. 3.1.6.1): 2 (reserved) leaves the old value; 0, 1 and 3 are kept.</summary>
    [Fact]
    public void Mstatus_Mpp_Is_Warl()
    {
        // Not checked on QEMU: QEMU 7.2 stores MPP=2 as written (legalized only in later QEMU).
        PrivAsm.AssertPassesOnWemu(PrivAsm.Common + """
                li t1, 3 << 11
                csrc mstatus, t1
                li t1, 1 << 11
                csrs mstatus, t1
                li t1, 3 << 11
                csrc mstatus, t1
                li t1, 2 << 11
                csrs mstatus, t1
                csrr a0, mstatus
                srli a0, a0, 11
                andi a0, a0, 3
                li gp, 2
                li t2, 2
                beq a0, t2, fail
                li t1, 3 << 11
                csrs mstatus, t1
                csrr a0, mstatus
                srli a0, a0, 11
                andi a0, a0, 3
                TEST_EQ 3, a0, 3
                li t1, 3 << 11
                csrc mstatus, t1
                li t1, 1 << 11
                csrs mstatus, t1
                csrr a0, mstatus
                srli a0, a0, 11
                andi a0, a0, 3
                TEST_EQ 4, a0, 1
                li t1, 2 << 11
                csrw mstatus, t1
                csrr a0, mstatus
                srli a0, a0, 11
                andi a0, a0, 3
                TEST_EQ 5, a0, 1
                li t1, 3 << 11
                csrs mstatus, t1
            """);
    }

    /// <summary>mstatus (Priv. 3.1.6): SD is set exactly when FS=3; FS=0 makes FP instructions illegal; FP writes set FS=3.</summary>
    [Fact]
    public void Mstatus_Warl_Fields_And_Sd() => BareMetal.AssertPasses(PrivAsm.Common + """
            # FS = 3 -> SD
            li t1, 3 << 13
            csrs mstatus, t1
            csrr a0, mstatus
            srli a0, a0, 63
            TEST_EQ 4, a0, 1
            csrr a0, sstatus
            srli a0, a0, 63
            TEST_EQ 5, a0, 1
            # FS = 1 (initial) -> no SD; an FP write makes it dirty
            li t1, 3 << 13
            csrc mstatus, t1
            li t1, 1 << 13
            csrs mstatus, t1
            csrr a0, mstatus
            srli a0, a0, 63
            TEST_EQ 6, a0, 0
            fmv.d.x fa0, zero
            csrr a0, mstatus
            srli a1, a0, 13
            andi a1, a1, 3
            TEST_EQ 7, a1, 3
            srli a0, a0, 63
            TEST_EQ 8, a0, 1
            # FS = 0: FP instructions and fcsr are illegal
            li t1, 3 << 13
            csrc mstatus, t1
            la s8, 1f
            li s9, -1
            2: fadd.d fa0, fa0, fa0
            1: CHECK_CAUSE 9, 2
            CHECK_EPC 10, 2b
            la s8, 1f
            li s9, -1
            2: csrr a0, fcsr
            1: CHECK_CAUSE 11, 2
            csrr a0, mstatus
            srli a0, a0, 63
            TEST_EQ 12, a0, 0
            li t1, 1 << 13
            csrs mstatus, t1
            # sstatus is a view: SIE written through it shows in mstatus, MIE cannot be written through it
            csrci mstatus, 0xa
            li t1, 0xa
            csrs sstatus, t1
            csrr a0, mstatus
            andi a0, a0, 0xa
            TEST_EQ 13, a0, 2
            csrr a0, sstatus
            andi a0, a0, 0x8
            TEST_EQ 14, a0, 0
            csrci mstatus, 0xa
        """);

    /// <summary>PMP CSRs (Priv. 3.7): pmpcfg0 and pmpaddr1..3 read back; pmpcfg1/3 do not exist on RV64.</summary>
    [Fact]
    public void Pmp_Csrs_Read_Back_And_Odd_Pmpcfg_Is_Illegal() => BareMetal.AssertPasses(PrivAsm.Common + """
            csrr a0, pmpcfg0
            andi a0, a0, 0xff
            TEST_EQ 2, a0, 0x1f
            li t1, 0x12345678
            csrw pmpaddr1, t1
            csrr a0, pmpaddr1
            li gp, 3
            bne a0, t1, fail
            li t1, 0x3ffff
            csrw pmpaddr3, t1
            csrr a0, pmpaddr3
            li gp, 4
            bne a0, t1, fail
            # entry 1 = TOR, R only (below pmpaddr1, an address range we do not touch)
            li t1, 0x091f
            csrw pmpcfg0, t1
            csrr a0, pmpcfg0
            li t2, 0xffff
            and a0, a0, t2
            TEST_EQ 5, a0, 0x091f
            li t1, 0x1f
            csrw pmpcfg0, t1
            csrw pmpaddr1, zero
            csrw pmpaddr3, zero
            la s8, 1f
            li s9, -1
            2: csrr a0, pmpcfg1
            1: CHECK_CAUSE 6, 2
            la s8, 1f
            li s9, -1
            2: csrw pmpcfg3, zero
            1: CHECK_CAUSE 7, 2
            csrr a0, pmpcfg2
            # S cannot touch PMP CSRs
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, pmpcfg0
            1: CHECK_CAUSE 8, 2
        """);

    /// <summary>time (Priv. 3.1.11): readable in M, in S only with mcounteren.TM, in U also with scounteren.TM; it does not go backwards.</summary>
    [Fact]
    public void Time_Csr_Gated_By_Tm()
    {
        // Not checked on QEMU: QEMU's spike machine has no time CSR (no rdtime source), so it traps even in M.
        PrivAsm.AssertPassesOnWemu(PrivAsm.Common + """
                csrr s7, time
                csrw mcounteren, zero
                la s8, 1f
                GOTO_MODE 1, 2f
                2: csrr a0, time
                1: CHECK_CAUSE 2, 2
                li t1, 2
                csrw mcounteren, t1
                la s8, 1f
                GOTO_MODE 1, 2f
                2: csrr a0, time
                ecall
                1: CHECK_CAUSE 3, 9
                li gp, 4
                bltu a0, s7, fail
                la s8, 1f
                GOTO_MODE 0, 2f
                2: csrr a0, time
                1: CHECK_CAUSE 5, 2
                li t1, 2
                csrw scounteren, t1
                la s8, 1f
                GOTO_MODE 0, 2f
                2: csrr a0, time
                ecall
                1: CHECK_CAUSE 6, 8
                csrw mcounteren, zero
                csrw scounteren, zero
            """);
    }

    /// <summary>mtvec/stvec MODE is WARL (Priv. 3.1.7): 0 and 1 are kept, 2 and 3 leave the register unchanged.</summary>
    [Fact]
    public void Tvec_Mode_Is_Warl() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s7, tvec_target
            csrr s6, mtvec
            ori t1, s7, 1
            csrw mtvec, t1
            csrr a0, mtvec
            li gp, 2
            bne a0, t1, fail
            ori t1, s7, 2
            csrw mtvec, t1
            csrr a0, mtvec
            ori t1, s7, 1
            li gp, 3
            bne a0, t1, fail
            ori t1, s7, 3
            csrw mtvec, t1
            csrr a0, mtvec
            ori t1, s7, 1
            li gp, 4
            bne a0, t1, fail
            csrw mtvec, s6
            csrr a0, mtvec
            li gp, 5
            bne a0, s6, fail
            # stvec the same
            csrw stvec, s7
            csrr a0, stvec
            li gp, 6
            bne a0, s7, fail
            ori t1, s7, 2
            csrw stvec, t1
            csrr a0, stvec
            li gp, 7
            bne a0, s7, fail
            ori t1, s7, 1
            csrw stvec, t1
            csrr a0, stvec
            li gp, 8
            bne a0, t1, fail
            ori t1, s7, 3
            csrw stvec, t1
            csrr a0, stvec
            ori t1, s7, 1
            li gp, 9
            bne a0, t1, fail
            j 9f
            .balign 256
            tvec_target: j fail
            9:
        """);

    /// <summary>
    /// satp (Priv. 4.1.11): Wemu implements Bare, Sv39 and Sv48, so Sv57 (10) is an unsupported
    /// mode and the write is ignored. (QEMU 7.2 implements Sv57, hence a hart-level check.)
    /// </summary>
    [Fact]
    public void Satp_Sv57_Is_Not_Supported()
    {
        using var hart = new RiscVHart(new PhysicalBus());
        hart.Reset(0x8000_0000);
        ulong sv39 = (8UL << 60) | 0x80123;
        Assert.True(hart.TryWriteCsr(Csr.Satp, sv39));
        Assert.True(hart.TryWriteCsr(Csr.Satp, (10UL << 60) | 0x80456));
        Assert.True(hart.TryReadCsr(Csr.Satp, out ulong satp));
        Assert.Equal(sv39, satp);
    }
}
