using System.Buffers.Binary;
using Wemu.Devices;
using Wemu.Devices.Virtio;
using Xunit;

namespace Wemu.Tests.Devices;

/// <summary>
/// virtio-mmio transport registers (spec 4.2.2) and the split virtqueue's checks of everything the driver
/// supplies (spec 2.7), driven through virtio-rng, the simplest device.
/// </summary>
public class VirtioMmioTransportTests
{
    private readonly VirtioTestDriver _d;

    public VirtioMmioTransportTests()
    {
        _d = new VirtioTestDriver(new VirtioRngDevice(span => span.Fill(0xAB), queueSize: 16));
    }

    private const ulong Buffer = VirtioTestDriver.DataBase;

    /// <summary>After a malformed request: NEEDS_RESET, a config change interrupt, nothing used.</summary>
    private void AssertDeviceNeedsReset()
    {
        Assert.True(_d.NeedsReset);
        Assert.Equal(2u, _d.R(VirtioTestDriver.InterruptStatus) & 2);
        Assert.True(_d.Irq);
        Assert.Equal(0, _d.UsedIndex);
    }

    [Fact]
    public void IdentificationRegisters()
    {
        Assert.Equal(0x74726976u, _d.R(0x000));
        Assert.Equal(2u, _d.R(0x004));
        Assert.Equal(4u, _d.R(0x008));
        Assert.Equal(0x554D4551u, _d.R(0x00C));
    }

    [Fact]
    public void EmptySlotReportsDeviceIdZero()
    {
        var empty = new VirtioTestDriver(null);
        Assert.Equal(0x74726976u, empty.R(0x000));
        Assert.Equal(2u, empty.R(0x004));
        Assert.Equal(0u, empty.R(0x008));
        Assert.Equal(0x554D4551u, empty.R(0x00C));
        empty.W(VirtioTestDriver.Status, 0xF);
        empty.W(VirtioTestDriver.QueueNotify, 0);
        Assert.Equal(0u, empty.R(VirtioTestDriver.Status));
        Assert.Equal(0u, empty.R(VirtioTestDriver.QueueNumMax));
        Assert.Equal(0u, empty.R(VirtioTestDriver.DeviceFeatures));
        Assert.Equal(0UL, empty.Transport.Read(0x100, 4));
    }

    [Fact]
    public void FeaturesOfferVersion1AndIndirectDescriptors()
    {
        ulong features = _d.ReadDeviceFeatures();
        Assert.NotEqual(0UL, features & VirtioFeatures.Version1);
        Assert.NotEqual(0UL, features & VirtioFeatures.RingIndirectDesc);
        Assert.Equal(0UL, features & VirtioFeatures.RingEventIdx); // not implemented, so not offered
        _d.W(VirtioTestDriver.DeviceFeaturesSel, 2);
        Assert.Equal(0u, _d.R(VirtioTestDriver.DeviceFeatures));
    }

    [Fact]
    public void FeaturesOkRefusedWithoutVersion1()
    {
        Assert.False(_d.Negotiate(VirtioFeatures.RingIndirectDesc));
    }

    [Fact]
    public void FeaturesOkRefusedForFeatureNotOffered()
    {
        Assert.False(_d.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx));
        Assert.True(_d.Negotiate(VirtioFeatures.Version1));
        Assert.Equal(VirtioFeatures.Version1, _d.Transport.NegotiatedFeatures);
    }

    [Fact]
    public void DriverFeaturesFrozenAfterFeaturesOk()
    {
        Assert.True(_d.Negotiate(VirtioFeatures.Version1));
        _d.W(VirtioTestDriver.DriverFeaturesSel, 0);
        _d.W(VirtioTestDriver.DriverFeatures, 0xFFFF_FFFF);
        Assert.Equal(VirtioFeatures.Version1, _d.Transport.NegotiatedFeatures);
    }

    [Fact]
    public void QueueNumMaxIsZeroForMissingQueue()
    {
        _d.W(VirtioTestDriver.QueueSel, 0);
        Assert.Equal(16u, _d.R(VirtioTestDriver.QueueNumMax));
        _d.W(VirtioTestDriver.QueueSel, 1);
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueNumMax));
        _d.W(VirtioTestDriver.QueueReady, 1);
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueReady));
    }

    [Fact]
    public void QueueReadyReadsBackAndAddressesToo()
    {
        _d.Negotiate();
        _d.SetupQueue(8);
        Assert.Equal(1u, _d.R(VirtioTestDriver.QueueReady));
        Assert.Equal((uint)_d.DescTable, _d.R(VirtioTestDriver.QueueDescLow));
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueDescHigh));
        Assert.Equal((uint)_d.UsedRing, _d.R(VirtioTestDriver.QueueDeviceLow));
    }

    [Fact]
    public void QueueNumAboveQueueNumMaxIsRefused()
    {
        _d.Negotiate();
        _d.SetupQueue(32);
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueReady));
        Assert.True(_d.NeedsReset);
    }

    [Fact]
    public void ZeroSizeQueueIsRefused()
    {
        _d.Negotiate();
        _d.SetupQueue(0);
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueReady));
        Assert.True(_d.NeedsReset);
    }

    [Fact]
    public void NonPowerOfTwoQueueSizeIsRefused()
    {
        _d.Negotiate();
        _d.SetupQueue(6);
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueReady));
        Assert.True(_d.NeedsReset);
    }

    [Theory]
    [InlineData(0x1000UL, 0UL, 0UL)]                 // descriptor table below RAM
    [InlineData(VirtioTestDriver.RamEnd - 0x80, 0UL, 0UL)]       // descriptor table crossing the end of RAM
    [InlineData(0UL, VirtioTestDriver.RamEnd - 8, 0UL)]          // driver area crossing the end of RAM
    [InlineData(0UL, 0UL, VirtioTestDriver.RamEnd)]             // device area just past RAM
    [InlineData(0UL, 0UL, 0xFFFF_FFFF_FFFF_FFF0UL)]             // device area at the top of the address space
    [InlineData(0x8000_1008UL, 0UL, 0UL)]            // descriptor table not 16-byte aligned
    [InlineData(0UL, 0UL, 0x8000_3002UL)]            // device area not 4-byte aligned
    public void QueueRingAddressesOutsideRamAreRefused(ulong desc, ulong avail, ulong used)
    {
        _d.Negotiate();
        _d.SetupQueue(16, desc == 0 ? null : desc, avail == 0 ? null : avail, used == 0 ? null : used);
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueReady));
        Assert.True(_d.NeedsReset);
    }

    [Fact]
    public void QueueRegistersFrozenWhileReady()
    {
        _d.Negotiate();
        _d.SetupQueue(8);
        _d.W(VirtioTestDriver.QueueNum, 4);
        _d.W(VirtioTestDriver.QueueDescLow, 0);
        Assert.Equal((uint)_d.DescTable, _d.R(VirtioTestDriver.QueueDescLow));
        Assert.Equal(8u, _d.Transport.GetQueue(0).Size);
    }

    [Fact]
    public void RequestCompletesWithUsedBufferInterrupt()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer, 32, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.Equal(1, _d.UsedIndex);
        Assert.Equal((0u, 32u), _d.UsedElement(0));
        Assert.True(_d.Memory(Buffer, 32).ToArray().All(b => b == 0xAB));
        Assert.Equal(1u, _d.R(VirtioTestDriver.InterruptStatus));
        Assert.True(_d.Irq);
        _d.W(VirtioTestDriver.InterruptAck, 1);
        Assert.Equal(0u, _d.R(VirtioTestDriver.InterruptStatus));
        Assert.False(_d.Irq);
    }

    [Fact]
    public void AvailNoInterruptFlagSuppressesNotification()
    {
        _d.Initialize();
        _d.SetAvailFlags(1);
        _d.WriteDescriptor(0, Buffer, 8, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.Equal(1, _d.UsedIndex);
        Assert.False(_d.Irq);
    }

    [Fact]
    public void NotifyBeforeDriverOkIsDeferredUntilDriverOk()
    {
        Assert.True(_d.Negotiate());
        _d.SetupQueue(16);
        _d.WriteDescriptor(0, Buffer, 8, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.Equal(0, _d.UsedIndex);
        _d.W(VirtioTestDriver.Status, 1 | 2 | 8 | 4);
        Assert.Equal(1, _d.UsedIndex);
    }

    [Fact]
    public void UsedRingWrapsAroundQueueSize()
    {
        _d.Initialize(4);
        for (int i = 0; i < 10; i++)
        {
            _d.WriteDescriptor(i % 4, Buffer, 4, VirtioTestDriver.WriteFlag);
            _d.Submit((ushort)(i % 4));
        }
        Assert.Equal(10, _d.UsedIndex);
        Assert.Equal((1u, 4u), _d.UsedElement(9));
        Assert.False(_d.NeedsReset);
    }

    [Fact]
    public void StatusZeroResetsDevice()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer, 8, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.True(_d.Irq);
        _d.W(VirtioTestDriver.Status, 0);
        Assert.Equal(0u, _d.R(VirtioTestDriver.Status));
        Assert.Equal(0u, _d.R(VirtioTestDriver.InterruptStatus));
        Assert.False(_d.Irq);
        Assert.Equal(0u, _d.R(VirtioTestDriver.QueueReady));
        Assert.Equal(0UL, _d.Transport.NegotiatedFeatures);
    }

    [Fact]
    public void DriverCannotSetOrClearNeedsReset()
    {
        _d.Initialize();
        _d.W(VirtioTestDriver.Status, 0x4F);
        Assert.False(_d.NeedsReset);
        _d.Transport.SetNeedsReset();
        _d.W(VirtioTestDriver.Status, 0x0F);
        Assert.True(_d.NeedsReset);
    }

    [Fact]
    public void ShmRegionsReadAsAbsent()
    {
        Assert.Equal(uint.MaxValue, _d.R(0xB0));
        Assert.Equal(uint.MaxValue, _d.R(0xB4));
    }

    [Fact]
    public void ConfigGenerationChangesWithConfig()
    {
        _d.Initialize();
        uint before = _d.R(0xFC);
        _d.Transport.NotifyConfigChanged();
        Assert.NotEqual(before, _d.R(0xFC));
        Assert.Equal(2u, _d.R(VirtioTestDriver.InterruptStatus));
    }

    // ---- malformed rings and descriptor chains: never an exception, never an access outside RAM ----

    [Fact]
    public void DescriptorAddressOutsideRamNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, 0x1000, 16, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void DescriptorLengthCrossingEndOfRamNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, VirtioTestDriver.RamEnd - 8, 16, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void DescriptorAddressWrappingAddressSpaceNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, ulong.MaxValue - 3, 16, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void HugeDescriptorLengthNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer, uint.MaxValue, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void NextIndexOutOfRangeNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 16);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void HeadIndexOutOfRangeNeedsReset()
    {
        _d.Initialize();
        _d.Submit(200);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void LoopInChainNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Buffer + 8, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 0);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void SelfLoopNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(3, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 3);
        _d.Submit(3);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void ChainUsingEveryDescriptorIsAccepted()
    {
        _d.Initialize(4);
        for (int i = 0; i < 4; i++)
            _d.WriteDescriptor(i, Buffer + 16 * (ulong)i, 16, (ushort)(VirtioTestDriver.WriteFlag | (i < 3 ? VirtioTestDriver.Next : 0)), (ushort)(i + 1));
        _d.Submit(0);
        Assert.Equal((0u, 64u), _d.UsedElement(0));
        Assert.False(_d.NeedsReset);
    }

    [Fact]
    public void AvailIndexRunningAheadOfQueueSizeNeedsReset()
    {
        _d.Initialize();
        _d.SetAvailIndex(17);
        _d.Notify();
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void ReadableAfterWritableDescriptorNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Buffer + 8, 8);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void IndirectTableIsWalked()
    {
        _d.Initialize();
        ulong table = Buffer + 0x1000;
        _d.WriteTableDescriptor(table, 0, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 2);
        _d.WriteTableDescriptor(table, 2, Buffer + 8, 8, VirtioTestDriver.WriteFlag);
        _d.WriteDescriptor(0, table, 3 * 16, VirtioTestDriver.Indirect);
        _d.Submit(0);
        Assert.Equal((0u, 16u), _d.UsedElement(0));
        Assert.False(_d.NeedsReset);
    }

    [Fact]
    public void IndirectTableOutsideRamNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, 0x4000_0000, 32, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void IndirectTableCrossingEndOfRamNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, VirtioTestDriver.RamEnd - 16, 32, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void IndirectTableLengthNotMultipleOf16NeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer + 0x1000, 20, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void EmptyIndirectTableNeedsReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, Buffer + 0x1000, 0, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void IndirectTableLongerThanQueueNeedsReset()
    {
        _d.Initialize(4);
        _d.WriteDescriptor(0, Buffer + 0x1000, 5 * 16, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void NestedIndirectNeedsReset()
    {
        _d.Initialize();
        ulong table = Buffer + 0x1000;
        _d.WriteTableDescriptor(table, 0, table, 16, VirtioTestDriver.Indirect);
        _d.WriteDescriptor(0, table, 16, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void IndirectWithNextNeedsReset()
    {
        _d.Initialize();
        ulong table = Buffer + 0x1000;
        _d.WriteTableDescriptor(table, 0, Buffer, 8, VirtioTestDriver.WriteFlag);
        _d.WriteDescriptor(0, table, 16, VirtioTestDriver.Indirect | VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Buffer, 8, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void LoopInsideIndirectTableNeedsReset()
    {
        _d.Initialize();
        ulong table = Buffer + 0x1000;
        _d.WriteTableDescriptor(table, 0, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 1);
        _d.WriteTableDescriptor(table, 1, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 0);
        _d.WriteDescriptor(0, table, 32, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void IndirectNextOutOfTableNeedsReset()
    {
        _d.Initialize();
        ulong table = Buffer + 0x1000;
        _d.WriteTableDescriptor(table, 0, Buffer, 8, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 2);
        _d.WriteDescriptor(0, table, 32, VirtioTestDriver.Indirect);
        _d.Submit(0);
        AssertDeviceNeedsReset();
    }

    [Fact]
    public void DeviceStopsAfterNeedsResetUntilReset()
    {
        _d.Initialize();
        _d.WriteDescriptor(0, 0x1000, 16, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.True(_d.NeedsReset);
        _d.WriteDescriptor(1, Buffer, 16, VirtioTestDriver.WriteFlag);
        _d.Submit(1);
        Assert.Equal(0, _d.UsedIndex);

        // A reset and a fresh init bring the device back.
        _d.Memory(_d.AvailRing, 0x100).Clear();
        _d.Memory(_d.UsedRing, 0x100).Clear();
        var fresh = new VirtioTestDriverSession(_d);
        fresh.Run();
        Assert.False(_d.NeedsReset);
        Assert.Equal(1, _d.UsedIndex);
    }

    /// <summary>Re-initialises the same driver after a reset (the available index restarts at zero).</summary>
    private sealed class VirtioTestDriverSession(VirtioTestDriver driver)
    {
        public void Run()
        {
            driver.Initialize();
            driver.WriteDescriptor(0, Buffer, 16, VirtioTestDriver.WriteFlag);
            BinaryPrimitives.WriteUInt16LittleEndian(driver.Memory(driver.AvailRing + 4, 2), 0);
            driver.SetAvailIndex(1);
            driver.Notify();
        }
    }
}
