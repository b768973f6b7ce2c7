using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Precise traps from the middle of compiled code: a loop whose fifth instruction faults in its
/// sixth iteration, when the loop has long been compiled. The handler snapshots registers: those
/// written by the four instructions before the fault must hold their new values, the faulting
/// instruction's destination and the registers written after it their old ones; xcause, xepc
/// and xtval must be exact. It then fixes the address and returns to the faulting instruction
/// (retry) or past it (skip). The programs check this themselves (validated on QEMU); the
/// lockstep against the interpreter checks everything else, instret included, at every step.
/// </summary>
public sealed class JitTrapMidBlockTests
{
    /// <summary>No RAM and no device there on QEMU's spike machine nor on the bare test hart.</summary>
    private const string Unmapped = "0x40000000";

    /// <summary>
    /// The loop: a1..a4 incremented (instructions 1-4), then <paramref name="fault"/> (5), then
    /// a6, a7 incremented (6, 7). Eight iterations; after the fifth, <paramref name="arm"/> makes
    /// the next one fault (and puts the marker 0x77 in the faulting instruction's destination).
    /// The handler (<paramref name="mode"/> M or S) snapshots a1, a4, <paramref name="snapshot"/>
    /// (-> s6), a6 and a7, runs <paramref name="fix"/> and returns to xepc, or past the faulting
    /// instruction when <paramref name="skip"/>.
    /// </summary>
    private static string Program(char mode, string setup, string good, string fault, string arm, string snapshot,
        string fix, bool skip, int cause, string tval, string finalCheck)
    {
        string x = mode == 'M' ? "m" : "s";
        string ret = mode == 'M' ? "mret" : "sret";
        string skipCode = skip ? $$"""
                csrr t5, {{x}}epc
                lhu t6, 0(t5)
                andi t6, t6, 3
                addi t5, t5, 2
                li t2, 3
                bne t6, t2, 3f
                addi t5, t5, 2
            3:  csrw {{x}}epc, t5
            """ : "";
        return $$"""
                {{setup}}
                li s3, 0
                li s9, -1
                {{good}}
                li a1, 0
                li a2, 0
                li a3, 0
                li a4, 0
                li a5, 0
                li a6, 0
                li a7, 0
                li s2, 0
            tm_loop:
                addi a1, a1, 1
                addi a2, a2, 1
                addi a3, a3, 1
                addi a4, a4, 1
            tm_fault:
                {{fault}}
                addi a6, a6, 1
                addi a7, a7, 1
                addi s2, s2, 1
                li t0, 5
                bne s2, t0, 1f
                {{arm}}
            1:  li t0, 8
                blt s2, t0, tm_loop
                TEST_EQ 2, s3, 1
                TEST_EQ 3, s9, {{cause}}
                li gp, 4
                la t2, tm_fault
                bne s10, t2, fail
                TEST_EQ 5, s11, {{tval}}
                TEST_EQ 6, s4, 6
                TEST_EQ 7, s5, 6
                TEST_EQ 8, s6, 0x77
                TEST_EQ 9, s7, 5
                TEST_EQ 10, t4, 5
                TEST_EQ 11, a1, 8
                TEST_EQ 12, a6, 8
                {{finalCheck}}
                j tm_end
                .balign 4
            tm_handler:
                csrr s9, {{x}}cause
                csrr s10, {{x}}epc
                csrr s11, {{x}}tval
                mv s4, a1
                mv s5, a4
                {{snapshot}}
                mv s7, a6
                mv t4, a7
                addi s3, s3, 1
                {{fix}}
                {{skipCode}}
                {{ret}}
                .section .data
                .balign 8
            tm_good: .dword 0x1234, 0
                .section .text
            tm_end:
            """;
    }

    /// <summary>M-mode: the M trap vector goes to tm_handler; FS on for the F/D variants.</summary>
    private const string MachineSetup = """
                SET_HOOK tm_handler
                li t0, 0x6000
                csrs mstatus, t0
        """;

    /// <summary>S-mode under Sv39 (<see cref="Cpu.RiscV.PrivAsm.WithPaging"/>): page faults delegated to S, stvec = tm_handler.</summary>
    private const string SupervisorSetup = """
                SATP_SV39
                la t1, tm_handler
                csrw stvec, t1
                li t1, (1 << 13) | (1 << 15)
                csrw medeleg, t1
                la s8, tm_unexpected
                GOTO_MODE 1, tm_s
            tm_unexpected:
                li gp, 99
                j fail
            tm_s:
                # VA 0x9000 (pg_m1, RW) is the good address, holding 0x1234
                li t0, 0x9000
                li t1, 0x1234
                sd t1, 0(t0)
        """;

    private static void AssertBoth(string body, bool paging = false, bool checkOnQemu = true)
    {
        string prefix = paging ? Cpu.RiscV.PrivAsm.WithPaging : Cpu.RiscV.PrivAsm.Common;
        JitBareMetal.AssertLockstep(prefix + body, compressed: false, checkOnQemu);
        JitBareMetal.AssertLockstep(prefix + body, compressed: true, checkOnQemu);
    }

    /// <summary>A load access fault, retried after the handler repairs the address.</summary>
    [Fact]
    public void Load_Access_Fault_Retried() => AssertBoth(Program('M', MachineSetup, "la s1, tm_good",
        fault: "ld a5, 0(s1)", arm: $"li s1, {Unmapped}\n    li a5, 0x77", snapshot: "mv s6, a5",
        fix: "la s1, tm_good", skip: false, cause: 5, tval: Unmapped, finalCheck: "TEST_EQ 13, a5, 0x1234"));

    /// <summary>A store access fault, skipped: nothing is written, and the loop goes on.</summary>
    [Fact]
    public void Store_Access_Fault_Skipped() => AssertBoth(Program('M', MachineSetup, "la s1, tm_good",
        fault: "sd a5, 8(s1)", arm: $"li s1, {Unmapped} - 8\n    li a5, 0x77", snapshot: "mv s6, a5",
        fix: "la s1, tm_good", skip: true, cause: 7, tval: Unmapped,
        finalCheck: "la t0, tm_good\n    ld t1, 8(t0)\n    TEST_EQ 13, t1, 0x77"));

    /// <summary>An FP load (a helper call in compiled code) faulting: the helper's trap path.</summary>
    [Fact]
    public void Float_Load_Fault_In_A_Helper_Retried() => AssertBoth(Program('M', MachineSetup, "la s1, tm_good",
        fault: "fld fa5, 0(s1)", arm: $"li s1, {Unmapped}\n    li t0, 0x77\n    fmv.d.x fa5, t0", snapshot: "fmv.x.d s6, fa5",
        fix: "la s1, tm_good", skip: false, cause: 5, tval: Unmapped,
        finalCheck: "fmv.x.d t0, fa5\n    TEST_EQ 13, t0, 0x1234"));

    /// <summary>
    /// An AMO (a helper call in compiled code) to an unmapped address: store/AMO access fault
    /// (Priv. table 3.6), retried. Not checked on QEMU: QEMU 7.2 reports the load form for AMOs
    /// (see <see cref="Cpu.RiscV.PrivMisalignedTests.Misaligned_Amo_Raises_Store_Address_Misaligned"/>).
    /// </summary>
    [Fact]
    public void Amo_Access_Fault_In_A_Helper_Retried() => AssertBoth(Program('M', MachineSetup, "la s1, tm_good\n    li a0, 1",
        fault: "amoadd.d a5, a0, (s1)", arm: $"li s1, {Unmapped}\n    li a5, 0x77", snapshot: "mv s6, a5",
        fix: "la s1, tm_good", skip: false, cause: 7, tval: Unmapped,
        finalCheck: "la t0, tm_good\n    ld t1, 0(t0)\n    TEST_EQ 13, t1, 0x1234 + 8\n    TEST_EQ 14, a5, 0x1234 + 7"), checkOnQemu: false);

    /// <summary>A misaligned LR (a helper call): load address misaligned, skipped (the faulting LR leaves its destination alone).</summary>
    [Fact]
    public void Misaligned_Lr_In_A_Helper_Skipped() => AssertBoth(Program('M', MachineSetup, "la s1, tm_good",
        fault: "lr.d a5, (s1)", arm: "addi s1, s1, 4\n    li a5, 0x77", snapshot: "mv s6, a5",
        fix: "la s1, tm_good", skip: true, cause: 4, tval: "0", finalCheck: "TEST_EQ 13, a5, 0x1234")
        .Replace("TEST_EQ 5, s11, 0\n", "la t2, tm_good + 4\n    li gp, 5\n    bne s11, t2, fail\n"));

    /// <summary>
    /// An illegal instruction (an unknown CSR, behind a branch taken until the sixth iteration,
    /// so it is the sixth instruction): the region ends before it and the interpreter traps; skipped.
    /// </summary>
    [Fact]
    public void Illegal_Instruction_Skipped() => AssertBoth(Program('M', MachineSetup, "li s1, 0",
        fault: ".option push\n    .option norvc\n    beqz s1, 2f\n    .option pop\n    csrr a5, 0x7ff\n2:", arm: "li s1, 1\n    li a5, 0x77", snapshot: "mv s6, a5",
        fix: "li s1, 0", skip: true, cause: 2, tval: "0x7ff027f3", finalCheck: "TEST_EQ 13, a5, 0x77")
        .Replace("la t2, tm_fault\n", "la t2, tm_fault + 4\n"));

    /// <summary>S-mode, Sv39: a load page fault (VA 0x6000 is invalid) delegated to S, retried.</summary>
    [Fact]
    public void Load_Page_Fault_In_Supervisor_Mode_Retried() => AssertBoth(Program('S', SupervisorSetup, "li s1, 0x9000",
        fault: "ld a5, 0(s1)", arm: "li s1, 0x6000\n    li a5, 0x77", snapshot: "mv s6, a5",
        fix: "li s1, 0x9000", skip: false, cause: 13, tval: "0x6000", finalCheck: "TEST_EQ 13, a5, 0x1234"), paging: true);

    /// <summary>
    /// S-mode, Sv39: a doubleword store from VA 0xaffc into the read-only page at 0xb000 faults
    /// at the second page (stval 0xb000) and writes nothing to either page; skipped.
    /// </summary>
    [Fact]
    public void Page_Crossing_Store_Fault_In_Supervisor_Mode_Skipped() => AssertBoth(Program('S',
        SupervisorSetup + "\n    li t0, 0xaffc\n    li t1, 0x5a5a5a5a\n    sw t1, 0(t0)", "li s1, 0x9000",
        fault: "sd a5, 0(s1)", arm: "li s1, 0xaffc\n    li a5, 0x77", snapshot: "mv s6, a5",
        fix: "li s1, 0x9000", skip: true, cause: 15, tval: "0xb000",
        finalCheck: "li t0, 0xaffc\n    lw t1, 0(t0)\n    TEST_EQ 13, t1, 0x5a5a5a5a\n    li t0, 0x9000\n    ld t1, 0(t0)\n    TEST_EQ 14, t1, 0x77"),
        paging: true);
}
