using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>Misaligned and page-crossing loads, stores, AMOs, LR and instruction fetches (Unpriv. 2.6, 8.4; Priv. 3.1.16). Each program runs on Wemu and on QEMU (<see cref="BareMetal"/>) unless marked otherwise.</summary>
public class PrivMisalignedTests
{
    /// <summary>A 4-byte instruction in the last halfword of a page is fetched from both pages; if the second is unmapped, the fetch page fault has epc = the instruction and tval = the second page.</summary>
    [Fact]
    public void Instruction_Fetch_Crossing_A_Page() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            SATP_SV39
            li a0, 0
            la s8, 1f
            GOTO_VA 1, 0xdffe
            1: CHECK_CAUSE 2, 9
            TEST_EQ 3, s10, 0xe002
            TEST_EQ 4, a0, 0x123
            # page 0xf000 maps the same code, 0x10000 is unmapped
            li a0, 0
            la s8, 1f
            GOTO_VA 1, 0xfffe
            1: CHECK_CAUSE 5, 12
            TEST_EQ 6, s10, 0xfffe
            CHECK_TVAL 7, 0x10000
            TEST_EQ 8, a0, 0
            csrw satp, zero
        """);

    /// <summary>A misaligned access crossing two pages translates each part: VA 0x9000 -&gt; pg_m1 and 0xa000 -&gt; pg_m2 (not contiguous).</summary>
    [Fact]
    public void Misaligned_Accesses_Across_Pages() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            # bare M-mode first: across pg_m2 -> pg_m1 (physically adjacent)
            la s7, pg_m1
            li t1, 0x1122334455667788
            sd t1, -3(s7)
            ld a0, -3(s7)
            TEST_EQ 2, a0, 0x1122334455667788
            lbu a0, 0(s7)
            TEST_EQ 3, a0, 0x55
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x9ffd
            li a2, 0x0102030405060708
            sd a2, 0(a1)
            ld a3, 0(a1)
            li a1, 0x9ffe
            li a2, 0xa0b0c0d0
            sw a2, 0(a1)
            lwu a4, 0(a1)
            lh a5, 1(a1)
            ecall
            1: CHECK_CAUSE 4, 9
            TEST_EQ 5, a3, 0x0102030405060708
            TEST_EQ 6, a4, 0xa0b0c0d0
            TEST_EQ 7, a5, 0xffffffffffffb0c0
            csrw satp, zero
            # physically: the low bytes ended in pg_m1's last bytes, the high ones at pg_m2's start
            la s7, pg_m1
            li t1, 0xffe
            add t1, s7, t1
            lhu a0, 0(t1)
            TEST_EQ 8, a0, 0xc0d0
            lbu a0, -1(t1)
            TEST_EQ 9, a0, 0x08
            la s7, pg_m2
            lhu a0, 0(s7)
            TEST_EQ 10, a0, 0xa0b0
            lw a0, 2(s7)
            TEST_EQ 11, a0, 0x00010203
        """);

    /// <summary>A misaligned AMO (Unpriv. 8.4) is a store/AMO address-misaligned exception (6) with tval = address, memory unchanged.</summary>
    [Fact]
    public void Misaligned_Amo_Raises_Store_Address_Misaligned()
    {
        // Not checked on QEMU: QEMU 7.2 raises the load form (cause 4) for misaligned AMOs; spike and Priv. table 3.6 say store/AMO (6).
        PrivAsm.AssertPassesOnWemu(PrivAsm.Common + """
                la s7, amo_data
                addi a1, s7, 2
                la s8, 1f
                li s9, -1
                2: amoadd.w a0, a0, (a1)
                1: CHECK_CAUSE 2, 6
                CHECK_EPC 3, 2b
                li gp, 4
                bne s11, a1, fail
                addi a1, s7, 4
                la s8, 1f
                2: amoswap.d a0, a0, (a1)
                1: CHECK_CAUSE 5, 6
                li gp, 6
                bne s11, a1, fail
                # memory untouched by the faulting AMOs
                ld a0, 0(s7)
                TEST_EQ 12, a0, 0x1234
                # from S-mode, delegated: scause 6 with stval
                la t1, 4f
                csrw stvec, t1
                li t1, 1 << 6
                csrw medeleg, t1
                addi a1, s7, 6
                la s8, 1f
                GOTO_MODE 1, 2f
                2: amoor.w a0, a0, (a1)
                4: csrr a2, scause
                csrr a3, stval
                ecall
                1: CHECK_CAUSE 13, 9
                TEST_EQ 14, a2, 6
                li gp, 15
                bne a3, a1, fail
                csrw medeleg, zero
                j 9f
                .data
                .balign 16
                amo_data: .dword 0x1234, 0
                .text
                9:
            """);
    }

    /// <summary>Misaligned loads and stores are done in hardware (as on QEMU), bare and translated.</summary>
    [Fact]
    public void Misaligned_Loads_And_Stores_Within_A_Page() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s7, mis_data
            li t1, 0x0807060504030201
            sd t1, 0(s7)
            li t1, 0x100f0e0d0c0b0a09
            sd t1, 8(s7)
            ld a0, 1(s7)
            TEST_EQ 2, a0, 0x0908070605040302
            lw a0, 3(s7)
            TEST_EQ 3, a0, 0x07060504
            lh a0, 7(s7)
            TEST_EQ 4, a0, 0x0908
            lwu a0, 13(s7)
            TEST_EQ 5, a0, 0x100f0e
            li t1, 0xa1a2a3a4a5a6a7a8
            sd t1, 5(s7)
            ld a0, 0(s7)
            TEST_EQ 6, a0, 0xa6a7a80504030201
            ld a0, 8(s7)
            TEST_EQ 7, a0, 0x100f0ea1a2a3a4a5
            li t1, 0xbeef
            sh t1, 11(s7)
            lhu a0, 11(s7)
            TEST_EQ 8, a0, 0xbeef
            li t1, 0xcafef00d
            sw t1, 1(s7)
            lw a0, 1(s7)
            TEST_EQ 9, a0, 0xffffffffcafef00d
            j 9f
            .data
            .balign 16
            mis_data: .dword 0, 0
            .text
            9:
        """);

    /// <summary>LR needs natural alignment (Unpriv. 8.2): a misaligned LR is a load address-misaligned exception (4) with tval = address.</summary>
    [Fact]
    public void Misaligned_Lr_Raises_Load_Address_Misaligned() => BareMetal.AssertPasses(PrivAsm.Common + """
            la s7, amo_data
            addi a1, s7, 1
            la s8, 1f
            li s9, -1
            2: lr.w a0, (a1)
            1: CHECK_CAUSE 2, 4
            CHECK_EPC 3, 2b
            li gp, 4
            bne s11, a1, fail
            addi a1, s7, 4
            la s8, 1f
            2: lr.d a0, (a1)
            1: CHECK_CAUSE 5, 4
            li gp, 6
            bne s11, a1, fail
            # delegated from S: scause 4, stval = address
            la t1, 4f
            csrw stvec, t1
            li t1, 1 << 4
            csrw medeleg, t1
            addi a1, s7, 2
            la s8, 1f
            GOTO_MODE 1, 2f
            2: lr.w a0, (a1)
            4: csrr a2, scause
            csrr a3, stval
            ecall
            1: CHECK_CAUSE 7, 9
            TEST_EQ 8, a2, 4
            li gp, 9
            bne a3, a1, fail
            csrw medeleg, zero
            j 9f
            .data
            .balign 16
            amo_data: .dword 0x1234, 0
            .text
            9:
        """);

    /// <summary>A store whose second page is read-only (or whose first is) faults and leaves both pages unchanged.</summary>
    [Fact]
    public void Store_Crossing_Into_Faulting_Page_Writes_Nothing() => BareMetal.AssertPasses(PrivAsm.WithPaging + """
            la s7, pg_m2
            li t1, 0xffc
            add s7, s7, t1
            li t1, 0x5a5a5a5a
            sw t1, 0(s7)
            la s6, pg_m3
            sw t1, 0(s6)
            SATP_SV39
            # 0xaffc..0xb003: the second page (pg_m3) is read-only
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0xaffc
            li a2, -1
            3: sd a2, 0(a1)
            1: CHECK_CAUSE 2, 15
            CHECK_TVAL 3, 0xb000
            CHECK_EPC 4, 3b
            # halfword crossing the same boundary
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0xafff
            li a2, -1
            sh a2, 0(a1)
            1: CHECK_CAUSE 5, 15
            CHECK_TVAL 6, 0xb000
            # the first page is the read-only one: 0xbffe..0xc001
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0xbffe
            li a2, -1
            sw a2, 0(a1)
            1: CHECK_CAUSE 7, 15
            CHECK_TVAL 8, 0xbffe
            csrw satp, zero
            lw a0, 0(s7)
            TEST_EQ 9, a0, 0x5a5a5a5a
            lw a0, 0(s6)
            TEST_EQ 10, a0, 0x5a5a5a5a
            # a load crossing from a readable page into an invalid one faults at the second page
            SATP_SV39
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0xbffc
            ld a0, 0(a1)
            1: CHECK_CAUSE 11, 13
            CHECK_TVAL 12, 0xc000
            csrw satp, zero
        """);
}
