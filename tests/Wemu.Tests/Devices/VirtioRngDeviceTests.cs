using Wemu.Devices.Virtio;
using Xunit;

namespace Wemu.Tests.Devices;

public class VirtioRngDeviceTests
{
    private const ulong Buffer = VirtioTestDriver.DataBase;

    private byte _next = 1;
    private readonly VirtioTestDriver _d;

    public VirtioRngDeviceTests()
    {
        _d = new VirtioTestDriver(new VirtioRngDevice(span =>
        {
            foreach (ref byte b in span)
                b = _next++;
        }));
        _d.Initialize();
    }

    [Fact]
    public void DeviceIdIsEntropy() => Assert.Equal(4u, _d.R(0x008));

    [Fact]
    public void FillsEveryWritableSegment()
    {
        _d.WriteDescriptor(0, Buffer, 3, VirtioTestDriver.WriteFlag | VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Buffer + 0x100, 2, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.Equal(new byte[] { 1, 2, 3 }, _d.Memory(Buffer, 3).ToArray());
        Assert.Equal(new byte[] { 4, 5 }, _d.Memory(Buffer + 0x100, 2).ToArray());
        Assert.Equal((0u, 5u), _d.UsedElement(0));
        Assert.True(_d.Irq);
    }

    [Fact]
    public void ReadableSegmentsAreLeftAlone()
    {
        _d.Memory(Buffer, 4).Fill(0x77);
        _d.WriteDescriptor(0, Buffer, 4, VirtioTestDriver.Next, next: 1);
        _d.WriteDescriptor(1, Buffer + 0x100, 4, VirtioTestDriver.WriteFlag);
        _d.Submit(0);
        Assert.Equal(new byte[] { 0x77, 0x77, 0x77, 0x77 }, _d.Memory(Buffer, 4).ToArray());
        Assert.Equal((0u, 4u), _d.UsedElement(0));
    }

    /// <summary>Case 16: 64 writable descriptors over the same 60 MiB; one notify must not ask for 3.75 GiB of entropy.</summary>
    [Fact]
    public void Aliasing_Chain_Gets_At_Most_64_KiB_Per_Request()
    {
        long asked = 0;
        var d = new VirtioTestDriver(new VirtioRngDevice(span => asked += span.Length, queueSize: 64), ramSize: 64UL << 20);
        d.Initialize(64);
        for (int i = 0; i < 64; i++)
            d.WriteDescriptor(i, Buffer, 60u << 20, (ushort)(VirtioTestDriver.WriteFlag | (i < 63 ? VirtioTestDriver.Next : 0)), next: (ushort)(i + 1));
        d.Submit(0);
        Assert.InRange(asked, 1, 64 * 1024);
        Assert.Equal((0u, (uint)asked), d.UsedElement(0));
    }

    [Fact]
    public void HasNoConfigSpace() => Assert.Equal(0u, _d.R(VirtioTestDriver.Config));
}
