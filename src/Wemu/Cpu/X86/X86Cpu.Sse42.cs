using System.Numerics;
using System.Runtime.Intrinsics;

namespace Wemu.Cpu.X86;

/// <summary>
/// SSE4.2 string compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SDM vol. 2B, 4.1 "Imm8 Control
/// Byte Operation for String and Text Processing Instructions"): every source format, aggregation,
/// polarity and output selection of imm8.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>66 0F 3A 60-63 xmm1, xmm2/m128, imm8 (no alignment requirement).</summary>
    private void CompareStrings(int op)
    {
        var b = ReadXmmSource(aligned: false);
        int imm = Fetch8();
        var a = GetX(_reg);
        bool words = (imm & 1) != 0, signed = (imm & 2) != 0;
        int n = words ? 8 : 16;
        bool explicitLength = op <= 0x61;
        int lengthA = explicitLength ? ExplicitLength(Rax, n) : ImplicitLength(a, words);
        int lengthB = explicitLength ? ExplicitLength(Rdx, n) : ImplicitLength(b, words);

        // IntRes1 over the elements of the second operand (xmm2/m128), SDM table 4-7 for invalid elements
        int aggregation = (imm >> 2) & 3;
        int res1 = 0;
        for (int j = 0; j < n; j++)
        {
            bool bit;
            switch (aggregation)
            {
                case 0: // equal any
                    bit = false;
                    if (j < lengthB)
                        for (int i = 0; i < lengthA && !bit; i++)
                            bit = Element(a, i, words, signed) == Element(b, j, words, signed);
                    break;
                case 1: // ranges: pairs of the first operand bound the second's elements
                    bit = false;
                    if (j < lengthB)
                    {
                        long v = Element(b, j, words, signed);
                        for (int i = 0; i + 1 < lengthA && !bit; i += 2)
                            bit = v >= Element(a, i, words, signed) && v <= Element(a, i + 1, words, signed);
                    }
                    break;
                case 2: // equal each: both invalid is true, one invalid is false
                    bit = j >= lengthA && j >= lengthB
                        || (j < lengthA && j < lengthB && Element(a, j, words, signed) == Element(b, j, words, signed));
                    break;
                default: // equal ordered: the first operand found as a substring starting at j
                    bit = true;
                    for (int i = 0, k = j; i < n - j && bit; i++, k++)
                    {
                        if (i >= lengthA)
                            break; // the rest of the needle is invalid: true
                        bit = k < lengthB && Element(a, i, words, signed) == Element(b, k, words, signed);
                    }
                    break;
            }
            if (bit)
                res1 |= 1 << j;
        }

        int all = (1 << n) - 1;
        int res2 = ((imm >> 4) & 3) switch
        {
            1 => ~res1 & all,
            3 => res1 ^ ((1 << lengthB) - 1), // negate the valid elements only
            _ => res1,
        };

        if ((op & 1) != 0) // PCMPxSTRI: the index into ECX
        {
            int index = res2 == 0 ? n : (imm & 0x40) != 0 ? 31 - BitOperations.LeadingZeroCount((uint)res2) : BitOperations.TrailingZeroCount(res2);
            Gpr[Rcx] = (ulong)index;
        }
        else if ((imm & 0x40) == 0) // PCMPxSTRM: a bit mask in XMM0
            SetX(0, Vector128.Create((ulong)res2, 0UL));
        else // ... or each element of XMM0 all ones or zero
        {
            Span<byte> m = stackalloc byte[16];
            int bytes = words ? 2 : 1;
            for (int i = 0; i < 16; i++)
                m[i] = ((res2 >> (i / bytes)) & 1) != 0 ? (byte)0xFF : (byte)0;
            SetX(0, Vector128.Create<byte>(m).AsUInt64());
        }

        ulong flags = (res2 != 0 ? FlagCf : 0) | (lengthB < n ? FlagZf : 0) | (lengthA < n ? FlagSf : 0) | ((res2 & 1) != 0 ? FlagOf : 0);
        MaterializeFlags();
        Rflags = (Rflags & ~ArithmeticFlags) | flags;
    }

    /// <summary>An explicit length: |EAX| or |EDX| (|RAX|, |RDX| with REX.W), at most the element count.</summary>
    private int ExplicitLength(int reg, int n)
    {
        long v = (_rex & 8) != 0 ? (long)Gpr[reg] : (int)Gpr[reg];
        ulong magnitude = v < 0 ? 0 - (ulong)v : (ulong)v;
        return magnitude > (ulong)n ? n : (int)magnitude;
    }

    /// <summary>An implicit length: the index of the first zero element.</summary>
    private static int ImplicitLength(Vector128<ulong> v, bool words)
    {
        int n = words ? 8 : 16;
        for (int i = 0; i < n; i++)
            if (Element(v, i, words, false) == 0)
                return i;
        return n;
    }

    private static long Element(Vector128<ulong> v, int i, bool words, bool signed) => words
        ? signed ? v.AsInt16().GetElement(i) : v.AsUInt16().GetElement(i)
        : signed ? v.AsSByte().GetElement(i) : v.AsByte().GetElement(i);
}
