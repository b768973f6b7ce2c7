using Wemu.Snapshot;
namespace Wemu.Devices.X86;

/// <summary>
/// PC/AT port 0x61 ("system control port B", QEMU hw/audio/pcspk.c): bit 0 is the gate of PIT channel 2, bit 1
/// enables the speaker data; reads return bit 0 gate 2, bit 1 speaker data, bit 4 a refresh-clock toggle (flips on
/// every read, as QEMU's dummy_refresh_clock) and bit 5 OUT2. Bits 6/7 (IOCHK/SERR status) read 0. No sound.
/// </summary>
public sealed class SystemControlPortB : IPortDevice, IStateful<SystemControlPortB>
{
    static VmState<SystemControlPortB> IStateful<SystemControlPortB>.State { get; } = new VmState<SystemControlPortB>("port61", 1)
        .Bool("speaker-data", p => ref p._speakerData)
        .Bool("refresh", p => ref p._refreshToggle);

    public const ushort Port = 0x61;

    private readonly I8254Pit _pit;
    private bool _speakerData;
    private bool _refreshToggle;

    public SystemControlPortB(I8254Pit pit)
    {
        _pit = pit;
    }

    /// <summary>Byte-wide registers (QEMU impl.max_access_size = 1): a wider access is one byte access per byte, low first.</summary>
    public uint Read(ushort port, int size)
    {
        uint value = 0;
        for (int i = 0; i < size && i < 4; i++)
            value |= (ReadByte((ushort)(port + i)) & 0xff) << (8 * i);
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size && i < 4; i++)
            WriteByte((ushort)(port + i), (byte)(value >> (8 * i)));
    }

    private uint ReadByte(ushort port)
    {
        _refreshToggle = !_refreshToggle;
        return (_pit.GetGate(2) ? 1u : 0) | (_speakerData ? 2u : 0) | (_refreshToggle ? 0x10u : 0) |
            (_pit.GetOut(2) ? 0x20u : 0);
    }

    private void WriteByte(ushort port, byte value)
    {
        _speakerData = (value & 2) != 0;
        _pit.SetGate(2, (value & 1) != 0);
    }
}
