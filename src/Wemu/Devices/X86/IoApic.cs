using Wemu.Snapshot;
using Wemu.Memory;

namespace Wemu.Devices.X86;

/// <summary>
/// The 82093AA I/O APIC as QEMU 7.2's hw/intc/ioapic.c (version 0x20, 24 pins) at 0xfec00000 (window 0x1000):
/// IOREGSEL at offset 0x00, IOWIN at 0x10, and the EOI register at 0x40 that version 0x20 adds. Registers through
/// IOWIN: 0x00 ID (bits 27..24), 0x01 version (0x00170020: 24 entries, version 0x20), 0x02 arbitration (reads the
/// ID, as QEMU), 0x10 + 2n / 0x11 + 2n the low and high halves of redirection entry n.
/// </summary>
/// <remarks>
/// <para>Inputs are GSIs 0..23 through <see cref="SetIrq"/>; as in QEMU's ioapic_set_irq, input 0 (ISA IRQ 0, the
/// PIT) is routed to pin 2, which is what the MP table / MADT interrupt override tells Linux. Edge-triggered pins
/// latch a rising level while unmasked (82093AA datasheet 3.2.4: edge requests on a masked pin are lost) and send
/// one message; level-triggered pins follow the line, send a message and set Remote IRR, and send again after the
/// local APIC's EOI broadcast clears Remote IRR while the line is still high. Polarity (bit 13) is not modelled:
/// lines are logical levels, as in QEMU. Delivery status (bit 12) always reads 0. ExtINT entries send an ExtINT
/// message: the local APIC then takes the vector from the 8259 at acknowledge.</para>
/// <para>Accesses: IOREGSEL takes any size; IOWIN and EOI only 32-bit (others read 0, writes ignored), as QEMU;
/// 8-byte accesses are two 32-bit ones, as QEMU's memory core splits them. The offset is taken modulo 0x100.
/// QEMU's delayed re-assertion after 10000 back-to-back level EOIs (an interrupt-storm guard) is not modelled.</para>
/// </remarks>
public sealed class IoApic : IMmioDevice, IInterruptSink, IStateful<IoApic>
{
    /// <summary>The redirection table, IRR, the register select and the ID.</summary>
    static VmState<IoApic> IStateful<IoApic>.State { get; } = new VmState<IoApic>("ioapic", 1)
        .U64s("redirection", a => a._redirection)
        .U32("irr", a => ref a._irr)
        .U8("ioregsel", a => ref a._ioRegSel)
        .U8("id", a => ref a._id);

    public const ulong DefaultBaseAddress = 0xfec00000;
    public const ulong WindowSize = 0x1000;
    public const int PinCount = 24;
    public const uint Version = 0x20;

    private const ulong RegSelOffset = 0x00, WindowOffset = 0x10, EoiOffset = 0x40;
    private const int RegId = 0x00, RegVersion = 0x01, RegArbitration = 0x02, RegRedirectionBase = 0x10;

    private const ulong Masked = 1ul << 16, LevelTriggered = 1ul << 15, RemoteIrr = 1ul << 14, DeliveryStatus = 1ul << 12;
    private const ulong ReadOnlyBits = RemoteIrr | DeliveryStatus;

    private readonly ApicBus _bus;
    private readonly ulong[] _redirection = new ulong[PinCount];
    private uint _irr;
    private byte _ioRegSel;
    private byte _id;

    public IoApic(ApicBus bus, byte id = 0)
    {
        _bus = bus;
        _id = (byte)(id & 0xf);
        bus.Attach(this);
        Reset();
    }

    public byte Id => _id;

    /// <summary>Redirection entry <paramref name="pin"/> as the guest sees it.</summary>
    public ulong GetRedirectionEntry(int pin) => _redirection[pin];

    /// <summary>Reset as QEMU ioapic_reset_common: every entry masked, IOREGSEL 0, no pending requests.</summary>
    public void Reset()
    {
        _ioRegSel = 0;
        _irr = 0;
        Array.Fill(_redirection, Masked);
    }

    public void SetIrq(int number, bool level)
    {
        if (number == 0)
            number = 2; // ISA IRQ 0 is wired to pin 2 (QEMU ioapic_set_irq)
        if ((uint)number >= PinCount)
            return;
        uint mask = 1u << number;
        ulong entry = _redirection[number];
        if ((entry & LevelTriggered) != 0)
        {
            if (level)
            {
                _irr |= mask;
                if ((entry & RemoteIrr) == 0)
                    Service();
            }
            else
            {
                _irr &= ~mask;
            }
        }
        else if (level && (entry & Masked) == 0)
        {
            _irr |= mask;
            Service();
        }
    }

    /// <summary>EOI for <paramref name="vector"/> (broadcast by a local APIC, or written to the EOI register).</summary>
    public void EndOfInterrupt(int vector)
    {
        for (int n = 0; n < PinCount; n++)
        {
            ulong entry = _redirection[n];
            if ((int)(entry & 0xff) != vector || (entry & LevelTriggered) == 0 || (entry & RemoteIrr) == 0)
                continue;
            _redirection[n] = entry & ~RemoteIrr;
            if ((entry & Masked) == 0 && (_irr & (1u << n)) != 0)
                Service();
        }
    }

    public ulong Read(ulong offset, int size)
    {
        if (size == 8)
            return Read32(offset, 4) | ((ulong)Read32(offset + 4, 4) << 32);
        return Read32(offset, size);
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (size == 8)
        {
            Write32(offset, 4, (uint)value);
            Write32(offset + 4, 4, (uint)(value >> 32));
            return;
        }
        Write32(offset, size, (uint)value);
    }

    private uint Read32(ulong offset, int size)
    {
        switch (offset & 0xff)
        {
            case RegSelOffset:
                return _ioRegSel;
            case WindowOffset when size == 4:
                switch (_ioRegSel)
                {
                    case RegId:
                    case RegArbitration:
                        return (uint)_id << 24;
                    case RegVersion:
                        return Version | ((PinCount - 1) << 16);
                    default:
                        int index = (_ioRegSel - RegRedirectionBase) >> 1;
                        if (index is >= 0 and < PinCount)
                            return (_ioRegSel & 1) != 0 ? (uint)(_redirection[index] >> 32) : (uint)_redirection[index];
                        return 0;
                }
            default:
                return 0;
        }
    }

    private void Write32(ulong offset, int size, uint value)
    {
        switch (offset & 0xff)
        {
            case RegSelOffset:
                _ioRegSel = (byte)value;
                break;
            case WindowOffset when size == 4:
                switch (_ioRegSel)
                {
                    case RegId:
                        _id = (byte)((value >> 24) & 0xf);
                        break;
                    case RegVersion:
                    case RegArbitration:
                        break;
                    default:
                        int index = (_ioRegSel - RegRedirectionBase) >> 1;
                        if (index is < 0 or >= PinCount)
                            break;
                        ulong old = _redirection[index];
                        ulong entry = (_ioRegSel & 1) != 0
                            ? (old & 0xffff_ffff) | ((ulong)value << 32)
                            : (old & 0xffff_ffff_0000_0000) | value;
                        entry = (entry & ~ReadOnlyBits) | (old & ReadOnlyBits);
                        // Switching a pin to edge clears Remote IRR (Linux's __eoi_ioapic_pin relies on it; QEMU
                        // ioapic_fix_edge_remote_irr).
                        if ((entry & LevelTriggered) == 0)
                            entry &= ~RemoteIrr;
                        _redirection[index] = entry;
                        Service();
                        break;
                }
                break;
            case EoiOffset when size == 4:
                EndOfInterrupt((byte)value);
                break;
        }
    }

    /// <summary>Sends a message for every pending unmasked pin (QEMU ioapic_service).</summary>
    private void Service()
    {
        if (_irr == 0)
            return;
        for (int i = 0; i < PinCount; i++)
        {
            uint mask = 1u << i;
            if ((_irr & mask) == 0)
                continue;
            ulong entry = _redirection[i];
            if ((entry & Masked) != 0)
                continue;
            bool level = (entry & LevelTriggered) != 0;
            if (level)
            {
                if ((entry & RemoteIrr) != 0)
                    continue; // the guest is still handling the previous one
                _redirection[i] = entry | RemoteIrr;
            }
            else
            {
                _irr &= ~mask;
            }
            _bus.Deliver((byte)(entry >> 56), ((entry >> 11) & 1) != 0, (ApicDeliveryMode)((entry >> 8) & 7),
                (byte)entry, level);
        }
    }
}
