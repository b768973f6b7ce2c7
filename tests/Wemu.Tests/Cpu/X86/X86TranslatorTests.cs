using System.Runtime.InteropServices;
using Wemu.Cpu.X86;
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
}
