namespace Wemu.Jit.X64;

/// <summary>x86-64 general-purpose registers (encoding numbers).</summary>
public enum Reg
{
    Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, Rsp = 4, Rbp = 5, Rsi = 6, Rdi = 7,
    R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15,
}

/// <summary>x86 condition codes (the low nibble of Jcc/SETcc/CMOVcc).</summary>
public enum Cc : byte
{
    O = 0x0, B = 0x2, AE = 0x3, E = 0x4, NE = 0x5, P = 0xA, L = 0xC, GE = 0xD,
}

/// <summary>
/// The few x86-64 instruction forms the backend needs, encoded into a growable byte buffer:
/// register-register and register-immediate ALU ops, loads and stores as [base + disp32], shifts
/// by CL, the one-operand multiply and divide, SETcc, CMOVcc, and Jcc/JMP with rel32 to labels
/// bound later (fixed up by <see cref="Finish"/>). Nothing here knows about guests.
/// </summary>
public sealed class X64Assembler
{
    private byte[] _buf = new byte[1024];
    private int _len;
    private readonly List<int> _labels = [];
    private readonly List<(int At, int Label)> _fixups = [];

    public int Length => _len;

    public ReadOnlySpan<byte> Code => _buf.AsSpan(0, _len);

    /// <summary>Empties the buffer and forgets all labels (the buffer's memory is kept).</summary>
    public void Reset()
    {
        LastBind = -1;
        _len = 0;
        _labels.Clear();
        _fixups.Clear();
    }

    public void Byte(int b)
    {
        if ((uint)_len >= (uint)_buf.Length)
            Array.Resize(ref _buf, _buf.Length * 2);
        _buf[_len++] = (byte)b;
    }

    public void Int32(int v)
    {
        if (_len + 4 > _buf.Length)
            Array.Resize(ref _buf, _buf.Length * 2);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(_buf.AsSpan(_len), v);
        _len += 4;
    }

    private void Int64(long v)
    {
        Int32((int)v);
        Int32((int)(v >> 32));
    }

    public void PatchInt32(int at, int v) => System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(_buf.AsSpan(at, 4), v);

    // ---- labels

    public int NewLabel()
    {
        _labels.Add(-1);
        return _labels.Count - 1;
    }

    public void Bind(int label) => _labels[label] = LastBind = _len;

    /// <summary>Where a label was last bound (code there may be reached by a jump, whatever the registers hold).</summary>
    public int LastBind { get; private set; } = -1;

    public void Jmp(int label)
    {
        Byte(0xE9);
        _fixups.Add((_len, label));
        Int32(0);
    }

    public void Jcc(Cc cc, int label)
    {
        Byte(0x0F); Byte(0x80 | (int)cc);
        _fixups.Add((_len, label));
        Int32(0);
    }

    /// <summary>Resolves every jump; throws if a label was never bound.</summary>
    public void Finish()
    {
        foreach (var (at, label) in _fixups)
        {
            int target = _labels[label];
            if (target < 0)
                throw new InvalidOperationException($"x64: label {label} never bound");
            PatchInt32(at, target - (at + 4));
        }
        _fixups.Clear();
    }

    // ---- encoding helpers

    private void Rex(bool w, int reg, int rm, bool force = false)
    {
        int rex = 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (rm >> 3);
        if (rex != 0x40 || force)
            Byte(rex);
    }

    /// <summary>ModRM (and SIB) for [base + disp32].</summary>
    private void Mem(int reg, Reg b, int disp)
    {
        int bb = (int)b & 7;
        bool short8 = disp == (sbyte)disp;
        Byte((short8 ? 0x40 : 0x80) | ((reg & 7) << 3) | bb);
        if (bb == 4)
            Byte(0x24);
        if (short8)
            Byte(disp);
        else
            Int32(disp);
    }

    private void RegReg(int reg, int rm) => Byte(0xC0 | ((reg & 7) << 3) | (rm & 7));

    // ---- moves

    /// <summary>dst = [b + disp] (64 bits).</summary>
    public void Load64(Reg dst, Reg b, int disp) { Rex(true, (int)dst, (int)b); Byte(0x8B); Mem((int)dst, b, disp); }

    /// <summary>[b + disp] = src (64 bits).</summary>
    public void Store64(Reg b, int disp, Reg src) { Rex(true, (int)src, (int)b); Byte(0x89); Mem((int)src, b, disp); }

    /// <summary>dword [b + disp] = imm.</summary>
    public void StoreImm32(Reg b, int disp, int imm) { Rex(false, 0, (int)b); Byte(0xC7); Mem(0, b, disp); Int32(imm); }

    /// <summary>qword [b + disp] = imm (sign-extended).</summary>
    public void StoreImm64(Reg b, int disp, int imm) { Rex(true, 0, (int)b); Byte(0xC7); Mem(0, b, disp); Int32(imm); }

    public void MovRR(Reg dst, Reg src, bool w64 = true) { Rex(w64, (int)src, (int)dst); Byte(0x89); RegReg((int)src, (int)dst); }

    /// <summary>dst = imm, in the shortest form that gives the 64-bit value.</summary>
    public void MovImm(Reg dst, long imm)
    {
        if (imm >= 0 && imm <= uint.MaxValue)
        {
            Rex(false, 0, (int)dst); Byte(0xB8 | ((int)dst & 7)); Int32((int)imm);   // zero-extends
        }
        else if (imm == (int)imm)
        {
            Rex(true, 0, (int)dst); Byte(0xC7); RegReg(0, (int)dst); Int32((int)imm);
        }
        else
        {
            Rex(true, 0, (int)dst); Byte(0xB8 | ((int)dst & 7)); Int64(imm);
        }
    }

    /// <summary>Loads of 1, 2, 4 or 8 bytes from [b + disp], sign- or zero-extended to 64 bits.</summary>
    public void LoadSized(Reg dst, Reg b, int disp, int size, bool signed)
    {
        switch (size)
        {
            case 1: Rex(signed, (int)dst, (int)b); Byte(0x0F); Byte(signed ? 0xBE : 0xB6); break;
            case 2: Rex(signed, (int)dst, (int)b); Byte(0x0F); Byte(signed ? 0xBF : 0xB7); break;
            case 4: Rex(signed, (int)dst, (int)b); Byte(signed ? 0x63 : 0x8B); break;
            default: Rex(true, (int)dst, (int)b); Byte(0x8B); break;
        }
        Mem((int)dst, b, disp);
    }

    /// <summary>REX (if needed) and ModRM + SIB for [b + index] with <paramref name="reg"/> in ModRM.reg.</summary>
    private void RexIndexed(bool w, int reg, Reg b, Reg index, bool force = false)
    {
        int rex = 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (((int)index >> 3) << 1) | ((int)b >> 3);
        if (rex != 0x40 || force)
            Byte(rex);
    }

    private void MemIndexed(int reg, Reg b, Reg index)
    {
        bool disp8 = ((int)b & 7) == 5;   // rbp/r13 as base need a displacement
        Byte((disp8 ? 0x40 : 0x00) | ((reg & 7) << 3) | 4);
        Byte((((int)index & 7) << 3) | ((int)b & 7));
        if (disp8)
            Byte(0);
    }

    /// <summary>ModRM + SIB for [b + index + disp] (index not rsp).</summary>
    private void MemIndexed(int reg, Reg b, Reg index, int disp)
    {
        if (disp == 0 && ((int)b & 7) != 5)
        {
            MemIndexed(reg, b, index);
            return;
        }
        bool short8 = disp == (sbyte)disp;
        Byte((short8 ? 0x40 : 0x80) | ((reg & 7) << 3) | 4);
        Byte((((int)index & 7) << 3) | ((int)b & 7));
        if (short8)
            Byte(disp);
        else
            Int32(disp);
    }

    /// <summary>lea dst, [b + index &lt;&lt; <paramref name="scaleLog2"/>] (32-bit operands zero-extend; index not rsp).</summary>
    public void LeaScaled(Reg dst, Reg b, Reg index, int scaleLog2, bool w64)
    {
        RexIndexed(w64, (int)dst, b, index);
        Byte(0x8D);
        bool disp8 = ((int)b & 7) == 5;   // rbp/r13 as base need a displacement
        Byte((disp8 ? 0x40 : 0x00) | (((int)dst & 7) << 3) | 4);
        Byte((scaleLog2 << 6) | (((int)index & 7) << 3) | ((int)b & 7));
        if (disp8)
            Byte(0);
    }

    /// <summary>dst = [b + index + disp] (64 bits; index not rsp).</summary>
    public void Load64Indexed(Reg dst, Reg b, Reg index, int disp) { RexIndexed(true, (int)dst, b, index); Byte(0x8B); MemIndexed((int)dst, b, index, disp); }

    /// <summary>cmp reg, [b + index + disp] (64 bits; index not rsp).</summary>
    public void CmpRMIndexed(Reg reg, Reg b, Reg index, int disp) { RexIndexed(true, (int)reg, b, index); Byte(0x3B); MemIndexed((int)reg, b, index, disp); }

    /// <summary>Loads of 1, 2, 4 or 8 bytes from [b + index] (index not rsp), sign- or zero-extended to 64 bits.</summary>
    public void LoadSizedIndexed(Reg dst, Reg b, Reg index, int size, bool signed)
    {
        switch (size)
        {
            case 1: RexIndexed(signed, (int)dst, b, index); Byte(0x0F); Byte(signed ? 0xBE : 0xB6); break;
            case 2: RexIndexed(signed, (int)dst, b, index); Byte(0x0F); Byte(signed ? 0xBF : 0xB7); break;
            case 4: RexIndexed(signed, (int)dst, b, index); Byte(signed ? 0x63 : 0x8B); break;
            default: RexIndexed(true, (int)dst, b, index); Byte(0x8B); break;
        }
        MemIndexed((int)dst, b, index);
    }

    /// <summary>Stores the low 1, 2, 4 or 8 bytes of <paramref name="src"/> at [b + index] (index not rsp).</summary>
    public void StoreSizedIndexed(Reg b, Reg index, Reg src, int size)
    {
        switch (size)
        {
            case 1: RexIndexed(false, (int)src, b, index, force: (int)src >= 4); Byte(0x88); break;
            case 2: Byte(0x66); RexIndexed(false, (int)src, b, index); Byte(0x89); break;
            case 4: RexIndexed(false, (int)src, b, index); Byte(0x89); break;
            default: RexIndexed(true, (int)src, b, index); Byte(0x89); break;
        }
        MemIndexed((int)src, b, index);
    }

    /// <summary>dst = b + disp (lea, 64 bits).</summary>
    public void Lea(Reg dst, Reg b, int disp) { Rex(true, (int)dst, (int)b); Byte(0x8D); Mem((int)dst, b, disp); }

    /// <summary>Stores the low 1, 2, 4 or 8 bytes of <paramref name="src"/> at [b + disp].</summary>
    public void StoreSized(Reg b, int disp, Reg src, int size)
    {
        switch (size)
        {
            case 1: Rex(false, (int)src, (int)b, force: (int)src >= 4); Byte(0x88); break;
            case 2: Byte(0x66); Rex(false, (int)src, (int)b); Byte(0x89); break;
            case 4: Rex(false, (int)src, (int)b); Byte(0x89); break;
            default: Rex(true, (int)src, (int)b); Byte(0x89); break;
        }
        Mem((int)src, b, disp);
    }

    // ---- arithmetic

    public enum Alu { Add = 0, Or = 1, And = 4, Sub = 5, Xor = 6, Cmp = 7 }

    /// <summary>dst = dst op src.</summary>
    public void AluRR(Alu op, Reg dst, Reg src, bool w64)
    {
        Rex(w64, (int)src, (int)dst);
        Byte(((int)op << 3) | 1);
        RegReg((int)src, (int)dst);
    }

    /// <summary>dst = dst op imm (sign-extended 32-bit immediate).</summary>
    public void AluRI(Alu op, Reg dst, int imm, bool w64)
    {
        Rex(w64, 0, (int)dst);
        if (imm == (sbyte)imm)
        {
            Byte(0x83); RegReg((int)op, (int)dst); Byte(imm);
        }
        else
        {
            Byte(0x81); RegReg((int)op, (int)dst); Int32(imm);
        }
    }

    /// <summary>cmp reg, [b + disp] (64 bits).</summary>
    public void CmpRM(Reg reg, Reg b, int disp) { Rex(true, (int)reg, (int)b); Byte(0x3B); Mem((int)reg, b, disp); }

    /// <summary>cmp reg32, dword [b + disp].</summary>
    public void CmpRM32(Reg reg, Reg b, int disp) { Rex(false, (int)reg, (int)b); Byte(0x3B); Mem((int)reg, b, disp); }

    /// <summary>jmp qword [b + disp].</summary>
    public void JmpMem(Reg b, int disp) { Rex(false, 0, (int)b); Byte(0xFF); Mem(4, b, disp); }

    /// <summary>rsp += imm (positive: release a frame) or -= (negative: allocate one).</summary>
    public void AdjustRsp(int imm)
    {
        Byte(0x48); Byte(0x81); Byte(imm >= 0 ? 0xC4 : 0xEC); Int32(Math.Abs(imm));
    }

    public void Test(Reg a, Reg b, bool w64) { Rex(w64, (int)b, (int)a); Byte(0x85); RegReg((int)b, (int)a); }

    /// <summary>dst = dst * src (low bits).</summary>
    public void Imul(Reg dst, Reg src, bool w64) { Rex(w64, (int)dst, (int)src); Byte(0x0F); Byte(0xAF); RegReg((int)dst, (int)src); }

    /// <summary>The one-operand group 3 forms on rax/rdx: 3 neg, 4 mul, 5 imul, 6 div, 7 idiv.</summary>
    public void Group3(int ext, Reg r, bool w64) { Rex(w64, 0, (int)r); Byte(0xF7); RegReg(ext, (int)r); }

    /// <summary>Sign-extends rax into rdx (cqo) or eax into edx (cdq).</summary>
    public void SignExtendAcc(bool w64) { if (w64) Byte(0x48); Byte(0x99); }

    /// <summary>Shift by CL: 4 shl, 5 shr, 7 sar.</summary>
    public void ShiftCl(int ext, Reg r, bool w64) { Rex(w64, 0, (int)r); Byte(0xD3); RegReg(ext, (int)r); }

    /// <summary>Shift by an immediate: 4 shl, 5 shr, 7 sar.</summary>
    public void ShiftImm(int ext, Reg r, int count, bool w64) { Rex(w64, 0, (int)r); Byte(0xC1); RegReg(ext, (int)r); Byte(count); }

    /// <summary>dst = (sign-extended) low 32 bits of src.</summary>
    public void Movsxd(Reg dst, Reg src) { Rex(true, (int)dst, (int)src); Byte(0x63); RegReg((int)dst, (int)src); }

    /// <summary>al-sized SETcc into <paramref name="dst"/> (rax, rcx or rdx), then zero-extended.</summary>
    public void SetccZx(Cc cc, Reg dst)
    {
        Byte(0x0F); Byte(0x90 | (int)cc); RegReg(0, (int)dst);
        Byte(0x0F); Byte(0xB6); RegReg((int)dst, (int)dst);   // movzx dst32, dst8
    }

    public void Cmov(Cc cc, Reg dst, Reg src) { Rex(true, (int)dst, (int)src); Byte(0x0F); Byte(0x40 | (int)cc); RegReg((int)dst, (int)src); }

    public void Ret() => Byte(0xC3);

    public void Push(Reg r) { if ((int)r >= 8) Byte(0x41); Byte(0x50 | ((int)r & 7)); }

    public void Pop(Reg r) { if ((int)r >= 8) Byte(0x41); Byte(0x58 | ((int)r & 7)); }

    /// <summary>rorx dst, src, imm (BMI2: a 64-bit rotate right into another register, flags untouched).</summary>
    public void Rorx(Reg dst, Reg src, int imm)
    {
        Byte(0xC4);
        Byte(((~(int)dst >> 3) & 1) << 7 | 1 << 6 | ((~(int)src >> 3) & 1) << 5 | 0x03);   // R, X, B inverted; map 0F3A
        Byte(0x80 | 0xF << 3 | 0x03);                                                         // W1, no vvvv, L0, F2
        Byte(0xF0);
        RegReg((int)dst, (int)src);
        Byte(imm);
    }

    /// <summary>jmp r (an absolute address in a register).</summary>
    public void JmpReg(Reg r) { if ((int)r >= 8) Byte(0x41); Byte(0xFF); RegReg(4, (int)r); }

    /// <summary>call r (an absolute address in a register).</summary>
    public void CallReg(Reg r) { if ((int)r >= 8) Byte(0x41); Byte(0xFF); RegReg(2, (int)r); }

    // ---- bit counts, byte order, atomics (for guests beyond RISC-V)

    /// <summary>bsr / bsf dst, src: index of the highest / lowest set bit; ZF=1 (dst undefined) for 0.</summary>
    public void BitScan(bool reverse, Reg dst, Reg src, bool w64) { Rex(w64, (int)dst, (int)src); Byte(0x0F); Byte(reverse ? 0xBD : 0xBC); RegReg((int)dst, (int)src); }

    /// <summary>popcnt dst, src (the POPCNT extension).</summary>
    public void Popcnt(Reg dst, Reg src, bool w64) { Byte(0xF3); Rex(w64, (int)dst, (int)src); Byte(0x0F); Byte(0xB8); RegReg((int)dst, (int)src); }

    /// <summary>bswap r (32 or 64 bits).</summary>
    public void Bswap(Reg r, bool w64) { Rex(w64, 0, (int)r); Byte(0x0F); Byte(0xC8 | ((int)r & 7)); }

    /// <summary>test r8, r8 (rax, rcx or rdx): PF from the low byte.</summary>
    public void TestByte(Reg r) { Byte(0x84); RegReg((int)r, (int)r); }

    /// <summary>Zero-extends the low <paramref name="size"/> bytes of <paramref name="r"/> (rax, rcx or rdx) to 64 bits.</summary>
    public void ZeroExtend(Reg r, int size)
    {
        switch (size)
        {
            case 1: Byte(0x0F); Byte(0xB6); RegReg((int)r, (int)r); break;
            case 2: Byte(0x0F); Byte(0xB7); RegReg((int)r, (int)r); break;
            case 4: MovRR(r, r, w64: false); break;
        }
    }

    /// <summary>lock cmpxchg [b + disp], src of 1, 2, 4 or 8 bytes: compares with rax's low bytes; the old value to rax if unequal.</summary>
    public void LockCmpxchg(Reg b, int disp, Reg src, int size)
    {
        Byte(0xF0);
        if (size == 2)
            Byte(0x66);
        Rex(size == 8, (int)src, (int)b, force: size == 1 && (int)src >= 4);
        Byte(0x0F);
        Byte(size == 1 ? 0xB0 : 0xB1);
        Mem((int)src, b, disp);
    }
}
