using Wemu.Cpu.RiscV;
using Wemu.Memory;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>Trap and interrupt delegation to S-mode, interrupt enables and priority, mip/sip (Priv. 3.1.8, 3.1.9, 4.1.3). Each program runs on Wemu and on QEMU (<see cref="BareMetal"/>) unless marked otherwise.</summary>
public class PrivDelegationTests
{
    /// <summary>mip.SSIP with mideleg.SSI: taken in S once SIE=1 (scause = 1&lt;&lt;63|1, sepc = next instruction), never in M.</summary>
    [Fact]
    public void Delegated_Software_Interrupt_Goes_To_S() => BareMetal.AssertPasses(PrivAsm.Common + """
            li s9, -1
            la t1, s_irq
            csrw stvec, t1
            li t1, 2
            csrw mideleg, t1
            csrw mie, t1
            csrs mip, t1
            # M with MIE=1: a delegated interrupt is not taken in M
            csrsi mstatus, 8
            nop
            nop
            csrci mstatus, 8
            TEST_EQ 2, s9, -1
            li s4, -1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: nop
            li gp, 3
            li t2, -1
            bne s4, t2, fail
            csrsi sstatus, 2
            3: nop
            j fail
            1: CHECK_CAUSE 4, 9
            TEST_EQ 5, s4, 0x8000000000000001
            li gp, 6
            la t2, 3b
            bne s5, t2, fail
            li gp, 7
            csrr t1, mip
            andi t1, t1, 2
            bnez t1, fail
            # from U the delegated interrupt is taken regardless of SIE
            li t1, 2
            csrs mip, t1
            csrc mstatus, t1
            li s4, -1
            la s8, 1f
            GOTO_MODE 0, 2f
            2: nop
            j fail
            1: CHECK_CAUSE 8, 9
            TEST_EQ 9, s4, 0x8000000000000001
            li gp, 10
            la t2, 2b
            bne s5, t2, fail
            csrw mie, zero
            csrw mideleg, zero
            j 9f
            .align 2
            s_irq:
            csrr s4, scause
            csrr s5, sepc
            li t1, 2
            csrc sip, t1
            ecall
            9:
        """);

    /// <summary>medeleg (Priv. 3.1.8): an exception delegated and taken in U or S goes to stvec with scause/sepc/stval, SPP, SPIE=SIE, SIE=0.</summary>
    [Fact]
    public void Exceptions_From_U_And_S_Go_To_Stvec_When_Delegated() => BareMetal.AssertPasses(PrivAsm.Common + """
            la t1, s_record
            csrw stvec, t1
            li t1, (1 << 8) | (1 << 2) | (1 << 5)
            csrw medeleg, t1
            # ecall from U -> S handler, SPP=U
            la s8, 1f
            GOTO_MODE 0, 2f
            2: ecall
            1: CHECK_CAUSE 2, 9
            TEST_EQ 3, s4, 8
            li gp, 4
            la t2, 2b
            bne s5, t2, fail
            li gp, 5
            andi t1, s3, 1 << 8
            bnez t1, fail
            # illegal instruction in S with SIE=1 -> S handler, SPP=S, SPIE=1, SIE=0, stval = bits
            la s8, 1f
            GOTO_MODE 1, 2f
            2: csrsi sstatus, 2
            3: .word 0x0000000b
            1: CHECK_CAUSE 6, 9
            TEST_EQ 7, s4, 2
            TEST_EQ 8, s6, 0x0000000b
            li gp, 9
            la t2, 3b
            bne s5, t2, fail
            li gp, 10
            andi t1, s3, 1 << 8
            beqz t1, fail
            li gp, 11
            andi t1, s3, 1 << 5
            beqz t1, fail
            li gp, 12
            andi t1, s3, 1 << 1
            bnez t1, fail
            # load access fault from S (no memory at 0x100) -> S handler with stval = address
            la s8, 1f
            GOTO_MODE 1, 2f
            2: li a1, 0x100
            3: ld a0, 8(a1)
            1: CHECK_CAUSE 13, 9
            TEST_EQ 14, s4, 5
            TEST_EQ 15, s6, 0x108
            # not delegated (ebreak): goes to M even from U
            la s8, 1f
            GOTO_MODE 0, 2f
            2: ebreak
            1: CHECK_CAUSE 16, 3
            CHECK_EPC 17, 2b
            csrw medeleg, zero
            j 9f
            # S-mode recorder: sstatus/scause/sepc/stval to s3/s4/s5/s6, then ecall to M (not delegated)
            .align 2
            s_record:
            csrr s3, sstatus
            csrr s4, scause
            csrr s5, sepc
            csrr s6, stval
            ecall
            9:
        """);

    /// <summary>Traps never go to a lower privilege (Priv. 3.1.8): a delegated exception raised in M stays in M.</summary>
    [Fact]
    public void Exceptions_In_M_Are_Never_Delegated() => BareMetal.AssertPasses(PrivAsm.Common + """
            la t1, 3f
            csrw stvec, t1
            li t1, (1 << 2) | (1 << 3) | (1 << 5)
            csrw medeleg, t1
            la s8, 1f
            2: .word 0x0000000b
            1: CHECK_CAUSE 2, 2
            CHECK_EPC 3, 2b
            la s8, 1f
            2: ebreak
            1: CHECK_CAUSE 4, 3
            la s8, 1f
            li a1, 0x100
            2: ld a0, 0(a1)
            1: CHECK_CAUSE 5, 5
            CHECK_TVAL 6, 0x100
            li gp, 7
            csrr t1, scause
            bnez t1, fail
            csrw medeleg, zero
            j 9f
            3: li gp, 99
            j fail
            9:
        """);

    /// <summary>Priority (Priv. 3.1.9): SSI before STI; and an M-level interrupt beats a delegated one of higher rank.</summary>
    [Fact]
    public void Interrupt_Priority_And_Privilege_Order() => BareMetal.AssertPasses(PrivAsm.Common + """
            li t1, 0x22
            csrw mie, t1
            csrw mip, t1
            la s8, 1f
            csrsi mstatus, 8
            nop
            1: CHECK_CAUSE 2, 0x8000000000000001
            li t1, 0x2
            csrc mip, t1
            la s8, 1f
            csrsi mstatus, 8
            nop
            1: CHECK_CAUSE 3, 0x8000000000000005
            csrw mip, zero
            # SSI delegated, STI not: in S with SIE=1 the M-level STI is taken first
            li t1, 2
            csrw mideleg, t1
            li t1, 0x22
            csrw mip, t1
            li t1, 2
            csrs mstatus, t1
            la t1, 3f
            csrw stvec, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: nop
            j fail
            1: CHECK_CAUSE 4, 0x8000000000000005
            CHECK_EPC 5, 2b
            # then, back in S, the delegated SSI goes to stvec
            li t1, 0x20
            csrc mip, t1
            la t1, 4f
            csrw stvec, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: nop
            j fail
            4: csrr s4, scause
            ecall
            1: CHECK_CAUSE 6, 9
            TEST_EQ 7, s4, 0x8000000000000001
            csrw mip, zero
            csrw mie, zero
            csrw mideleg, zero
            j 9f
            3: li gp, 98
            j fail
            9:
        """);

    /// <summary>Priority among S-level interrupts (Priv. 3.1.9): SEI, then SSI, then STI.</summary>
    [Fact]
    public void Interrupt_Priority_Sei_Ssi_Sti()
    {
        // Not checked on QEMU: QEMU 7.2 without AIA takes the lowest-numbered pending interrupt (SSI before SEI).
        PrivAsm.AssertPassesOnWemu(PrivAsm.Common + """
                li t1, 0x222
                csrw mie, t1
                csrw mip, t1
                la s8, 1f
                csrsi mstatus, 8
                nop
                1: CHECK_CAUSE 2, 0x8000000000000009
                li t1, 0x200
                csrc mip, t1
                la s8, 1f
                csrsi mstatus, 8
                nop
                1: CHECK_CAUSE 3, 0x8000000000000001
                li t1, 0x2
                csrc mip, t1
                la s8, 1f
                csrsi mstatus, 8
                nop
                1: CHECK_CAUSE 4, 0x8000000000000005
                csrw mip, zero
                csrw mie, zero
            """);
    }

    /// <summary>An interrupt not delegated is an M interrupt (Priv. 3.1.9): taken in S/U even with SIE=0 and MIE=0.</summary>
    [Fact]
    public void Machine_Interrupts_Are_Taken_In_S_Regardless_Of_Sie() => BareMetal.AssertPasses(PrivAsm.Common + """
            csrw mideleg, zero
            li t1, 0x20
            csrw mie, t1
            csrs mip, t1
            li t1, (1 << 1) | (1 << 3)
            csrc mstatus, t1
            la s8, 1f
            GOTO_MODE 1, 2f
            2: nop
            j fail
            1: CHECK_CAUSE 2, 0x8000000000000005
            CHECK_EPC 3, 2b
            li gp, 4
            csrr t1, mstatus
            srli t1, t1, 11
            andi t1, t1, 3
            li t2, 1
            bne t1, t2, fail
            # and not in M while MIE=0
            li s9, -1
            nop
            TEST_EQ 5, s9, -1
            csrw mip, zero
            csrw mie, zero
        """);

    /// <summary>mip: SSIP/STIP/SEIP writable from M, MSIP/MTIP/MEIP not (Priv. 3.1.9; MTIP is left out: QEMU's CLINT raises it, and its H extension adds the VS bits); sip.SSIP and sie only where delegated (4.1.3).</summary>
    [Fact]
    public void Mip_And_Sip_Writable_Bits() => BareMetal.AssertPasses(PrivAsm.Common + """
            li t1, -1
            csrw mip, t1
            csrr a0, mip
            li t2, 0xa2a
            and a0, a0, t2
            TEST_EQ 2, a0, 0x222
            csrw mip, zero
            csrr a0, mip
            li t2, 0xa2a
            and a0, a0, t2
            TEST_EQ 3, a0, 0
            # mideleg = 0: sip and sie show and change nothing
            csrw mideleg, zero
            li t1, -1
            csrw sip, t1
            csrr a0, mip
            andi a0, a0, 0x22
            TEST_EQ 4, a0, 0
            csrr a0, sip
            TEST_EQ 5, a0, 0
            li t1, 0x222
            csrw mie, t1
            csrr a0, sie
            TEST_EQ 6, a0, 0
            csrw sie, zero
            csrr a0, mie
            TEST_EQ 7, a0, 0x222
            # delegate SSI and STI: sip.SSIP writable, sip.STIP read-only, both visible
            li t1, 0x22
            csrw mideleg, t1
            csrr a0, mideleg
            andi a0, a0, 0x222
            TEST_EQ 8, a0, 0x22
            li t1, 0x22
            csrs sip, t1
            csrr a0, mip
            andi a0, a0, 0x222
            TEST_EQ 9, a0, 0x2
            li t1, 0x20
            csrs mip, t1
            csrr a0, sip
            TEST_EQ 10, a0, 0x22
            csrw sip, zero
            csrr a0, mip
            andi a0, a0, 0x222
            TEST_EQ 11, a0, 0x20
            csrr a0, sie
            TEST_EQ 12, a0, 0x22
            csrw sie, zero
            csrr a0, mie
            TEST_EQ 13, a0, 0x200
            # SEIP written in mip shows in mip but not in sip (not delegated)
            li t1, 0x200
            csrs mip, t1
            csrr a0, sip
            TEST_EQ 14, a0, 0x20
            csrw mip, zero
            csrw mie, zero
            csrw mideleg, zero
        """);

    private static RiscVHart NewHart()
    {
        var hart = new RiscVHart(new PhysicalBus());
        hart.Reset(0x8000_0000);
        return hart;
    }

    /// <summary>csrrs/csrrc x0, mip, rs1 (Zicsr encoding: csr[31:20] rs1[19:15] funct3[14:12] rd[11:7] 1110011).</summary>
    private static uint MipRmw(bool set, int rs1) => ((uint)Csr.Mip << 20) | ((uint)rs1 << 15) | ((set ? 2u : 3u) << 12) | 0x73;

    /// <summary>
    /// Priv. 3.1.9: mip.SEIP reads as the software-writable bit ORed with the external pin, but a
    /// csrrs/csrrc of mip works on the software bit only: clearing another bit while the pin is
    /// high must not latch SEIP (it would stay pending after the PLIC lowers the pin). Spike has no
    /// PLIC, so this drives the pin through the hart's API.
    /// </summary>
    [Fact]
    public void Csrc_Mip_Does_Not_Latch_External_Interrupt()
    {
        using var hart = NewHart();
        Assert.True(hart.TryWriteCsr(Csr.Mip, RvStatus.SsipBit));
        hart.SetInterruptPending(RvStatus.IrqSExternal, true);
        Assert.True(hart.TryReadCsr(Csr.Mip, out ulong mip));
        Assert.Equal(RvStatus.SsipBit | RvStatus.SeipBit, mip);

        hart.SetRegister(5, RvStatus.SsipBit);
        Assert.True(hart.ExecCsr(MipRmw(set: false, rs1: 5), RvOp.Csrrc));
        hart.SetRegister(5, RvStatus.StipBit);
        Assert.True(hart.ExecCsr(MipRmw(set: true, rs1: 5), RvOp.Csrrs));
        hart.SetInterruptPending(RvStatus.IrqSExternal, false);
        Assert.True(hart.TryReadCsr(Csr.Mip, out mip));
        Assert.Equal(RvStatus.StipBit, mip);

        // A software-written SEIP stays when the pin drops, and the pin shows in sip when delegated.
        Assert.True(hart.TryWriteCsr(Csr.Mip, RvStatus.SeipBit));
        hart.SetInterruptPending(RvStatus.IrqSExternal, true);
        hart.SetInterruptPending(RvStatus.IrqSExternal, false);
        Assert.True(hart.TryReadCsr(Csr.Mip, out mip));
        Assert.Equal(RvStatus.SeipBit, mip);
        Assert.True(hart.TryWriteCsr(Csr.Mip, 0));
        Assert.True(hart.TryWriteCsr(Csr.Mideleg, RvStatus.SeipBit));
        hart.SetInterruptPending(RvStatus.IrqSExternal, true);
        Assert.True(hart.TryReadCsr(Csr.Sip, out ulong sip));
        Assert.Equal(RvStatus.SeipBit, sip);
        // sip.SEIP is read-only: writing zero to sip does not clear the pin
        Assert.True(hart.TryWriteCsr(Csr.Sip, 0));
        Assert.True(hart.TryReadCsr(Csr.Sip, out sip));
        Assert.Equal(RvStatus.SeipBit, sip);
    }

    /// <summary>
    /// Priv. 3.1.9: with everything pending and enabled the order is MEI, MSI, MTI, SEI, SSI, STI.
    /// The M pins need a CLINT/PLIC that spike lacks (and QEMU 7.2 orders by number), so this
    /// drives the hart directly.
    /// </summary>
    [Fact]
    public void Interrupt_Priority_Full_Order()
    {
        using var hart = NewHart();
        hart.SetInterruptPending(RvStatus.IrqMExternal, true);
        hart.SetInterruptPending(RvStatus.IrqMSoft, true);
        hart.SetInterruptPending(RvStatus.IrqMTimer, true);
        Assert.True(hart.TryWriteCsr(Csr.Mip, RvStatus.SupervisorInterrupts));
        Assert.True(hart.TryWriteCsr(Csr.Mie, RvStatus.AllInterrupts));
        Assert.True(hart.TryWriteCsr(Csr.Mtvec, 0x8000_1000));
        foreach (int irq in new[] { 11, 3, 7, 9, 1, 5 })
        {
            Assert.True(hart.TryWriteCsr(Csr.Mstatus, RvStatus.Mie | RvStatus.Mpp));
            Assert.True(hart.CheckInterrupts());
            Assert.True(hart.TryReadCsr(Csr.Mcause, out ulong cause));
            Assert.Equal((1UL << 63) | (ulong)irq, cause);
            Assert.Equal(0x8000_1000UL, hart.ProgramCounter);
            if (irq is 11 or 3 or 7)
                hart.SetInterruptPending(irq, false);
            else
            {
                Assert.True(hart.TryReadCsr(Csr.Mip, out ulong mip));
                Assert.True(hart.TryWriteCsr(Csr.Mip, mip & ~(1UL << irq)));
            }
        }
        Assert.True(hart.TryWriteCsr(Csr.Mstatus, RvStatus.Mie));
        Assert.False(hart.CheckInterrupts());
    }
}
