using Wemu.Cpu.X86;
using Xunit;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// What the host oracle cannot vary: CPUID under each model, #UD for SSSE3/SSE4 under qemu64 (the
/// host has them), and the MMX faults for CR0.EM and CR0.TS (SDM vol. 2, "Numeric Exceptions" of
/// each MMX instruction: #UD with EM, else #NM with TS).
/// </summary>
public sealed class X86VectorExtensionTests : IDisposable
{
    private const uint Sse3 = 1, Ssse3 = 1 << 9, Cx16 = 1 << 13, Sse41 = 1 << 19, Sse42 = 1 << 20, Popcnt = 1 << 23, Mmx = 1 << 23;

    private readonly X86TestBench _qemu64 = new();
    private readonly X86TestBench _max = new(X86CpuModel.Max);

    public void Dispose()
    {
        _qemu64.Dispose();
        _max.Dispose();
    }

    [Fact]
    public void Cpuid_Max_Reports_Ssse3_Sse41_Sse42_And_Qemu64_Does_Not()
    {
        var (_, _, maxEcx, maxEdx) = X86CpuModel.Max.Cpuid(1, 0);
        Assert.Equal(Sse3 | Ssse3 | Cx16 | Sse41 | Sse42 | Popcnt, maxEcx & (Sse3 | Ssse3 | Cx16 | Sse41 | Sse42 | Popcnt));
        Assert.NotEqual(0u, maxEdx & Mmx);
        var (_, _, ecx, edx) = X86CpuModel.Qemu64.Cpuid(1, 0);
        Assert.Equal(Sse3 | Cx16, ecx & (Sse3 | Ssse3 | Cx16 | Sse41 | Sse42 | Popcnt)); // QEMU 7.2's qemu64
        Assert.NotEqual(0u, edx & Mmx);
    }

    [Theory]
    [InlineData("660F3800C1")]   // PSHUFB xmm0, xmm1
    [InlineData("0F3800C1")]     // PSHUFB mm0, mm1
    [InlineData("660F3A0FC103")] // PALIGNR xmm0, xmm1, 3
    [InlineData("660F3840C1")]   // PMULLD
    [InlineData("660F3A0AC104")] // ROUNDSS
    [InlineData("660F3817C1")]   // PTEST
    [InlineData("660F3837C1")]   // PCMPGTQ (SSE4.2)
    [InlineData("F20F38F0C1")]   // CRC32 eax, cl
    [InlineData("660F3A63C10C")] // PCMPISTRI
    public void Ssse3_And_Sse4_Raise_UD_Under_Qemu64_Only(string hex)
    {
        byte[] code = Convert.FromHexString(hex);
        var state = new X86TestState();
        Assert.Equal(6, _qemu64.Run(code, state, new byte[HostX86Oracle.DataSize]).Vector);
        Assert.Equal(-1, _max.Run(code, state, new byte[HostX86Oracle.DataSize]).Vector);
    }

    [Theory]
    [InlineData("0FFCC1", X86Cpu.Cr0Em, 6)]              // PADDB mm0, mm1
    [InlineData("0FFCC1", X86Cpu.Cr0Ts, 7)]
    [InlineData("0FFCC1", X86Cpu.Cr0Em | X86Cpu.Cr0Ts, 6)]
    [InlineData("0F77", X86Cpu.Cr0Em, 6)]                // EMMS
    [InlineData("0F77", X86Cpu.Cr0Ts, 7)]
    [InlineData("480F6EC0", X86Cpu.Cr0Ts, 7)]            // MOVQ mm0, rax
    [InlineData("0F3800C1", X86Cpu.Cr0Ts, 7)]            // PSHUFB mm0, mm1
    [InlineData("F30FD6C1", X86Cpu.Cr0Em, 6)]            // MOVQ2DQ xmm0, mm1
    [InlineData("0F2AC1", X86Cpu.Cr0Ts, 7)]              // CVTPI2PS xmm0, mm1
    public void Mmx_Faults_With_Cr0_Em_And_Ts(string hex, ulong cr0Bits, int vector)
    {
        var outcome = _max.Run(Convert.FromHexString(hex), new X86TestState(), new byte[HostX86Oracle.DataSize], setup: cpu => cpu.Cr0 |= cr0Bits);
        Assert.Equal(vector, outcome.Vector);
        Assert.Equal(HostX86Oracle.CodeAddress, outcome.Rip);
    }

    [Fact]
    public void Movq_To_Mm_Writes_The_Significand_With_Exponent_Ones_And_Tags_Valid()
    {
        var state = new X86TestState();
        state.Gpr[0] = 0x1234_5678_9ABC_DEF0;
        // FLD1 (TOP = 7); MOVQ mm3, rax
        var outcome = _qemu64.Run(Convert.FromHexString("D9E8480F6ED8"), state, new byte[HostX86Oracle.DataSize]);
        Assert.Equal(-1, outcome.Vector);
        Assert.Equal(0UL, (outcome.State.Fpu >> 27) & 7);     // TOP = 0
        Assert.Equal(0xFFUL, (outcome.State.Fpu >> 32) & 0xFF); // every register valid
        Assert.Equal(0x1234_5678_9ABC_DEF0UL, outcome.State.X87[2 * 3]);
        Assert.Equal(0xFFFFUL, outcome.State.X87[2 * 3 + 1]);
    }
}
