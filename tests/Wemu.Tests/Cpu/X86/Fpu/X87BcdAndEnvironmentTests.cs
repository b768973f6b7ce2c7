using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Wemu.Tests.Cpu.X86.Fpu;

/// <summary>
/// FBSTP and the 16-bit (operand-size prefix) FNSTENV/FLDENV/FNSAVE/FRSTOR layouts against the host
/// CPU, whole programs through <see cref="HostX86Oracle"/> and <see cref="X86TestBench"/>: the cases
/// QEMU's test-i386-fbstp, test-i386-fp-exceptions and test-i386's test_fenv found wrong.
/// </summary>
public sealed class X87BcdAndEnvironmentTests : IDisposable
{
    private readonly HostX86Oracle _oracle = new();
    private readonly X86TestBench _bench = new();

    public void Dispose()
    {
        _oracle.Dispose();
        _bench.Dispose();
    }

    private const ulong Data = HostX86Oracle.DataAddress;

    /// <summary>Runs the code natively and in Wemu (RSI = the data area, zero-filled but for <paramref name="init"/>); data, FSW/FCW/tags and RAX must match.</summary>
    private void Check(string what, Action<Assembler> build, Action<byte[]>? init = null, (int Offset, int Length)[]? ignored = null)
    {
        Assert.True(HostX86Oracle.Available, "the host-CPU oracle needs an x86-64 Linux host with gcc");
        var asm = new Assembler(64);
        build(asm);
        using var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), HostX86Oracle.CodeAddress);
        byte[] code = stream.ToArray();
        var state = new X86TestState { Rflags = 2, Mxcsr = 0x1F80 };
        state.Gpr[4] = Data + 0x3000; // RSP
        state.Gpr[6] = Data; // RSI
        var data = new byte[HostX86Oracle.DataSize];
        init?.Invoke(data);
        var host = _oracle.Run(code, state, (byte[])data.Clone());
        var ours = _bench.Run(code, state, (byte[])data.Clone());
        Assert.Equal(-1, host.Vector);
        Assert.True(ours.Vector == -1, $"{what}: Wemu raised exception {ours.Vector}");
        Assert.True(host.State.Gpr[0] == ours.State.Gpr[0], $"{what}: RAX (FNSTSW) host {host.State.Gpr[0]:x}, Wemu {ours.State.Gpr[0]:x}");
        Assert.True(host.State.Fpu == ours.State.Fpu, $"{what}: FCW|FSW<<16|tags<<32 host {host.State.Fpu:x}, Wemu {ours.State.Fpu:x}");
        foreach (var (offset, length) in ignored ?? [])
        {
            host.Data.AsSpan(offset, length).Clear();
            ours.Data.AsSpan(offset, length).Clear();
        }
        int diff = host.Data.AsSpan().CommonPrefixLength(ours.Data);
        if (diff != host.Data.Length)
            Assert.Fail($"{what}: data differs at offset 0x{diff:x}: host {Convert.ToHexString(host.Data, diff & ~15, 32)}, Wemu {Convert.ToHexString(ours.Data, diff & ~15, 32)}");
    }

    private static void PutFloat80(byte[] data, int offset, ushort signExponent, ulong significand)
    {
        BitConverter.TryWriteBytes(data.AsSpan(offset), significand);
        BitConverter.TryWriteBytes(data.AsSpan(offset + 8), signExponent);
    }

    [Theory]
    [InlineData("-0", 0x8000, 0UL)]
    [InlineData("-0.1", 0xBFFB, 0xCCCCCCCCCCCCCCCDUL)]
    [InlineData("1.5", 0x3FFF, 0xC000000000000000UL)]
    [InlineData("-987654321987654321", 0xC03A, 0xDB4DA5F7EF412B10UL)]
    [InlineData("999999999999999999.5", 0x403A, 0xDE0B6B3A763FFFF8UL)] // rounds to 10^18: IE only, no PE
    [InlineData("-999999999999999999.5", 0xC03A, 0xDE0B6B3A763FFFF8UL)]
    [InlineData("10^18", 0x403A, 0xDE0B6B3A76400000UL)]
    [InlineData("999999999999999999", 0x403A, 0xDE0B6B3A763FFFF0UL)]
    [InlineData("1e30", 0x4062, 0xC9F2C9CD04674EDFUL)]
    [InlineData("-inf", 0xFFFF, 0x8000000000000000UL)]
    [InlineData("nan", 0x7FFF, 0xC000000000000000UL)]
    [InlineData("pseudo-denormal", 0x0000, 0x8000000000000001UL)]
    public void Fbstp_Stores_Packed_Bcd_With_The_Sign_And_Flags_Of_The_Host(string what, int signExponent, ulong significand) =>
        Check("fbstp " + what, a =>
        {
            a.fld(__tword_ptr[rsi]);
            a.fbstp(__tword_ptr[rsi + 16]);
            a.fnstsw(ax);
        }, d =>
        {
            PutFloat80(d, 0, (ushort)signExponent, significand);
            d.AsSpan(16, 10).Fill(0x12);
        });

    [Fact]
    public void Fbstp_Rounds_By_The_Control_Word()
    {
        foreach (ushort cw in new ushort[] { 0x037F, 0x077F, 0x0B7F, 0x0F7F })
            Check($"fbstp -2.5 with fcw {cw:x4}", a =>
            {
                a.fldcw(__word_ptr[rsi + 32]);
                a.fld(__tword_ptr[rsi]);
                a.fbstp(__tword_ptr[rsi + 16]);
                a.fnstsw(ax);
            }, d =>
            {
                PutFloat80(d, 0, 0xC000, 0xA000000000000000); // -2.5
                BitConverter.TryWriteBytes(d.AsSpan(32), cw);
            });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fnstenv_And_Fnsave_With_Operand_Size_16_Write_The_14_Byte_Layout(bool save) =>
        Check(save ? "data16 fnsave" : "data16 fnstenv", a =>
        {
            a.fld1();
            a.fldpi();
            a.fldz();
            a.ffree(st1);
            a.db(0x66); // operand size 16: the 16-bit protected-mode layout
            if (save)
                a.fnsave(__[rsi + 64]);
            else
                a.fnstenv(__[rsi + 64]);
            a.fnstsw(ax);
        }, d => d.AsSpan(64, 200).Fill(0xEE),
        // FIP, FCS, FDP, FDS: what the host keeps there depends on its kernel's context switches (AMD
        // saves them only with an exception pending; Linux scrubs them on restore)
        ignored: [(64 + 6, 8)]);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fldenv_And_Frstor_With_Operand_Size_16_Read_The_14_Byte_Layout(bool save) =>
        Check(save ? "data16 frstor" : "data16 fldenv", a =>
        {
            a.db(0x66);
            if (save)
                a.frstor(__[rsi]);
            else
                a.fldenv(__[rsi]);
            a.fnstsw(ax);
            a.fnstenv(__[rsi + 0x200]); // the loaded state in the 32-bit layout
            a.fldcw(__word_ptr[rsi + 0x300]);
        }, d =>
        {
            BitConverter.TryWriteBytes(d.AsSpan(0), (ushort)0x0A7F); // FCW: round up, 53-bit precision
            BitConverter.TryWriteBytes(d.AsSpan(2), (ushort)0x3900); // FSW: TOP=7, C0
            BitConverter.TryWriteBytes(d.AsSpan(4), (ushort)0x3FFF); // FTW: physical register 7 (ST(0)) valid, the others empty
            for (int i = 0; i < 8; i++)
                PutFloat80(d, 14 + 10 * i, (ushort)(0x3FFF + i), 0x8000000000000000UL | (ulong)i);
            BitConverter.TryWriteBytes(d.AsSpan(0x300), (ushort)0x037F);
        });
}
