namespace Wemu.Devices.Virtio;

/// <summary>
/// virtio entropy device (virtio spec 1.2 section 5.4), device ID 4: fills every device-writable buffer the
/// driver posts with bytes from the entropy source given by the host, at most <see cref="MaxBytesPerRequest"/>
/// per request: the spec lets the device fill less than offered (5.4.6.1), and it keeps one notify short however
/// much memory the guest's descriptors alias (QEMU rate-limits its entropy source for the same reason).
/// </summary>
public sealed class VirtioRngDevice : IVirtioDevice
{
    public const uint Id = 4;

    /// <summary>Bytes of entropy one request can get (Linux's hw_random asks for at most a page at a time).</summary>
    public const int MaxBytesPerRequest = 64 * 1024;

    private readonly Action<Span<byte>> _entropy;
    private IVirtioTransport? _transport;

    /// <param name="entropy">Fills a span with random bytes (the host passes RandomNumberGenerator.Fill).</param>
    /// <param name="queueSize">QueueNumMax of the request queue.</param>
    public VirtioRngDevice(Action<Span<byte>> entropy, ushort queueSize = 64)
    {
        if (queueSize == 0 || (queueSize & (queueSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(queueSize), "queue size must be a power of two");
        _entropy = entropy;
        MaxQueueSize = queueSize;
    }

    public uint DeviceId => Id;

    public ulong DeviceFeatures => 0;

    public int QueueCount => 1;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => 0;

    public void Attach(IVirtioTransport transport) => _transport = transport;

    public void ReadConfig(int offset, Span<byte> destination) => destination.Clear();

    public void WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
    }

    public void Reset()
    {
    }

    public void OnQueueNotify(int queue)
    {
        if (_transport == null || queue != 0)
            return;
        var vq = _transport.GetQueue(0);
        while (vq.TryPop(out var chain))
        {
            // Spec 5.4.6.1: the device fills the device-writable part; driver-readable parts carry nothing.
            int written = 0;
            for (int i = 0; i < chain.WritableSegmentCount && written < MaxBytesPerRequest; i++)
            {
                var segment = chain.GetWritableSegment(i);
                if (segment.Length > MaxBytesPerRequest - written)
                    segment = segment[..(MaxBytesPerRequest - written)];
                _entropy(segment);
                written += segment.Length;
            }
            vq.Push(chain, (uint)written);
        }
        vq.NotifyDriver();
    }
}
