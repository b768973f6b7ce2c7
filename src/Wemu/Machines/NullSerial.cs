using Wemu.Devices;

namespace Wemu.Machines;

/// <summary>A serial line connected to nothing (<c>-serial none</c>).</summary>
public sealed class NullSerial : ICharBackend
{
    public static readonly NullSerial Instance = new();

    public void Write(ReadOnlySpan<byte> data)
    {
    }

    public bool TryRead(out byte value)
    {
        value = 0;
        return false;
    }
}
