using System.Runtime.InteropServices;
using Wemu.Cpu.X86;
using Wemu.Jit.Ir;
using Xunit;

namespace Wemu.Tests.Cpu.X86;

/// <summary>What the x86 translator takes into a region and what it leaves to the interpreter.</summary>
public sealed unsafe class X86TranslatorTests
{
    /// <summary>
    /// STI joins a region (as IR: at CPL 0 with no interrupt waiting it sets IF and goes on), but not STI; HLT, Linux's
    /// safe_halt: an interrupt raised while compiled code ran must come after the HLT, in the STI's shadow, or the HLT
    /// sleeps past it. Nor STI with a prefix, or one whose next byte is not there to look at.
    /// </summary>
    [Theory]
    [InlineData(0x100, new byte[] { 0xFB, 0x90 }, false)]
    [InlineData(0x100, new byte[] { 0xFB, 0xF4 }, true)]
    [InlineData(0x100, new byte[] { 0x66, 0xFB, 0x90 }, true)]
    [InlineData(0xFFF, new byte[] { 0xFB }, true)]
    [InlineData(0x100, new byte[] { 0xFA, 0xF4 }, false)]   // CLI goes on whatever follows
    public void Sti_Joins_A_Region_Unless_A_Hlt_Follows(int offset, byte[] code, bool interpretedOnly)
    {
        byte* page = (byte*)NativeMemory.AllocZeroed(4096);
        try
        {
            code.CopyTo(new Span<byte>(page + offset, code.Length));
            var translator = new X86Translator();
            Assert.Equal(interpretedOnly, translator.IsInterpretedOnly(0x40_0000UL + (ulong)offset, X86Cpu.Mode64, page));
        }
        finally
        {
            NativeMemory.Free(page);
        }
    }

    /// <summary>
    /// DIV and IDIV of 32- and 64-bit registers and memory become IR divisions (leaving at the instruction where they
    /// fault), not helper calls: in the page a helper is a round trip to the host. An 8-bit DIV still calls the helper.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0xF7, 0xF1, 0x48, 0xF7, 0xF9, 0xF7, 0x33, 0x48, 0xF7, 0x3B, 0xC3 }, false)]   // div ecx; idiv rcx; div dword [rbx]; idiv qword [rbx]; ret
    [InlineData(new byte[] { 0xF6, 0xF1, 0xC3 }, true)]                                                  // div cl; ret
    public void Div_And_Idiv_Translate_To_Ir_Divisions(byte[] code, bool helper)
    {
        byte* page = (byte*)NativeMemory.AllocZeroed(4096);
        try
        {
            code.CopyTo(new Span<byte>(page + 0x100, code.Length));
            var f = new X86Translator().Translate(0x40_0100UL, X86Cpu.Mode64, page, _ => false, reuse: false);
            int calls = 0, divisions = 0;
            foreach (var i in f.Code)
            {
                calls += i.Op == IrOp.Call ? 1 : 0;
                divisions += i.Op is IrOp.DivU or IrOp.DivS or IrOp.RemU or IrOp.RemS && i.Division == IrDivision.Exit ? 1 : 0;
            }
            Assert.Equal(helper, calls > 0);
            Assert.Equal(helper ? 0 : 8, divisions);
        }
        finally
        {
            NativeMemory.Free(page);
        }
    }

    /// <summary>
    /// PAUSE (F3 90), a NOP to the interpreter, is one to the translator too: a spin loop's region goes on through it
    /// (it had ended there, a round trip to the host at every turn: ~490,000 of them in a native x86 boot's delay loops).
    /// </summary>
    [Fact]
    public void Pause_Does_Not_End_A_Region()
    {
        byte* page = (byte*)NativeMemory.AllocZeroed(4096);
        try
        {
            // pause; add eax, 1; pause; ret
            byte[] code = [0xF3, 0x90, 0x83, 0xC0, 0x01, 0xF3, 0x90, 0xC3];
            code.CopyTo(new Span<byte>(page + 0x100, code.Length));
            var translator = new X86Translator();
            Assert.False(translator.IsInterpretedOnly(0x40_0100UL, X86Cpu.Mode64, page));
            var f = translator.Translate(0x40_0100UL, X86Cpu.Mode64, page, _ => false, reuse: false);
            Assert.Equal(4, f.GuestInstructions);
            foreach (var i in f.Code)
                Assert.False(i.Op == IrOp.Call, "PAUSE went to the helper");
        }
        finally
        {
            NativeMemory.Free(page);
        }
    }
}
