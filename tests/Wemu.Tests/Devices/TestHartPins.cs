using Wemu.Devices;

namespace Wemu.Tests.Devices;

/// <summary>A hart's mip bits as devices drive them.</summary>
internal sealed class TestHartPins : IHartInterruptPins
{
    public ulong Mip { get; private set; }

    public int Calls { get; private set; }

    public bool this[int bit] => (Mip & (1UL << bit)) != 0;

    public void SetInterruptPending(int mipBit, bool level)
    {
        Calls++;
        if (level)
            Mip |= 1UL << mipBit;
        else
            Mip &= ~(1UL << mipBit);
    }
}
