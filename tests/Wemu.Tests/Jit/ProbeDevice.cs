using Wemu.Cpu.RiscV;
using Wemu.Memory;

namespace Wemu.Tests.Jit;

/// <summary>
/// A test device for lockstep runs, so device accesses from compiled code are checked as
/// strictly as memory: offset 0 reads the hart's instruction count at the moment of the access
/// (compiled code must publish exactly how many instructions it retired before a slow path, as
/// an <c>-icount</c> clock needs), offset 8 reads a counter that counts its reads (order and
/// number of reads), and every write is folded into <see cref="WriteLog"/>; a write to offset 24
/// also halts the program (<see cref="Halted"/>: how U-mode programs end).
/// </summary>
internal sealed class ProbeDevice(RiscVHart hart) : IMmioDevice
{
    public const ulong Base = 0x1000_0000;
    public const ulong Size = 0x1000;

    public ulong Reads { get; private set; }

    public ulong WriteLog { get; private set; }

    public bool Halted { get; private set; }

    public ulong Read(ulong offset, int size)
    {
        ulong v = offset switch
        {
            0 => hart.InstructionsRetired,
            8 => ++Reads,
            _ => 0,
        };
        return size == 8 ? v : v & ((1UL << (8 * size)) - 1);
    }

    public void Write(ulong offset, int size, ulong value)
    {
        WriteLog = (WriteLog * 1_000_003) ^ (offset << 56) ^ ((ulong)size << 48) ^ value;
        if (offset == RandomProgramGenerator.HaltOffset)
            Halted = true;
    }
}
