namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// x87 comparisons and classification: FCOM/FUCOM (C3 C2 C0), FCOMI/FUCOMI
/// (ZF PF CF), FTST and FXAM.
/// </summary>
public static class X87Compare
{
    /// <summary>EFLAGS.CF.</summary>
    public const uint CarryFlag = 0x01;

    /// <summary>EFLAGS.PF.</summary>
    public const uint ParityFlag = 0x04;

    /// <summary>EFLAGS.ZF.</summary>
    public const uint ZeroFlag = 0x40;

    /// <summary>
    /// FCOM (quiet = false) / FUCOM (quiet = true) of a (ST(0)) with b
    /// (SDM vol. 2, FCOM table "FCOM/FCOMP/FCOMPP Results"): a &gt; b gives
    /// C3 C2 C0 = 000, a &lt; b 001, equal 100, unordered 111. FCOM raises IE
    /// on any NaN, FUCOM only on an SNaN; unsupported encodings always raise
    /// IE. C1 is cleared.
    /// </summary>
    public static void Compare(Float80 a, Float80 b, bool quiet, ref X87Status status)
    {
        ushort cc = Order(a, b, quiet, ref status) switch
        {
            Ordering.Greater => 0,
            Ordering.Less => X87Status.C0,
            Ordering.Equal => X87Status.C3,
            _ => X87Status.C0 | X87Status.C2 | X87Status.C3,
        };
        status.SetConditions(X87Status.ConditionCodes, cc);
    }

    /// <summary>
    /// FCOM/FUCOM m32fp (and m64fp when <paramref name="memory"/> holds a
    /// binary64, <paramref name="isDouble"/>): the operand is widened
    /// exactly (an SNaN stays signaling); its DE is not reported when ST(0)
    /// is a NaN or the comparison raises IE (host-checked).
    /// </summary>
    public static void CompareMemory(Float80 a, ulong memory, bool isDouble, bool quiet, ref X87Status status)
    {
        Float80 b = X87Convert.Widen(memory, isDouble, out bool denormal);
        var local = new X87Status((ushort)(status.Word & X87Status.ConditionCodes));
        Compare(a, b, quiet, ref local);
        int flags = local.Word & X87Status.Exceptions;
        if (denormal && !a.IsNaN && !a.IsUnsupported && (flags & X86Rounding.IE) == 0)
            flags |= X86Rounding.DE;
        status.Raise(flags);
        status.SetConditions(X87Status.ConditionCodes, (ushort)(local.Word & X87Status.ConditionCodes));
    }

    /// <summary>FTST: compares a with +0.0 like FCOM.</summary>
    public static void Test(Float80 a, ref X87Status status) => Compare(a, Float80.Zero, false, ref status);

    /// <summary>
    /// FCOMI (quiet = false) / FUCOMI (quiet = true): returns the ZF, PF and
    /// CF bits (SDM vol. 2, FCOMI table): greater 000, less 001, equal 100,
    /// unordered 111. C1 is cleared, C0 C2 C3 are not affected.
    /// </summary>
    public static uint CompareToEflags(Float80 a, Float80 b, bool quiet, ref X87Status status)
    {
        status.SetConditions(X87Status.C1, 0);
        return Order(a, b, quiet, ref status) switch
        {
            Ordering.Greater => 0,
            Ordering.Less => CarryFlag,
            Ordering.Equal => ZeroFlag,
            _ => ZeroFlag | ParityFlag | CarryFlag,
        };
    }

    /// <summary>
    /// FXAM (SDM vol. 2, FXAM table): C1 is the sign, C3 C2 C0 the class:
    /// unsupported 000, NaN 001, normal 010, infinity 011, zero 100, empty
    /// 101, denormal (also pseudo-denormal) 110. Raises nothing.
    /// </summary>
    public static void Examine(Float80 a, bool empty, ref X87Status status)
    {
        ushort cc;
        if (empty)
            cc = X87Status.C3 | X87Status.C0;
        else if (a.IsUnsupported)
            cc = 0;
        else if (a.IsNaN)
            cc = X87Status.C0;
        else if (a.IsInfinity)
            cc = X87Status.C2 | X87Status.C0;
        else if (a.IsZero)
            cc = X87Status.C3;
        else if (a.IsDenormal)
            cc = X87Status.C3 | X87Status.C2;
        else
            cc = X87Status.C2;
        if (a.Sign)
            cc |= X87Status.C1;
        status.SetConditions(X87Status.ConditionCodes, cc);
    }

    private enum Ordering
    {
        Less,
        Equal,
        Greater,
        Unordered,
    }

    private static Ordering Order(Float80 a, Float80 b, bool quiet, ref X87Status status)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            status.Raise(X86Rounding.IE);
            return Ordering.Unordered;
        }

        if (a.IsNaN || b.IsNaN)
        {
            if (!quiet || a.IsSignalingNaN || b.IsSignalingNaN)
                status.Raise(X86Rounding.IE);
            return Ordering.Unordered;
        }

        if (a.IsDenormal || b.IsDenormal)
            status.Raise(X86Rounding.DE);
        int c = CompareValues(a, b);
        return c < 0 ? Ordering.Less : c > 0 ? Ordering.Greater : Ordering.Equal;
    }

    /// <summary>Orders two non-NaN supported values (zeros equal regardless of sign).</summary>
    internal static int CompareValues(Float80 a, Float80 b)
    {
        if (a.IsZero && b.IsZero)
            return 0;
        if (a.Sign != b.Sign)
            return a.Sign ? -1 : 1;
        int m = CompareMagnitudes(a, b);
        return a.Sign ? -m : m;
    }

    private static int CompareMagnitudes(Float80 a, Float80 b)
    {
        // Pseudo-denormals have exponent field 0 but the value of exponent 1.
        int ea = a.IsZero ? -1 : Math.Max(a.BiasedExponent, 1);
        int eb = b.IsZero ? -1 : Math.Max(b.BiasedExponent, 1);
        if (ea != eb)
            return ea < eb ? -1 : 1;
        return a.Significand.CompareTo(b.Significand);
    }
}
