using System.Buffers.Binary;

namespace Wemu.Cpu.X86.Fpu;

/// <summary>
/// The x87 register stack and the SSE control state of one CPU: eight
/// physical data registers, TOP, the full tag word, FCW, FSW, the last
/// instruction/data pointers and opcode, MXCSR and XMM0-15, with the 64-bit
/// FXSAVE/FXRSTOR memory image (SDM vol. 1, 10.5.1, table 10-2 "FXSAVE Save
/// Area" with REX.W).
/// </summary>
public sealed class X87State
{
    /// <summary>Tag values (SDM vol. 1, 8.1.7): valid, zero, special, empty.</summary>
    public const int TagValid = 0;

    /// <summary>Tag: zero.</summary>
    public const int TagZero = 1;

    /// <summary>Tag: NaN, infinity, denormal or unsupported.</summary>
    public const int TagSpecial = 2;

    /// <summary>Tag: empty.</summary>
    public const int TagEmpty = 3;

    /// <summary>Size of the FXSAVE area in bytes.</summary>
    public const int FxSaveSize = 512;

    private readonly Float80[] _registers = new Float80[8];
    private readonly ulong[] _xmm = new ulong[32];
    private ushort _status;

    /// <summary>Creates the power-up state (FNINIT values, MXCSR 0x1F80).</summary>
    public X87State()
    {
        Initialize();
        Mxcsr = Fpu.Mxcsr.Default;
    }

    /// <summary>FCW.</summary>
    public ushort Control { get; set; }

    /// <summary>FSW with the current TOP in bits 11-13. Writing it also sets TOP.</summary>
    public ushort Status
    {
        get => (ushort)((_status & ~0x3800) | (Top << 11));
        set
        {
            _status = (ushort)(value & ~0x3800);
            Top = (value >> 11) & 7;
        }
    }

    /// <summary>TOP: the physical register that is ST(0).</summary>
    public int Top { get; set; }

    /// <summary>The full tag word, two bits per physical register (register 0 in bits 1-0).</summary>
    public ushort TagWord { get; set; }

    /// <summary>Last x87 opcode (11 bits: low 3 bits of the first opcode byte and the ModR/M byte).</summary>
    public ushort LastOpcode { get; set; }

    /// <summary>Last x87 instruction pointer (FIP).</summary>
    public ulong LastInstructionPointer { get; set; }

    /// <summary>Last x87 data (operand) pointer (FDP).</summary>
    public ulong LastDataPointer { get; set; }

    /// <summary>MXCSR.</summary>
    public uint Mxcsr { get; set; }

    /// <summary>MXCSR_MASK reported by FXSAVE: the writable MXCSR bits (DAZ included).</summary>
    public uint MxcsrMask { get; set; } = 0xFFFF;

    /// <summary>The x87 control and status as operation inputs.</summary>
    public X87Control ControlWord => new(Control);

    /// <summary>FNINIT: FCW 0x037F, FSW 0, all registers empty, pointers cleared. MXCSR and XMM are kept.</summary>
    public void Initialize()
    {
        Control = X87Control.Default;
        _status = 0;
        Top = 0;
        TagWord = 0xFFFF;
        LastOpcode = 0;
        LastInstructionPointer = 0;
        LastDataPointer = 0;
    }

    /// <summary>The tag of physical register <paramref name="physical"/>.</summary>
    public int Tag(int physical) => (TagWord >> (2 * (physical & 7))) & 3;

    private void SetTag(int physical, int tag)
    {
        int shift = 2 * (physical & 7);
        TagWord = (ushort)((TagWord & ~(3 << shift)) | (tag << shift));
    }

    /// <summary>The tag a value gets when written (SDM vol. 1, figure 8-7).</summary>
    public static int TagFor(Float80 value)
    {
        if (value.IsZero)
            return TagZero;
        if (value.BiasedExponent == 0 || value.BiasedExponent == 0x7FFF || value.IsUnsupported)
            return TagSpecial;
        return TagValid;
    }

    /// <summary>The physical register number of ST(i).</summary>
    public int Physical(int i) => (Top + i) & 7;

    /// <summary>True when ST(i) is empty (reading it is a stack underflow, #IS).</summary>
    public bool IsEmpty(int i) => Tag(Physical(i)) == TagEmpty;

    /// <summary>ST(i) (whatever it holds, empty or not).</summary>
    public Float80 St(int i) => _registers[Physical(i)];

    /// <summary>Writes ST(i) and its tag.</summary>
    public void SetSt(int i, Float80 value)
    {
        int p = Physical(i);
        _registers[p] = value;
        SetTag(p, TagFor(value));
    }

    /// <summary>
    /// Pushes a value; returns false (nothing written) when ST(7) is not
    /// empty, which is a stack overflow: the caller raises IE|SF with C1 = 1
    /// and, when IE is masked, pushes the indefinite instead (SDM vol. 1, 8.5.1.1).
    /// </summary>
    public bool Push(Float80 value)
    {
        if (!IsEmpty(7))
            return false;
        Top = (Top - 1) & 7;
        SetSt(0, value);
        return true;
    }

    /// <summary>Marks ST(0) empty and increments TOP (FSTP, FINCSTP+FFREE).</summary>
    public void Pop()
    {
        SetTag(Top, TagEmpty);
        Top = (Top + 1) & 7;
    }

    /// <summary>FFREE ST(i): marks it empty without changing TOP.</summary>
    public void Free(int i) => SetTag(Physical(i), TagEmpty);

    /// <summary>MMn: the significand of physical register n (SDM vol. 1, 9.5: MMX registers alias R0-R7, not the stack).</summary>
    public ulong Mmx(int n) => _registers[n & 7].Significand;

    /// <summary>Writes MMn: the significand, with the sign and exponent bits set to all ones (SDM vol. 1, 9.5.1).</summary>
    public void SetMmx(int n, ulong value) => _registers[n & 7] = new Float80(0xFFFF, value);

    /// <summary>The x87-to-MMX transition every MMX instruction but EMMS makes: TOP = 0, all tags valid (SDM vol. 1, table 9-2).</summary>
    public void EnterMmx()
    {
        Top = 0;
        TagWord = 0;
    }

    /// <summary>The low or high 64 bits of XMMn.</summary>
    public ulong Xmm(int n, int half) => _xmm[(2 * (n & 15)) + (half & 1)];

    /// <summary>Writes the low or high 64 bits of XMMn.</summary>
    public void SetXmm(int n, int half, ulong value) => _xmm[(2 * (n & 15)) + (half & 1)] = value;

    /// <summary>
    /// FXSAVE (64-bit format): FCW, FSW, abridged tag (one bit per physical
    /// register, 1 = not empty), FOP, FIP, FDP, MXCSR, MXCSR_MASK, ST(0)-ST(7)
    /// in stack order in 16-byte slots, XMM0-15. Bytes 416-511 are left as
    /// they are (reserved / available to software).
    /// </summary>
    public void FxSave(Span<byte> area)
    {
        area = area[..FxSaveSize];
        BinaryPrimitives.WriteUInt16LittleEndian(area, Control);
        BinaryPrimitives.WriteUInt16LittleEndian(area[2..], Status);
        byte abridged = 0;
        for (int p = 0; p < 8; p++)
        {
            if (Tag(p) != TagEmpty)
                abridged |= (byte)(1 << p);
        }

        area[4] = abridged;
        area[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(area[6..], LastOpcode);
        BinaryPrimitives.WriteUInt64LittleEndian(area[8..], LastInstructionPointer);
        BinaryPrimitives.WriteUInt64LittleEndian(area[16..], LastDataPointer);
        BinaryPrimitives.WriteUInt32LittleEndian(area[24..], Mxcsr);
        BinaryPrimitives.WriteUInt32LittleEndian(area[28..], MxcsrMask);
        for (int i = 0; i < 8; i++)
        {
            Span<byte> slot = area.Slice(32 + (16 * i), 16);
            slot.Clear();
            St(i).Write(slot);
        }

        for (int n = 0; n < 16; n++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(area[(160 + (16 * n))..], _xmm[2 * n]);
            BinaryPrimitives.WriteUInt64LittleEndian(area[(168 + (16 * n))..], _xmm[(2 * n) + 1]);
        }
    }

    /// <summary>
    /// FXRSTOR (64-bit format). The full tag word is rebuilt from the
    /// abridged tag and the register contents. Returns false, restoring
    /// nothing, when the MXCSR image sets reserved bits (the caller raises
    /// #GP, SDM vol. 2, FXRSTOR).
    /// </summary>
    public bool FxRestore(ReadOnlySpan<byte> area)
    {
        area = area[..FxSaveSize];
        uint mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(area[24..]);
        if ((mxcsr & ~MxcsrMask) != 0)
            return false;
        Control = BinaryPrimitives.ReadUInt16LittleEndian(area);
        Status = BinaryPrimitives.ReadUInt16LittleEndian(area[2..]);
        byte abridged = area[4];
        LastOpcode = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(area[6..]) & 0x7FF);
        LastInstructionPointer = BinaryPrimitives.ReadUInt64LittleEndian(area[8..]);
        LastDataPointer = BinaryPrimitives.ReadUInt64LittleEndian(area[16..]);
        Mxcsr = mxcsr;
        for (int i = 0; i < 8; i++)
            _registers[Physical(i)] = Float80.Read(area.Slice(32 + (16 * i), 10));
        ushort tags = 0;
        for (int p = 0; p < 8; p++)
            tags |= (ushort)(((abridged >> p) & 1) != 0 ? TagFor(_registers[p]) << (2 * p) : TagEmpty << (2 * p));
        TagWord = tags;
        for (int n = 0; n < 16; n++)
        {
            _xmm[2 * n] = BinaryPrimitives.ReadUInt64LittleEndian(area[(160 + (16 * n))..]);
            _xmm[(2 * n) + 1] = BinaryPrimitives.ReadUInt64LittleEndian(area[(168 + (16 * n))..]);
        }

        return true;
    }
}
