namespace Wemu.Devices.X86;

/// <summary>
/// A device in the x86 I/O port space (IN/OUT). <paramref name="port"/> is the absolute port number; sizes are
/// 1, 2 or 4 bytes, already split by <see cref="PortIoBus"/> to what the mapping accepts. Every port, size and
/// value is guest-controlled: implementations must never throw for them.
/// </summary>
public interface IPortDevice
{
    uint Read(ushort port, int size);

    void Write(ushort port, int size, uint value);
}
