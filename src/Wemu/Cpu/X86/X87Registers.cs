namespace Wemu.Cpu.X86;

/// <summary>
/// The x87 register stack and its control, status and tag words (SDM vol. 1, chapter 8), kept as
/// raw 80-bit values (64-bit significand with explicit integer bit, sign and 15-bit exponent).
/// </summary>
public sealed class X87Registers
{
    /// <summary>Physical registers R0-R7: significand and sign/exponent word.</summary>
    public readonly ulong[] Significand = new ulong[8];
    public readonly ushort[] SignExponent = new ushort[8];

    public ushort ControlWord = 0x037F;

    /// <summary>The status word without TOP (bits 11-13), which <see cref="Top"/> holds.</summary>
    public ushort StatusWord;

    public int Top;

    /// <summary>Full tag word (two bits per physical register: 0 valid, 1 zero, 2 special, 3 empty).</summary>
    public ushort TagWord = 0xFFFF;

    public ushort LastOpcode;
    public ulong LastInstructionPointer, LastDataPointer;

    public ushort StatusWithTop => (ushort)((StatusWord & ~0x3800) | ((Top & 7) << 11));

    /// <summary>FNINIT (SDM vol. 2A): control 0x37F, status 0, all registers empty.</summary>
    public void Reset()
    {
        ControlWord = 0x037F;
        StatusWord = 0;
        Top = 0;
        TagWord = 0xFFFF;
        LastOpcode = 0;
        LastInstructionPointer = LastDataPointer = 0;
    }

    /// <summary>The abridged tag byte of FXSAVE: one bit per register, 1 = not empty.</summary>
    public byte AbridgedTag
    {
        get
        {
            int t = 0;
            for (int i = 0; i < 8; i++)
                if (((TagWord >> (2 * i)) & 3) != 3)
                    t |= 1 << i;
            return (byte)t;
        }
    }

    /// <summary>Rebuilds the full tag word from FXRSTOR's abridged byte by classifying each register's contents.</summary>
    public void SetAbridgedTag(byte abridged)
    {
        int tags = 0;
        for (int i = 0; i < 8; i++)
        {
            int tag;
            if ((abridged & (1 << i)) == 0)
                tag = 3;
            else
            {
                int exp = SignExponent[i] & 0x7FFF;
                ulong sig = Significand[i];
                tag = exp == 0x7FFF ? 2 : exp == 0 ? (sig == 0 ? 1 : 2) : (sig >> 63) == 0 ? 2 : 0;
            }
            tags |= tag << (2 * i);
        }
        TagWord = (ushort)tags;
    }
}
