using Iced.Intel;
using Xunit;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// The host CPU as the reference for Wemu's x86-64 interpreter: random programs from each
/// instruction group run natively (in a child process, user mode) and in Wemu at CPL 3, and must
/// end alike — same exception (or none), registers, defined flags, XMM registers and data memory.
/// </summary>
public sealed class X86HostDifferentialTests : IDisposable
{
    private readonly HostX86Oracle? _oracle = HostX86Oracle.Available ? new HostX86Oracle() : null;
    private readonly X86TestBench _bench = new();
    private readonly X86TestBench _benchMax = new(Wemu.Cpu.X86.X86CpuModel.Max);

    public void Dispose()
    {
        _oracle?.Dispose();
        _bench.Dispose();
        _benchMax.Dispose();
    }

    private const ulong ComparedFlags = 0xCD5; // CF PF AF ZF SF DF OF

    /// <summary>The packed-integer instructions MMX and SSE2 share (with SSE's and SSE2's additions to MMX).</summary>
    private static readonly Mnemonic[] s_packedIntegers =
    [
        Mnemonic.Punpcklbw, Mnemonic.Punpcklwd, Mnemonic.Punpckldq, Mnemonic.Punpckhbw, Mnemonic.Punpckhwd, Mnemonic.Punpckhdq,
        Mnemonic.Packsswb, Mnemonic.Packssdw, Mnemonic.Packuswb, Mnemonic.Pcmpeqb, Mnemonic.Pcmpeqw, Mnemonic.Pcmpeqd, Mnemonic.Pcmpgtb, Mnemonic.Pcmpgtw, Mnemonic.Pcmpgtd,
        Mnemonic.Paddb, Mnemonic.Paddw, Mnemonic.Paddd, Mnemonic.Paddq, Mnemonic.Psubb, Mnemonic.Psubw, Mnemonic.Psubd, Mnemonic.Psubq,
        Mnemonic.Paddsb, Mnemonic.Paddsw, Mnemonic.Paddusb, Mnemonic.Paddusw, Mnemonic.Psubsb, Mnemonic.Psubsw, Mnemonic.Psubusb, Mnemonic.Psubusw,
        Mnemonic.Pmullw, Mnemonic.Pmulhw, Mnemonic.Pmulhuw, Mnemonic.Pmuludq, Mnemonic.Pmaddwd, Mnemonic.Psadbw, Mnemonic.Pavgb, Mnemonic.Pavgw,
        Mnemonic.Pminub, Mnemonic.Pmaxub, Mnemonic.Pminsw, Mnemonic.Pmaxsw, Mnemonic.Pand, Mnemonic.Pandn, Mnemonic.Por, Mnemonic.Pxor,
        Mnemonic.Psllw, Mnemonic.Pslld, Mnemonic.Psllq, Mnemonic.Psrlw, Mnemonic.Psrld, Mnemonic.Psrlq, Mnemonic.Psraw, Mnemonic.Psrad
    ];

    private void Check(int seed, Mnemonic[] mnemonics, int programs, int maxInstructions, bool strings = false, bool max = false,
        CpuidFeature[]? extensions = null, bool textState = false)
    {
        var bench = max ? _benchMax : _bench;
        var gen = new X86ProgramGenerator(seed, mnemonics, extensions: extensions);
        int faults = 0;
        for (int p = 0; p < programs; p++)
        {
            var (code, text, undefined) = strings ? gen.NextStringProgram() : gen.NextProgram(maxInstructions);
            var (state, data) = strings ? gen.NextStringState() : textState ? gen.NextTextState() : gen.NextState();
            if (Compare($"program {p} (seed {seed}): {text} [{Convert.ToHexString(code)}]", code, state, data, bench, undefined) >= 0)
                faults++;
        }
        Assert.True(faults < programs, "every program faulted: the test would not check results");
    }

    /// <summary>Runs one program on the host and in Wemu and asserts they end alike; returns the exception vector (-1: none).</summary>
    private int Compare(string where, byte[] code, X86TestState state, byte[] data, X86TestBench bench, Dictionary<ulong, ulong> undefined)
    {
        Assert.True(_oracle != null, "the host-CPU oracle needs an x86-64 Linux host with gcc");
        var expected = _oracle!.Run(code, state, (byte[])data.Clone());
        var actual = bench.Run(code, state, (byte[])data.Clone());
        Assert.True(expected.Vector == actual.Vector, $"{where}\n exception: host {expected.Vector} (error {expected.ErrorCode:x}) at {expected.Rip:x}, Wemu {actual.Vector} (error {actual.ErrorCode:x}) at {actual.Rip:x}\n mxcsr before {state.Mxcsr:x}, host after {expected.State.Mxcsr:x}, Wemu after {actual.State.Mxcsr:x}\n registers before: {string.Join(' ', state.Gpr.Select(g => g.ToString("x")))}");
        if (expected.Vector >= 0)
        {
            Assert.True(expected.Rip == actual.Rip, $"{where}\n faulting rip: host {expected.Rip:x}, Wemu {actual.Rip:x}");
            if (expected.Vector is 13 or 14)
                Assert.True(expected.ErrorCode == actual.ErrorCode, $"{where}\n error code: host {expected.ErrorCode:x}, Wemu {actual.ErrorCode:x}");
        }
        for (int r = 0; r < 16; r++)
            Assert.True(expected.State.Gpr[r] == actual.State.Gpr[r], $"{where}\n register {r}: host {expected.State.Gpr[r]:x16}, Wemu {actual.State.Gpr[r]:x16} (was {state.Gpr[r]:x16})");
        ulong mask = ComparedFlags & ~undefined.GetValueOrDefault(expected.Vector >= 0 ? expected.Rip : HostX86Oracle.CodeAddress + (ulong)code.Length, 0UL);
        Assert.True((expected.State.Rflags & mask) == (actual.State.Rflags & mask),
            $"{where}\n flags (mask {mask:x}): host {expected.State.Rflags & mask:x}, Wemu {actual.State.Rflags & mask:x} (was {state.Rflags:x})");
        Assert.True(expected.State.Mxcsr == actual.State.Mxcsr, $"{where}\n mxcsr: host {expected.State.Mxcsr:x}, Wemu {actual.State.Mxcsr:x} (was {state.Mxcsr:x})");
        Assert.True(expected.State.Fpu == actual.State.Fpu, $"{where}\n x87 FCW|FSW<<16|tags<<32: host {expected.State.Fpu:x}, Wemu {actual.State.Fpu:x}");
        int top = (int)(expected.State.Fpu >> 27) & 7;
        for (int st = 0; st < 8; st++)
        {
            if (((expected.State.Fpu >> (32 + ((top + st) & 7))) & 1) == 0)
                continue; // empty register: its contents are not architectural
            Assert.True(expected.State.X87[2 * st] == actual.State.X87[2 * st] && (expected.State.X87[2 * st + 1] & 0xFFFF) == (actual.State.X87[2 * st + 1] & 0xFFFF),
                $"{where}\n st({st}): host {expected.State.X87[2 * st + 1] & 0xFFFF:x4}:{expected.State.X87[2 * st]:x16}, Wemu {actual.State.X87[2 * st + 1] & 0xFFFF:x4}:{actual.State.X87[2 * st]:x16}");
        }
        for (int x = 0; x < 32; x++)
            Assert.True(expected.State.Xmm[x] == actual.State.Xmm[x], $"{where}\n xmm{x / 2}[{x % 2}]: host {expected.State.Xmm[x]:x16}, Wemu {actual.State.Xmm[x]:x16}");
        int diff = expected.Data.AsSpan().CommonPrefixLength(actual.Data);
        Assert.True(diff == expected.Data.Length, $"{where}\n data differs at offset 0x{diff:x}");
        return expected.Vector;
    }

    [Fact]
    public void Alu_Instructions_Match_The_Host() => Check(1, [
        Mnemonic.Add, Mnemonic.Or, Mnemonic.Adc, Mnemonic.Sbb, Mnemonic.And, Mnemonic.Sub, Mnemonic.Xor, Mnemonic.Cmp,
        Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not], 3000, 4);

    [Fact]
    public void Shifts_And_Rotates_Match_The_Host() => Check(2, [
        Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr, Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Shld, Mnemonic.Shrd,
        Mnemonic.Adc, Mnemonic.Add], 4000, 3);

    [Fact]
    public void Multiply_And_Divide_Match_The_Host() => Check(3, [Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Add], 3000, 3);

    [Fact]
    public void Bit_Instructions_Match_The_Host() => Check(4, [
        Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc, Mnemonic.Bsf, Mnemonic.Bsr, Mnemonic.Bswap, Mnemonic.Setb, Mnemonic.Sete,
        Mnemonic.Seto, Mnemonic.Setp, Mnemonic.Setl, Mnemonic.Setle], 3000, 3);

    [Fact]
    public void Moves_And_Conditionals_Match_The_Host() => Check(5, [
        Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Lea, Mnemonic.Xchg, Mnemonic.Xadd, Mnemonic.Cmpxchg,
        Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne, Mnemonic.Cmovbe, Mnemonic.Cmova,
        Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp, Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg,
        Mnemonic.Setae, Mnemonic.Setne, Mnemonic.Setbe, Mnemonic.Seta, Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setnp, Mnemonic.Setge, Mnemonic.Setg,
        Mnemonic.Cbw, Mnemonic.Cwde, Mnemonic.Cdqe, Mnemonic.Cwd, Mnemonic.Cdq, Mnemonic.Cqo, Mnemonic.Lahf, Mnemonic.Sahf,
        Mnemonic.Clc, Mnemonic.Stc, Mnemonic.Cmc, Mnemonic.Sub], 4000, 5);

    [Fact]
    public void Sse_Floating_Point_Matches_The_Host() => Check(9, [
        Mnemonic.Addps, Mnemonic.Addss, Mnemonic.Addpd, Mnemonic.Addsd, Mnemonic.Subps, Mnemonic.Subss, Mnemonic.Subpd, Mnemonic.Subsd,
        Mnemonic.Mulps, Mnemonic.Mulss, Mnemonic.Mulpd, Mnemonic.Mulsd, Mnemonic.Divps, Mnemonic.Divss, Mnemonic.Divpd, Mnemonic.Divsd,
        Mnemonic.Sqrtps, Mnemonic.Sqrtss, Mnemonic.Sqrtpd, Mnemonic.Sqrtsd, Mnemonic.Minps, Mnemonic.Minss, Mnemonic.Minpd, Mnemonic.Minsd,
        Mnemonic.Maxps, Mnemonic.Maxss, Mnemonic.Maxpd, Mnemonic.Maxsd, Mnemonic.Cmpps, Mnemonic.Cmpss, Mnemonic.Cmppd, Mnemonic.Cmpsd,
        Mnemonic.Comiss, Mnemonic.Ucomiss, Mnemonic.Comisd, Mnemonic.Ucomisd, Mnemonic.Cvtsi2ss, Mnemonic.Cvtsi2sd, Mnemonic.Cvtss2sd, Mnemonic.Cvtsd2ss,
        Mnemonic.Cvttss2si, Mnemonic.Cvtss2si, Mnemonic.Cvttsd2si, Mnemonic.Cvtsd2si, Mnemonic.Cvtdq2ps, Mnemonic.Cvtps2dq, Mnemonic.Cvttps2dq,
        Mnemonic.Cvtdq2pd, Mnemonic.Cvtpd2dq, Mnemonic.Cvttpd2dq, Mnemonic.Cvtps2pd, Mnemonic.Cvtpd2ps, Mnemonic.Haddps, Mnemonic.Haddpd,
        Mnemonic.Hsubps, Mnemonic.Hsubpd, Mnemonic.Addsubps, Mnemonic.Addsubpd, Mnemonic.Lddqu, Mnemonic.Setb, Mnemonic.Sete, Mnemonic.Setp], 4000, 3);

    /// <summary>x87 arithmetic, loads, stores, compares and stack handling (not the transcendentals,
    /// whose last bit is vendor-specific) with the default control word: unmasked x87 exceptions (FLDCW
    /// from random memory) are not compared yet.</summary>
    [Fact]
    public void X87_Instructions_Match_The_Host() => Check(10, [
        Mnemonic.Fld, Mnemonic.Fst, Mnemonic.Fstp, Mnemonic.Fild, Mnemonic.Fist, Mnemonic.Fistp, Mnemonic.Fisttp,
        Mnemonic.Fadd, Mnemonic.Faddp, Mnemonic.Fiadd, Mnemonic.Fsub, Mnemonic.Fsubp, Mnemonic.Fsubr, Mnemonic.Fsubrp, Mnemonic.Fisub, Mnemonic.Fisubr,
        Mnemonic.Fmul, Mnemonic.Fmulp, Mnemonic.Fimul, Mnemonic.Fdiv, Mnemonic.Fdivp, Mnemonic.Fdivr, Mnemonic.Fdivrp, Mnemonic.Fidiv, Mnemonic.Fidivr,
        Mnemonic.Fxch, Mnemonic.Fchs, Mnemonic.Fabs, Mnemonic.Fsqrt, Mnemonic.Frndint, Mnemonic.Fscale, Mnemonic.Fxtract, Mnemonic.Fprem, Mnemonic.Fprem1,
        Mnemonic.Fcom, Mnemonic.Fcomp, Mnemonic.Fcompp, Mnemonic.Fucom, Mnemonic.Fucomp, Mnemonic.Fucompp, Mnemonic.Fcomi, Mnemonic.Fcomip,
        Mnemonic.Fucomi, Mnemonic.Fucomip, Mnemonic.Ficom, Mnemonic.Ficomp, Mnemonic.Ftst,
        Mnemonic.Fld1, Mnemonic.Fldz, Mnemonic.Fldpi, Mnemonic.Fldl2e, Mnemonic.Fldl2t, Mnemonic.Fldlg2, Mnemonic.Fldln2,
        Mnemonic.Fnstsw, Mnemonic.Fnstcw, Mnemonic.Fcmovb, Mnemonic.Fcmove, Mnemonic.Fcmovbe, Mnemonic.Fcmovu,
        Mnemonic.Fcmovnb, Mnemonic.Fcmovne, Mnemonic.Fcmovnbe, Mnemonic.Fcmovnu, Mnemonic.Ffree, Mnemonic.Fincstp, Mnemonic.Fdecstp,
        Mnemonic.Fnclex, Mnemonic.Fnop, Mnemonic.Wait], 4000, 6);

    /// <summary>-cpu max: POPCNT (and its flags) where qemu64 would raise #UD.</summary>
    [Fact]
    public void Popcnt_Under_Cpu_Max_Matches_The_Host() => Check(11, [Mnemonic.Popcnt, Mnemonic.Add, Mnemonic.Sete], 1500, 3, max: true);

    [Fact]
    public void String_Instructions_Match_The_Host() => Check(8, [Mnemonic.Add], 3000, 1, strings: true);

    [Fact]
    public void Stack_Instructions_Match_The_Host() => Check(6, [Mnemonic.Push, Mnemonic.Pop, Mnemonic.Pushfq, Mnemonic.Add, Mnemonic.Mov], 2000, 5);

    [Fact]
    public void Sse2_Integer_Instructions_Match_The_Host() => Check(7, [
        Mnemonic.Movd, Mnemonic.Movq, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movaps, Mnemonic.Movups, Mnemonic.Movapd, Mnemonic.Movupd,
        Mnemonic.Movlps, Mnemonic.Movhps, Mnemonic.Movlpd, Mnemonic.Movhpd, Mnemonic.Movhlps, Mnemonic.Movlhps, Mnemonic.Movss, Mnemonic.Movsd,
        Mnemonic.Unpcklps, Mnemonic.Unpckhps, Mnemonic.Unpcklpd, Mnemonic.Unpckhpd, Mnemonic.Shufps, Mnemonic.Shufpd, Mnemonic.Movmskps, Mnemonic.Movmskpd,
        Mnemonic.Andps, Mnemonic.Andnps, Mnemonic.Orps, Mnemonic.Xorps, Mnemonic.Andpd, Mnemonic.Andnpd, Mnemonic.Orpd, Mnemonic.Xorpd,
        .. s_packedIntegers, Mnemonic.Punpcklqdq, Mnemonic.Punpckhqdq,
        Mnemonic.Pslldq, Mnemonic.Psrldq, Mnemonic.Pshufd, Mnemonic.Pshufhw, Mnemonic.Pshuflw, Mnemonic.Pinsrw, Mnemonic.Pextrw, Mnemonic.Pmovmskb,
        Mnemonic.Movddup, Mnemonic.Movsldup, Mnemonic.Movshdup, Mnemonic.Movnti, Mnemonic.Movntdq, Mnemonic.Movntps], 4000, 4);

    /// <summary>MMX (qemu64 has it): the MMX-register forms of the packed-integer instructions and the
    /// SSE/SSE2 additions, with x87 loads and stores in between (MMn aliases the x87 registers: the
    /// x87 register file and tag word are compared too).</summary>
    [Fact]
    public void Mmx_Instructions_Match_The_Host() => Check(12, [
        .. s_packedIntegers, Mnemonic.Movd, Mnemonic.Movq,
        Mnemonic.Pshufw, Mnemonic.Pinsrw, Mnemonic.Pextrw, Mnemonic.Pmovmskb, Mnemonic.Movntq, Mnemonic.Movq2dq, Mnemonic.Movdq2q,
        Mnemonic.Cvtpi2ps, Mnemonic.Cvtps2pi, Mnemonic.Cvttps2pi, Mnemonic.Cvtpi2pd, Mnemonic.Cvtpd2pi, Mnemonic.Cvttpd2pi,
        Mnemonic.Emms, Mnemonic.Fld1, Mnemonic.Fldz, Mnemonic.Fstp, Mnemonic.Fadd], 5000, 4, extensions: [CpuidFeature.MMX]);

    /// <summary>SSSE3 under -cpu max, MMX and XMM forms.</summary>
    [Fact]
    public void Ssse3_Instructions_Match_The_Host() => Check(13, [
        Mnemonic.Pshufb, Mnemonic.Phaddw, Mnemonic.Phaddd, Mnemonic.Phaddsw, Mnemonic.Pmaddubsw, Mnemonic.Phsubw, Mnemonic.Phsubd, Mnemonic.Phsubsw,
        Mnemonic.Psignb, Mnemonic.Psignw, Mnemonic.Psignd, Mnemonic.Pmulhrsw, Mnemonic.Pabsb, Mnemonic.Pabsw, Mnemonic.Pabsd, Mnemonic.Palignr,
        Mnemonic.Movq], 4000, 3, max: true, extensions: [CpuidFeature.MMX, CpuidFeature.SSSE3]);

    /// <summary>SSE4.1 integer instructions under -cpu max.</summary>
    [Fact]
    public void Sse41_Integer_Instructions_Match_The_Host() => Check(14, [
        Mnemonic.Pmovsxbw, Mnemonic.Pmovsxbd, Mnemonic.Pmovsxbq, Mnemonic.Pmovsxwd, Mnemonic.Pmovsxwq, Mnemonic.Pmovsxdq,
        Mnemonic.Pmovzxbw, Mnemonic.Pmovzxbd, Mnemonic.Pmovzxbq, Mnemonic.Pmovzxwd, Mnemonic.Pmovzxwq, Mnemonic.Pmovzxdq,
        Mnemonic.Pmulld, Mnemonic.Pmuldq, Mnemonic.Pminsb, Mnemonic.Pminsd, Mnemonic.Pminuw, Mnemonic.Pminud, Mnemonic.Pmaxsb, Mnemonic.Pmaxsd, Mnemonic.Pmaxuw, Mnemonic.Pmaxud,
        Mnemonic.Ptest, Mnemonic.Pblendw, Mnemonic.Blendps, Mnemonic.Blendpd, Mnemonic.Blendvps, Mnemonic.Blendvpd, Mnemonic.Pblendvb,
        Mnemonic.Pextrb, Mnemonic.Pextrw, Mnemonic.Pextrd, Mnemonic.Pextrq, Mnemonic.Extractps, Mnemonic.Insertps, Mnemonic.Pinsrb, Mnemonic.Pinsrd, Mnemonic.Pinsrq,
        Mnemonic.Packusdw, Mnemonic.Pcmpeqq, Mnemonic.Movntdqa, Mnemonic.Phminposuw, Mnemonic.Mpsadbw, Mnemonic.Sete, Mnemonic.Setb, Mnemonic.Seta],
        4000, 3, max: true, extensions: [CpuidFeature.SSE4_1]);

    /// <summary>SSE4.1 floating point under -cpu max with random MXCSR (rounding, DAZ/FTZ, unmasked exceptions) and random imm8.</summary>
    [Fact]
    public void Sse41_Rounding_And_Dot_Products_Match_The_Host() => Check(15, [
        Mnemonic.Roundps, Mnemonic.Roundpd, Mnemonic.Roundss, Mnemonic.Roundsd, Mnemonic.Dpps, Mnemonic.Dppd], 12000, 2, max: true, extensions: [CpuidFeature.SSE4_1]);

    /// <summary>SSE4.2 under -cpu max: CRC32 in every size, PCMPGTQ, and the string compares with every imm8 on text.</summary>
    [Fact]
    public void Sse42_Instructions_Match_The_Host() => Check(16, [
        Mnemonic.Crc32, Mnemonic.Pcmpgtq, Mnemonic.Pcmpestri, Mnemonic.Pcmpestrm, Mnemonic.Pcmpestri64, Mnemonic.Pcmpestrm64, Mnemonic.Pcmpistri, Mnemonic.Pcmpistrm,
        Mnemonic.Seto, Mnemonic.Sets], 6000, 2, max: true, extensions: [CpuidFeature.SSE4_2], textState: true);
    /// <summary>An MMX instruction (and EMMS) after an unmasked x87 exception: #MF, with the x87 state
    /// untouched; with the exception masked, the MMX transition.</summary>
    [Fact]
    public void Mmx_After_A_Pending_X87_Exception_Raises_MF_As_The_Host()
    {
        var gen = new X86ProgramGenerator(17, [Mnemonic.Paddb]);
        byte[][] mmx = [[0x0F, 0xFC, 0xC1], [0x0F, 0x77], [0x0F, 0x38, 0x00, 0xC1], [0xF3, 0x0F, 0xD6, 0xC1], [0x0F, 0x2D, 0xC1], [0x0F, 0x6F, 0xCA]];
        int raised = 0;
        foreach (byte[] op in mmx)
        {
            foreach (ushort fcw in new ushort[] { 0x037E, 0x037F })
            {
                // FLDCW [data]; FLDZ; FLDZ; FDIVP (0/0: IE, pending when unmasked); the MMX instruction
                byte[] code = [0xD9, 0x2C, 0x25, 0x00, 0x00, 0x00, 0x30, 0xD9, 0xEE, 0xD9, 0xEE, 0xDE, 0xF9, .. op];
                var (state, data) = gen.NextState();
                data[0] = (byte)fcw;
                data[1] = (byte)(fcw >> 8);
                if (Compare($"{Convert.ToHexString(code)} with FCW {fcw:x}", code, state, data, _benchMax, []) == 16)
                    raised++;
            }
        }
        Assert.Equal(mmx.Length, raised);
    }

    /// <summary>MASKMOVQ and MASKMOVDQU store the selected bytes at DS:rDI (here in the data area).</summary>
    [Fact]
    public void Masked_Stores_Match_The_Host()
    {
        var gen = new X86ProgramGenerator(18, [Mnemonic.Paddb]);
        var random = new Random(18);
        for (int p = 0; p < 400; p++)
        {
            byte[] code = p % 2 == 0 ? [0x0F, 0xF7, (byte)(0xC0 | random.Next(64))] : [0x66, 0x0F, 0xF7, (byte)(0xC0 | random.Next(64))];
            var (state, data) = gen.NextState();
            state.Gpr[7] = HostX86Oracle.DataAddress + (ulong)random.Next(HostX86Oracle.DataSize - 16); // RDI
            Compare($"program {p}: [{Convert.ToHexString(code)}]", code, state, data, _bench, []);
        }
    }
    /// <summary>Prefixes that make an MMX, SSE or SSE4 encoding invalid (LOCK, a mandatory prefix the
    /// instruction does not have) raise #UD as on the host, after an x87 push (the MMX state must not change).</summary>
    [Theory]
    [InlineData("660F77")] // EMMS with 66, F3, F2
    [InlineData("F30F77")]
    [InlineData("F20F77")]
    [InlineData("F00FFCC1")] // LOCK PADDB mm0, mm1
    [InlineData("F0660FFCC1")] // LOCK PADDB xmm0, xmm1
    [InlineData("F0660F3800C1")] // LOCK PSHUFB xmm0, xmm1
    [InlineData("F0660F3A0FC101")] // LOCK PALIGNR
    [InlineData("F30F3800C1")] // PSHUFB with F3
    [InlineData("F20F3A0FC101")] // PALIGNR with F2
    [InlineData("0F3840C1")] // PMULLD without 66
    [InlineData("0F3A63C100")] // PCMPISTRI without 66
    [InlineData("0F38F0C1")] // MOVBE (not advertised) with a register operand
    [InlineData("0F6CC1")] // PUNPCKLQDQ has no MMX form
    [InlineData("0F73D901")] // PSRLDQ has no MMX form
    [InlineData("0F71C901")] // group 12 /1
    [InlineData("0F73E101")] // group 14 /4 (no PSRAQ)
    public void Invalid_Prefixes_And_Forms_Raise_UD_As_The_Host(string hex)
    {
        byte[] code = [0xD9, 0xE8, .. Convert.FromHexString(hex)]; // FLD1 first
        var (state, data) = new X86ProgramGenerator(19, [Mnemonic.Paddb]).NextState();
        Assert.Equal(6, Compare(hex, code, state, data, _benchMax, []));
    }
    /// <summary>FST/FSTP ST(i) and FSTP m80 round nothing: C1 = 0 afterwards, even after a stack overflow set it
    /// (found by the MMX group: an MMX instruction leaves every register valid, so FLD1 overflows).</summary>
    [Theory]
    [InlineData("DDD6")] // FST ST(6)
    [InlineData("DDDE")] // FSTP ST(6)
    [InlineData("DDD1")] // FST ST(1)
    [InlineData("DB3C2500000030")] // FSTP m80fp
    public void Unrounded_Fst_Clears_C1_As_The_Host(string hex)
    {
        byte[] code = [0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, .. Convert.FromHexString(hex)];
        var (state, data) = new X86ProgramGenerator(20, [Mnemonic.Paddb]).NextState();
        Assert.Equal(-1, Compare(hex, code, state, data, _bench, []));
    }
    /// <summary>DPPD/DPPS report exceptions per stage (multiplies, then adds): a denormal product input
    /// with DE unmasked hides the other product's PE, as the host does; masked, both are reported.</summary>
    [Theory]
    [InlineData("660F3A41CA33", 0x1E80u)] // DPPD xmm1, xmm2, 0x33
    [InlineData("660F3A41CA33", 0x1F80u)]
    [InlineData("660F3A40CAFF", 0x1E80u)] // DPPS xmm1, xmm2, 0xFF
    [InlineData("660F3A40CAFF", 0x1F80u)]
    public void Dot_Product_Exceptions_Are_Reported_Per_Stage_As_The_Host(string hex, uint mxcsr)
    {
        var (state, data) = new X86ProgramGenerator(21, [Mnemonic.Paddb]).NextState();
        state.Mxcsr = mxcsr;
        bool d = hex.StartsWith("660F3A41");
        // the first elements: a denormal times 1.0; the second: 1.1 * 1.1 (inexact)
        state.Xmm[2] = d ? 1UL : 0x3F8C_CCCD_0000_0001UL;
        state.Xmm[3] = d ? 0x3FF1_9999_9999_999AUL : 0x3F8C_CCCD_3F8C_CCCDUL;
        state.Xmm[4] = d ? 0x3FF0_0000_0000_0000UL : 0x3F8C_CCCD_3F80_0000UL;
        state.Xmm[5] = d ? 0x3FF1_9999_9999_999AUL : 0x3F8C_CCCD_3F8C_CCCDUL;
        int vector = Compare($"{hex} with MXCSR {mxcsr:x}", Convert.FromHexString(hex), state, data, _benchMax, []);
        Assert.Equal((mxcsr & 0x100) == 0 ? 19 : -1, vector);
    }
    /// <summary>CMPXCHG16B (qemu64 advertises CX16) and CMPXCHG8B against the host: equal (RDX:RAX
    /// loaded from the operand first), equal in the low half only, and unequal; aligned and
    /// misaligned (#GP for CMPXCHG16B).</summary>
    [Fact]
    public void Cmpxchg16b_And_Cmpxchg8b_Match_The_Host()
    {
        var gen = new X86ProgramGenerator(22, [Mnemonic.Paddb]);
        var random = new Random(22);
        for (int p = 0; p < 600; p++)
        {
            bool wide = p % 2 == 0;
            uint address = (uint)(HostX86Oracle.DataAddress + (ulong)random.Next(HostX86Oracle.DataSize / 16 - 1) * 16 + (random.Next(4) == 0 ? (uint)random.Next(1, 16) : 0));
            byte[] disp = BitConverter.GetBytes(address), disp8 = BitConverter.GetBytes(address + (wide ? 8u : 4u));
            byte w = wide ? (byte)0x48 : (byte)0x40;
            var code = new List<byte>();
            int loads = random.Next(3);
            if (loads >= 1) // MOV rAX, [m]: the low half equal
                code.AddRange([w, 0x8B, 0x04, 0x25, .. disp]);
            if (loads == 2) // MOV rDX, [m + size]: the whole compare succeeds
                code.AddRange([w, 0x8B, 0x14, 0x25, .. disp8]);
            code.AddRange([0xF0, w, 0x0F, 0xC7, 0x0C, 0x25, .. disp]); // LOCK CMPXCHG16B/8B [m]
            var (state, data) = gen.NextState();
            Compare($"program {p}: [{Convert.ToHexString([.. code])}]", [.. code], state, data, _bench, []);
        }
    }
}






