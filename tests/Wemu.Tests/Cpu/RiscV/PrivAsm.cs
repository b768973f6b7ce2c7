using Wemu.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>
/// Assembly shared by the privileged-architecture tests (Priv*Tests), placed after
/// <see cref="BareMetal.Prelude"/>. <see cref="Common"/> opens PMP (QEMU enforces it for S and U),
/// installs an M-mode trap recorder (mcause/mepc/mtval to s9/s10/s11, then jump to s8, staying in
/// M) and defines GOTO_MODE/CHECK_* macros. <see cref="WithPaging"/> adds Sv39/Sv48 page tables.
/// </summary>
internal static class PrivAsm
{
    public const string Common = """
            .macro SET_HOOK label
                la t1, \label
                la t2, trap_handler_hook
                sd t1, 0(t2)
            .endm
            # Enter privilege \mode (0=U, 1=S, 3=M) at \target through mret.
            .macro GOTO_MODE mode, target
                li s9, -1
                li t1, 3 << 11
                csrc mstatus, t1
                li t1, (\mode) << 11
                csrs mstatus, t1
                la t1, \target
                csrw mepc, t1
                mret
            .endm
            .macro CHECK_CAUSE n, cause
                li gp, \n
                li t2, \cause
                bne s9, t2, fail
            .endm
            .macro CHECK_EPC n, label
                li gp, \n
                la t2, \label
                bne s10, t2, fail
            .endm
            .macro CHECK_TVAL n, value
                li gp, \n
                li t2, \value
                bne s11, t2, fail
            .endm
                # PMP: one NAPOT entry granting RWX on everything, so S and U may run (QEMU enforces PMP).
                li t1, -1
                csrw pmpaddr0, t1
                li t1, 0x1f
                csrw pmpcfg0, t1
                SET_HOOK m_record
                j common_end
            # M-mode trap recorder: mcause/mepc/mtval to s9/s10/s11, then resume at s8 (in M-mode).
            m_record:
                csrr s9, mcause
                csrr s10, mepc
                csrr s11, mtval
                jr s8
            common_end:
        """;

    /// <summary>
    /// Common, then page tables in .data (identity gigapage at 0x80000000 for S code and data):
    /// Sv39 root pt_l2 (Sv48 root pt_l3 points to it), and 4 KiB pages at VA 0x1000 * n:
    /// 1 pg_data RW (A=D=0), 2 pg_ro R, 3 pg_xo X only, 4 pg_user U RW, 5 u_code U RX,
    /// 6 invalid, 7 pg_nx RW, 8 pg_a R, 9 pg_m1 RW, 10 pg_m2 RW, 11 pg_m3 R, 12 invalid,
    /// 13/14 x_code (X, two pages), 15 x_code, 16 invalid; megapage 0x200000 -> 0x80200000,
    /// misaligned megapage 0x400000, read-only gigapage alias 0xc0000000, misaligned gigapage
    /// 0x100000000; Sv48 adds VPN[3]=1 -> the same tables and VPN[3]=2 = terapage at PA 0.
    /// </summary>
    public const string WithPaging = Common + """
            .equ PTE_V, 0x01
            .equ PTE_R, 0x02
            .equ PTE_W, 0x04
            .equ PTE_X, 0x08
            .equ PTE_U, 0x10
            .equ PTE_A, 0x40
            .equ PTE_D, 0x80
            .equ SUPERPAGE, 0x80200000
            # Writes a leaf PTE for a constant physical address.
            .macro PTE table, idx, pa, flags
                li t1, (((\pa) >> 12) << 10) | (\flags)
                la t2, \table
                li t3, (\idx) * 8
                add t2, t2, t3
                sd t1, 0(t2)
            .endm
            # Writes a PTE (leaf or pointer) for the page holding a symbol.
            .macro PTE_AT table, idx, sym, flags
                la t1, \sym
                srli t1, t1, 12
                slli t1, t1, 10
                ori t1, t1, \flags
                la t2, \table
                li t3, (\idx) * 8
                add t2, t2, t3
                sd t1, 0(t2)
            .endm
            .macro SATP_SV39
                la t1, pt_l2
                srli t1, t1, 12
                li t2, 8 << 60
                or t1, t1, t2
                csrw satp, t1
                sfence.vma
            .endm
            .macro SATP_SV48
                la t1, pt_l3
                srli t1, t1, 12
                li t2, 9 << 60
                or t1, t1, t2
                csrw satp, t1
                sfence.vma
            .endm
            # Enters \mode at a virtual address.
            .macro GOTO_VA mode, va
                li s9, -1
                li t1, 3 << 11
                csrc mstatus, t1
                li t1, (\mode) << 11
                csrs mstatus, t1
                li t1, \va
                csrw mepc, t1
                mret
            .endm
                # Sv48 root: [0] and [1] -> the Sv39 root, [2] = 512 GiB page at PA 0
                PTE_AT pt_l3, 0, pt_l2, PTE_V
                PTE_AT pt_l3, 1, pt_l2, PTE_V
                PTE pt_l3, 2, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
                # Sv39 root: [0] -> pt_l1, [2] = identity gigapage for code and data (S only),
                # [3] = read-only alias of it at 0xc0000000, [4] = misaligned gigapage at 0x100000000
                PTE_AT pt_l2, 0, pt_l1, PTE_V
                PTE pt_l2, 2, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
                PTE pt_l2, 3, 0x80000000, PTE_V | PTE_R | PTE_A
                PTE pt_l2, 4, SUPERPAGE, PTE_V | PTE_R | PTE_A
                # pt_l1: [0] -> pt_l0, [1] = megapage 0x200000 -> SUPERPAGE, [2] = misaligned megapage at 0x400000
                PTE_AT pt_l1, 0, pt_l0, PTE_V
                PTE pt_l1, 1, SUPERPAGE, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
                PTE pt_l1, 2, SUPERPAGE + 0x1000, PTE_V | PTE_R | PTE_A
                # pt_l0: 4 KiB pages at 0x1000 * index
                PTE_AT pt_l0, 1, pg_data, PTE_V | PTE_R | PTE_W
                PTE_AT pt_l0, 2, pg_ro, PTE_V | PTE_R | PTE_A
                PTE_AT pt_l0, 3, pg_xo, PTE_V | PTE_X | PTE_A
                PTE_AT pt_l0, 4, pg_user, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
                PTE_AT pt_l0, 5, u_code, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
                PTE_AT pt_l0, 7, pg_nx, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
                PTE_AT pt_l0, 8, pg_a, PTE_V | PTE_R | PTE_A
                PTE_AT pt_l0, 9, pg_m1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
                PTE_AT pt_l0, 10, pg_m2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
                PTE_AT pt_l0, 11, pg_m3, PTE_V | PTE_R | PTE_A
                PTE_AT pt_l0, 13, x_code, PTE_V | PTE_X | PTE_A
                PTE_AT pt_l0, 14, x_code + 0x1000, PTE_V | PTE_X | PTE_A
                PTE_AT pt_l0, 15, x_code, PTE_V | PTE_X | PTE_A
                PTE_AT pt_l0, 17, pg_m1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
                PTE_AT pt_l0, 18, pg_m2, PTE_V | PTE_R | PTE_U | PTE_A
                # page contents
                li t1, 0x1111
                la t2, pg_data
                sd t1, 0(t2)
                li t1, 0x2222
                la t2, pg_ro
                sd t1, 0(t2)
                li t1, 0x3333
                la t2, pg_xo
                sd t1, 0(t2)
                li t1, 0x4444
                la t2, pg_user
                sd t1, 0(t2)
                li t1, 0xaaaa
                la t2, pg_a
                sd t1, 0(t2)
                li t1, 0xbbbb
                la t2, pg_b
                sd t1, 0(t2)
                li t1, 0x5555
                li t2, SUPERPAGE + 0x1008
                sd t1, 0(t2)
                sfence.vma
                j paging_end
                .section .data
                .balign 4096
                pt_l3: .skip 4096
                pt_l2: .skip 4096
                pt_l1: .skip 4096
                pt_l0: .skip 4096
                pg_data: .skip 4096
                pg_ro: .skip 4096
                pg_xo: .skip 4096
                pg_user: .skip 4096
                pg_nx: .skip 4096
                pg_a: .skip 4096
                pg_b: .skip 4096
                pg_m2: .skip 4096
                pg_m1: .skip 4096
                pg_m3: .skip 4096
                .section .text
                # U code at VA 0x5000: entry points at 0 (load a1), 8 (store a2 to a1), 16 (jump to a1)
                .balign 4096
                u_code:
                ld a0, 0(a1)
                ecall
                sd a2, 0(a1)
                ecall
                jr a1
                # x_code at VA 0xd000/0xf000 (+0x1000 at 0xe000): a 4-byte addi at 0xffe that crosses the page
                .balign 4096
                x_code:
                .skip 0xffe
                addi a0, a0, 0x123
                ecall
                .balign 4096
            paging_end:
        """;

    /// <summary>
    /// Runs a program on Wemu only, for behaviour where QEMU 7.2 (the reference installed here)
    /// is known to differ from the specification; each caller says why.
    /// </summary>
    public static void AssertPassesOnWemu(string body)
    {
        string elf = BareMetal.Assemble(body);
        int interp = BareMetal.RunWemu(elf, engine: new RiscVInterpreter());
        int jit = BareMetal.RunWemu(elf, engine: new RiscVJitEngine(new Wemu.Jit.JitOptions { Threshold = 1 }));
        Assert.True(interp == 0, interp < 0 ? "Wemu (interpreter) did not finish" : $"Wemu (interpreter) fails test number {interp}");
        Assert.True(jit == 0, jit < 0 ? "Wemu (JIT) did not finish" : $"Wemu (JIT) fails test number {jit}");
    }
}
