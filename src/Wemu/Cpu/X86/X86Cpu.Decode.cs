using System.Runtime.CompilerServices;

namespace Wemu.Cpu.X86;

/// <summary>
/// Instruction decoding state and operand access (SDM vol. 2A, chapter 2: prefixes, REX, ModR/M,
/// SIB, displacement, immediate). The interpreter decodes each instruction as it executes it.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>Operand-size indices (0 = byte, 1 = word, 2 = dword, 3 = qword).</summary>
    internal const int Byte = 0, Word = 1, Dword = 2, Qword = 3;

    /// <summary>Where the current instruction started (faults report it) and the fetch position.</summary>
    internal ulong InstructionStart;
    private ulong _ip;

    private int _rex;            // the REX byte, 0 if none
    private int _opSize;         // Word, Dword or Qword for "v" operands
    private int _addrSize;       // Dword or Qword
    private int _segment;        // -1 = default, else the override
    private int _repPrefix;      // 0, 0xF2 or 0xF3
    private bool _opSizePrefix;  // 66
    private bool _lockPrefix;

    // ModR/M
    private int _mod, _reg, _rm;
    private ulong _ea;
    private bool _ripRelative;

    /// <summary>Bytes below this linear address (same code page, within 15 bytes of the instruction's
    /// start) come straight from <see cref="_fetchHost"/>; set before each instruction.</summary>
    private ulong _fetchFastEnd;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte Fetch8()
    {
        ulong ip = _ip;
        if (ip < _fetchFastEnd)
        {
            _ip = ip + 1;
            return _fetchHost[ip & 0xFFF];
        }
        return Fetch8Slow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte Fetch8Slow()
    {
        ulong ip = _ip++;
        if (ip - InstructionStart >= 15)
            Fault(VectorGp, 0); // instructions are at most 15 bytes (SDM vol. 2A, 2.3.11)
        return FetchByte(ip);
    }

    /// <summary>Sets up the fast fetch window for the instruction at <see cref="InstructionStart"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void BeginFetch()
    {
        ulong start = InstructionStart;
        _ip = start;
        _fetchFastEnd = (start >> 12) == _fetchPage ? Math.Min((start | 0xFFF) + 1, start + 15) : 0;
    }

    private ushort Fetch16() => (ushort)(Fetch8() | (Fetch8() << 8));

    private uint Fetch32()
    {
        uint b0 = Fetch8(), b1 = Fetch8(), b2 = Fetch8(), b3 = Fetch8();
        return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
    }

    private ulong Fetch64() => Fetch32() | ((ulong)Fetch32() << 32);

    /// <summary>An immediate of operand size <paramref name="size"/>, at most 32 bits, sign-extended to 64 ("Iz").</summary>
    private ulong FetchImmZ(int size) => size switch
    {
        Byte => Fetch8(),
        Word => Fetch16(),
        _ => (ulong)(long)(int)Fetch32(),
    };

    private ulong FetchImm8SignExtended() => (ulong)(long)(sbyte)Fetch8();

    /// <summary>Reads ModR/M (and SIB, displacement); computes the linear address of a memory operand.
    /// <paramref name="immBytes"/>: immediate bytes that follow (RIP-relative addresses count from the instruction's end).</summary>
    private void DecodeModRm(int immBytes = 0)
    {
        int modrm = Fetch8();
        _ripRelative = false;
        _mod = modrm >> 6;
        _reg = ((modrm >> 3) & 7) | ((_rex & 4) << 1);
        int rm = modrm & 7;
        if (_mod == 3)
        {
            _rm = rm | ((_rex & 1) << 3);
            return;
        }
        ulong ea;
        int defaultSegment = Ds;
        if (rm == 4)
        {
            int sib = Fetch8();
            int index = ((sib >> 3) & 7) | ((_rex & 2) << 2);
            int baseReg = (sib & 7) | ((_rex & 1) << 3);
            if ((sib & 7) == 5 && _mod == 0)
            {
                ea = (ulong)(long)(int)Fetch32();
            }
            else
            {
                ea = Gpr[baseReg];
                if (baseReg == Rsp || baseReg == Rbp)
                    defaultSegment = Ss;
            }
            if (index != 4)
                ea += Gpr[index] << (sib >> 6);
        }
        else if (rm == 5 && _mod == 0)
        {
            // RIP-relative (SDM vol. 2A, 2.2.1.6); with the 67 prefix EIP-relative
            long disp = (int)Fetch32();
            ulong next = _ip + (ulong)immBytes;
            ea = next + (ulong)disp;
            _ripRelative = true;
            if (_addrSize == Dword)
                ea &= 0xFFFF_FFFF;
            _ea = AddSegmentBase(ea, Ds);
            return;
        }
        else
        {
            int baseReg = rm | ((_rex & 1) << 3);
            ea = Gpr[baseReg];
            if (baseReg == Rbp)
                defaultSegment = Ss;
        }
        if (_mod == 1)
            ea += (ulong)(long)(sbyte)Fetch8();
        else if (_mod == 2)
            ea += (ulong)(long)(int)Fetch32();
        if (_addrSize == Dword)
            ea &= 0xFFFF_FFFF;
        _ea = AddSegmentBase(ea, defaultSegment);
    }

    /// <summary>In 64-bit mode only FS and GS have bases (SDM vol. 3, 3.2.4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong AddSegmentBase(ulong offset, int defaultSegment)
    {
        if (_segment < 0)
        {
            // no override: DS, ES and SS have no base in 64-bit mode
            _eaSegmentBase = 0;
            return offset;
        }
        int seg = _segment;
        _eaSegmentBase = seg >= Fs ? Segments[seg].Base : 0;
        return offset + _eaSegmentBase;
    }

    /// <summary>The segment base <see cref="_ea"/> includes (BT with a register offset recomputes the offset part).</summary>
    private ulong _eaSegmentBase;

    // ---- registers ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong GetReg(int size, int index)
    {
        switch (size)
        {
            case Byte:
                if (_rex == 0 && index >= 4 && index < 8)
                    return (Gpr[index - 4] >> 8) & 0xFF; // AH, CH, DH, BH
                return Gpr[index] & 0xFF;
            case Word: return Gpr[index] & 0xFFFF;
            case Dword: return Gpr[index] & 0xFFFF_FFFF;
            default: return Gpr[index];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetReg(int size, int index, ulong value)
    {
        switch (size)
        {
            case Byte:
                if (_rex == 0 && index >= 4 && index < 8)
                    Gpr[index - 4] = (Gpr[index - 4] & ~0xFF00UL) | ((value & 0xFF) << 8);
                else
                    Gpr[index] = (Gpr[index] & ~0xFFUL) | (value & 0xFF);
                break;
            case Word: Gpr[index] = (Gpr[index] & ~0xFFFFUL) | (value & 0xFFFF); break;
            case Dword: Gpr[index] = value & 0xFFFF_FFFF; break; // 32-bit writes zero the upper half
            default: Gpr[index] = value; break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadRm(int size) => _mod == 3 ? GetReg(size, _rm) : Read(_ea, size);

    /// <summary>The r/m operand of a read-modify-write: a memory operand must be writable before it is read
    /// (the access faults as a write, as on hardware).</summary>
    private ulong ReadRmw(int size)
    {
        if (_mod == 3)
            return GetReg(size, _rm);
        return ReadForWrite(_ea, size);
    }

    /// <summary>Reads <paramref name="va"/> after checking it can be written (read-modify-write operands).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadForWrite(ulong va, int size)
    {
        ref Memory.TlbEntry e = ref Tlb[(MmuContext << TlbBits) | (int)((va >> 12) & TlbMask)];
        if (e.TagWrite == (va & ~0xFFFUL) && (va & 0xFFF) <= (ulong)(0x1000 - (1 << size)))
        {
            byte* p = (byte*)(e.Addend + (long)va);
            return size switch { Byte => *p, Word => *(ushort*)p, Dword => *(uint*)p, _ => *(ulong*)p };
        }
        return ReadForWriteSlow(va, size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadForWriteSlow(ulong va, int size)
    {
        ProbeWrite(va, 1 << size);
        return Read(va, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteRm(int size, ulong value)
    {
        if (_mod == 3)
            SetReg(size, _rm, value);
        else
            Write(_ea, size, value);
    }

    private ulong ReadGpr(int size) => GetReg(size, _reg);

    private void WriteGpr(int size, ulong value) => SetReg(size, _reg, value);

    // ---- stack ----

    /// <summary>Stack operand size: 64 bits, or 16 with the 66 prefix (PUSH/POP in 64-bit mode).</summary>
    private int StackSize => _opSizePrefix ? Word : Qword;

    private void Push(int size, ulong value)
    {
        ulong rsp = Gpr[Rsp] - (size == Word ? 2UL : size == Dword ? 4UL : 8UL);
        Write(rsp, size, value); // RSP changes only after the store succeeded
        Gpr[Rsp] = rsp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Push64(ulong value)
    {
        ulong rsp = Gpr[Rsp] - 8;
        Write64(rsp, value); // RSP changes only after the store succeeded
        Gpr[Rsp] = rsp;
    }

    private ulong Pop(int size)
    {
        ulong rsp = Gpr[Rsp];
        ulong value = Read(rsp, size);
        Gpr[Rsp] = rsp + (size == Word ? 2UL : size == Dword ? 4UL : 8UL);
        return value;
    }
}
