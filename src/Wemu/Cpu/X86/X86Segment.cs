namespace Wemu.Cpu.X86;

/// <summary>
/// A segment register with its hidden descriptor cache (SDM vol. 3, 3.4.3): the selector the guest
/// loaded, and base, limit and attributes taken from the descriptor at load time.
/// </summary>
public struct X86Segment
{
    public ushort Selector;
    public ulong Base;
    public uint Limit;

    /// <summary>Descriptor bits 40-55 as one word: type (0-3), S (4), DPL (5-6), P (7), AVL (12), L (13), D/B (14), G (15).</summary>
    public ushort Attributes;

    public readonly int Dpl => (Attributes >> 5) & 3;

    public readonly bool Present => (Attributes & 0x80) != 0;

    /// <summary>CS.L: 64-bit code segment.</summary>
    public readonly bool Long => (Attributes & 0x2000) != 0;

    /// <summary>CS.D / SS.B: 32-bit default operand size / stack.</summary>
    public readonly bool Big => (Attributes & 0x4000) != 0;

    /// <summary>Loads the cache from a raw 8-byte descriptor (SDM vol. 3, figure 3-8).</summary>
    public static X86Segment FromDescriptor(ushort selector, ulong d)
    {
        uint limit = (uint)(d & 0xFFFF) | (uint)((d >> 32) & 0xF0000);
        ushort attributes = (ushort)((d >> 40) & 0xF0FF);
        if ((attributes & 0x8000) != 0)
            limit = (limit << 12) | 0xFFF;
        ulong baseAddress = ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24);
        return new X86Segment { Selector = selector, Base = baseAddress, Limit = limit, Attributes = attributes };
    }
}
