using Wemu.Devices.X86;
using Wemu.Tests.Devices;
using Xunit;

namespace Wemu.Tests.Devices.X86;

/// <summary>Local APIC (xAPIC) against the Intel SDM vol. 3 chapter 10 and QEMU hw/intc/apic.c + apic_common.c.</summary>
public class LocalApicTests
{
    private const ulong ClockHz = 10_000_000; // 1 tick = 100 ns = 100 APIC bus ticks at QEMU's 1 GHz

    // Register offsets (SDM table 10-1).
    private const ulong Id = 0x20, Version = 0x30, Tpr = 0x80, Ppr = 0xa0, Eoi = 0xb0, Ldr = 0xd0, Dfr = 0xe0,
        Svr = 0xf0, Isr = 0x100, Tmr = 0x180, Irr = 0x200, Esr = 0x280, IcrLow = 0x300, IcrHigh = 0x310,
        LvtTimer = 0x320, LvtThermal = 0x330, LvtPerf = 0x340, LvtLint0 = 0x350, LvtLint1 = 0x360, LvtError = 0x370,
        InitialCount = 0x380, CurrentCount = 0x390, DivideConfig = 0x3e0;

    private readonly ManualClock _time = new(ClockHz);
    private readonly ApicBus _bus = new();
    private readonly LocalApic _apic;

    public LocalApicTests()
    {
        _apic = new LocalApic(_time.Clock, _bus, id: 0, isBootstrapProcessor: true);
    }

    private uint R(ulong offset) => (uint)_apic.Read(offset, 4);

    private void W(ulong offset, uint value) => _apic.Write(offset, 4, value);

    private void Enable() => W(Svr, 0x1ff); // software enable, spurious vector 0xff

    private void SelfIpi(int vector) => W(IcrLow, 0x40000u | (uint)vector); // shorthand "self", fixed, edge

    [Fact]
    public void ResetStateAsQemu()
    {
        Assert.Equal(0x0005_0014u, R(Version)); // version 0x14, max LVT 5
        Assert.Equal(0u, R(Id));
        Assert.Equal(0xffu, R(Svr));
        Assert.Equal(0xffff_ffffu, R(Dfr)); // flat model
        Assert.Equal(0x0001_0000u, R(LvtTimer));
        Assert.Equal(0x0001_0000u, R(LvtThermal));
        Assert.Equal(0x0001_0000u, R(LvtPerf));
        Assert.Equal(0x0000_0700u, R(LvtLint0)); // BSP: ExtINT, unmasked (apic_reset_common)
        Assert.Equal(0x0001_0000u, R(LvtLint1));
        Assert.Equal(0x0001_0000u, R(LvtError));
        Assert.Equal(0xfee0_0900ul, _apic.ApicBaseMsr); // base, BSP, enable (SDM 10.4.4)
        var ap = new LocalApic(_time.Clock, _bus, id: 1, isBootstrapProcessor: false);
        Assert.Equal(0xfee0_0800ul, ap.ApicBaseMsr);
        Assert.Equal(0x0100_0000u, (uint)ap.Read(Id, 4));
        Assert.Equal(0x0001_0000u, (uint)ap.Read(LvtLint0, 4));
    }

    [Fact]
    public void SoftwareDisabledApicDeliversNothing()
    {
        SelfIpi(0x40);
        Assert.False(_apic.HasMaskableInterrupt);
        Enable();
        Assert.True(_apic.HasMaskableInterrupt);
    }

    [Fact]
    public void FixedInterruptMovesFromIrrToIsrAndEoiClearsIt()
    {
        Enable();
        SelfIpi(0x41);
        Assert.Equal(1u << 1, R(Irr + 0x20)); // vector 0x41: IRR word 2, bit 1
        Assert.True(_apic.HasMaskableInterrupt);
        Assert.Equal(0x41, _apic.AcknowledgeMaskableInterrupt());
        Assert.Equal(0u, R(Irr + 0x20));
        Assert.Equal(1u << 1, R(Isr + 0x20));
        Assert.Equal(0x40u, R(Ppr)); // PPR = class of the in-service vector
        Assert.False(_apic.HasMaskableInterrupt);
        W(Eoi, 0);
        Assert.Equal(0u, R(Isr + 0x20));
        Assert.Equal(0u, R(Ppr));
    }

    [Fact]
    public void TaskPriorityBlocksLowerOrEqualClasses()
    {
        // SDM 10.8.3.1: deliverable only if the vector's class (bits 7..4) is above PPR's class.
        Enable();
        W(Tpr, 0x50);
        SelfIpi(0x45);
        SelfIpi(0x5f);
        Assert.False(_apic.HasMaskableInterrupt);
        Assert.Equal(0x50u, R(Ppr));
        SelfIpi(0x61);
        Assert.True(_apic.HasMaskableInterrupt);
        Assert.Equal(0x61, _apic.AcknowledgeMaskableInterrupt());
        W(Eoi, 0);
        W(Tpr, 0);
        Assert.Equal(0x5f, _apic.AcknowledgeMaskableInterrupt()); // highest vector first
    }

    [Fact]
    public void HigherClassPreemptsLowerInService()
    {
        Enable();
        SelfIpi(0x30);
        Assert.Equal(0x30, _apic.AcknowledgeMaskableInterrupt());
        SelfIpi(0x35); // same class: waits
        Assert.False(_apic.HasMaskableInterrupt);
        SelfIpi(0x80);
        Assert.Equal(0x80, _apic.AcknowledgeMaskableInterrupt());
        W(Eoi, 0); // EOI retires the highest in-service vector (0x80)
        Assert.False(_apic.IsInService(0x80));
        Assert.True(_apic.IsInService(0x30));
        W(Eoi, 0);
        Assert.Equal(0x35, _apic.AcknowledgeMaskableInterrupt());
    }

    [Fact]
    public void AcknowledgeWithNothingDeliverableReturnsTheSpuriousVectorWithoutIsr()
    {
        W(Svr, 0x1e7);
        Assert.Equal(0xe7, _apic.AcknowledgeMaskableInterrupt());
        Assert.Equal(0u, R(Isr + 0x70));
    }

    [Fact]
    public void OneShotTimerFiresAfterInitialCountTimesDivider()
    {
        // Linux lapic_next_event style: divide by 16 (DCR = 3), one-shot, vector 0xec.
        Enable();
        W(DivideConfig, 0x3);
        W(LvtTimer, 0xec);
        W(InitialCount, 1000);
        Assert.Equal(1000u, R(CurrentCount));
        _time.Advance(80); // 8000 ns = 500 counts at 1 GHz / 16
        Assert.Equal(500u, R(CurrentCount));
        // QEMU apic_next_timer: expiry at (count + 1) << shift bus ticks = 16016 ns = 160.16 ticks.
        Assert.Equal(161ul, _apic.NextDeadline);
        _time.Advance(_apic.NextDeadline - _time.Clock.Now - 1);
        _apic.Tick();
        Assert.False(_apic.IsRequested(0xec));
        _time.Advance(1);
        _apic.Tick();
        Assert.True(_apic.IsRequested(0xec));
        Assert.Equal(0u, R(CurrentCount));
        Assert.Equal(ulong.MaxValue, _apic.NextDeadline); // one-shot: disarmed
    }

    [Fact]
    public void PeriodicTimerReloadsAndCoalescesMissedPeriods()
    {
        Enable();
        W(DivideConfig, 0xb); // divide by 1
        W(LvtTimer, 0x20000 | 0xef); // periodic
        W(InitialCount, 9_999); // period (count + 1) = 10000 ns = 100 ticks
        int fired = 0;
        for (int i = 0; i < 10; i++)
        {
            _time.Advance(_apic.NextDeadline - _time.Clock.Now);
            _apic.Tick();
            Assert.True(_apic.IsRequested(0xef));
            Assert.Equal(0xef, _apic.AcknowledgeMaskableInterrupt());
            W(Eoi, 0);
            fired++;
        }
        Assert.Equal(1000ul, _time.Clock.Now);
        _time.Advance(550);
        _apic.Tick();
        Assert.Equal(4ul, _apic.CoalescedTimerInterrupts); // periods ending at 1100..1500: 5, one delivered
        Assert.Equal(1600ul, _apic.NextDeadline);
    }

    [Fact]
    public void MaskedTimerHasNoDeadlineButCounts()
    {
        Enable();
        W(DivideConfig, 0xb);
        W(LvtTimer, 0x10000 | 0xec);
        W(InitialCount, 100_000);
        Assert.Equal(ulong.MaxValue, _apic.NextDeadline);
        _time.Advance(10);
        Assert.Equal(99_000u, R(CurrentCount));
    }

    [Theory]
    [InlineData(0x0u, 2)]
    [InlineData(0x1u, 4)]
    [InlineData(0x2u, 8)]
    [InlineData(0x3u, 16)]
    [InlineData(0x8u, 32)]
    [InlineData(0x9u, 64)]
    [InlineData(0xau, 128)]
    [InlineData(0xbu, 1)]
    public void DivideConfigurationEncodings(uint dcr, int divisor)
    {
        // SDM figure 10-10.
        Enable();
        W(DivideConfig, dcr);
        W(LvtTimer, 0x10000);
        W(InitialCount, 1_000_000);
        _time.Advance(128); // 12800 ns
        Assert.Equal((uint)(1_000_000 - 12_800 / divisor), R(CurrentCount));
    }

    [Fact]
    public void IllegalRegisterAccessIsReportedInEsrAfterAWrite()
    {
        // SDM 10.5.3: write ESR, then read it.
        W(Esr, 0);
        Assert.Equal(0u, R(Esr));
        R(0x040);
        Assert.Equal(0u, R(Esr)); // not yet visible
        W(Esr, 0);
        Assert.Equal(0x80u, R(Esr));
        W(Esr, 0);
        Assert.Equal(0u, R(Esr));
    }

    [Fact]
    public void ErrorLvtDeliversOnNewError()
    {
        Enable();
        W(LvtError, 0xfe);
        R(0x040);
        Assert.True(_apic.IsRequested(0xfe));
    }

    [Fact]
    public void Lint1NmiSetsHasNmi()
    {
        // Linux: LVT1 = APIC_DM_NMI on the BSP.
        W(LvtLint1, 0x400);
        _apic.SetIrq(LocalApic.Lint1, true);
        Assert.True(_apic.HasNmi);
        _apic.TakeNmi();
        Assert.False(_apic.HasNmi);
        _apic.SetIrq(LocalApic.Lint1, true); // no new edge
        Assert.False(_apic.HasNmi);
    }

    [Fact]
    public void NarrowAccessesReadZeroAndAreIgnored()
    {
        Enable();
        Assert.Equal(0ul, _apic.Read(Version, 1));
        Assert.Equal(0ul, _apic.Read(Version, 2));
        _apic.Write(Tpr, 1, 0x70);
        Assert.Equal(0u, R(Tpr));
        Assert.Equal(0x0005_0014ul | (0x0005_0014ul << 32), _apic.Read(Version, 8)); // two 32-bit reads of one slot
    }

    [Fact]
    public void LogicalAndPhysicalDestinations()
    {
        var ap = new LocalApic(_time.Clock, _bus, id: 1, isBootstrapProcessor: false);
        Enable();
        ap.Write(Svr, 4, 0x1ff);
        // Linux flat logical mode: LDR = 1 << (24 + cpu), DFR = 0xffffffff.
        W(Ldr, 0x0100_0000);
        ap.Write(Ldr, 4, 0x0200_0000);
        W(IcrHigh, 0x0200_0000);
        W(IcrLow, 0x800 | 0x51); // logical, fixed
        Assert.True(ap.IsRequested(0x51));
        Assert.False(_apic.IsRequested(0x51));
        W(IcrHigh, 0x0100_0000);
        W(IcrLow, 0x52); // physical ID 1
        Assert.True(ap.IsRequested(0x52));
        W(IcrLow, 0xc0000 | 0x53); // all excluding self
        Assert.True(ap.IsRequested(0x53));
        Assert.False(_apic.IsRequested(0x53));
        W(IcrLow, 0x80000 | 0x54); // all including self
        Assert.True(ap.IsRequested(0x54) && _apic.IsRequested(0x54));
        Assert.Equal(0u, R(IcrLow) & 0x1000); // delivery status idle
    }

    [Fact]
    public void InitAndStartupIpisReachTheTargetApic()
    {
        // Linux wakeup_secondary_cpu_via_init: INIT assert (0xc500), INIT de-assert (0x8500), then STARTUP twice.
        var ap = new LocalApic(_time.Clock, _bus, id: 1, isBootstrapProcessor: false);
        W(IcrHigh, 0x0100_0000);
        W(IcrLow, 0xc500);
        Assert.True(ap.InitPending);
        ap.AcknowledgeInit();
        W(IcrLow, 0x8500);
        Assert.False(ap.InitPending);
        W(IcrLow, 0x0600 | 0x9a);
        Assert.Equal(0x9a, ap.StartupVector);
        Assert.False(_apic.InitPending);
    }

    [Fact]
    public void NmiIpi()
    {
        W(IcrLow, 0x40000 | 0x400);
        Assert.True(_apic.HasNmi);
    }

    [Fact]
    public void GloballyDisabledApicReadsZeroAndDropsMessages()
    {
        Enable();
        _apic.WriteApicBaseMsr(0xfee0_0000); // clear the enable bit
        Assert.Equal(0xfee0_0100ul, _apic.ApicBaseMsr); // BSP flag is kept (read-only)
        Assert.Equal(0u, R(Version));
        _bus.Deliver(0, false, ApicDeliveryMode.Fixed, 0x40, false);
        Assert.False(_apic.IsRequested(0x40));
        Assert.False(_apic.HasMaskableInterrupt);
        _apic.WriteApicBaseMsr(0xfee0_0800); // QEMU apic_set_base: cannot be re-enabled until reset
        Assert.False(_apic.HardwareEnabled);
    }

    [Fact]
    public void LevelTriggeredLint0FixedModeSetsTmr()
    {
        Enable();
        W(LvtLint0, 0x8000 | 0x60); // fixed, level
        _apic.SetIrq(LocalApic.Lint0, true);
        Assert.True(_apic.IsRequested(0x60));
        Assert.True(_apic.IsLevelTriggered(0x60));
        Assert.Equal(1u, R(Tmr + 0x30));
        _apic.SetIrq(LocalApic.Lint0, false); // QEMU apic_deliver_pic_intr: request withdrawn
        Assert.False(_apic.IsRequested(0x60));
    }

    [Fact]
    public void LinuxSyncArbIdsInitDeassertDoesNotResetAnyone()
    {
        // sync_Arb_IDs: APIC_DEST_ALLINC | APIC_INT_LEVELTRIG | APIC_DM_INIT with the level bit clear (SDM 10.6.1:
        // INIT level de-assert only resynchronises arbitration IDs).
        W(IcrLow, 0x80000 | 0x8000 | 0x500);
        Assert.False(_apic.InitPending);
    }

    [Fact]
    public void InterruptPendingCallbackRunsWhenSomethingBecomesPending()
    {
        int calls = 0;
        _apic.InterruptPending = () => calls++;
        Enable();
        int before = calls;
        SelfIpi(0x70);
        Assert.True(calls > before);
    }

    [Fact]
    public void TprFromCr8()
    {
        // MOV CR8 writes TPR[7:4] (SDM 10.8.6.1): the CPU sets Tpr = value << 4.
        Enable();
        _apic.Tpr = 0x90;
        Assert.Equal(0x90u, R(Tpr));
        SelfIpi(0x95);
        Assert.False(_apic.HasMaskableInterrupt);
        _apic.Tpr = 0;
        Assert.True(_apic.HasMaskableInterrupt);
    }

    [Fact]
    public void DeliverabilityMatchesTheSdmRuleOverTheRegisterPage()
    {
        // Random self IPIs, acknowledges, EOIs and TPR writes; after each step HasMaskableInterrupt must equal the
        // SDM 10.8.3.1 rule evaluated on what the guest reads: highest IRR class > PPR class (or PPR = 0), where
        // PPR = TPR if TPR[7:4] >= ISRV[7:4] else ISRV[7:4] << 4.
        static int Highest(Func<int, uint> word)
        {
            for (int i = 7; i >= 0; i--)
                if (word(i) != 0)
                    return i * 32 + 31 - System.Numerics.BitOperations.LeadingZeroCount(word(i));
            return -1;
        }
        Enable();
        W(LvtLint0, 0x10700);
        var random = new Random(1234);
        for (int step = 0; step < 5000; step++)
        {
            switch (random.Next(4))
            {
                case 0: SelfIpi(random.Next(16, 256)); break;
                case 1: if (_apic.HasMaskableInterrupt) _apic.AcknowledgeMaskableInterrupt(); break;
                case 2: W(Eoi, 0); break;
                case 3: W(Tpr, (uint)random.Next(256)); break;
            }
            int irrv = Highest(i => R(Irr + (ulong)(0x10 * i)));
            int isrv = Highest(i => R(Isr + (ulong)(0x10 * i)));
            uint tpr = R(Tpr);
            uint isrClass = isrv < 0 ? 0u : (uint)isrv >> 4;
            uint ppr = (tpr >> 4) >= isrClass ? tpr : isrClass << 4;
            Assert.Equal(ppr, R(Ppr));
            bool expected = irrv >= 0 && (ppr == 0 || (irrv & 0xf0) > (ppr & 0xf0));
            Assert.Equal(expected, _apic.HasMaskableInterrupt);
        }
    }
}
