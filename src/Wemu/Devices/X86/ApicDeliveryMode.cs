namespace Wemu.Devices.X86;

/// <summary>Delivery modes of APIC messages: ICR, LVT and I/O APIC redirection bits 10..8 (Intel SDM vol. 3 10.6.1).</summary>
public enum ApicDeliveryMode
{
    Fixed = 0,
    LowestPriority = 1,
    Smi = 2,
    Nmi = 4,
    Init = 5,
    StartUp = 6,
    ExtInt = 7,
}
