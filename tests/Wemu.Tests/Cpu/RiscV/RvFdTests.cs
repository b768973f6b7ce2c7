using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>
/// F and D as instructions (the arithmetic itself is checked bit-exactly against QEMU vectors in
/// SoftFloat tests): enabling via mstatus.FS, NaN boxing, fcsr/frm/fflags, dynamic rounding,
/// loads/stores and moves.
/// </summary>
public class RvFdTests
{
    private const string EnableFpu = """
        li t0, 0x2000
        csrs mstatus, t0

        """;

    [Fact]
    public void Fp_Instruction_With_Fs_Off_Is_Illegal() => BareMetal.AssertPasses("""
        la t0, handler
        la t1, trap_handler_hook
        sd t0, 0(t1)
        li gp, 2
        li t0, 0x6000
        csrc mstatus, t0
        fadd.d f0, f1, f2
        j fail
        handler:
        csrr t0, mcause
        li t2, 2
        bne t0, t2, fail
        """);

    [Fact]
    public void Arithmetic_Flags_And_Rounding() => BareMetal.AssertPasses(EnableFpu + """
        li gp, 2
        li a0, 0x3ff0000000000000
        fmv.d.x f1, a0
        li a0, 0x4008000000000000
        fmv.d.x f2, a0
        fdiv.d f3, f1, f2
        fmv.x.d a1, f3
        li t2, 0x3fd5555555555555
        bne a1, t2, fail
        csrr a2, fflags
        li t2, 1
        bne a2, t2, fail
        li gp, 3
        fsrmi 3
        fdiv.d f3, f1, f2
        fmv.x.d a1, f3
        li t2, 0x3fd5555555555556
        bne a1, t2, fail
        li gp, 4
        fdiv.d f3, f1, f2, rtz
        fmv.x.d a1, f3
        li t2, 0x3fd5555555555555
        bne a1, t2, fail
        li gp, 5
        csrwi fflags, 0
        fmv.d.x f4, zero
        fdiv.d f5, f1, f4
        csrr a2, fflags
        li t2, 8
        bne a2, t2, fail
        li gp, 6
        csrr a2, fcsr
        li t2, (3 << 5) | 8
        bne a2, t2, fail
        li gp, 7
        csrwi fcsr, 0
        fsqrt.d f6, f1
        fmv.x.d a1, f6
        li t2, 0x3ff0000000000000
        bne a1, t2, fail
        li a0, 0xbff0000000000000
        fmv.d.x f7, a0
        fsqrt.d f6, f7
        fmv.x.d a1, f6
        li t2, 0x7ff8000000000000
        bne a1, t2, fail
        csrr a2, fflags
        li t2, 16
        bne a2, t2, fail
        """);

    [Fact]
    public void Single_Precision_Nan_Boxing() => BareMetal.AssertPasses(EnableFpu + """
        li gp, 2
        li a0, 0x3f800000
        fmv.w.x f1, a0
        fmv.x.d a1, f1
        li t2, 0xffffffff3f800000
        bne a1, t2, fail
        li gp, 3
        li a0, 0x000000003f800000
        fmv.d.x f2, a0
        fadd.s f3, f2, f1
        fmv.x.w a1, f3
        li t2, 0x7fc00000
        bne a1, t2, fail
        li gp, 4
        fmv.x.w a1, f1
        li t2, 0x3f800000
        bne a1, t2, fail
        li gp, 5
        li a0, 0xbf800000
        fmv.w.x f4, a0
        fmv.x.w a1, f4
        li t2, 0xffffffffbf800000
        bne a1, t2, fail
        li gp, 6
        la s0, fpdata
        fsw f4, 0(s0)
        flw f5, 0(s0)
        feq.s a1, f4, f5
        li t2, 1
        bne a1, t2, fail
        fsd f1, 8(s0)
        ld a1, 8(s0)
        li t2, 0xffffffff3f800000
        bne a1, t2, fail
        j 1f
        .data
        .align 3
        fpdata: .dword 0, 0
        .text
        1:
        """);

    [Fact]
    public void Conversions_Saturate_And_Sign_Extend() => BareMetal.AssertPasses(EnableFpu + """
        li gp, 2
        li a0, 0x7ff8000000000000
        fmv.d.x f1, a0
        fcvt.w.d a1, f1, rtz
        li t2, 0x7fffffff
        bne a1, t2, fail
        li gp, 3
        li a0, 0xc1f0000000000000
        fmv.d.x f1, a0
        fcvt.wu.d a1, f1, rtz
        bnez a1, fail
        li gp, 4
        li a0, 0x41efffffffe00000
        fmv.d.x f1, a0
        fcvt.wu.d a1, f1, rtz
        li t2, 0xffffffffffffffff
        bne a1, t2, fail
        li gp, 5
        li a0, -7
        fcvt.s.l f2, a0
        fcvt.l.s a1, f2
        li t2, -7
        bne a1, t2, fail
        li gp, 6
        li a0, 0x4004000000000000
        fmv.d.x f3, a0
        fcvt.l.d a1, f3, rne
        li t2, 2
        bne a1, t2, fail
        fcvt.l.d a1, f3, rmm
        li t2, 3
        bne a1, t2, fail
        li gp, 7
        fclass.d a1, f3
        li t2, 0x40
        bne a1, t2, fail
        """);

    [Fact]
    public void Reserved_Rounding_Mode_Is_Illegal() => BareMetal.AssertPasses(EnableFpu + """
        la t0, handler
        la t1, trap_handler_hook
        sd t0, 0(t1)
        li gp, 2
        fsrmi 5
        fadd.d f0, f1, f2
        j fail
        handler:
        csrr t0, mcause
        li t2, 2
        bne t0, t2, fail
        """);
}
