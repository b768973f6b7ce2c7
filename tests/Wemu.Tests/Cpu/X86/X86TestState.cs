using System.Buffers.Binary;

namespace Wemu.Tests.Cpu.X86;

/// <summary>The user-visible state a differential test sets up and compares (the oracle's <c>struct state</c>).</summary>
public sealed class X86TestState
{
    public const int Bytes = 16 * 8 + 8 + 32 * 8 + 8 + 16 * 8 + 8;

    public ulong[] Gpr = new ulong[16];
    public ulong Rflags = 2;
    public ulong[] Xmm = new ulong[32];
    public ulong Mxcsr = 0x1F80;

    /// <summary>ST(0)..ST(7) (significand, sign/exponent) and FCW | FSW &lt;&lt; 16 | abridged tag &lt;&lt; 32 (results;
    /// as an input only the significands count: MM0-MM7, loaded before an EMMS empties every register).</summary>
    public ulong[] X87 = new ulong[16];
    public ulong Fpu;

    public X86TestState Clone() => new() { Gpr = (ulong[])Gpr.Clone(), Rflags = Rflags, Xmm = (ulong[])Xmm.Clone(), Mxcsr = Mxcsr, X87 = (ulong[])X87.Clone() };

    public void WriteTo(Span<byte> b)
    {
        for (int i = 0; i < 16; i++) BinaryPrimitives.WriteUInt64LittleEndian(b[(i * 8)..], Gpr[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(b[128..], Rflags);
        for (int i = 0; i < 32; i++) BinaryPrimitives.WriteUInt64LittleEndian(b[(136 + i * 8)..], Xmm[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(b[392..], Mxcsr);
        for (int i = 0; i < 16; i++) BinaryPrimitives.WriteUInt64LittleEndian(b[(400 + i * 8)..], X87[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(b[528..], Fpu);
    }

    public static X86TestState ReadFrom(ReadOnlySpan<byte> b)
    {
        var s = new X86TestState();
        for (int i = 0; i < 16; i++) s.Gpr[i] = BinaryPrimitives.ReadUInt64LittleEndian(b[(i * 8)..]);
        s.Rflags = BinaryPrimitives.ReadUInt64LittleEndian(b[128..]);
        for (int i = 0; i < 32; i++) s.Xmm[i] = BinaryPrimitives.ReadUInt64LittleEndian(b[(136 + i * 8)..]);
        s.Mxcsr = BinaryPrimitives.ReadUInt64LittleEndian(b[392..]);
        for (int i = 0; i < 16; i++) s.X87[i] = BinaryPrimitives.ReadUInt64LittleEndian(b[(400 + i * 8)..]);
        s.Fpu = BinaryPrimitives.ReadUInt64LittleEndian(b[528..]);
        return s;
    }
}

/// <summary>How a test program ended: at its end (Vector -1) or with an exception, and the state then.</summary>
public sealed record X86TestOutcome(int Vector, ulong ErrorCode, ulong Rip, X86TestState State, byte[] Data)
{
    /// <summary>
    /// Asserts that <paramref name="b"/> (run as <paramref name="bName"/>) ended as this run
    /// (<paramref name="aName"/>) did: exception, rip, registers, the arithmetic flags, data memory,
    /// XMM registers, and with <paramref name="mxcsr"/> MXCSR. <paramref name="where"/> starts each message.
    /// </summary>
    public void AssertSameAs(X86TestOutcome b, string where, string aName, string bName, bool mxcsr = false)
    {
        var a = this;
        Xunit.Assert.True(a.Vector == b.Vector, $"{where}: exception {a.Vector} {aName}, {b.Vector} {bName}");
        Xunit.Assert.True(a.Rip == b.Rip, $"{where}: rip {a.Rip:x} {aName}, {b.Rip:x} {bName}");
        for (int r = 0; r < 16; r++)
            Xunit.Assert.True(a.State.Gpr[r] == b.State.Gpr[r], $"{where}: register {r} {a.State.Gpr[r]:x} {aName}, {b.State.Gpr[r]:x} {bName}");
        Xunit.Assert.True((a.State.Rflags & 0xCD5) == (b.State.Rflags & 0xCD5), $"{where}: flags {a.State.Rflags:x} {aName}, {b.State.Rflags:x} {bName}");
        Xunit.Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), $"{where}: memory differs");
        Xunit.Assert.True(a.State.Xmm.AsSpan().SequenceEqual(b.State.Xmm), $"{where}: XMM registers differ");
        if (mxcsr)
            Xunit.Assert.True(a.State.Mxcsr == b.State.Mxcsr, $"{where}: MXCSR {a.State.Mxcsr:x} {aName}, {b.State.Mxcsr:x} {bName}");
    }
}
