namespace Wemu.Devices;

/// <summary>
/// Where an <see cref="OverlayBlockBackend"/> keeps the clusters the guest wrote: memory, or (on a host with a
/// file system) an unlinked temporary file, so the overlay's size is bounded by the host's disk, not its RAM.
/// Offsets are the overlay's own: cluster slot times cluster size. Failures are IOExceptions.
/// </summary>
public interface IOverlayScratch : IDisposable
{
    void Read(long offset, Span<byte> destination);

    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes completed writes durable (a persistent overlay's, before its map names them).</summary>
    void Flush()
    {
    }
}
