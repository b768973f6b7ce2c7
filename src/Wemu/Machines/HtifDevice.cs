using Wemu.Devices;
using Wemu.Memory;

namespace Wemu.Machines;

/// <summary>
/// Berkeley HTIF as riscv-tests and QEMU's spike use it: the guest writes a command to the
/// <c>tohost</c> word in RAM (device[63:56] cmd[55:48] payload[47:0]) and the host answers in
/// <c>fromhost</c>. Device 0 with payload bit 0 set ends the run with exit code payload>>1;
/// device 1 command 1 writes a character. Polled by the board each tick.
/// </summary>
public sealed unsafe class HtifDevice
{
    private readonly PhysicalBus _bus;
    private readonly ulong _tohost;
    private readonly ulong _fromhost;
    private readonly ICharBackend? _console;

    public HtifDevice(PhysicalBus bus, ulong tohost, ulong fromhost, ICharBackend? console)
    {
        _bus = bus;
        _tohost = tohost;
        _fromhost = fromhost;
        _console = console;
    }

    /// <summary>Set when the guest reported its exit code.</summary>
    public int? ExitCode { get; private set; }

    public void Poll()
    {
        if (!_bus.TryGetRam(_tohost, 8, out byte* p))
            return;
        ulong cmd = *(ulong*)p;
        if (cmd == 0)
            return;
        *(ulong*)p = 0;
        ulong device = cmd >> 56, command = (cmd >> 48) & 0xFF, payload = cmd & 0xFFFF_FFFF_FFFF;
        if (device == 0 && (payload & 1) != 0)
        {
            ulong code = payload >> 1;
            ExitCode = code > int.MaxValue ? int.MaxValue : (int)code;
            return;
        }
        if (device == 1 && command == 1)
        {
            byte b = (byte)payload;
            _console?.Write(new ReadOnlySpan<byte>(&b, 1));
            if (_bus.TryGetRam(_fromhost, 8, out byte* f))
                *(ulong*)f = (1UL << 56) | (1UL << 48);
        }
    }
}
