using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

public class AclintTests
{
    private const int Msip = 3, Mtip = 7;
    private const ulong Mtimecmp0 = 0x4000, Mtimecmp1 = 0x4008, Mtime = 0xBFF8;

    private readonly ManualClock _time = new();
    private readonly TestHartPins _hart0 = new();
    private readonly TestHartPins _hart1 = new();
    private readonly Aclint _clint;

    public AclintTests()
    {
        _clint = new Aclint(_time.Clock, [_hart0, _hart1]);
    }

    [Fact]
    public void MtimeFollowsClock()
    {
        _time.Advance(0x1_2345_6789);
        Assert.Equal(0x1_2345_6789UL, _clint.Read(Mtime, 8));
        Assert.Equal(0x2345_6789UL, _clint.Read(Mtime, 4));
        Assert.Equal(0x1UL, _clint.Read(Mtime + 4, 4));
        Assert.Equal(0x1_2345_6789UL, _clint.Mtime);
    }

    [Fact]
    public void MtimeWriteAdjustsOffset()
    {
        _time.Advance(100);
        _clint.Write(Mtime, 8, 5000);
        Assert.Equal(5000UL, _clint.Mtime);
        _time.Advance(10);
        Assert.Equal(5010UL, _clint.Read(Mtime, 8));
        _clint.Write(Mtime + 4, 4, 2);
        Assert.Equal(0x2_0000_0000UL + 5010, _clint.Mtime);
        _clint.Write(Mtime, 4, 7);
        Assert.Equal(0x2_0000_0007UL, _clint.Mtime);
    }

    [Fact]
    public void MtimecmpResetsToAllOnesWithMtipClear()
    {
        Assert.Equal(ulong.MaxValue, _clint.Read(Mtimecmp0, 8));
        _clint.Update();
        Assert.False(_hart0[Mtip]);
    }

    [Fact]
    public void MtimecmpAtOrBelowMtimeRaisesMtipAtOnce()
    {
        _time.Advance(1000);
        _clint.Write(Mtimecmp0, 8, 1000);
        Assert.True(_hart0[Mtip]);
        Assert.False(_hart1[Mtip]);
        _clint.Write(Mtimecmp0, 8, 1001);
        Assert.False(_hart0[Mtip]);
    }

    [Fact]
    public void UpdateRaisesMtipWhenClockReachesMtimecmp()
    {
        _clint.Write(Mtimecmp1, 8, 500);
        _time.Advance(499);
        _clint.Update();
        Assert.False(_hart1[Mtip]);
        _time.Advance(1);
        _clint.Update();
        Assert.True(_hart1[Mtip]);
        Assert.False(_hart0[Mtip]);
    }

    [Fact]
    public void MtimecmpHalvesAreWritableSeparately()
    {
        // Priv. spec 3.2.1 sequence for RV32: low = -1, high = new high, low = new low.
        _clint.Write(Mtimecmp0, 4, 0xFFFF_FFFF);
        _clint.Write(Mtimecmp0 + 4, 4, 0x1);
        _clint.Write(Mtimecmp0, 4, 0x2);
        Assert.Equal(0x1_0000_0002UL, _clint.Read(Mtimecmp0, 8));
        Assert.Equal(0x1UL, _clint.Read(Mtimecmp0 + 4, 4));
        Assert.Equal(0x2UL, _clint.Read(Mtimecmp0, 4));
    }

    [Fact]
    public void NextDeadlineIsMaxWithNoTimerArmed() => Assert.Equal(ulong.MaxValue, _clint.NextDeadline);

    [Fact]
    public void NextDeadlineIsEarliestFutureMtimecmp()
    {
        _time.Advance(100);
        _clint.Write(Mtimecmp0, 8, 50);  // already expired: not a deadline
        _clint.Write(Mtimecmp1, 8, 300);
        Assert.Equal(300UL, _clint.NextDeadline);
        _clint.Write(Mtimecmp0, 8, 200);
        Assert.Equal(200UL, _clint.NextDeadline);
    }

    [Fact]
    public void NextDeadlineIsInClockTicksWhenMtimeWasMoved()
    {
        _time.Advance(100);
        _clint.Mtime = 1_000_000;
        _clint.Write(Mtimecmp0, 8, 1_000_050);
        Assert.Equal(150UL, _clint.NextDeadline);
        _time.Clock.SkipTo(_clint.NextDeadline);
        _clint.Update();
        Assert.True(_hart0[Mtip]);
    }

    [Fact]
    public void MsipBitZeroDrivesMipMsip()
    {
        _clint.Write(0x4, 4, 0xFFFF_FFFF);
        Assert.Equal(1UL, _clint.Read(0x4, 4));
        Assert.True(_hart1[Msip]);
        Assert.False(_hart0[Msip]);
        _clint.Write(0x4, 4, 0x2);
        Assert.False(_hart1[Msip]);
    }

    [Fact]
    public void RegistersOfMissingHartsReadZero()
    {
        _clint.Write(0x8, 4, 1);
        Assert.Equal(0UL, _clint.Read(0x8, 4));
        _clint.Write(0x4010, 8, 5);
        Assert.Equal(0UL, _clint.Read(0x4010, 8));
        Assert.Equal(0UL, _clint.Read(0xC000, 4));
    }

    [Fact]
    public void MtimeReadDoesNotAllocate()
    {
        _clint.Read(Mtime, 8);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
            _clint.Read(Mtime, 8);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
