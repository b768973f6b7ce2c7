using Wemu.Snapshot;
using System.Numerics;
using Wemu.Memory;

namespace Wemu.Devices.X86;

/// <summary>
/// A local APIC in xAPIC mode (Intel SDM vol. 3 chapter 10) as QEMU 7.2's hw/intc/apic.c + apic_common.c: the
/// register page at 0xfee00000 (4 KiB), version 0x14 with 6 LVT entries (version register 0x00050014), TPR/PPR,
/// IRR/ISR/TMR, EOI with broadcast to the I/O APICs for level-triggered vectors, LDR/DFR, SVR, ESR, the LVT (timer,
/// thermal, performance, LINT0, LINT1, error), ICR (fixed, lowest-priority, NMI, INIT, SIPI IPIs through the
/// <see cref="ApicBus"/>) and the timer in one-shot and periodic mode with the divide configuration.
/// </summary>
/// <remarks>
/// <para>The timer counts at <c>busFrequency</c> (QEMU's TCG APIC counts nanoseconds: 1 GHz) divided by the
/// divide configuration, derived from <see cref="MachineClock"/>; <see cref="NextDeadline"/> is when it fires next,
/// and <see cref="Tick"/> delivers it. Timer arithmetic is QEMU's apic_next_timer / apic_get_current_count (a
/// one-shot fires one count after the current count reads 0). TSC-deadline mode is not provided (not advertised).
/// A periodic timer that missed several periods between two <see cref="Tick"/> calls sets IRR once and counts the
/// rest in <see cref="CoalescedTimerInterrupts"/> (IRR holds one request per vector anyway).</para>
/// <para>LINT0/LINT1 are inputs 0 and 1 of <see cref="IInterruptSink"/>. <see cref="ConnectPic"/> wires the 8259
/// pair's output to LINT0: in ExtINT mode (the BSP's reset value 0x700, as QEMU's apic_reset_common) the PIC's
/// request is an interrupt taken without regard to PPR, and acknowledging it runs the 8259's INTA cycle.</para>
/// <para>MMIO: only 32-bit accesses reach registers (QEMU: narrower reads return 0, narrower writes are ignored);
/// 8-byte accesses are split into two 32-bit ones; the low 4 bits of the offset are ignored (QEMU). Reserved
/// registers read 0 and set ESR "illegal register address" (bit 7). Writes to offset 0x000–0x00f, which QEMU turns
/// into an MSI, are ignored. ESR follows the SDM 10.5.3 (a write loads the errors collected since the previous
/// write). Illegal-vector errors are not detected (as QEMU).</para>
/// <para>The APIC base MSR (0x1b, SDM 10.4.4) resets to 0xfee00900 (BSP) / 0xfee00800 and, as QEMU's
/// apic_set_base, the BSP flag is read-only and a cleared enable bit cannot be set again until reset. While
/// globally disabled the register page reads 0 and ignores writes, bus messages are dropped, and the PIC's INTR and
/// LINT1 reach the CPU directly (SDM 10.4.3: the processor behaves as one without an APIC).</para>
/// </remarks>
public sealed class LocalApic : IMmioDevice, IInterruptSink, IX86InterruptController, IStateful<LocalApic>
{
    /// <summary>Every register, the IRR/ISR/TMR bitmaps, the timer (times in bus ticks of the restored clock) and the pending local events.</summary>
    static VmState<LocalApic> IStateful<LocalApic>.State { get; } = new VmState<LocalApic>("lapic", 1)
        .U64("apic-base", a => ref a._apicBase)
        .U8("id", a => ref a._id)
        .U8("tpr", a => ref a._tpr)
        .U32("svr", a => ref a._spuriousVector)
        .U8("ldr", a => ref a._logicalDestination)
        .U8("dfr", a => ref a._destinationFormat)
        .U32s("isr", a => a._isr)
        .U32s("tmr", a => a._tmr)
        .U32s("irr", a => a._irr)
        .U32s("lvt", a => a._lvt)
        .U32("esr", a => ref a._esr)
        .U32("esr-pending", a => ref a._esrPending)
        .U32("icr-low", a => ref a._icrLow)
        .U32("icr-high", a => ref a._icrHigh)
        .U32("divide", a => ref a._divideConfiguration)
        .I32("count-shift", a => ref a._countShift)
        .U32("initial-count", a => ref a._initialCount)
        .U64("initial-count-load", a => ref a._initialCountLoadTime)
        .U64("timer-next", a => ref a._timerNext)
        .Bool("lint0", a => ref a._lint0Level)
        .Bool("lint1", a => ref a._lint1Level)
        .Bool("nmi-pending", a => ref a._nmiPending)
        .Bool("extint-pending", a => ref a._extIntPending)
        .Bool("init-pending", a => ref a._initPending)
        .I32("startup-vector", a => ref a._startupVector)
        .PostLoad(a =>
        {
            if ((uint)a._countShift > 7)
                throw new SnapshotException("snapshot: the local APIC's timer divider is out of range");
            a._highestIrr = HighestBit(a._irr);
            a._highestIsr = HighestBit(a._isr);
        });

    public const ulong DefaultBaseAddress = 0xfee00000;
    public const ulong WindowSize = 0x1000;

    /// <summary>Input numbers for <see cref="SetIrq"/>.</summary>
    public const int Lint0 = 0, Lint1 = 1;

    public const ulong ApicBaseBsp = 1ul << 8, ApicBaseEnable = 1ul << 11;

    /// <summary>Version register: version 0x14, max LVT entry 5 (QEMU: version | (APIC_LVT_NB - 1) &lt;&lt; 16).</summary>
    public const uint VersionRegister = 0x0005_0014;

    // LVT indexes, in register order 0x320..0x370 (SDM figure 10-8).
    private const int LvtTimer = 0, LvtThermal = 1, LvtPerformance = 2, LvtLint0 = 3, LvtLint1 = 4, LvtError = 5, LvtCount = 6;

    private const uint LvtMasked = 1u << 16, LvtLevelTrigger = 1u << 15, LvtTimerPeriodic = 1u << 17;
    private const uint SvrEnable = 1u << 8;
    private const uint EsrIllegalRegister = 1u << 7;

    private readonly MachineClock _clock;
    private readonly ApicBus _bus;
    private readonly ulong _busFrequency;
    private I8259Pair? _pic;

    private ulong _apicBase;
    private byte _id;
    private byte _tpr;
    private uint _spuriousVector;
    private byte _logicalDestination;
    private byte _destinationFormat; // DFR bits 31..28: 0xF flat, 0x0 cluster
    private readonly uint[] _isr = new uint[8];
    private readonly uint[] _tmr = new uint[8];
    private readonly uint[] _irr = new uint[8];
    private int _highestIrr = -1; // caches of HighestBit(_irr) / HighestBit(_isr): the CPU asks at every boundary
    private int _highestIsr = -1;
    private readonly uint[] _lvt = new uint[LvtCount];
    private uint _esr;
    private uint _esrPending;
    private uint _icrLow, _icrHigh;
    private uint _divideConfiguration;
    private int _countShift;
    private uint _initialCount;
    private ulong _initialCountLoadTime; // in bus ticks
    private ulong _timerNext = ulong.MaxValue; // bus tick at which the timer fires next
    private bool _lint0Level, _lint1Level;
    private bool _nmiPending;
    private bool _extIntPending;
    private bool _initPending;
    private int _startupVector = -1;

    /// <param name="clock">Machine time base.</param>
    /// <param name="bus">The APIC bus this APIC receives messages from and sends IPIs and EOIs to.</param>
    /// <param name="id">Initial APIC ID (the CPU index).</param>
    /// <param name="isBootstrapProcessor">Sets the BSP flag of the base MSR and LINT0 = ExtINT at reset.</param>
    /// <param name="busFrequency">Timer input before the divider, in Hz (QEMU TCG: 1 GHz).</param>
    public LocalApic(MachineClock clock, ApicBus bus, byte id = 0, bool isBootstrapProcessor = true, ulong busFrequency = 1_000_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfZero(busFrequency);
        _clock = clock;
        _bus = bus;
        _busFrequency = busFrequency;
        InitialId = id;
        IsBootstrapProcessor = isBootstrapProcessor;
        bus.Attach(this);
        Reset();
    }

    public byte InitialId { get; }

    public bool IsBootstrapProcessor { get; }

    public byte Id => _id;

    /// <summary>Called when something may have become pending (IRR, NMI, INIT/SIPI, PIC request); optional.</summary>
    public Action? InterruptPending { get; set; }

    /// <summary>Timer periods that elapsed between two <see cref="Tick"/> calls beyond the one delivered.</summary>
    public ulong CoalescedTimerInterrupts { get; private set; }

    /// <summary>IA32_APIC_BASE (MSR 0x1b).</summary>
    public ulong ApicBaseMsr => _apicBase;

    /// <summary>The register page's physical address from the base MSR.</summary>
    public ulong BaseAddress => _apicBase & 0xffff_f000;

    public bool HardwareEnabled => (_apicBase & ApicBaseEnable) != 0;

    public bool SoftwareEnabled => (_spuriousVector & SvrEnable) != 0;

    /// <summary>An INIT IPI was received; the CPU resets to wait-for-SIPI and calls <see cref="AcknowledgeInit"/>.</summary>
    public bool InitPending => _initPending;

    /// <summary>Vector of a received STARTUP IPI (start at vector × 0x1000), or -1.</summary>
    public int StartupVector => _startupVector;

    public void AcknowledgeInit() => _initPending = false;

    public void AcknowledgeStartup() => _startupVector = -1;

    /// <summary>The bus-clock tick now.</summary>
    private ulong BusNow => (ulong)((UInt128)_clock.Now * _busFrequency / _clock.Frequency);

    /// <summary>The <see cref="MachineClock.Now"/> value at which the timer fires next, or <see cref="ulong.MaxValue"/>.</summary>
    public ulong NextDeadline
    {
        get
        {
            if (_timerNext == ulong.MaxValue)
                return ulong.MaxValue;
            UInt128 t = ((UInt128)_timerNext * _clock.Frequency + _busFrequency - 1) / _busFrequency;
            return t > ulong.MaxValue ? ulong.MaxValue : (ulong)t;
        }
    }

    /// <summary>Wires the 8259 pair's INT output to LINT0 and its INTA cycle to ExtINT acknowledges.</summary>
    public void ConnectPic(I8259Pair pic)
    {
        _pic = pic;
        pic.ConnectOutput(this, Lint0);
    }

    /// <summary>Power-on/RESET state (QEMU apic_reset_common + apic_init_reset).</summary>
    public void Reset()
    {
        _apicBase = DefaultBaseAddress | (IsBootstrapProcessor ? ApicBaseBsp : 0) | ApicBaseEnable;
        _id = InitialId;
        _initPending = false;
        _startupVector = -1;
        InitReset();
        if (IsBootstrapProcessor)
            _lvt[LvtLint0] = (uint)ApicDeliveryMode.ExtInt << 8; // as the BIOS leaves it (virtual wire mode)
    }

    /// <summary>The INIT state (SDM 10.4.7.3; QEMU apic_init_reset): registers cleared, LVT masked, SVR 0xff. ID and base kept.</summary>
    public void InitReset()
    {
        _tpr = 0;
        _spuriousVector = 0xff;
        _logicalDestination = 0;
        _destinationFormat = 0xf;
        Array.Clear(_isr);
        Array.Clear(_tmr);
        Array.Clear(_irr);
        _highestIrr = _highestIsr = -1;
        Array.Fill(_lvt, LvtMasked);
        _esr = _esrPending = 0;
        _icrLow = _icrHigh = 0;
        _divideConfiguration = 0;
        _countShift = 0;
        _initialCount = 0;
        _initialCountLoadTime = 0;
        _timerNext = ulong.MaxValue;
        _nmiPending = _extIntPending = false;
    }

    /// <summary>WRMSR IA32_APIC_BASE (QEMU apic_set_base): new base; clearing bit 11 disables the APIC until reset.</summary>
    public void WriteApicBaseMsr(ulong value)
    {
        _apicBase = (value & 0xffff_f000) | (_apicBase & (ApicBaseBsp | ApicBaseEnable));
        if ((value & ApicBaseEnable) == 0)
        {
            _apicBase &= ~ApicBaseEnable;
            _spuriousVector &= ~SvrEnable;
        }
    }

    // ---- CPU side -------------------------------------------------------------------------------------------

    public bool HasMaskableInterrupt
    {
        get
        {
            if (!HardwareEnabled)
                return _pic is not null && _lint0Level; // INTR straight from the 8259
            if (ExtIntRequested)
                return true;
            return PendingVector() >= 0;
        }
    }

    public int AcknowledgeMaskableInterrupt()
    {
        if (!HardwareEnabled)
            return _pic?.Acknowledge() ?? (int)(_spuriousVector & 0xff);
        if (ExtIntRequested)
        {
            // ExtINT ignores priority (SDM 10.5.1); the 8259 supplies the vector.
            _extIntPending = false;
            return _pic!.Acknowledge();
        }
        int vector = _highestIrr;
        if (!SoftwareEnabled || vector < 0 || !Deliverable(vector))
            return (int)(_spuriousVector & 0xff); // spurious interrupt (SDM 10.9): no ISR bit
        ClearBit(_irr, vector);
        _highestIrr = HighestBit(_irr);
        SetBit(_isr, vector);
        _highestIsr = Math.Max(_highestIsr, vector);
        return vector;
    }

    public bool HasNmi => _nmiPending;

    public void TakeNmi() => _nmiPending = false;

    // The 8259's INT output as last driven into LINT0 (ConnectPic): no PIC query per instruction.
    private bool ExtIntRequested =>
        _pic is not null && _lint0Level &&
        (_extIntPending || (_lvt[LvtLint0] & LvtMasked) == 0 && ((_lvt[LvtLint0] >> 8) & 7) == (uint)ApicDeliveryMode.ExtInt);

    /// <summary>The vector the APIC would deliver, or -1 (QEMU apic_irq_pending returns it if &gt; PPR class).</summary>
    private int PendingVector()
    {
        if (!SoftwareEnabled)
            return -1;
        int vector = _highestIrr;
        return vector >= 0 && Deliverable(vector) ? vector : -1;
    }

    /// <summary>SDM 10.8.3.1: delivered only if its priority class is above the PPR's (any class when PPR is 0, as QEMU).</summary>
    private bool Deliverable(int vector)
    {
        int ppr = Ppr;
        return ppr == 0 || (vector & 0xf0) > (ppr & 0xf0);
    }

    /// <summary>Processor priority (SDM 10.8.3.1): TPR if its class is at least the highest in-service class, else that class.</summary>
    public int Ppr
    {
        get
        {
            int isrv = _highestIsr;
            int isrClass = isrv < 0 ? 0 : isrv >> 4;
            return (_tpr >> 4) >= isrClass ? _tpr : isrClass << 4;
        }
    }

    /// <summary>Task priority (also CR8 = TPR[7:4] in 64-bit mode).</summary>
    public byte Tpr
    {
        get => _tpr;
        set
        {
            _tpr = value;
            Signal();
        }
    }

    // ---- Inputs ---------------------------------------------------------------------------------------------

    /// <summary>LINT0 (<see cref="Lint0"/>) or LINT1 (<see cref="Lint1"/>) changed level.</summary>
    public void SetIrq(int number, bool level)
    {
        if (number == Lint0)
        {
            bool rising = level && !_lint0Level;
            _lint0Level = level;
            if (!HardwareEnabled)
            {
                if (level)
                    Signal();
                return;
            }
            uint lvt = _lvt[LvtLint0];
            if (rising)
            {
                LocalDeliver(LvtLint0);
            }
            else if (!level && ((lvt >> 8) & 7) == (uint)ApicDeliveryMode.Fixed && (lvt & LvtLevelTrigger) != 0)
            {
                ClearBit(_irr, (int)(lvt & 0xff)); // QEMU apic_deliver_pic_intr: a level LINT0 withdraws its request
                _highestIrr = HighestBit(_irr);
            }
        }
        else if (number == Lint1)
        {
            bool rising = level && !_lint1Level;
            _lint1Level = level;
            if (!rising)
                return;
            if (!HardwareEnabled)
            {
                _nmiPending = true; // LINT1 is the NMI pin without an APIC
                Signal();
                return;
            }
            LocalDeliver(LvtLint1);
        }
    }

    /// <summary>Bus side: is this APIC a destination of <paramref name="destination"/> (SDM 10.6.2)?</summary>
    internal bool MatchesDestination(byte destination, bool logical)
    {
        if (!logical)
            return destination == 0xff || destination == _id;
        if (_destinationFormat == 0xf)
            return (destination & _logicalDestination) != 0; // flat model
        if (_destinationFormat == 0x0) // cluster model: cluster in bits 7..4, member bitmap in 3..0
            return (destination & 0xf0) == (_logicalDestination & 0xf0) && (destination & _logicalDestination & 0x0f) != 0;
        return false;
    }

    /// <summary>Bus side: an interrupt message for this APIC.</summary>
    internal void Accept(ApicDeliveryMode mode, int vector, bool levelTriggered)
    {
        if (!HardwareEnabled)
            return;
        switch (mode)
        {
            case ApicDeliveryMode.Fixed:
            case ApicDeliveryMode.LowestPriority:
                SetIrr(vector, levelTriggered);
                break;
            case ApicDeliveryMode.Nmi:
                _nmiPending = true;
                Signal();
                break;
            case ApicDeliveryMode.Init:
                _initPending = true;
                Signal();
                break;
            case ApicDeliveryMode.StartUp:
                _startupVector = vector & 0xff;
                Signal();
                break;
            case ApicDeliveryMode.ExtInt:
                _extIntPending = true;
                Signal();
                break;
            default:
                break; // SMI: no SMM
        }
    }

    // ---- Timer ----------------------------------------------------------------------------------------------

    /// <summary>Delivers the timer interrupt if it is due.</summary>
    public void Tick()
    {
        if (_timerNext == ulong.MaxValue)
            return;
        ulong now = BusNow;
        if (now < _timerNext)
            return;
        if ((_lvt[LvtTimer] & LvtTimerPeriodic) != 0)
        {
            ulong period = ((ulong)_initialCount + 1) << _countShift;
            CoalescedTimerInterrupts += (now - _timerNext) / period;
        }
        LocalDeliver(LvtTimer);
        UpdateTimer(now);
    }

    /// <summary>Current count register (QEMU apic_get_current_count).</summary>
    public uint CurrentCount
    {
        get
        {
            ulong d = (BusNow - _initialCountLoadTime) >> _countShift;
            if ((_lvt[LvtTimer] & LvtTimerPeriodic) != 0)
                return (uint)(_initialCount - d % ((ulong)_initialCount + 1));
            return d >= _initialCount ? 0 : (uint)(_initialCount - d);
        }
    }

    /// <summary>QEMU apic_next_timer: the next expiry after <paramref name="now"/>, in bus ticks.</summary>
    private void UpdateTimer(ulong now)
    {
        _timerNext = ulong.MaxValue;
        if ((_lvt[LvtTimer] & LvtMasked) != 0)
            return;
        ulong d = (now - _initialCountLoadTime) >> _countShift;
        ulong period = (ulong)_initialCount + 1;
        if ((_lvt[LvtTimer] & LvtTimerPeriodic) != 0)
        {
            if (_initialCount == 0)
                return;
            d = (d / period + 1) * period;
        }
        else
        {
            if (d >= _initialCount)
                return;
            d = period;
        }
        _timerNext = _initialCountLoadTime + (d << _countShift);
    }

    // ---- Registers ------------------------------------------------------------------------------------------

    public ulong Read(ulong offset, int size)
    {
        if (size == 8)
            return ReadRegister(offset) | ((ulong)ReadRegister(offset + 4) << 32);
        return size == 4 ? ReadRegister(offset) : 0;
    }

    public void Write(ulong offset, int size, ulong value)
    {
        if (size == 8)
        {
            WriteRegister(offset, (uint)value);
            WriteRegister(offset + 4, (uint)(value >> 32));
        }
        else if (size == 4)
        {
            WriteRegister(offset, (uint)value);
        }
    }

    private uint ReadRegister(ulong offset)
    {
        if (!HardwareEnabled || offset >= WindowSize)
            return 0;
        int index = (int)(offset >> 4) & 0xff;
        switch (index)
        {
            case 0x02: return (uint)_id << 24;
            case 0x03: return VersionRegister;
            case 0x08: return _tpr;
            case 0x09: return 0; // APR: no arbitration (QEMU)
            case 0x0a: return (uint)Ppr;
            case 0x0b: return 0; // EOI is write-only
            case 0x0d: return (uint)_logicalDestination << 24;
            case 0x0e: return ((uint)_destinationFormat << 28) | 0x0fff_ffff;
            case 0x0f: return _spuriousVector;
            case >= 0x10 and <= 0x17: return _isr[index & 7];
            case >= 0x18 and <= 0x1f: return _tmr[index & 7];
            case >= 0x20 and <= 0x27: return _irr[index & 7];
            case 0x28: return _esr;
            case 0x30: return _icrLow;
            case 0x31: return _icrHigh;
            case >= 0x32 and <= 0x37: return _lvt[index - 0x32];
            case 0x38: return _initialCount;
            case 0x39: return CurrentCount;
            case 0x3e: return _divideConfiguration;
            default:
                LogError(EsrIllegalRegister);
                return 0;
        }
    }

    private void WriteRegister(ulong offset, uint value)
    {
        if (!HardwareEnabled || offset >= WindowSize)
            return;
        int index = (int)(offset >> 4) & 0xff;
        switch (index)
        {
            case 0x00:
                break; // QEMU sends an MSI here; ignored
            case 0x02:
                _id = (byte)(value >> 24);
                break;
            case 0x08:
                Tpr = (byte)value;
                break;
            case 0x03:
            case 0x09:
            case 0x0a:
            case >= 0x10 and <= 0x27:
            case 0x39:
                break; // read-only
            case 0x0b:
                EndOfInterrupt();
                break;
            case 0x0d:
                _logicalDestination = (byte)(value >> 24);
                break;
            case 0x0e:
                _destinationFormat = (byte)(value >> 28);
                break;
            case 0x0f:
                _spuriousVector = value & 0x1ff; // vector and APIC enable (QEMU keeps bits 8..0)
                Signal();
                break;
            case 0x28:
                // SDM 10.5.3: a write loads the errors detected since the previous write.
                _esr = _esrPending;
                _esrPending = 0;
                break;
            case 0x30:
                _icrLow = value & ~(1u << 12); // delivery status reads idle: IPIs are delivered at once
                SendIpi();
                break;
            case 0x31:
                _icrHigh = value;
                break;
            case >= 0x32 and <= 0x37:
                int n = index - 0x32;
                _lvt[n] = value;
                if (n == LvtTimer)
                    UpdateTimer(BusNow);
                else if (n == LvtLint0)
                    Signal();
                break;
            case 0x38:
                _initialCount = value;
                _initialCountLoadTime = BusNow;
                UpdateTimer(_initialCountLoadTime);
                break;
            case 0x3e:
                // SDM figure 10-10: bits 0, 1, 3; value 0b111 divides by 1, otherwise by 2^(v+1).
                _divideConfiguration = value & 0xb;
                uint v = (_divideConfiguration & 3) | ((_divideConfiguration >> 1) & 4);
                _countShift = (int)((v + 1) & 7);
                break;
            default:
                LogError(EsrIllegalRegister);
                break;
        }
    }

    private void EndOfInterrupt()
    {
        int vector = _highestIsr;
        if (vector < 0)
            return;
        ClearBit(_isr, vector);
        _highestIsr = HighestBit(_isr);
        // SDM 10.8.5: the EOI of a level-triggered interrupt is broadcast to the I/O APICs (no directed-EOI support).
        if (GetBit(_tmr, vector))
            _bus.BroadcastEoi(vector);
        Signal();
    }

    /// <summary>ICR write (SDM 10.6.1; QEMU apic_deliver).</summary>
    private void SendIpi()
    {
        var mode = (ApicDeliveryMode)((_icrLow >> 8) & 7);
        byte vector = (byte)_icrLow;
        bool logical = ((_icrLow >> 11) & 1) != 0;
        bool levelAssert = ((_icrLow >> 14) & 1) != 0;
        bool levelTrigger = ((_icrLow >> 15) & 1) != 0;
        int shorthand = (int)((_icrLow >> 18) & 3);
        if (mode == ApicDeliveryMode.Init && levelTrigger && !levelAssert)
            return; // INIT level de-assert: only resynchronises arbitration IDs
        if (mode == ApicDeliveryMode.ExtInt)
            return; // not a valid IPI
        switch (shorthand)
        {
            case 0:
                _bus.Deliver((byte)(_icrHigh >> 24), logical, mode, vector, levelTrigger);
                break;
            case 1: // self
                Accept(mode, vector, levelTrigger);
                break;
            default: // 2: all including self, 3: all excluding self
                foreach (var apic in _bus.LocalApics)
                    if (shorthand == 2 || !ReferenceEquals(apic, this))
                        apic.Accept(mode == ApicDeliveryMode.LowestPriority ? ApicDeliveryMode.Fixed : mode, vector, levelTrigger);
                break;
        }
    }

    /// <summary>Delivers the local interrupt of an LVT entry (QEMU apic_local_deliver).</summary>
    private void LocalDeliver(int lvtIndex)
    {
        uint lvt = _lvt[lvtIndex];
        if ((lvt & LvtMasked) != 0)
            return;
        switch ((ApicDeliveryMode)((lvt >> 8) & 7))
        {
            case ApicDeliveryMode.Nmi:
                _nmiPending = true;
                Signal();
                break;
            case ApicDeliveryMode.ExtInt:
                Signal();
                break;
            case ApicDeliveryMode.Fixed:
                bool level = lvtIndex is LvtLint0 or LvtLint1 && (lvt & LvtLevelTrigger) != 0;
                SetIrr((int)(lvt & 0xff), level);
                break;
        }
    }

    private void LogError(uint bit)
    {
        bool wasClear = (_esrPending & bit) == 0;
        _esrPending |= bit;
        if (wasClear)
            LocalDeliver(LvtError);
    }

    private void SetIrr(int vector, bool levelTriggered)
    {
        SetBit(_irr, vector);
        _highestIrr = Math.Max(_highestIrr, vector);
        if (levelTriggered)
            SetBit(_tmr, vector);
        else
            ClearBit(_tmr, vector);
        Signal();
    }

    private void Signal() => InterruptPending?.Invoke();

    private static int HighestBit(uint[] bits)
    {
        for (int i = 7; i >= 0; i--)
            if (bits[i] != 0)
                return i * 32 + 31 - BitOperations.LeadingZeroCount(bits[i]);
        return -1;
    }

    private static bool GetBit(uint[] bits, int n) => (bits[n >> 5] & (1u << (n & 31))) != 0;

    private static void SetBit(uint[] bits, int n) => bits[n >> 5] |= 1u << (n & 31);

    private static void ClearBit(uint[] bits, int n) => bits[n >> 5] &= ~(1u << (n & 31));

    /// <summary>IRR, ISR and TMR bits for tests and diagnostics.</summary>
    public bool IsRequested(int vector) => GetBit(_irr, vector & 0xff);

    public bool IsInService(int vector) => GetBit(_isr, vector & 0xff);

    public bool IsLevelTriggered(int vector) => GetBit(_tmr, vector & 0xff);
}
