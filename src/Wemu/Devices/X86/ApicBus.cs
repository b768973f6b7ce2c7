namespace Wemu.Devices.X86;

/// <summary>
/// The APIC message bus between the I/O APIC(s) and the local APICs (on real hardware the system bus): interrupt
/// messages with a destination, EOI broadcasts back to the I/O APICs, and MSI writes. Destination decoding follows
/// the Intel SDM vol. 3 10.6.2 and QEMU's apic_get_delivery_bitmask: physical mode matches the APIC ID (0xff is a
/// broadcast), logical mode matches the LDR under the flat (DFR 0xF) or cluster (DFR 0x0) model. Lowest-priority
/// delivery goes to the first matching APIC, as QEMU (no arbitration).
/// </summary>
public sealed class ApicBus
{
    private LocalApic[] _localApics = [];
    private IoApic[] _ioApics = [];

    public IReadOnlyList<LocalApic> LocalApics => _localApics;

    internal void Attach(LocalApic apic) => _localApics = [.. _localApics, apic];

    internal void Attach(IoApic ioApic) => _ioApics = [.. _ioApics, ioApic];

    /// <summary>Delivers an interrupt message (from an I/O APIC redirection entry, an MSI or an IPI without shorthand).</summary>
    public void Deliver(byte destination, bool logical, ApicDeliveryMode mode, byte vector, bool levelTriggered)
    {
        if (mode == ApicDeliveryMode.LowestPriority)
        {
            foreach (var apic in _localApics)
            {
                if (apic.MatchesDestination(destination, logical))
                {
                    apic.Accept(ApicDeliveryMode.Fixed, vector, levelTriggered);
                    return;
                }
            }
            return;
        }
        foreach (var apic in _localApics)
            if (apic.MatchesDestination(destination, logical))
                apic.Accept(mode, vector, levelTriggered);
    }

    /// <summary>
    /// An MSI write (Intel SDM vol. 3 10.11): address 0xFEExxxxx with destination ID in bits 19..12 and destination
    /// mode in bit 2; data with vector in bits 7..0, delivery mode 10..8, trigger mode 15.
    /// </summary>
    public void DeliverMsi(ulong address, uint data)
    {
        Deliver((byte)(address >> 12), ((address >> 2) & 1) != 0, (ApicDeliveryMode)((data >> 8) & 7), (byte)data,
            ((data >> 15) & 1) != 0);
    }

    /// <summary>A local APIC's EOI for a level-triggered vector: every I/O APIC clears the matching Remote IRR.</summary>
    public void BroadcastEoi(int vector)
    {
        foreach (var io in _ioApics)
            io.EndOfInterrupt(vector);
    }
}
