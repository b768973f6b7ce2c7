using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>M extension, including division by zero and overflow (Unpriv. 7.2, table 7.1).</summary>
public class RvMTests
{
    [Fact]
    public void Mul_High_Parts_Signed_Unsigned_Mixed() => BareMetal.AssertPasses("""
        TEST_RR 2, mul, 1, -1, -1
        TEST_RR 3, mulh, 0, -1, -1
        TEST_RR 4, mulhu, 0xfffffffffffffffe, -1, -1
        TEST_RR 5, mulhsu, -1, -1, -1
        TEST_RR 6, mulh, 0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR 7, mulhsu, 0xffffffffffffffff, 0x8000000000000000, 1
        TEST_RR 8, mulhu, 0x3fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR 9, mulw, 0xffffffff80000000, 0x40000000, 2
        TEST_RR 10, mulw, 1, 0xffffffffffffffff, 0x00000000ffffffff
        TEST_RR 11, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
        """);

    [Fact]
    public void Div_Rem_By_Zero_And_Overflow() => BareMetal.AssertPasses("""
        TEST_RR 2, div, -1, 7, 0
        TEST_RR 3, divu, -1, 7, 0
        TEST_RR 4, rem, 7, 7, 0
        TEST_RR 5, remu, 7, 7, 0
        TEST_RR 6, div, 0x8000000000000000, 0x8000000000000000, -1
        TEST_RR 7, rem, 0, 0x8000000000000000, -1
        TEST_RR 8, div, -3, -7, 2
        TEST_RR 9, rem, -1, -7, 2
        TEST_RR 10, divu, 0x7fffffffffffffff, -1, 2
        TEST_RR 11, remu, 1, -1, 2
        TEST_RR 12, divw, -1, 7, 0
        TEST_RR 13, divuw, -1, 7, 0
        TEST_RR 14, remw, 7, 7, 0
        TEST_RR 15, remuw, 0xffffffff80000000, 0x80000000, 0
        TEST_RR 16, divw, 0xffffffff80000000, 0x80000000, -1
        TEST_RR 17, remw, 0, 0x80000000, -1
        TEST_RR 18, divuw, 0x7fffffff, 0xffffffff, 2
        TEST_RR 19, remw, -1, -7, 2
        TEST_RR 20, divw, 3, 0x100000007, 2
        """);
}
