using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>Sv39 and Sv48 translation from S and U: superpages, page faults, U/SUM/MXR, A/D, sfence.vma, MPRV, satp (Priv. chapter 4). Each program runs on Wemu and on QEMU (<see cref="BareMetal"/>) unless marked otherwise.</summary>
public class PrivPagingTests
{
    /// <summary>Hardware A/D updates (Priv. 4.3.2 step 7): a load sets A, a store sets A and D; faulting accesses set neither.</summary>
    [Fact]
    public void Accessed_And_Dirty_Bits_Set_By_Hardware() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la s7, pt_l0
            ld a0, 8(s7)
            andi a0, a0, 0xc0
            TEST_EQ 2, a0, 0
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x1000
            ld a0, 0(a1)
            ecall
            1: CHECK_CAUSE 3, 9
            csrw satp, zero
            ld a0, 8(s7)
            andi a0, a0, 0xc0
            TEST_EQ 4, a0, 0x40
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x1000
            sd a1, 16(a1)
            ecall
            1: CHECK_CAUSE 5, 9
            csrw satp, zero
            ld a0, 8(s7)
            andi a0, a0, 0xc0
            TEST_EQ 6, a0, 0xc0
            # a store that faults (U page from S, SUM=0) leaves A and D clear
            li t1, (1 << 18)
            csrc mstatus, t1
            li t1, PTE_V | PTE_R | PTE_W | PTE_U
            la t2, pg_data
            srli t2, t2, 12
            slli t2, t2, 10
            or t1, t1, t2
            sd t1, 8(s7)
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x1000
            sd a1, 16(a1)
            1: CHECK_CAUSE 7, 15
            csrw satp, zero
            ld a0, 8(s7)
            andi a0, a0, 0xc0
            TEST_EQ 8, a0, 0
            # a load then a store from U: A first, D only on the store
            SATP_SV39
            li a1, 0x1000
            la s8, 1f
            GOTO_VA 0, 0x5000
            1: CHECK_CAUSE 9, 8
            ld a0, 8(s7)
            andi a0, a0, 0xc0
            TEST_EQ 10, a0, 0x40
            li a1, 0x1000
            la s8, 1f
            GOTO_VA 0, 0x5008
            1: CHECK_CAUSE 11, 8
            ld a0, 8(s7)
            andi a0, a0, 0xc0
            TEST_EQ 12, a0, 0xc0
            csrw satp, zero
        """);

    /// <summary>A superpage whose PPN low bits are not zero is a page fault (Priv. 4.3.2 step 6), for megapages and gigapages.</summary>
    [Fact]
    public void Misaligned_Superpages_Fault() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x400010
            ld a0, 0(a1)
            1: CHECK_CAUSE 2, 13
            CHECK_TVAL 3, 0x400010
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x100000020
            ld a0, 0(a1)
            1: CHECK_CAUSE 4, 13
            CHECK_TVAL 5, 0x100000020
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x400000
            jr a1
            1: CHECK_CAUSE 6, 12
            CHECK_TVAL 7, 0x400000
            csrw satp, zero
        """);

    /// <summary>mstatus.MPRV=1 (Priv. 3.1.6.3): M-mode loads/stores translate and check at MPP's privilege; fetches do not.</summary>
    [Fact]
    public void Mprv_Translates_M_Mode_Loads_And_Stores() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            li t1, 3 << 11
            csrc mstatus, t1
            li t1, (1 << 17) | (1 << 11)
            csrs mstatus, t1
            li a1, 0x1000
            ld a0, 0(a1)
            li a2, 0x1234
            sd a2, 24(a1)
            li t1, 1 << 17
            csrc mstatus, t1
            TEST_EQ 2, a0, 0x1111
            la t1, pg_data
            ld a2, 24(t1)
            TEST_EQ 3, a2, 0x1234
            # MPP=U: an S page faults (taken in M; the handler sees MPP=M so it runs untranslated)
            li t1, 3 << 11
            csrc mstatus, t1
            li t1, 1 << 17
            csrs mstatus, t1
            li a1, 0x1000
            la s8, 1f
            li s9, -1
            2: ld a0, 0(a1)
            1: li t1, 1 << 17
            csrc mstatus, t1
            CHECK_CAUSE 4, 13
            CHECK_TVAL 5, 0x1000
            CHECK_EPC 6, 2b
            # without MPRV, M-mode ignores satp
            la t1, pg_data
            ld a0, 0(t1)
            TEST_EQ 7, a0, 0x1111
            csrw satp, zero
        """);

    /// <summary>mstatus.MXR (Priv. 3.1.6.3): loads from execute-only pages fault with MXR=0 and succeed with MXR=1.</summary>
    [Fact]
    public void Mxr_Makes_Execute_Only_Pages_Readable() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x3000
            ld a0, 0(a1)
            1: CHECK_CAUSE 2, 13
            CHECK_TVAL 3, 0x3000
            li t1, 1 << 19
            csrs mstatus, t1
            li a0, 0
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x3000
            ld a0, 0(a1)
            ecall
            1: CHECK_CAUSE 4, 9
            TEST_EQ 5, a0, 0x3333
            # MXR does not make the page writable
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x3000
            sd a0, 0(a1)
            1: CHECK_CAUSE 6, 15
            # cleared again from S through sstatus: the load faults once more
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li t1, 1 << 19
            csrc sstatus, t1
            li a1, 0x3000
            ld a0, 0(a1)
            1: CHECK_CAUSE 7, 13
            csrw satp, zero
        """);

    /// <summary>Sv39 VAs must have bits 63:39 equal to bit 38 (Priv. 4.4.1); otherwise load/store/fetch page fault with tval = VA.</summary>
    [Fact]
    public void Non_Canonical_Va_Is_A_Page_Fault() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x0000004000001000
            ld a0, 0(a1)
            1: CHECK_CAUSE 2, 13
            CHECK_TVAL 3, 0x0000004000001000
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x8000000000001000
            sd a0, 0(a1)
            1: CHECK_CAUSE 4, 15
            CHECK_TVAL 5, 0x8000000000001000
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x0000008080000000
            jr a1
            1: CHECK_CAUSE 6, 12
            CHECK_TVAL 7, 0x0000008080000000
            # the same low bits, properly sign-extended, are canonical (and unmapped here: still 13, same VA)
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0xffffffc000001000
            ld a0, 0(a1)
            1: CHECK_CAUSE 8, 13
            CHECK_TVAL 9, 0xffffffc000001000
            csrw satp, zero
        """);

    /// <summary>Page faults (Priv. 4.3.2): load 13, store/AMO 15, fetch 12, with mtval = the faulting VA and mepc = the instruction.</summary>
    [Fact]
    public void Page_Faults_Report_Cause_And_Faulting_Va() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            # load from an invalid PTE
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x6010
            3: ld a0, 0(a1)
            1: CHECK_CAUSE 2, 13
            CHECK_TVAL 3, 0x6010
            CHECK_EPC 4, 3b
            # store to a read-only page
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x2008
            3: sw a0, 0(a1)
            1: CHECK_CAUSE 5, 15
            CHECK_TVAL 6, 0x2008
            CHECK_EPC 7, 3b
            # AMO on a read-only page is a store/AMO page fault
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x2010
            amoadd.d a0, a0, (a1)
            1: CHECK_CAUSE 8, 15
            CHECK_TVAL 9, 0x2010
            # fetch from a page without X
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x7000
            jr a1
            1: CHECK_CAUSE 10, 12
            CHECK_TVAL 11, 0x7000
            TEST_EQ 12, s10, 0x7000
            # fetch from an invalid page, reached by mret directly
            la s8, 1f
            GOTO_VA 1, 0x6000
            1: CHECK_CAUSE 13, 12
            CHECK_TVAL 14, 0x6000
            # the read-only page still reads fine, and the data page is writable
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x2000
            ld a2, 0(a1)
            li a1, 0x1000
            li a3, 0x77
            sd a3, 8(a1)
            ld a3, 8(a1)
            ecall
            1: CHECK_CAUSE 15, 9
            TEST_EQ 16, a2, 0x2222
            TEST_EQ 17, a3, 0x77
            csrw satp, zero
            la t1, pg_data
            ld a3, 8(t1)
            TEST_EQ 18, a3, 0x77
        """);

    /// <summary>
    /// The interpreter's inline fetch probe follows an entry's execute tag only: a page a load has just put in the TLB
    /// (readable, not executable) still faults when jumped to, and a jump from it back to executable code goes on.
    /// </summary>
    [Fact]
    public void A_Jump_To_A_Page_The_Tlb_Holds_For_Loads_Only_Faults() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x7000
            ld a0, 0(a1)
            ld a0, 8(a1)
            jr a1
            1: CHECK_CAUSE 2, 12
            CHECK_TVAL 3, 0x7000
            # the same from a read-only page, loaded twice first
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x2000
            ld a0, 0(a1)
            ld a0, 16(a1)
            jr a1
            1: CHECK_CAUSE 4, 12
            CHECK_TVAL 5, 0x2000
            csrw satp, zero
        """);

    /// <summary>
    /// The interpreter's inline AMOs, LR and SC follow an entry's write tag: on a read-only page a load has just put in
    /// the TLB, an AMO faults (15), an LR reads, and an SC holding the reservation faults (15).
    /// </summary>
    [Fact]
    public void Amos_And_Sc_On_A_Page_The_Tlb_Holds_For_Loads_Only_Fault() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x2000
            ld a0, 0(a1)
            3: amoadd.d a0, a0, (a1)
            1: CHECK_CAUSE 2, 15
            CHECK_TVAL 3, 0x2000
            CHECK_EPC 4, 3b
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x2000
            lr.d a2, (a1)
            3: sc.d a3, a2, (a1)
            1: CHECK_CAUSE 5, 15
            CHECK_TVAL 6, 0x2000
            CHECK_EPC 7, 3b
            TEST_EQ 8, a2, 0x2222
            csrw satp, zero
        """);

    /// <summary>satp is WARL (Priv. 4.1.11): writing an unsupported MODE (Sv64, reserved 1) leaves it unchanged.</summary>
    [Fact]
    public void Satp_Unsupported_Mode_Is_Ignored() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            la t1, pt_l2
            srli t1, t1, 12
            li t2, 8 << 60
            or s7, t1, t2
            csrw satp, s7
            li t1, 11 << 60
            csrw satp, t1
            csrr a0, satp
            li gp, 2
            bne a0, s7, fail
            li t1, 1 << 60
            csrw satp, t1
            csrr a0, satp
            li gp, 3
            bne a0, s7, fail
            csrw satp, zero
            csrr a0, satp
            TEST_EQ 4, a0, 0
            li t1, (9 << 60) | 0x80123
            csrw satp, t1
            csrr a0, satp
            li t1, 60
            srl a0, a0, t1
            TEST_EQ 5, a0, 9
            csrw satp, zero
        """);

    /// <summary>sfence.vma (Priv. 4.2.1): after S rewrites a PTE and fences (all, or one VA), the new mapping is used.</summary>
    [Fact]
    public void Sfence_Vma_Makes_Pte_Changes_Visible() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la a4, pt_l0 + 8 * 8
            la s2, pg_b
            srli s2, s2, 12
            slli s2, s2, 10
            ori s2, s2, PTE_V | PTE_R | PTE_A
            la s3, pg_a
            srli s3, s3, 12
            slli s3, s3, 10
            ori s3, s3, PTE_V | PTE_R | PTE_A
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x8000
            ld a0, 0(a1)
            sd s2, 0(a4)
            sfence.vma
            ld a2, 0(a1)
            sd s3, 0(a4)
            sfence.vma a1, zero
            ld a3, 0(a1)
            # invalidate it: the next load faults
            sd zero, 0(a4)
            sfence.vma a1
            ld a5, 0(a1)
            1: CHECK_CAUSE 2, 13
            CHECK_TVAL 3, 0x8000
            TEST_EQ 4, a0, 0xaaaa
            TEST_EQ 5, a2, 0xbbbb
            TEST_EQ 6, a3, 0xaaaa
            csrw satp, zero
            # sfence.vma in S with TVM=1 is illegal
            li t1, 1 << 20
            csrs mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: sfence.vma
            1: CHECK_CAUSE 7, 2
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrr a0, satp
            1: CHECK_CAUSE 8, 2
            li t1, 1 << 20
            csrc mstatus, t1
        """);

    /// <summary>Sv39 (Priv. 4.4): S-mode loads through a 4 KiB page, a 2 MiB megapage and a 1 GiB gigapage.</summary>
    [Fact]
    public void Sv39_Translates_4K_Pages_Megapages_And_Gigapages() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x1000
            ld a2, 0(a1)
            li a1, 0x200000 + 0x1008
            ld a3, 0(a1)
            la a1, gigapage_word
            li t1, 0xc0000000 - 0x80000000
            add a1, a1, t1
            ld a4, 0(a1)
            li a1, 0x2000
            ld a5, 0(a1)
            ecall
            1: CHECK_CAUSE 2, 9
            TEST_EQ 3, a2, 0x1111
            TEST_EQ 4, a3, 0x5555
            TEST_EQ 5, a4, 0x600d
            TEST_EQ 6, a5, 0x2222
            csrw satp, zero
            j 9f
            .data
            .balign 8
            gigapage_word: .dword 0x600d
            .text
            9:
        """);

    /// <summary>Sv48 (Priv. 4.5): 4 KiB page, megapage, gigapage and a 512 GiB terapage; bit 38 is an ordinary VA bit.</summary>
    [Fact]
    public void Sv48_Translates_Through_Four_Levels() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV48
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x1000
            ld a2, 0(a1)
            li a1, 0x200000 + 0x1008
            ld a3, 0(a1)
            la a1, sv48_word
            li t1, 0xc0000000 - 0x80000000
            add a1, a1, t1
            ld a4, 0(a1)
            # VPN[3] = 1 -> the same L2 table: 0x80_0000_1000 is page 0x1000
            li a1, 0x8000001000
            ld a5, 0(a1)
            # VPN[3] = 2: terapage at PA 0
            la a1, sv48_word
            li t1, 0x10000000000
            add a1, a1, t1
            ld a6, 0(a1)
            ecall
            1: CHECK_CAUSE 2, 9
            TEST_EQ 3, a2, 0x1111
            TEST_EQ 4, a3, 0x5555
            TEST_EQ 5, a4, 0x4848
            TEST_EQ 6, a5, 0x1111
            TEST_EQ 7, a6, 0x4848
            # non-canonical in Sv48: bit 47 set, bits 63:48 clear
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x0000800000001000
            ld a0, 0(a1)
            1: CHECK_CAUSE 8, 13
            CHECK_TVAL 9, 0x0000800000001000
            # unmapped VPN[3] = 3
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x18000000000
            sd a0, 0(a1)
            1: CHECK_CAUSE 10, 15
            CHECK_TVAL 11, 0x18000000000
            csrw satp, zero
            j 9f
            .data
            .balign 8
            sv48_word: .dword 0x4848
            .text
            9:
        """);

    /// <summary>PTE.U (Priv. 4.3.1): U cannot touch S pages; S touches U pages only with SUM=1 and never executes them.</summary>
    [Fact]
    public void User_Bit_Rules_And_Sum() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            # U loads its own page
            li a1, 0x4000
            la s8, 1f
            GOTO_VA 0, 0x5000
            1: CHECK_CAUSE 2, 8
            TEST_EQ 3, a0, 0x4444
            # U load from an S page
            li a1, 0x1000
            la s8, 1f
            GOTO_VA 0, 0x5000
            1: CHECK_CAUSE 4, 13
            CHECK_TVAL 5, 0x1000
            TEST_EQ 6, s10, 0x5000
            # U store to an S page
            li a1, 0x1008
            la s8, 1f
            GOTO_VA 0, 0x5008
            1: CHECK_CAUSE 7, 15
            CHECK_TVAL 8, 0x1008
            # U fetch from an S page
            la a1, 2f
            la s8, 1f
            GOTO_VA 0, 0x5010
            2: j fail
            1: CHECK_CAUSE 9, 12
            li gp, 10
            la t2, 2b
            bne s11, t2, fail
            # S load from a U page with SUM=0
            li t1, 1 << 18
            csrc mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x4000
            ld a0, 0(a1)
            1: CHECK_CAUSE 11, 13
            CHECK_TVAL 12, 0x4000
            # ... and store
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x4008
            sd a0, 0(a1)
            1: CHECK_CAUSE 13, 15
            # SUM=1: S loads and stores U pages
            li t1, 1 << 18
            csrs mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x4000
            ld a0, 0(a1)
            li a2, 0x99
            sd a2, 8(a1)
            ld a2, 8(a1)
            ecall
            1: CHECK_CAUSE 14, 9
            TEST_EQ 15, a0, 0x4444
            TEST_EQ 16, a2, 0x99
            # SUM=1 set from S through sstatus, then S still cannot execute a U page
            li t1, 1 << 18
            csrc mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li t1, 1 << 18
            csrs sstatus, t1
            li a1, 0x4010
            ld a0, -16(a1)
            li a1, 0x5000
            jr a1
            1: CHECK_CAUSE 17, 12
            CHECK_TVAL 18, 0x5000
            TEST_EQ 19, a0, 0x4444
            li t1, 1 << 18
            csrc mstatus, t1
            csrw satp, zero
        """);
}
