using Wemu.Memory;

namespace Wemu.Devices;

/// <summary>
/// QEMU's sifive_test finisher (hw/misc/sifive_test.c, <c>compatible = "sifive,test1", "sifive,test0",
/// "syscon"</c>) at 0x100000 on virt. Linux's syscon-poweroff and syscon-reboot drivers, OpenSBI and bare-metal
/// tests stop the machine through it: 0x5555 = pass (power off, exit code 0), 0x3333 | code &lt;&lt; 16 = fail with
/// exit code <c>code</c>, 0x7777 = reset. Other values are ignored.
/// </summary>
public sealed class SifiveTest : IMmioDevice
{
    public const ulong WindowSize = 0x1000;

    private const uint FinisherFail = 0x3333;
    private const uint FinisherPass = 0x5555;
    private const uint FinisherReset = 0x7777;

    /// <summary>Raised when the guest asks to power off (with its exit code) or to reset (exit code 0).</summary>
    public event Action<PowerRequest, int>? PowerRequested;

    public ulong Read(ulong offset, int size) => 0;

    public void Write(ulong offset, int size, ulong value)
    {
        // QEMU accepts 16- and 32-bit writes to offset 0; the status is the low halfword, the code the high one.
        if (offset != 0 || size < 2)
            return;
        uint status = (uint)value & 0xFFFF;
        int code = size >= 4 ? (int)((value >> 16) & 0xFFFF) : 0;
        switch (status)
        {
            case FinisherPass:
                PowerRequested?.Invoke(PowerRequest.PowerOff, 0);
                break;
            case FinisherFail:
                PowerRequested?.Invoke(PowerRequest.PowerOff, code);
                break;
            case FinisherReset:
                PowerRequested?.Invoke(PowerRequest.Reset, 0);
                break;
        }
    }
}
