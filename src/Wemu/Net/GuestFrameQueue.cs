namespace Wemu.Net;

/// <summary>
/// The Ethernet frames waiting for the guest's NIC, oldest first, at most <see cref="Limit"/> of them: what an
/// <see cref="IEthernetLink"/> hands the device through QueuedFrames, PeekFrame and DequeueFrame. A frame that finds
/// the queue full is refused (the caller counts it dropped or holds back), as a real link drops under load.
/// </summary>
public sealed class GuestFrameQueue(int limit)
{
    private readonly Queue<byte[]> _frames = new();

    public int Limit { get; } = limit;

    public int Count => _frames.Count;

    public bool IsFull => _frames.Count >= Limit;

    /// <summary>Queues <paramref name="frame"/> (kept, not copied); false when the queue is full.</summary>
    public bool TryEnqueue(byte[] frame)
    {
        if (IsFull)
            return false;
        _frames.Enqueue(frame);
        return true;
    }

    /// <summary>The oldest frame (valid while it is queued), or empty.</summary>
    public ReadOnlySpan<byte> Peek() => _frames.Count > 0 ? _frames.Peek() : default;

    /// <summary>Removes the oldest frame, if any.</summary>
    public void Dequeue()
    {
        if (_frames.Count > 0)
            _frames.Dequeue();
    }

    public void Clear() => _frames.Clear();
}
