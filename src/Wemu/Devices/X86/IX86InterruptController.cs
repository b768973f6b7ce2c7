namespace Wemu.Devices.X86;

/// <summary>What an x86 CPU asks its local APIC at each instruction boundary.</summary>
public interface IX86InterruptController
{
    /// <summary>True when a maskable interrupt can be delivered now (highest IRR priority above PPR, or an ExtINT from the PIC through LINT0), regardless of RFLAGS.IF (the CPU checks IF itself).</summary>
    bool HasMaskableInterrupt { get; }

    /// <summary>The CPU is taking a maskable interrupt (IF=1, no interrupt shadow): returns its vector and moves it from IRR to ISR (or acknowledges the PIC for ExtINT).</summary>
    int AcknowledgeMaskableInterrupt();

    /// <summary>True when an NMI is pending (LINT1 NMI or NMI IPI); <see cref="TakeNmi"/> clears it.</summary>
    bool HasNmi { get; }

    void TakeNmi();
}
