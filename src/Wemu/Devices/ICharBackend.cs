namespace Wemu.Devices;

/// <summary>
/// The host side of a serial line (stdio, a test harness, xterm.js in a page).
/// Reads are non-blocking polls: the machine asks, the host answers with what it has.
/// </summary>
public interface ICharBackend
{
    /// <summary>Bytes the guest sends out.</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Takes one byte of input if the host has one; never blocks.</summary>
    bool TryRead(out byte value);
}
