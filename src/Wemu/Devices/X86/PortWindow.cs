using Wemu.Memory;

namespace Wemu.Devices.X86;

/// <summary>
/// Puts a register-window device (<see cref="IMmioDevice"/>) into the port space: port <c>base + n</c> is register
/// offset <c>n</c> (the window's size is not checked: a wide access past its end reaches higher offsets, as in QEMU), e.g. the <see cref="Uart16550"/> at 0x3f8 (COM1) with regshift 0, as QEMU's isa-serial.
/// </summary>
public sealed class PortWindow : IPortDevice
{
    private readonly IMmioDevice _device;
    private readonly ushort _basePort;

    public PortWindow(IMmioDevice device, ushort basePort)
    {
        _device = device;
        _basePort = basePort;
    }

    /// <summary>Byte registers (QEMU's serial ops have impl.max_access_size = 1): a wider access is one read per byte.</summary>
    public uint Read(ushort port, int size)
    {
        uint value = 0;
        for (int i = 0; i < size && i < 4; i++)
            value |= (uint)(_device.Read((ushort)(port - _basePort + i), 1) & 0xff) << (8 * i);
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size && i < 4; i++)
            _device.Write((ushort)(port - _basePort + i), 1, (byte)(value >> (8 * i)));
    }
}
