using Wemu.Snapshot;
namespace Wemu.Devices.X86;

/// <summary>
/// The two cascaded Intel 8259A programmable interrupt controllers of a PC, as QEMU's hw/intc/i8259.c (which Linux's
/// arch/x86/kernel/i8259.c is tested against): master at ports 0x20/0x21, slave at 0xa0/0xa1 whose output drives the
/// master's IRQ 2, and the edge/level control registers (ELCR, PIIX/ICH) at 0x4d0 (master) and 0x4d1 (slave).
/// </summary>
/// <remarks>
/// <para>Map it on a <see cref="PortIoBus"/> as QEMU's regions: (0x20, 2), (0xa0, 2), (0x4d0, 1), (0x4d1, 1), so that
/// wide and misaligned accesses split the way they do in QEMU.</para>
/// <para>Inputs are ISA IRQ 0..15 through <see cref="IInterruptSink.SetIrq"/>. An input is edge-triggered unless its
/// ELCR bit is set (8259A datasheet; QEMU pic_set_irq): an edge sets IRR on a low-to-high change, a level input
/// mirrors the line in IRR. ELCR bits that cannot be level on a PC (IRQ 0, 1, 2, 8, 13) are read-only zero: masks
/// 0xf8 and 0xde as QEMU's i8259_init_chip.</para>
/// <para>The output is <see cref="InterruptRequested"/> (master INT, in the LAPIC's LINT0 or the CPU's INTR pin);
/// <see cref="Acknowledge"/> is the INTA cycle that returns the vector. The output line, if connected with
/// <see cref="ConnectOutput"/>, is driven on every change. Spurious requests return vector base+7 of the chip
/// without setting ISR (QEMU pic_read_irq; 8259A datasheet "spurious interrupt" on IR7).</para>
/// <para>Supported: ICW1–ICW4 (single mode, ICW4 optional, auto-EOI, special fully nested), OCW1 (IMR), OCW2
/// (non-specific/specific EOI, rotate on EOI, set priority, rotate in auto-EOI), OCW3 (read IRR/ISR, poll, special
/// mask). Not modelled, as in QEMU: level-triggered mode via ICW1.LTIM (only ELCR selects level), buffered mode.</para>
/// </remarks>
public sealed class I8259Pair : IInterruptSink, IPortDevice, IStateful<I8259Pair>
{
    /// <summary>Both chips' registers and initialisation state, and the output's level.</summary>
    static VmState<I8259Pair> IStateful<I8259Pair>.State { get; } = new VmState<I8259Pair>("i8259", 1)
        .Field("chips", (p, w) =>
        {
            foreach (var c in new[] { p._master, p._slave })
            {
                w.U8(c.Irr); w.U8(c.Isr); w.U8(c.Imr); w.U8(c.Elcr); w.U8(c.LastIrr); w.U8(c.PriorityAdd); w.U8(c.IrqBase);
                w.Bool(c.ReadIsr); w.Bool(c.Poll); w.Bool(c.SpecialMask); w.Bool(c.Init4); w.Bool(c.SingleMode); w.Bool(c.AutoEoi);
                w.Bool(c.RotateOnAutoEoi); w.Bool(c.SpecialFullyNested); w.I32(c.InitState); w.Bool(c.OutputLevel);
            }
        }, (p, r) =>
        {
            foreach (var c in new[] { p._master, p._slave })
            {
                c.Irr = r.U8(); c.Isr = r.U8(); c.Imr = r.U8(); c.Elcr = r.U8(); c.LastIrr = r.U8(); c.PriorityAdd = r.U8(); c.IrqBase = r.U8();
                c.ReadIsr = r.Bool(); c.Poll = r.Bool(); c.SpecialMask = r.Bool(); c.Init4 = r.Bool(); c.SingleMode = r.Bool(); c.AutoEoi = r.Bool();
                c.RotateOnAutoEoi = r.Bool(); c.SpecialFullyNested = r.Bool(); c.InitState = r.I32(); c.OutputLevel = r.Bool();
            }
        })
        .Bool("output-level", p => ref p._outputLevel);

    public const ushort MasterCommandPort = 0x20, MasterDataPort = 0x21, SlaveCommandPort = 0xa0, SlaveDataPort = 0xa1,
        MasterElcrPort = 0x4d0, SlaveElcrPort = 0x4d1;

    private const int CascadeIrq = 2;

    private readonly Chip _master = new(isMaster: true, elcrMask: 0xf8);
    private readonly Chip _slave = new(isMaster: false, elcrMask: 0xde);
    private IInterruptSink? _output;
    private int _outputNumber;
    private bool _outputLevel;

    /// <summary>Master INT output: an interrupt is waiting for the CPU's acknowledge.</summary>
    public bool InterruptRequested => _master.GetIrq() >= 0;

    /// <summary>The master's IRR/ISR/IMR and the slave's, for diagnostics and tests.</summary>
    public byte MasterIrr => _master.Irr;
    public byte MasterIsr => _master.Isr;
    public byte MasterImr => _master.Imr;
    public byte SlaveIrr => _slave.Irr;
    public byte SlaveIsr => _slave.Isr;
    public byte SlaveImr => _slave.Imr;

    /// <summary>Connects the INT output (e.g. to <see cref="LocalApic"/> input <see cref="LocalApic.Lint0"/>).</summary>
    public void ConnectOutput(IInterruptSink sink, int number)
    {
        _output = sink;
        _outputNumber = number;
        _outputLevel = false;
        UpdateOutput();
    }

    /// <summary>Resets both chips as a machine reset does (ELCR cleared too, QEMU pic_reset).</summary>
    public void Reset()
    {
        _master.Elcr = 0;
        _slave.Elcr = 0;
        _master.InitReset();
        _slave.InitReset();
        UpdateCascade();
    }

    /// <summary>ISA IRQ <paramref name="number"/> (0..15) changed level. Other numbers are ignored.</summary>
    public void SetIrq(int number, bool level)
    {
        if ((uint)number >= 16)
            return;
        if (number < 8)
            _master.SetIrq(number, level);
        else
            _slave.SetIrq(number - 8, level);
        UpdateCascade();
    }

    /// <summary>
    /// The INTA cycle (QEMU pic_read_irq): returns the vector of the highest-priority request and moves it to ISR
    /// (unless auto-EOI), acknowledging through the cascade for IRQ 8..15. With no request it returns the master's
    /// spurious vector (base + 7); a cascade request the slave no longer has returns the slave's base + 7.
    /// </summary>
    public int Acknowledge()
    {
        int vector;
        int irq = _master.GetIrq();
        if (irq >= 0)
        {
            if (irq == CascadeIrq)
            {
                int irq2 = _slave.GetIrq();
                if (irq2 >= 0)
                    _slave.Intack(irq2);
                else
                    irq2 = 7; // spurious IRQ 15
                vector = _slave.IrqBase + irq2;
                SyncCascadeLine();
            }
            else
            {
                vector = _master.IrqBase + irq;
            }
            _master.Intack(irq);
        }
        else
        {
            vector = _master.IrqBase + 7; // spurious IRQ 7
        }
        UpdateOutput();
        return vector;
    }

    /// <summary>
    /// Port access. Each register block is byte-wide (QEMU impl.max_access_size = 1), and as in QEMU a wider access
    /// starting in a block is split into byte accesses at consecutive offsets of that same block: offset 0 is the
    /// command port, any other offset the data port (pic_ioport_read/write test <c>addr == 0</c>), and every byte
    /// of an access starting at 0x4d0 or 0x4d1 reaches that one ELCR (a 1-byte region each in QEMU).
    /// </summary>
    public uint Read(ushort port, int size)
    {
        uint value = 0;
        for (int i = 0; i < size && i < 4; i++)
            value |= ReadByte(port, i) << (8 * i);
        UpdateCascade(); // a poll-mode read acknowledges
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        for (int i = 0; i < size && i < 4; i++)
        {
            WriteByte(port, i, (byte)(value >> (8 * i)));
            UpdateCascade();
        }
    }

    private uint ReadByte(ushort start, int i)
    {
        if (start is >= MasterCommandPort and < MasterCommandPort + 4)
            return _master.ReadPort(start - MasterCommandPort + i == 0 ? 0 : 1);
        if (start is >= SlaveCommandPort and < SlaveCommandPort + 4)
            return _slave.ReadPort(start - SlaveCommandPort + i == 0 ? 0 : 1);
        return start switch
        {
            MasterElcrPort => _master.Elcr,
            SlaveElcrPort => _slave.Elcr,
            _ => 0xff,
        };
    }

    private void WriteByte(ushort start, int i, byte b)
    {
        if (start is >= MasterCommandPort and < MasterCommandPort + 4)
            _master.WritePort(start - MasterCommandPort + i == 0 ? 0 : 1, b);
        else if (start is >= SlaveCommandPort and < SlaveCommandPort + 4)
            _slave.WritePort(start - SlaveCommandPort + i == 0 ? 0 : 1, b);
        else if (start == MasterElcrPort)
            _master.Elcr = (byte)(b & _master.ElcrMask);
        else if (start == SlaveElcrPort)
            _slave.Elcr = (byte)(b & _slave.ElcrMask);
    }

    /// <summary>Drives master IRQ 2 from the slave's output, then the pair's output.</summary>
    private void UpdateCascade()
    {
        SyncCascadeLine();
        UpdateOutput();
    }

    private void SyncCascadeLine()
    {
        bool slaveOut = _slave.GetIrq() >= 0;
        if (slaveOut != _slave.OutputLevel)
        {
            _slave.OutputLevel = slaveOut;
            _master.SetIrq(CascadeIrq, slaveOut);
        }
    }

    private void UpdateOutput()
    {
        bool level = InterruptRequested;
        if (level == _outputLevel)
            return;
        _outputLevel = level;
        _output?.SetIrq(_outputNumber, level);
    }

    /// <summary>One 8259A; field names follow the datasheet (IRR, ISR, IMR) and QEMU's PICCommonState.</summary>
    private sealed class Chip
    {
        public readonly bool IsMaster;
        public readonly byte ElcrMask;
        public byte Irr, Isr, Imr, Elcr;
        public byte LastIrr; // input line levels, for edge detection
        public byte PriorityAdd; // lowest-priority rotation: IR(PriorityAdd) has the highest priority
        public byte IrqBase;
        public bool ReadIsr, Poll, SpecialMask, Init4, SingleMode, AutoEoi, RotateOnAutoEoi, SpecialFullyNested;
        public int InitState; // 0 ready, 1 expecting ICW2, 2 ICW3, 3 ICW4
        public bool OutputLevel;

        public Chip(bool isMaster, byte elcrMask)
        {
            IsMaster = isMaster;
            ElcrMask = elcrMask;
        }

        /// <summary>State after ICW1 (QEMU pic_reset_common): IMR cleared, ELCR kept, level IRR bits kept.</summary>
        public void InitReset()
        {
            LastIrr = 0;
            Irr &= Elcr;
            Imr = 0;
            Isr = 0;
            PriorityAdd = 0;
            IrqBase = 0;
            ReadIsr = Poll = SpecialMask = Init4 = SingleMode = AutoEoi = RotateOnAutoEoi = SpecialFullyNested = false;
            InitState = 0;
        }

        /// <summary>Highest priority (0 = highest) among <paramref name="mask"/>, relative to the rotation; 8 if none.</summary>
        private int Priority(int mask)
        {
            if (mask == 0)
                return 8;
            int priority = 0;
            while ((mask & (1 << ((priority + PriorityAdd) & 7))) == 0)
                priority++;
            return priority;
        }

        /// <summary>The IR line this chip would present to the CPU now, or -1.</summary>
        public int GetIrq()
        {
            int priority = Priority(Irr & ~Imr);
            if (priority == 8)
                return -1;
            int inService = Isr;
            if (SpecialMask)
                inService &= ~Imr;
            // Special fully nested mode: the slave's own in-service request does not block further slave requests.
            if (SpecialFullyNested && IsMaster)
                inService &= ~(1 << CascadeIrq);
            return priority < Priority(inService) ? (priority + PriorityAdd) & 7 : -1;
        }

        public void SetIrq(int irq, bool level)
        {
            int mask = 1 << irq;
            if ((Elcr & mask) != 0)
            {
                if (level)
                {
                    Irr |= (byte)mask;
                    LastIrr |= (byte)mask;
                }
                else
                {
                    Irr &= (byte)~mask;
                    LastIrr &= (byte)~mask;
                }
            }
            else if (level)
            {
                if ((LastIrr & mask) == 0)
                    Irr |= (byte)mask;
                LastIrr |= (byte)mask;
            }
            else
            {
                LastIrr &= (byte)~mask;
            }
        }

        public void Intack(int irq)
        {
            if (AutoEoi)
            {
                if (RotateOnAutoEoi)
                    PriorityAdd = (byte)((irq + 1) & 7);
            }
            else
            {
                Isr |= (byte)(1 << irq);
            }
            // A level-triggered request stays in IRR while its line is high.
            if ((Elcr & (1 << irq)) == 0)
                Irr &= (byte)~(1 << irq);
        }

        public uint ReadPort(int a0)
        {
            if (Poll)
            {
                // OCW3 poll command: the next read is the poll word (bit 7 = request, bits 2..0 = level), and acknowledges.
                Poll = false;
                int irq = GetIrq();
                if (irq < 0)
                    return 0;
                Intack(irq);
                return (uint)(irq | 0x80);
            }
            if (a0 == 0)
                return ReadIsr ? Isr : Irr;
            return Imr;
        }

        public void WritePort(int a0, byte value)
        {
            if (a0 == 0)
            {
                if ((value & 0x10) != 0)
                {
                    // ICW1
                    InitReset();
                    InitState = 1;
                    Init4 = (value & 1) != 0;
                    SingleMode = (value & 2) != 0;
                }
                else if ((value & 0x08) != 0)
                {
                    // OCW3
                    if ((value & 0x04) != 0)
                        Poll = true;
                    if ((value & 0x02) != 0)
                        ReadIsr = (value & 1) != 0;
                    if ((value & 0x40) != 0)
                        SpecialMask = ((value >> 5) & 1) != 0;
                }
                else
                {
                    // OCW2: R, SL, EOI in bits 7..5
                    int cmd = value >> 5;
                    switch (cmd)
                    {
                        case 0: // rotate in automatic EOI mode: clear
                        case 4: // set
                            RotateOnAutoEoi = cmd == 4;
                            break;
                        case 1: // non-specific EOI
                        case 5: // rotate on non-specific EOI
                            int priority = Priority(Isr);
                            if (priority != 8)
                            {
                                int irq = (priority + PriorityAdd) & 7;
                                Isr &= (byte)~(1 << irq);
                                if (cmd == 5)
                                    PriorityAdd = (byte)((irq + 1) & 7);
                            }
                            break;
                        case 3: // specific EOI
                            Isr &= (byte)~(1 << (value & 7));
                            break;
                        case 6: // set priority: IR(value&7) becomes the lowest
                            PriorityAdd = (byte)((value + 1) & 7);
                            break;
                        case 7: // rotate on specific EOI
                            Isr &= (byte)~(1 << (value & 7));
                            PriorityAdd = (byte)((value + 1) & 7);
                            break;
                        default: // 2: no operation
                            break;
                    }
                }
                return;
            }
            switch (InitState)
            {
                case 0: // OCW1
                    Imr = value;
                    break;
                case 1: // ICW2: vector base, low 3 bits from the IR number
                    IrqBase = (byte)(value & 0xf8);
                    InitState = SingleMode ? (Init4 ? 3 : 0) : 2;
                    break;
                case 2: // ICW3: cascade wiring (fixed on a PC)
                    InitState = Init4 ? 3 : 0;
                    break;
                case 3: // ICW4
                    SpecialFullyNested = ((value >> 4) & 1) != 0;
                    AutoEoi = ((value >> 1) & 1) != 0;
                    InitState = 0;
                    break;
            }
        }
    }
}
