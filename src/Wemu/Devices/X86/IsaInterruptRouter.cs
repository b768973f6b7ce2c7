namespace Wemu.Devices.X86;

/// <summary>
/// Fans ISA IRQ / GSI lines out to the interrupt controllers as QEMU's x86 gsi_handler: IRQ 0..15 go to both the
/// 8259 pair and the I/O APIC (which routes IRQ 0 to its pin 2 itself), GSI 16..23 to the I/O APIC only.
/// Devices get an <see cref="IrqLine"/> on this sink with their ISA IRQ number.
/// </summary>
public sealed class IsaInterruptRouter : IInterruptSink
{
    private readonly I8259Pair? _pic;
    private readonly IoApic? _ioApic;

    public IsaInterruptRouter(I8259Pair? pic, IoApic? ioApic)
    {
        _pic = pic;
        _ioApic = ioApic;
    }

    public void SetIrq(int number, bool level)
    {
        if ((uint)number < 16)
            _pic?.SetIrq(number, level);
        _ioApic?.SetIrq(number, level);
    }
}
