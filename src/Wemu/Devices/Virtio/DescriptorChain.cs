using Wemu.Memory;

namespace Wemu.Devices.Virtio;

/// <summary>
/// One buffer the driver made available: a descriptor chain (virtio spec 1.2 section 2.7.5) already walked and
/// checked by <see cref="VirtQueue.TryPop"/>. Every segment lies entirely in guest RAM; device-readable segments
/// come first, then device-writable ones. Devices must not assume any framing (spec 2.6.4), so the chain is also
/// exposed as two byte streams: the readable stream and the writable stream.
/// </summary>
/// <remarks>The same instance is reused by the queue: it is valid until the next <see cref="VirtQueue.TryPop"/>.</remarks>
public sealed class DescriptorChain
{
    private readonly PhysicalBus _bus;
    private readonly ulong[] _addresses;
    private readonly uint[] _lengths;
    private int _count;

    internal DescriptorChain(PhysicalBus bus, int capacity)
    {
        _bus = bus;
        _addresses = new ulong[capacity];
        _lengths = new uint[capacity];
    }

    /// <summary>Index of the head descriptor: the id that goes into the used ring.</summary>
    public ushort Head { get; private set; }

    public int SegmentCount => _count;

    public int ReadableSegmentCount { get; private set; }

    public int WritableSegmentCount => _count - ReadableSegmentCount;

    /// <summary>Total bytes of the device-readable segments.</summary>
    public ulong ReadableLength { get; private set; }

    /// <summary>Total bytes of the device-writable segments.</summary>
    public ulong WritableLength { get; private set; }

    internal int Capacity => _addresses.Length;

    /// <summary>Guest memory of readable segment <paramref name="index"/> (0-based among readable segments).</summary>
    public ReadOnlySpan<byte> GetReadableSegment(int index) => GetSegment(index);

    /// <summary>Guest memory of writable segment <paramref name="index"/> (0-based among writable segments).</summary>
    public Span<byte> GetWritableSegment(int index)
    {
        var span = GetSegment(ReadableSegmentCount + index);
        _bus.NotifyWrite(_addresses[ReadableSegmentCount + index], (ulong)span.Length);
        return span;
    }

    /// <summary>Copies from the readable stream at <paramref name="offset"/>; returns the bytes copied.</summary>
    public int Read(ulong offset, Span<byte> destination)
    {
        int copied = 0;
        for (int i = 0; i < ReadableSegmentCount && copied < destination.Length; i++)
        {
            uint length = _lengths[i];
            if (offset >= length)
            {
                offset -= length;
                continue;
            }
            var segment = GetSegment(i)[(int)offset..];
            offset = 0;
            int n = Math.Min(segment.Length, destination.Length - copied);
            segment[..n].CopyTo(destination[copied..]);
            copied += n;
        }
        return copied;
    }

    /// <summary>Copies into the writable stream at <paramref name="offset"/>; returns the bytes copied.</summary>
    public int Write(ulong offset, ReadOnlySpan<byte> source)
    {
        int copied = 0;
        for (int i = ReadableSegmentCount; i < _count && copied < source.Length; i++)
        {
            uint length = _lengths[i];
            if (offset >= length)
            {
                offset -= length;
                continue;
            }
            var segment = GetSegment(i)[(int)offset..];
            offset = 0;
            int n = Math.Min(segment.Length, source.Length - copied);
            source.Slice(copied, n).CopyTo(segment);
            _bus.NotifyWrite(_addresses[i] + (ulong)(length - (uint)segment.Length), (ulong)n);
            copied += n;
        }
        return copied;
    }

    internal void Start(ushort head)
    {
        Head = head;
        _count = 0;
        ReadableSegmentCount = 0;
        ReadableLength = 0;
        WritableLength = 0;
    }

    /// <summary>Adds a segment already checked against RAM. False if the chain is full or out of order.</summary>
    internal bool TryAdd(ulong address, uint length, bool writable)
    {
        if (_count == _addresses.Length)
            return false;
        if (!writable)
        {
            // Spec 2.7.4.2: device-readable descriptors must all come before device-writable ones.
            if (_count != ReadableSegmentCount)
                return false;
            ReadableSegmentCount++;
            ReadableLength += length;
        }
        else
        {
            WritableLength += length;
        }
        _addresses[_count] = address;
        _lengths[_count] = length;
        _count++;
        return true;
    }

    private Span<byte> GetSegment(int index)
    {
        if ((uint)index >= (uint)_count)
            throw new ArgumentOutOfRangeException(nameof(index));
        // Checked when the chain was walked; RAM never moves, so this cannot fail, but stay safe if it ever did.
        return _bus.TryGetDmaSpan(_addresses[index], _lengths[index], out var span) ? span : default;
    }
}
