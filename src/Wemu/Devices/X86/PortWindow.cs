using Wemu.Memory;

namespace Wemu.Devices.X86;

/// <summary>
/// Puts a register-window device (<see cref="IMmioDevice"/>) into the port space: port <c>base + n</c> is register
/// offset <c>n</c>, e.g. the <see cref="Uart16550"/> at 0x3f8 (COM1) with regshift 0, as QEMU's isa-serial.
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

    public uint Read(ushort port, int size) => (uint)_device.Read((ushort)(port - _basePort), size);

    public void Write(ushort port, int size, uint value) => _device.Write((ushort)(port - _basePort), size, value);
}
