namespace Wemu.Memory;

/// <summary>
/// A device register window mapped into the physical address space.
/// Offsets are relative to the window base and are always inside the mapped size;
/// sizes are 1, 2, 4 or 8 bytes. Devices must tolerate any offset/size/value a guest sends
/// (unknown registers read as zero and ignore writes) and never throw for guest input.
/// </summary>
public interface IMmioDevice
{
    ulong Read(ulong offset, int size);

    void Write(ulong offset, int size, ulong value);
}
