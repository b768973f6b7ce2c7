namespace Wemu.Devices.X86;

/// What an x86 CPU asks its local APIC at each instruction boundary.
public interface IX86InterruptController
{
    /// True when a maskable interrupt can be delivered now (highest IRR priority above PPR, or an ExtINT from the PIC through LINT0), regardless of RFLAGS.IF (the CPU checks IF itself).
    bool HasMaskableInterrupt { get; }
    /// The CPU is taking a maskable interrupt (IF=1, no interrupt shadow): returns its vector and moves it from IRR to ISR (or acknowledges the PIC for ExtINT).
    int AcknowledgeMaskableInterrupt();
    /// True when an NMI is pending (LINT1 NMI or NMI IPI); TakeNmi clears it.
    bool HasNmi { get; }
    void TakeNmi();
}
