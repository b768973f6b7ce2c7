using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

public class PlicTests
{
    private const int Meip = 11, Seip = 9;

    private readonly TestHartPins _hart0 = new();
    private readonly TestHartPins _hart1 = new();
    private readonly Plic _plic;

    public PlicTests()
    {
        _plic = new Plic([_hart0, _hart1]);
    }

    private static ulong Priority(int source) => 4UL * (ulong)source;

    private static ulong Enable(int context, int word = 0) => 0x2000 + 0x80UL * (ulong)context + 4UL * (ulong)word;

    private static ulong Threshold(int context) => 0x200000 + 0x1000UL * (ulong)context;

    private static ulong Claim(int context) => Threshold(context) + 4;

    private uint R(ulong offset) => (uint)_plic.Read(offset, 4);

    private void W(ulong offset, uint value) => _plic.Write(offset, 4, value);

    private void EnableSource(int context, int source, uint priority = 1)
    {
        W(Priority(source), priority);
        W(Enable(context, source / 32), R(Enable(context, source / 32)) | (1u << (source % 32)));
    }

    [Fact]
    public void WindowSizeFollowsContextCount()
    {
        Assert.Equal(4, _plic.ContextCount);
        Assert.Equal(0x204000UL, _plic.Size);
        Assert.Equal(0x202000UL, Plic.WindowSize(2));
        Assert.Equal(0x600000UL, Plic.WindowSize(1024)); // QEMU virt's map: VIRT_CPUS_MAX 512 harts x 2
    }

    [Fact]
    public void PriorityKeepsThreeBits()
    {
        W(Priority(5), 0xFFFF_FFFF);
        Assert.Equal(7u, R(Priority(5)));
    }

    [Fact]
    public void SourceZeroHasNoPriorityAndNoEnable()
    {
        W(Priority(0), 7);
        Assert.Equal(0u, R(Priority(0)));
        W(Enable(0), 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_FFFEu, R(Enable(0)));
    }

    [Fact]
    public void EnableBitsAboveLastSourceAreHardwiredZero()
    {
        W(Enable(1, 2), 0xFFFF_FFFF); // sources 64..95
        Assert.Equal(0xFFFF_FFFFu, R(Enable(1, 2)));
        W(Enable(1, 3), 0xFFFF_FFFF); // sources 96..127 do not exist
        Assert.Equal(0u, R(Enable(1, 3)));
        W(Priority(96), 7);
        Assert.Equal(0u, R(Priority(96)));
    }

    [Fact]
    public void PendingEnabledSourceRaisesSeipForSupervisorContext()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        Assert.True(_hart0[Seip]);
        Assert.False(_hart0[Meip]); // context 0 (M-mode) did not enable it
        Assert.Equal(1u << 10, R(0x1000));
    }

    [Fact]
    public void MachineContextDrivesMeip()
    {
        EnableSource(0, 3);
        _plic.SetIrq(3, true);
        Assert.True(_hart0[Meip]);
        Assert.False(_hart0[Seip]);
    }

    [Fact]
    public void SecondHartContextsMapToItsPins()
    {
        EnableSource(2, 7);
        EnableSource(3, 8);
        _plic.SetIrq(7, true);
        Assert.True(_hart1[Meip]);
        Assert.False(_hart1[Seip]);
        _plic.SetIrq(8, true);
        Assert.True(_hart1[Seip]);
        Assert.Equal(0UL, _hart0.Mip);
    }

    [Fact]
    public void ClaimReturnsSourceAndClearsPending()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        Assert.Equal(10u, R(Claim(1)));
        Assert.False(_plic.IsPending(10));
        Assert.False(_hart0[Seip]);
        Assert.Equal(0u, R(Claim(1))); // nothing left
    }

    [Fact]
    public void CompleteRependsWhileLineStillHigh()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        Assert.Equal(10u, R(Claim(1)));
        W(Claim(1), 10);
        Assert.True(_plic.IsPending(10));
        Assert.True(_hart0[Seip]);
    }

    [Fact]
    public void CompleteAfterLineDroppedDoesNotRepend()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        R(Claim(1));
        _plic.SetIrq(10, false);
        W(Claim(1), 10);
        Assert.False(_plic.IsPending(10));
        Assert.False(_hart0[Seip]);
    }

    [Fact]
    public void ClaimedSourceStaysQuietUntilComplete()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        R(Claim(1));
        _plic.SetIrq(10, false);
        _plic.SetIrq(10, true); // new edge while in service: the gateway holds it
        Assert.False(_plic.IsPending(10));
        Assert.False(_hart0[Seip]);
        W(Claim(1), 10);
        Assert.True(_plic.IsPending(10));
    }

    [Fact]
    public void LineDroppedBeforeClaimClearsPending()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        _plic.SetIrq(10, false);
        Assert.False(_plic.IsPending(10));
        Assert.False(_hart0[Seip]);
        Assert.Equal(0u, R(Claim(1)));
    }

    [Fact]
    public void CompleteOfSourceNotEnabledForContextIsIgnored()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        R(Claim(1));
        W(Claim(0), 10); // context 0 has not enabled source 10
        Assert.False(_plic.IsPending(10));
        W(Claim(1), 10);
        Assert.True(_plic.IsPending(10));
    }

    [Fact]
    public void ThresholdMasksPrioritiesAtOrBelowIt()
    {
        EnableSource(1, 10, priority: 3);
        W(Threshold(1), 3);
        _plic.SetIrq(10, true);
        Assert.False(_hart0[Seip]);
        Assert.Equal(0u, R(Claim(1)));
        Assert.True(_plic.IsPending(10));
        W(Threshold(1), 2);
        Assert.True(_hart0[Seip]);
        Assert.Equal(10u, R(Claim(1)));
    }

    [Fact]
    public void ThresholdKeepsThreeBits()
    {
        W(Threshold(0), 0xFF);
        Assert.Equal(7u, R(Threshold(0)));
    }

    [Fact]
    public void PriorityZeroNeverInterrupts()
    {
        EnableSource(1, 10, priority: 0);
        _plic.SetIrq(10, true);
        Assert.False(_hart0[Seip]);
        Assert.Equal(0u, R(Claim(1)));
    }

    [Fact]
    public void HighestPriorityWinsThenLowestId()
    {
        EnableSource(1, 40, priority: 2);
        EnableSource(1, 33, priority: 5);
        EnableSource(1, 70, priority: 5);
        _plic.SetIrq(40, true);
        _plic.SetIrq(70, true);
        _plic.SetIrq(33, true);
        Assert.Equal(33u, R(Claim(1)));
        Assert.Equal(70u, R(Claim(1)));
        Assert.Equal(40u, R(Claim(1)));
        Assert.Equal(0u, R(Claim(1)));
    }

    [Fact]
    public void PendingRegisterIgnoresWrites()
    {
        W(0x1000, 0xFFFF_FFFF);
        Assert.Equal(0u, R(0x1000));
    }

    [Fact]
    public void LastSourceWorks()
    {
        EnableSource(1, 95);
        _plic.SetIrq(95, true);
        Assert.Equal(1u << 31, R(0x1008));
        Assert.Equal(95u, R(Claim(1)));
    }

    [Fact]
    public void OutOfRangeSourcesAreIgnored()
    {
        _plic.SetIrq(0, true);
        _plic.SetIrq(96, true);
        _plic.SetIrq(-1, true);
        Assert.Equal(0u, R(0x1000) | R(0x1004) | R(0x1008));
    }

    [Fact]
    public void ByteAccessToClaimHasNoSideEffect()
    {
        EnableSource(1, 10);
        _plic.SetIrq(10, true);
        Assert.Equal(0UL, _plic.Read(Claim(1), 1));
        Assert.True(_plic.IsPending(10));
    }

    [Fact]
    public void ContextsBeyondLastReadZero()
    {
        Assert.Equal(0u, R(Threshold(4)));
        Assert.Equal(0u, R(Claim(100)));
        W(Enable(4), 0xFFFF_FFFF);
        Assert.Equal(0u, R(Enable(4)));
    }
}
