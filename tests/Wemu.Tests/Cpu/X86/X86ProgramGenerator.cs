using Iced.Intel;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// Random x86-64 user-mode programs for the host-CPU differential tests, built from Iced's table
/// of every instruction form: for a chosen set of mnemonics, every legacy-encoded 64-bit form whose
/// operands are general registers, XMM registers, memory in the data area and immediates. Values
/// lean to edge cases (0, ±1, sign boundaries). Flags an instruction leaves undefined are masked
/// from the comparison, and a program never reads a flag an earlier instruction left undefined.
/// </summary>
public sealed class X86ProgramGenerator
{
    private static readonly CpuidFeature[] s_allowedFeatures =
    [
        CpuidFeature.INTEL8086, CpuidFeature.INTEL8086_ONLY, CpuidFeature.INTEL186, CpuidFeature.INTEL286, CpuidFeature.INTEL386,
        CpuidFeature.INTEL486, CpuidFeature.X64, CpuidFeature.CMOV, CpuidFeature.SSE, CpuidFeature.SSE2, CpuidFeature.SSE3,
        CpuidFeature.CX8, CpuidFeature.FXSR, CpuidFeature.FPU, CpuidFeature.FPU287, CpuidFeature.FPU387, CpuidFeature.POPCNT,
    ];

    private readonly List<Code> _codes = [];
    private readonly Random _random;
    private readonly Random _mmxRandom;
    private readonly bool _withStack;
    private readonly bool _mmx;

    /// <param name="mnemonics">The instructions to draw from (all their eligible forms).</param>
    /// <param name="extensions">Extensions beyond the baseline whose forms are drawn too (MMX also
    /// admits the MMX-register forms of SSE and SSE2 instructions).</param>
    public X86ProgramGenerator(int seed, IEnumerable<Mnemonic> mnemonics, bool withStack = false, CpuidFeature[]? extensions = null)
    {
        _random = new Random(seed);
        _mmxRandom = new Random(seed ^ 0x6D6D78); // its own stream: the other tests' programs stay as they were
        _withStack = withStack;
        extensions ??= [];
        _mmx = Array.IndexOf(extensions, CpuidFeature.MMX) >= 0;
        CpuidFeature[] allowed = [.. s_allowedFeatures, .. extensions];
        var wanted = new HashSet<Mnemonic>(mnemonics);
        foreach (Code code in Enum.GetValues<Code>())
        {
            var info = code.ToOpCode();
            if (!info.IsInstruction || info.Encoding != EncodingKind.Legacy || !info.Mode64 || !wanted.Contains(info.Mnemonic))
                continue;
            bool ok = true;
            for (int i = 0; i < info.OpCount && ok; i++)
                ok = IsSupported(info.GetOpKind(i)) || (_mmx && info.GetOpKind(i) is OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem);
            if (!ok)
                continue;
            if (code.CpuidFeatures().Any(f => Array.IndexOf(allowed, f) < 0))
                continue;
            _codes.Add(code);
        }
        if (_codes.Count == 0)
            throw new ArgumentException("no eligible instruction forms");
    }

    public IReadOnlyList<Code> Codes => _codes;

    private static bool IsSupported(OpCodeOperandKind k) => k switch
    {
        OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem => true,
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r64_reg => true,
        OpCodeOperandKind.r8_opcode or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r64_opcode => true,
        OpCodeOperandKind.r16_rm or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r64_rm => true,
        OpCodeOperandKind.mem => true,
        OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm or OpCodeOperandKind.xmm_or_mem => true,
        OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1 or OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32
            or OpCodeOperandKind.imm8sex64 or OpCodeOperandKind.imm16 or OpCodeOperandKind.imm32 or OpCodeOperandKind.imm32sex64
            or OpCodeOperandKind.imm64 => true,
        OpCodeOperandKind.al or OpCodeOperandKind.cl or OpCodeOperandKind.ax or OpCodeOperandKind.eax or OpCodeOperandKind.rax => true,
        OpCodeOperandKind.st0 or OpCodeOperandKind.sti_opcode => true,
        _ => false,
    };

    private static readonly Register[] s_gpr64 =
    [
        Register.RAX, Register.RCX, Register.RDX, Register.RBX, Register.RSP, Register.RBP, Register.RSI, Register.RDI,
        Register.R8, Register.R9, Register.R10, Register.R11, Register.R12, Register.R13, Register.R14, Register.R15,
    ];

    private Register RandomGpr(int bytes)
    {
        int i;
        do i = _random.Next(16); while (i == 4); // RSP stays a valid stack pointer
        if (bytes == 1 && _random.Next(4) == 0)
            return _random.Next(4) switch { 0 => Register.AH, 1 => Register.CH, 2 => Register.DH, _ => Register.BH };
        Register r64 = s_gpr64[i];
        return bytes switch
        {
            1 => i < 4 ? Register.AL + i : Register.SPL + (i - 4),
            2 => Register.AX + i,
            4 => Register.EAX + i,
            _ => r64,
        };
    }

    private ulong EdgeValue()
    {
        return _random.Next(10) switch
        {
            0 => 0,
            1 => ulong.MaxValue,
            2 => 1,
            3 => 0x8000_0000_0000_0000UL >> (_random.Next(4) * 8 + (_random.Next(2) == 0 ? 0 : 32)) << (_random.Next(2) == 0 ? 0 : 0),
            4 => 0x7FUL << (_random.Next(8) * 8),
            5 => (ulong)_random.Next(64),
            _ => (ulong)_random.NextInt64() ^ ((ulong)_random.Next() << 33),
        };
    }

    /// <summary>A memory operand in the data area: absolute or RIP-relative, sometimes misaligned or page-crossing.</summary>
    private MemoryOperand RandomMemory(ulong accessBytes)
    {
        ulong offset = _random.Next(3) switch
        {
            0 => (ulong)_random.Next(HostX86Oracle.DataSize / 16 - 2) * 16, // aligned
            1 => 0x1000UL * (ulong)_random.Next(1, HostX86Oracle.DataSize / 0x1000) - (ulong)_random.Next(1, (int)accessBytes + 1), // crosses a page
            _ => (ulong)_random.Next(HostX86Oracle.DataSize - 32),
        };
        ulong target = HostX86Oracle.DataAddress + offset;
        return _random.Next(2) == 0
            ? new MemoryOperand(Register.None, (long)target, _random.Next(2) == 0 ? 4 : 8) // 4: 32-bit addressing (67 prefix)
            : new MemoryOperand(Register.RIP, (long)target, 8);
    }

    private static int MemorySize(Code code)
    {
        var info = code.ToOpCode();
        return Instruction.Create(code).MemorySize.GetSize() is var s and > 0 ? s : info.OperandSize / 8 is var o and > 0 ? o : 16;
    }

    private Instruction? TryBuild(Code code)
    {
        var info = code.ToOpCode();
        var ins = Instruction.Create(code);
        int memBytes = Math.Max(1, MemorySize(code));
        for (int i = 0; i < info.OpCount; i++)
        {
            var k = info.GetOpKind(i);
            switch (k)
            {
                case OpCodeOperandKind.r8_reg: case OpCodeOperandKind.r8_opcode: SetReg(ref ins, i, RandomGpr(1)); break;
                case OpCodeOperandKind.r16_reg: case OpCodeOperandKind.r16_opcode: case OpCodeOperandKind.r16_rm: SetReg(ref ins, i, RandomGpr(2)); break;
                case OpCodeOperandKind.r32_reg: case OpCodeOperandKind.r32_opcode: case OpCodeOperandKind.r32_rm: SetReg(ref ins, i, RandomGpr(4)); break;
                case OpCodeOperandKind.r64_reg: case OpCodeOperandKind.r64_opcode: case OpCodeOperandKind.r64_rm: SetReg(ref ins, i, RandomGpr(8)); break;
                case OpCodeOperandKind.r8_or_mem: case OpCodeOperandKind.r16_or_mem: case OpCodeOperandKind.r32_or_mem: case OpCodeOperandKind.r64_or_mem:
                    if (_random.Next(2) == 0)
                        SetReg(ref ins, i, RandomGpr(k switch { OpCodeOperandKind.r8_or_mem => 1, OpCodeOperandKind.r16_or_mem => 2, OpCodeOperandKind.r32_or_mem => 4, _ => 8 }));
                    else
                        SetMem(ref ins, i, RandomMemory((ulong)memBytes));
                    break;
                case OpCodeOperandKind.mem: SetMem(ref ins, i, RandomMemory((ulong)memBytes)); break;
                case OpCodeOperandKind.xmm_reg: case OpCodeOperandKind.xmm_rm: SetReg(ref ins, i, Register.XMM0 + _random.Next(16)); break;
                case OpCodeOperandKind.mm_reg: case OpCodeOperandKind.mm_rm: SetReg(ref ins, i, Register.MM0 + _random.Next(8)); break;
                case OpCodeOperandKind.mm_or_mem:
                    if (_random.Next(2) == 0) SetReg(ref ins, i, Register.MM0 + _random.Next(8));
                    else SetMem(ref ins, i, RandomMemory((ulong)memBytes));
                    break;
                case OpCodeOperandKind.xmm_or_mem:
                    if (_random.Next(2) == 0) SetReg(ref ins, i, Register.XMM0 + _random.Next(16));
                    else SetMem(ref ins, i, RandomMemory((ulong)memBytes));
                    break;
                case OpCodeOperandKind.al: SetReg(ref ins, i, Register.AL); break;
                case OpCodeOperandKind.cl: SetReg(ref ins, i, Register.CL); break;
                case OpCodeOperandKind.ax: SetReg(ref ins, i, Register.AX); break;
                case OpCodeOperandKind.eax: SetReg(ref ins, i, Register.EAX); break;
                case OpCodeOperandKind.rax: SetReg(ref ins, i, Register.RAX); break;
                case OpCodeOperandKind.st0: SetReg(ref ins, i, Register.ST0); break;
                case OpCodeOperandKind.sti_opcode: SetReg(ref ins, i, Register.ST0 + _random.Next(8)); break;
                case OpCodeOperandKind.imm8_const_1: ins.SetOpKind(i, OpKind.Immediate8); ins.Immediate8 = 1; break;
                case OpCodeOperandKind.imm8: ins.SetOpKind(i, OpKind.Immediate8); ins.Immediate8 = (byte)EdgeValue(); break;
                case OpCodeOperandKind.imm8sex16: ins.SetOpKind(i, OpKind.Immediate8to16); ins.Immediate8to16 = (sbyte)EdgeValue(); break;
                case OpCodeOperandKind.imm8sex32: ins.SetOpKind(i, OpKind.Immediate8to32); ins.Immediate8to32 = (sbyte)EdgeValue(); break;
                case OpCodeOperandKind.imm8sex64: ins.SetOpKind(i, OpKind.Immediate8to64); ins.Immediate8to64 = (sbyte)EdgeValue(); break;
                case OpCodeOperandKind.imm16: ins.SetOpKind(i, OpKind.Immediate16); ins.Immediate16 = (ushort)EdgeValue(); break;
                case OpCodeOperandKind.imm32: ins.SetOpKind(i, OpKind.Immediate32); ins.Immediate32 = (uint)EdgeValue(); break;
                case OpCodeOperandKind.imm32sex64: ins.SetOpKind(i, OpKind.Immediate32to64); ins.Immediate32to64 = (int)EdgeValue(); break;
                case OpCodeOperandKind.imm64: ins.SetOpKind(i, OpKind.Immediate64); ins.Immediate64 = EdgeValue(); break;
                default: return null;
            }
        }
        if (info.Mnemonic is Mnemonic.Cmpxchg or Mnemonic.Xadd && ins.Op0Kind == OpKind.Memory)
            ins.HasLockPrefix = _random.Next(2) == 0;   // (the locked form is the one kernels use)
        if ((info.Mnemonic is Mnemonic.Shld or Mnemonic.Shrd) && info.OperandSize == 16)
        {
            // a count above 16 leaves a 16-bit SHLD/SHRD result undefined (vendors differ)
            if (info.OpCount < 3 || ins.GetOpKind(2) != OpKind.Immediate8)
                return null;
            ins.Immediate8 &= 15;
        }
        return ins;
    }

    private static void SetReg(ref Instruction ins, int i, Register r)
    {
        ins.SetOpKind(i, OpKind.Register);
        ins.SetOpRegister(i, r);
    }

    private static void SetMem(ref Instruction ins, int i, MemoryOperand m)
    {
        ins.SetOpKind(i, OpKind.Memory);
        ins.MemoryBase = m.Base;
        ins.MemoryIndex = Register.None;
        ins.MemoryDisplacement64 = (ulong)m.Displacement;
        ins.MemoryDisplSize = m.DisplSize;
    }

    private static ulong ToRflags(RflagsBits b)
    {
        ulong r = 0;
        if ((b & RflagsBits.OF) != 0) r |= 1 << 11;
        if ((b & RflagsBits.SF) != 0) r |= 1 << 7;
        if ((b & RflagsBits.ZF) != 0) r |= 1 << 6;
        if ((b & RflagsBits.AF) != 0) r |= 1 << 4;
        if ((b & RflagsBits.CF) != 0) r |= 1;
        if ((b & RflagsBits.PF) != 0) r |= 1 << 2;
        if ((b & RflagsBits.DF) != 0) r |= 1 << 10;
        return r;
    }

    /// <summary>
    /// A program of up to <paramref name="maxInstructions"/> instructions, its text, and the flags left
    /// undefined before each instruction (keyed by its address; the end address gives those at the end).
    /// </summary>
    public (byte[] Code, string Text, Dictionary<ulong, ulong> UndefinedFlags) NextProgram(int maxInstructions)
    {
        while (true)
        {
            int n = _random.Next(1, maxInstructions + 1);
            var list = new List<Instruction>();
            ulong undefined = 0;
            bool reject = false;
            var writer = new ByteWriter();
            var encoder = Encoder.Create(64, writer);
            var text = new System.Text.StringBuilder();
            var formatter = new NasmFormatter();
            ulong ip = HostX86Oracle.CodeAddress;
            var undefinedAt = new Dictionary<ulong, ulong>();
            for (int i = 0; i < n && !reject; i++)
            {
                var ins = TryBuild(_codes[_random.Next(_codes.Count)]);
                if (ins is not { } instruction)
                {
                    reject = true;
                    break;
                }
                if ((ToRflags(instruction.RflagsRead) & undefined) != 0)
                {
                    reject = true; // it would read a flag left undefined
                    break;
                }
                instruction.IP = ip;
                undefinedAt[ip] = undefined;
                if (!encoder.TryEncode(instruction, ip, out uint len, out _))
                {
                    reject = true;
                    break;
                }
                ip += len;
                undefined = (undefined & ~ToRflags(instruction.RflagsWritten | instruction.RflagsCleared | instruction.RflagsSet))
                    | ToRflags(instruction.RflagsUndefined);
                var output = new StringOutput();
                formatter.Format(instruction, output);
                text.Append(output.ToStringAndReset()).Append("; ");
            }
            if (reject)
                continue;
            undefinedAt[ip] = undefined;
            return (writer.ToArray(), text.ToString(), undefinedAt);
        }
    }

    /// <summary>
    /// A string instruction (MOVS, CMPS, STOS, LODS, SCAS in every size, with no prefix, REP/REPE or
    /// REPNE, with 64- or 32-bit addressing) after a CMP that sets the flags REPE/REPNE look at.
    /// Use with <see cref="NextStringState"/>, which keeps RCX small and RSI/RDI in the data area.
    /// </summary>
    public (byte[] Code, string Text, Dictionary<ulong, ulong> UndefinedFlags) NextStringProgram()
    {
        byte[] ops = [0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF];
        var code = new List<byte> { 0x48, 0x39, 0xD8 }; // cmp rax, rbx
        int count = _random.Next(1, 3);
        for (int i = 0; i < count; i++)
        {
            int rep = _random.Next(3);
            if (rep == 1) code.Add(0xF3);
            if (rep == 2) code.Add(0xF2);
            if (_random.Next(4) == 0) code.Add(0x67);
            byte op = ops[_random.Next(ops.Length)];
            if ((op & 1) != 0)
            {
                int sz = _random.Next(3);
                if (sz == 1) code.Add(0x66);
                if (sz == 2) code.Add(0x48);
            }
            code.Add(op);
        }
        var undefined = new Dictionary<ulong, ulong>();
        return ([.. code], Convert.ToHexString([.. code]), undefined);
    }

    public (X86TestState State, byte[] Data) NextStringState()
    {
        var (s, data) = NextState();
        s.Gpr[1] = (ulong)_random.Next(0, 40) | (_random.Next(8) == 0 ? 0xFFFF_FFFF_0000_0000UL : 0); // RCX (upper half ignored with 67)
        s.Gpr[6] = HostX86Oracle.DataAddress + 0x200 + (ulong)_random.Next(0x1A00); // RSI
        s.Gpr[7] = HostX86Oracle.DataAddress + 0x2000 + (ulong)_random.Next(0x1A00); // RDI
        if (_random.Next(2) == 0)
            s.Rflags |= 0x400; // DF
        // make equal runs likely so REPE/REPNE stop at different places
        for (int i = 0x200; i < 0x3C00; i++)
            data[i] = (byte)(_random.Next(3) == 0 ? data[i] : 0x41);
        s.Gpr[0] = _random.Next(2) == 0 ? 0x4141414141414141UL : s.Gpr[0];
        return (s, data);
    }

    /// <summary>
    /// <see cref="NextState"/> with text in XMM registers and data: bytes (or words) from a small
    /// alphabet with nulls now and then, so string compares (PCMPxSTRx) find matches, ranges and ends;
    /// RAX and RDX small signed lengths.
    /// </summary>
    public (X86TestState State, byte[] Data) NextTextState()
    {
        var (s, data) = NextState();
        byte[] alphabet = [(byte)'a', (byte)'b', (byte)'c', (byte)'z', 0x80, 0xFF];
        byte Letter() => _random.Next(24) == 0 ? (byte)0 : alphabet[_random.Next(_random.Next(2) == 0 ? 3 : alphabet.Length)];
        for (int i = 0; i < 32; i++)
        {
            if (_random.Next(4) == 0)
                continue;
            ulong v = 0;
            for (int b = 0; b < 8; b++)
                v |= (ulong)Letter() << (8 * b);
            s.Xmm[i] = v;
        }
        for (int i = 0; i < data.Length; i++)
            if (_random.Next(4) != 0)
                data[i] = Letter();
        s.Gpr[0] = (ulong)(long)_random.Next(-20, 21) | (_random.Next(8) == 0 ? 0x1_0000_0000UL : 0); // RAX
        s.Gpr[2] = (ulong)(long)_random.Next(-20, 21) | (_random.Next(8) == 0 ? 0x1_0000_0000UL : 0); // RDX
        return (s, data);
    }

    /// <summary>Random registers and data, the stack pointer in the data area.</summary>
    public (X86TestState State, byte[] Data) NextState()
    {
        var s = new X86TestState();
        for (int i = 0; i < 16; i++)
            s.Gpr[i] = EdgeValue();
        s.Gpr[4] = HostX86Oracle.DataAddress + 0x2000 + (ulong)_random.Next(64) * 8;
        for (int i = 0; i < 32; i++)
            s.Xmm[i] = EdgeValue();
        // arithmetic flags and DF at random (DF steers string instructions)
        s.Rflags = 2 | ((ulong)_random.Next() & 0x8D5) | (_withStack ? 0UL : 0UL);
        // MXCSR: a random rounding mode, FTZ and DAZ; now and then an unmasked exception (#XM)
        s.Mxcsr = 0x1F80 | ((ulong)_random.Next(4) << 13) | (_random.Next(4) == 0 ? 0x8000UL : 0) | (_random.Next(4) == 0 ? 0x40UL : 0);
        // (only IE, DE, ZE: unmasked OE/UE/PE responses are not modelled yet — a tiny result with UM
        // clear should raise UE even when exact; see Cpu/X86/Fpu/X87Status.Unmasked)
        if (_random.Next(16) == 0)
            s.Mxcsr &= ~(0x80UL << _random.Next(3));
        var data = new byte[HostX86Oracle.DataSize];
        _random.NextBytes(data);
        for (int i = 0; i < 8; i++)
            s.X87[2 * i] = (ulong)_mmxRandom.NextInt64() ^ ((ulong)_mmxRandom.Next(2) << 63); // MM0-MM7 (the registers are empty)
        return (s, data);
    }

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = [];

        public override void WriteByte(byte value) => _bytes.Add(value);

        public byte[] ToArray() => [.. _bytes];
    }
}
