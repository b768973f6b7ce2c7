using System.Numerics;

namespace Wemu.Cpu.X86;

/// <summary>Integer arithmetic with its flags (SDM vol. 2: ADD ... XOR, shifts and rotates, MUL/DIV, bit operations).</summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>The eight ALU operations of opcodes 00-3F and group 1: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal ulong Alu(int op, int size, ulong a, ulong b)
    {
        ulong mask = SizeMask[size];
        ulong r;
        switch (op)
        {
            case 0: r = (a + b) & mask; SetCc(X86CcOp.Add, size, r, b); return r;
            case 1: r = (a | b) & mask; SetCc(X86CcOp.Logic, size, r, 0); return r;
            case 2:
                {
                    ulong c = CarryFlag ? 1UL : 0;
                    r = (a + b + c) & mask;
                    SetCc(X86CcOp.Adc, size, r, b, c);
                    return r;
                }
            case 3:
                {
                    ulong c = CarryFlag ? 1UL : 0;
                    r = (a - b - c) & mask;
                    SetCc(X86CcOp.Sbb, size, r, b, c);
                    return r;
                }
            case 4: r = a & b & mask; SetCc(X86CcOp.Logic, size, r, 0); return r;
            case 5: case 7: r = (a - b) & mask; SetCc(X86CcOp.Sub, size, r, b); return r;
            default: r = (a ^ b) & mask; SetCc(X86CcOp.Logic, size, r, 0); return r;
        }
    }

    internal ulong Inc(int size, ulong a)
    {
        ulong cf = CarryFlag ? FlagCf : 0;
        ulong r = (a + 1) & SizeMask[size];
        SetCc(X86CcOp.Inc, size, r, cf);
        return r;
    }

    internal ulong Dec(int size, ulong a)
    {
        ulong cf = CarryFlag ? FlagCf : 0;
        ulong r = (a - 1) & SizeMask[size];
        SetCc(X86CcOp.Dec, size, r, cf);
        return r;
    }

    internal ulong Neg(int size, ulong a)
    {
        ulong r = (0 - a) & SizeMask[size];
        SetCc(X86CcOp.Sub, size, r, a);
        return r;
    }

    private void SetFlagBits(ulong set, ulong clear)
    {
        MaterializeFlags();
        Rflags = (Rflags & ~clear) | set;
    }

    private static ulong SignExtend(int size, ulong v) => size switch
    {
        Byte => (ulong)(long)(sbyte)v,
        Word => (ulong)(long)(short)v,
        Dword => (ulong)(long)(int)v,
        _ => v,
    };

    /// <summary>Group 2: ROL, ROR, RCL, RCR, SHL, SHR, SAL, SAR by <paramref name="count"/> (masked here).</summary>
    internal ulong Shift(int op, int size, ulong a, int count)
    {
        int bits = SizeBits[size];
        ulong mask = SizeMask[size];
        count &= size == Qword ? 63 : 31;
        if (count == 0)
            return a; // no flag changes (SDM: "if the masked count is 0, the flags are not affected")
        a &= mask;
        ulong r;
        switch (op)
        {
            case 0: // ROL
                {
                    int n = count & (bits - 1);
                    r = ((a << n) | (a >> ((bits - n) & 63))) & mask;
                    if (n == 0) r = a;
                    ulong cf = r & 1;
                    ulong of = ((r >> (bits - 1)) ^ cf) & 1;
                    SetFlagBits((cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0), FlagCf | FlagOf);
                    return r;
                }
            case 1: // ROR
                {
                    int n = count & (bits - 1);
                    r = n == 0 ? a : ((a >> n) | (a << ((bits - n) & 63))) & mask;
                    ulong cf = (r >> (bits - 1)) & 1;
                    ulong of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1;
                    SetFlagBits((cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0), FlagCf | FlagOf);
                    return r;
                }
            case 2: // RCL: rotate bits+1 wide through CF
                {
                    int n = size == Byte ? count % 9 : size == Word ? count % 17 : count;
                    ulong cf = CarryFlag ? 1UL : 0;
                    r = a;
                    for (int i = 0; i < n; i++)
                    {
                        ulong outBit = (r >> (bits - 1)) & 1;
                        r = ((r << 1) | cf) & mask;
                        cf = outBit;
                    }
                    ulong of = ((r >> (bits - 1)) ^ cf) & 1;
                    SetFlagBits((cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0), FlagCf | FlagOf);
                    return r;
                }
            case 3: // RCR
                {
                    int n = size == Byte ? count % 9 : size == Word ? count % 17 : count;
                    ulong cf = CarryFlag ? 1UL : 0;
                    r = a;
                    ulong of = ((r >> (bits - 1)) ^ cf) & 1; // OF from the operand before the rotation (count 1)
                    for (int i = 0; i < n; i++)
                    {
                        ulong outBit = r & 1;
                        r = (r >> 1) | (cf << (bits - 1));
                        cf = outBit;
                    }
                    if (n != 1)
                        of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1;
                    SetFlagBits((cf != 0 ? FlagCf : 0) | (of != 0 ? FlagOf : 0), FlagCf | FlagOf);
                    return r;
                }
            case 4: case 6: // SHL/SAL
                {
                    ulong src = count - 1 >= bits ? 0 : (a << (count - 1)) & mask;
                    r = count >= bits ? 0 : (a << count) & mask;
                    SetCc(X86CcOp.Shl, size, r, src);
                    return r;
                }
            case 5: // SHR
                {
                    ulong src = count - 1 >= bits ? 0 : a >> (count - 1);
                    r = count >= bits ? 0 : a >> count;
                    SetCc(X86CcOp.Sar, size, r, src);
                    return r;
                }
            default: // SAR
                {
                    long s = (long)SignExtend(size, a);
                    ulong src = (ulong)(s >> Math.Min(count - 1, 63)) & mask;
                    r = (ulong)(s >> Math.Min(count, 63)) & mask;
                    SetCc(X86CcOp.Sar, size, r, src);
                    return r;
                }
        }
    }

    /// <summary>SHLD/SHRD (SDM vol. 2B): shift <paramref name="a"/> filling from <paramref name="b"/>.</summary>
    internal ulong DoubleShift(bool left, int size, ulong a, ulong b, int count)
    {
        int bits = SizeBits[size];
        ulong mask = SizeMask[size];
        count &= size == Qword ? 63 : 31;
        if (count == 0)
            return a & mask;
        a &= mask;
        b &= mask;
        if (size == Word && count > 16)
        {
            // undefined result; Intel and QEMU shift through a 48-bit a:b:a concatenation
            UInt128 wide = ((UInt128)a << 32) | ((UInt128)b << 16) | a;
            if (left)
            {
                ulong res = (ulong)(wide >> (48 - count)) & mask;
                ulong src = (ulong)(wide >> (48 - (count - 1))) & mask;
                SetCc(X86CcOp.Shl, size, res, src);
                return res;
            }
            else
            {
                UInt128 w2 = a | ((UInt128)b << 16) | ((UInt128)a << 32);
                ulong res = (ulong)(w2 >> count) & mask;
                ulong src = (ulong)(w2 >> (count - 1)) & mask;
                SetCc(X86CcOp.Sar, size, res, src);
                return res;
            }
        }
        if (left)
        {
            UInt128 wide = ((UInt128)a << bits) | b;
            ulong res = (ulong)(wide >> (bits - count)) & mask;
            ulong src = (ulong)(wide >> (bits - count + 1)) & mask;
            SetCc(X86CcOp.Shl, size, res, src);
            return res;
        }
        else
        {
            UInt128 wide = ((UInt128)b << bits) | a;
            ulong res = (ulong)(wide >> count) & mask;
            ulong src = (ulong)(wide >> (count - 1)) & mask;
            SetCc(X86CcOp.Sar, size, res, src);
            return res;
        }
    }

    /// <summary>Group 3 MUL/IMUL/DIV/IDIV on rAX (and rDX) with operand <paramref name="src"/>.</summary>
    internal void MulDiv(int op, int size, ulong src)
    {
        ulong mask = SizeMask[size];
        int bits = SizeBits[size];
        switch (op)
        {
            case 4: // MUL
                if (size == Byte)
                {
                    ulong p = (Gpr[Rax] & 0xFF) * (src & 0xFF);
                    SetReg(Word, Rax, p);
                    SetCc(X86CcOp.Mul, Byte, p, p >> 8);
                }
                else if (size == Qword)
                {
                    ulong hi = Math.BigMul(Gpr[Rax], src, out ulong lo);
                    Gpr[Rax] = lo;
                    Gpr[Rdx] = hi;
                    SetCc(X86CcOp.Mul, size, lo, hi);
                }
                else
                {
                    ulong p = (Gpr[Rax] & mask) * (src & mask);
                    SetReg(size, Rax, p & mask);
                    SetReg(size, Rdx, p >> bits);
                    SetCc(X86CcOp.Mul, size, p, p >> bits);
                }
                break;
            case 5: // IMUL
                if (size == Qword)
                {
                    long hi = Math.BigMul((long)Gpr[Rax], (long)src, out long lo);
                    Gpr[Rax] = (ulong)lo;
                    Gpr[Rdx] = (ulong)hi;
                    SetCc(X86CcOp.Mul, size, (ulong)lo, hi != (lo >> 63) ? 1UL : 0);
                }
                else
                {
                    long p = (long)SignExtend(size, Gpr[Rax]) * (long)SignExtend(size, src);
                    if (size == Byte)
                        SetReg(Word, Rax, (ulong)p);
                    else
                    {
                        SetReg(size, Rax, (ulong)p & mask);
                        SetReg(size, Rdx, (ulong)(p >> bits) & mask);
                    }
                    SetCc(X86CcOp.Mul, size, (ulong)p, (long)SignExtend(size, (ulong)p) != p ? 1UL : 0);
                }
                break;
            case 6: // DIV
                {
                    src &= mask;
                    if (src == 0)
                        FaultNoCode(VectorDe);
                    if (size == Qword)
                    {
                        UInt128 dividend = ((UInt128)Gpr[Rdx] << 64) | Gpr[Rax];
                        UInt128 q = dividend / src;
                        if (q > ulong.MaxValue)
                            FaultNoCode(VectorDe);
                        Gpr[Rax] = (ulong)q;
                        Gpr[Rdx] = (ulong)(dividend % src);
                    }
                    else
                    {
                        ulong dividend = size == Byte ? Gpr[Rax] & 0xFFFF : ((Gpr[Rdx] & mask) << bits) | (Gpr[Rax] & mask);
                        ulong q = dividend / src, r = dividend % src;
                        if (q > mask)
                            FaultNoCode(VectorDe);
                        if (size == Byte)
                            SetReg(Word, Rax, q | (r << 8));
                        else
                        {
                            SetReg(size, Rax, q);
                            SetReg(size, Rdx, r);
                        }
                    }
                    break;
                }
            default: // IDIV
                {
                    long divisor = (long)SignExtend(size, src);
                    if (divisor == 0)
                        FaultNoCode(VectorDe);
                    if (size == Qword)
                    {
                        Int128 dividend = (Int128)(((UInt128)Gpr[Rdx] << 64) | Gpr[Rax]);
                        if (dividend == Int128.MinValue && divisor == -1)
                            FaultNoCode(VectorDe);   // (the host's divide would throw: the quotient does not fit anyway)
                        Int128 q = dividend / divisor;
                        if (q > long.MaxValue || q < long.MinValue)
                            FaultNoCode(VectorDe);
                        Gpr[Rax] = (ulong)(long)q;
                        Gpr[Rdx] = (ulong)(long)(dividend % divisor);
                    }
                    else
                    {
                        long dividend = size == Byte ? (short)Gpr[Rax]
                            : size == Word ? (int)(((Gpr[Rdx] & 0xFFFF) << 16) | (Gpr[Rax] & 0xFFFF))
                            : (long)(((Gpr[Rdx] & 0xFFFF_FFFF) << 32) | (Gpr[Rax] & 0xFFFF_FFFF));
                        if (dividend == long.MinValue && divisor == -1)
                            FaultNoCode(VectorDe);   // EDX:EAX = INT64_MIN by -1: the host's divide would throw
                        long q = dividend / divisor, r = dividend % divisor;
                        long limit = 1L << (bits - 1);
                        if (q >= limit || q < -limit)
                            FaultNoCode(VectorDe);
                        if (size == Byte)
                            SetReg(Word, Rax, ((ulong)q & 0xFF) | (((ulong)r & 0xFF) << 8));
                        else
                        {
                            SetReg(size, Rax, (ulong)q & mask);
                            SetReg(size, Rdx, (ulong)r & mask);
                        }
                    }
                    break;
                }
        }
    }

    /// <summary>IMUL r, r/m (, imm): the truncated product; CF = OF = the product did not fit.</summary>
    internal ulong Imul2(int size, ulong a, ulong b)
    {
        if (size == Qword)
        {
            long hi = Math.BigMul((long)a, (long)b, out long lo);
            SetCc(X86CcOp.Mul, size, (ulong)lo, hi != (lo >> 63) ? 1UL : 0);
            return (ulong)lo;
        }
        long p = (long)SignExtend(size, a) * (long)SignExtend(size, b);
        ulong r = (ulong)p & SizeMask[size];
        SetCc(X86CcOp.Mul, size, r, (long)SignExtend(size, r) != p ? 1UL : 0);
        return r;
    }

    /// <summary>BSF/BSR: ZF = source is zero (destination kept, as AMD documents and Intel does).</summary>
    internal bool BitScan(bool reverse, int size, ulong src, out ulong index)
    {
        src &= SizeMask[size];
        MaterializeFlags();
        if (src == 0)
        {
            Rflags |= FlagZf;
            index = 0;
            return false;
        }
        Rflags &= ~FlagZf;
        index = reverse ? (ulong)(63 - BitOperations.LeadingZeroCount(src)) : (ulong)BitOperations.TrailingZeroCount(src);
        return true;
    }
}
