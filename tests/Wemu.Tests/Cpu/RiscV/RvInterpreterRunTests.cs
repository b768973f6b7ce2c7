using Wemu.Cpu.RiscV;
using Wemu.Tests.Jit;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>
/// Where the interpreter's run stops for the machine loop after a CSR instruction (<see cref="RiscVHart.CsrWriteEndsRun"/>):
/// only after a write the machine loop must see before the next instruction, here an enable of an interrupt that is
/// pending. Programs are raw words at the start of RAM, run from M-mode.
/// </summary>
public class RvInterpreterRunTests
{
    private const uint CsrwSscratchT0 = 0x14029073;   // csrrw x0, sscratch, t0
    private const uint CsrsiMstatusMie = 0x30046073;  // csrrsi x0, mstatus, 8 (MIE)
    private const uint CsrrMstatusA1 = 0x300025F3;    // csrrs a1, mstatus, x0
    private const uint AddiA0A0One = 0x00150513;      // addi a0, a0, 1
    private const uint Wfi = 0x10500073;

    private static (BareHart Machine, long Ran) Run(uint[] program, Action<RiscVHart>? setUp = null)
    {
        var m = new BareHart(1 << 20);
        var bytes = new byte[program.Length * 4];
        Buffer.BlockCopy(program, 0, bytes, 0, bytes.Length);
        m.Write(BareHart.RamBase, bytes);
        setUp?.Invoke(m.Hart);
        long ran = new RiscVInterpreter().Run(m.Hart, 100);
        return (m, ran);
    }

    [Fact]
    public void Writes_Of_Trap_State_And_Reads_Do_Not_End_The_Run()
    {
        var (m, ran) = Run([CsrwSscratchT0, CsrrMstatusA1, AddiA0A0One, AddiA0A0One, Wfi]);
        using (m)
        {
            Assert.Equal(5, ran);
            Assert.Equal(2UL, m.Hart.GetRegister(10));
            Assert.Equal(5UL, m.Hart.InstRet);
        }
    }

    [Fact]
    public void Enabling_An_Interrupt_That_Is_Pending_Ends_The_Run_Before_The_Next_Instruction()
    {
        var (m, ran) = Run([CsrsiMstatusMie, AddiA0A0One, AddiA0A0One, Wfi], h =>
        {
            h.Mie = RvStatus.MtipBit;
            h.SetInterruptPending(RvStatus.IrqMTimer, true);
        });
        using (m)
        {
            Assert.Equal(1, ran);
            Assert.Equal(0UL, m.Hart.GetRegister(10));
            Assert.Equal(BareHart.RamBase + 4, m.Hart.Pc);
        }
    }

    /// <summary>The JIT's test after an instruction it had interpreted for compiled code (or the page's wasm interpreter): a CSR write that ends the run stops dispatch, once.</summary>
    [Fact]
    public void A_Csr_Write_That_Ends_The_Run_Stops_The_Dispatch_Once()
    {
        var (m, _) = Run([CsrsiMstatusMie, Wfi], h =>
        {
            h.Mie = RvStatus.MtipBit;
            h.SetInterruptPending(RvStatus.IrqMTimer, true);
        });
        using (m)
        {
            var isa = new RiscVJitFrontEnd(new Wemu.Jit.HotTable(100, 1));
            Assert.False(isa.WentOn(m.Hart, BareHart.RamBase));
            Assert.True(isa.WentOn(m.Hart, BareHart.RamBase));
        }
        var (n, _) = Run([CsrwSscratchT0, Wfi]);
        using (n)
        {
            n.Hart.Pc = BareHart.RamBase + 4;
            Assert.True(new RiscVJitFrontEnd(new Wemu.Jit.HotTable(100, 1)).WentOn(n.Hart, BareHart.RamBase));
        }
    }

    [Fact]
    public void Enabling_Interrupts_With_None_Pending_Goes_On()
    {
        var (m, ran) = Run([CsrsiMstatusMie, AddiA0A0One, AddiA0A0One, Wfi], h => h.Mie = RvStatus.MtipBit);
        using (m)
        {
            Assert.Equal(4, ran);
            Assert.Equal(2UL, m.Hart.GetRegister(10));
        }
    }
}
