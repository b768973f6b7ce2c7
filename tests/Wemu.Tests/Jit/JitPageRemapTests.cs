using Wemu.Tests.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Compiled code and address translation (Sv39, S-mode): a virtual page remapped to another
/// physical page (by rewriting its PTE, or by switching satp) must run the new page's code after
/// sfence.vma, and one physical page mapped at two virtual addresses must run with each
/// mapping's own pc (auipc). Self-checking programs, validated on QEMU, run in lockstep against
/// the interpreter at thresholds 1 and 2 (<see cref="JitBareMetal"/>).
/// </summary>
public sealed class JitPageRemapTests
{
    /// <summary>
    /// Sv39 tables: root[2] is an identity gigapage over RAM (S code, data and the tables
    /// themselves), root[0] -> rm_l1 -> rm_l0 maps 4 KiB pages at VA 0x1000 * index. Code pages
    /// rm_code_a and rm_code_b each hold "addi a1, a1, N; auipc a0, 0; ret" (N = 1 and 100; 32-bit
    /// encodings in both builds, so auipc is at +4).
    /// A second root (rm_root2 -> rm_l1b -> rm_l0b) has the same gigapage. Traps fail (test 99).
    /// </summary>
    private const string Setup = PrivAsm.Common + """
            .equ RM_V, 0x01
            .equ RM_RX, 0x01 | 0x02 | 0x08 | 0x40
            .macro RM_PTE table, idx, sym, flags
                la t1, \sym
                srli t1, t1, 12
                slli t1, t1, 10
                ori t1, t1, \flags
                la t2, \table
                li t3, (\idx) * 8
                add t2, t2, t3
                sd t1, 0(t2)
            .endm
            .macro RM_GIGA table
                li t1, ((0x80000000 >> 12) << 10) | 0xcf
                la t2, \table
                sd t1, 16(t2)
            .endm
            .macro RM_SATP root
                la t1, \root
                srli t1, t1, 12
                li t2, 8 << 60
                or t1, t1, t2
                csrw satp, t1
                sfence.vma
            .endm
            # Calls VA \va \n times.
            .macro RM_CALL va, n
                li s2, \n
            77: li t0, \va
                jalr ra, 0(t0)
                addi s2, s2, -1
                bnez s2, 77b
            .endm
                RM_GIGA rm_root
                RM_PTE rm_root, 0, rm_l1, RM_V
                RM_PTE rm_l1, 0, rm_l0, RM_V
                RM_GIGA rm_root2
                RM_PTE rm_root2, 0, rm_l1b, RM_V
                RM_PTE rm_l1b, 0, rm_l0b, RM_V
                la s8, rm_trapped
                j rm_setup_end
            rm_trapped:
                li gp, 99
                j fail
                .section .data
                .balign 4096
            rm_root: .skip 4096
            rm_l1: .skip 4096
            rm_l0: .skip 4096
            rm_root2: .skip 4096
            rm_l1b: .skip 4096
            rm_l0b: .skip 4096
                .section .text
                .option push
                .option norvc
                .balign 4096
            rm_code_a:
                addi a1, a1, 1
                auipc a0, 0
                ret
                .balign 4096
            rm_code_b:
                addi a1, a1, 100
                auipc a0, 0
                ret
                .balign 4096
                .option pop
            rm_setup_end:
        """;

    /// <summary>VA 0x10000 runs page A (compiled), its PTE is rewritten to page B, sfence.vma: page B's code runs at the same virtual pc.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Remapped_Page_Runs_Its_New_Code(bool compressed) => JitBareMetal.AssertLockstep(Setup + """
            RM_PTE rm_l0, 16, rm_code_a, RM_RX
            RM_SATP rm_root
            GOTO_MODE 1, 1f
        1:  li a1, 0
            RM_CALL 0x10000, 10
            TEST_EQ 2, a1, 10
            TEST_EQ 3, a0, 0x10004
            RM_PTE rm_l0, 16, rm_code_b, RM_RX
            sfence.vma
            RM_CALL 0x10000, 10
            TEST_EQ 4, a1, 1010
            TEST_EQ 5, a0, 0x10004
            # and back
            RM_PTE rm_l0, 16, rm_code_a, RM_RX
            sfence.vma
            RM_CALL 0x10000, 3
            TEST_EQ 6, a1, 1013
        """, compressed);

    /// <summary>
    /// The same remap fenced with sfence.vma for that one address (Linux's flush_tlb_page), after
    /// fences of other pages (data and code) that must not hide it: the single-page flush has to
    /// drop the compiled code's cached translation too.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Remapped_Page_Runs_Its_New_Code_After_An_Address_Fence(bool compressed) => JitBareMetal.AssertLockstep(Setup + """
            RM_PTE rm_l0, 16, rm_code_a, RM_RX
            RM_PTE rm_l0, 17, rm_code_b, RM_RX
            RM_SATP rm_root
            GOTO_MODE 1, 1f
        1:  li a1, 0
            RM_CALL 0x10000, 10
            RM_CALL 0x11000, 1
            TEST_EQ 2, a1, 110
            RM_PTE rm_l0, 16, rm_code_b, RM_RX
            li t0, 0x12000
            sfence.vma t0
            li t0, 0x11000
            sfence.vma t0
            li t0, 0x10000
            sfence.vma t0
            RM_CALL 0x10000, 10
            TEST_EQ 3, a1, 1110
            TEST_EQ 4, a0, 0x10004
            RM_PTE rm_l0, 16, rm_code_a, RM_RX
            li t0, 0x10abc
            sfence.vma t0, zero
            RM_CALL 0x10000, 3
            TEST_EQ 5, a1, 1113
        """, compressed);

    /// <summary>The same virtual page in two address spaces (two roots, switched through satp) holds different code.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Satp_Switch_Runs_The_Other_Address_Space(bool compressed) => JitBareMetal.AssertLockstep(Setup + """
            RM_PTE rm_l0, 16, rm_code_a, RM_RX
            RM_PTE rm_l0b, 16, rm_code_b, RM_RX
            RM_SATP rm_root
            GOTO_MODE 1, 1f
        1:  li a1, 0
            li s3, 3
        2:  RM_CALL 0x10000, 5
            RM_SATP rm_root2
            RM_CALL 0x10000, 5
            RM_SATP rm_root
            addi s3, s3, -1
            bnez s3, 2b
            # 3 rounds of 5 calls into A (+1) and 5 into B (+100)
            TEST_EQ 2, a1, 1515
        """, compressed);

    /// <summary>
    /// One physical page at VA 0x10000 and 0x11000: auipc gives each mapping's own pc (the
    /// translation is per virtual address), and a store to the physical page (through the
    /// identity map) changes the code seen through both.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Page_Mapped_At_Two_Virtual_Addresses(bool compressed)
    {
        var engines = JitBareMetal.AssertLockstep(Setup + """
                RM_PTE rm_l0, 16, rm_code_a, RM_RX
                RM_PTE rm_l0, 17, rm_code_a, RM_RX
                RM_SATP rm_root
                GOTO_MODE 1, 1f
            1:  li a1, 0
                li s3, 3
            2:  RM_CALL 0x10000, 4
                mv s4, a0
                RM_CALL 0x11000, 4
                mv s5, a0
                addi s3, s3, -1
                bnez s3, 2b
                TEST_EQ 2, a1, 24
                TEST_EQ 3, s4, 0x10004
                TEST_EQ 4, s5, 0x11004
                sub t0, s5, s4
                TEST_EQ 5, t0, 0x1000
                # rewrite the first instruction of the physical page: addi a1, a1, 1 -> addi a1, a1, 100
                la t0, rm_code_b
                la t2, rm_code_a
                lw t1, 0(t0)
                sw t1, 0(t2)
                fence.i
                RM_CALL 0x11000, 2
                RM_CALL 0x10000, 2
                TEST_EQ 6, a1, 424
            """, compressed);
        foreach (var jit in engines)
            Assert.True(jit.Statistics.Invalidations > 0, jit.Statistics.ToString());
    }

    /// <summary>
    /// Compiled code uses the permissions of the privilege it runs in: user code touches a user
    /// page (its TLB entry is then valid for U) and faults into S; the S handler, still in the
    /// same interpreter run, loops until the loop is compiled and finally loads from the user
    /// page, which S may not do without SUM: a load page fault, not the user's translation.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Supervisor_Code_After_A_User_Trap_Uses_Supervisor_Permissions(bool compressed) => JitBareMetal.AssertLockstep(
        Cpu.RiscV.PrivAsm.WithPaging + """
            PTE_AT pt_l0, 19, ua_u_code, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
            SATP_SV39
            la t1, ua_s_handler
            csrw stvec, t1
            li t1, 1 << 13
            csrw medeleg, t1
            la s8, ua_unexpected
            li s5, 0
            li a1, 0x4000
            li a2, 0x9000
            GOTO_VA 0, 0x13000
        ua_unexpected:
            li gp, 99
            j fail
            .balign 4
        ua_s_handler:
            bnez s5, ua_fault
            li s5, 1
            li s2, 6
            li a3, 0x9000
        1:  ld a0, 0(a3)
            addi s2, s2, -1
            li t0, 1
            bne s2, t0, 2f
            li a3, 0x4000
        2:  bnez s2, 1b
            li gp, 2
            j fail
        ua_fault:
            csrr t0, scause
            TEST_EQ 3, t0, 13
            csrr t0, stval
            TEST_EQ 4, t0, 0x4000
            csrr t0, sepc
            la t1, 1b
            li gp, 5
            bne t0, t1, fail
            TEST_EQ 6, s2, 1
            j 9f
            .balign 4096
        ua_u_code:
            ld a0, 0(a1)
            ld a0, 0(a2)
            li gp, 7
            j fail
            .balign 4096
        9:
        """, compressed);
}
