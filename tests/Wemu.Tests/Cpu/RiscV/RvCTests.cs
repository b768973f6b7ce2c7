using Wemu.Cpu.RiscV;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>C extension: expansion table and execution of compressed code (Unpriv. chapter 16).</summary>
public class RvCTests
{
    [Fact]
    public void Compressed_Program_Runs() => BareMetal.AssertPasses("""
        li gp, 2
        c.li a0, -32
        c.addi a0, 31
        li t2, -1
        bne a0, t2, fail
        li gp, 3
        c.lui a1, 0x1f
        li t2, 0x1f000
        bne a1, t2, fail
        li gp, 4
        mv s1, sp
        la sp, c_stack + 512
        c.addi16sp sp, -64
        c.addi4spn a2, sp, 16
        addi t2, sp, 16
        bne a2, t2, fail
        li gp, 5
        li a3, 0x123456789
        c.sdsp a3, 8(sp)
        c.ldsp a4, 8(sp)
        bne a4, a3, fail
        c.swsp a3, 4(sp)
        c.lwsp a5, 4(sp)
        li t2, 0x23456789
        bne a5, t2, fail
        li gp, 6
        c.mv a0, a3
        c.add a0, a3
        li t2, 0x2468acf12
        bne a0, t2, fail
        li gp, 7
        li a0, -8
        c.srai a0, 2
        li t2, -2
        bne a0, t2, fail
        c.srli a0, 62
        li t2, 3
        bne a0, t2, fail
        c.slli a0, 63
        li t2, 0x8000000000000000
        bne a0, t2, fail
        li gp, 8
        li a0, 5
        c.beqz a0, fail
        li a1, 0
        c.bnez a1, fail
        c.j 1f
        j fail
        1:
        li gp, 9
        la a0, 2f
        c.jalr a0
        2:
        la t2, 2b
        bne ra, t2, fail
        li gp, 10
        li a0, 0x7fffffff
        c.addiw a0, 1
        li t2, 0xffffffff80000000
        bne a0, t2, fail
        li a1, 3
        c.subw a0, a1
        li t2, 0x7ffffffd
        bne a0, t2, fail
        mv sp, s1
        j 3f
        .data
        .align 4
        c_stack: .space 512
        .text
        3:
        """, compressed: true);

    [Theory]
    [InlineData((ushort)0x0000, 0u)]            // defined illegal
    [InlineData((ushort)0x0001, 0x00000013u)]   // c.nop -> addi x0, x0, 0
    [InlineData((ushort)0x4505, 0x00100513u)]   // c.li a0, 1
    [InlineData((ushort)0x8082, 0x00008067u)]   // c.ret -> jalr x0, 0(ra)
    [InlineData((ushort)0x9002, 0x00100073u)]   // c.ebreak
    [InlineData((ushort)0x6101, 0u)]            // c.addi16sp with imm 0: reserved
    [InlineData((ushort)0x0800, 0x00010413u - 0x10413u + 0x00010413u)] // c.addi4spn s0, sp, 16 -> addi s0, sp, 16 (0x01010413 computed below)
    public void Expansion_Matches_Spec(ushort c, uint expected)
    {
        if (c == 0x0800)
            expected = 0x01010413;   // addi s0, sp, 16
        Assert.Equal(expected, RvcExpander.Expand(c));
    }

    [Fact]
    public void Every_Expansion_Decodes_To_A_Real_Instruction()
    {
        for (int c = 0; c < 65536; c++)
        {
            if ((c & 3) == 3)
                continue;
            uint e = RvcExpander.Expand((ushort)c);
            if (e != 0)
                Assert.NotEqual(RvOp.Illegal, RvOpcodeTable.Decode(e));
        }
    }
}
