using System.Runtime.InteropServices.JavaScript;
using System.Runtime.Versioning;
using Wemu.Net;

namespace Wemu.Web;

/// <summary>
/// <c>-nic websocket,url=...</c> in the page: the worker (wwwroot/worker.js) holds the browser's WebSocket to the relay
/// and speaks <see cref="RelayFraming"/> on it (one binary message per Ethernet frame). Frames from the relay arrive
/// through <see cref="RelayFrame"/> between slices (the worker has one thread, so they never race the machine) and
/// wait in a bounded queue for the NIC; the guest's frames go out through the worker's <c>send</c>, which drops them
/// while the socket's own buffer is full. The socket outlives guest reboots: each machine built attaches a new link.
/// </summary>
[SupportedOSPlatform("browser")]
public sealed partial class BrowserRelayLink : IEthernetLink
{
    private static BrowserRelayLink? s_attached;

    private readonly GuestFrameQueue _toGuest = new(RelayFraming.MaxQueuedFrames);
    private bool _disposed;

    private BrowserRelayLink()
    {
    }

    /// <summary>Frames the relay sent while the guest's queue was full (or that were not frames): dropped.</summary>
    public long DroppedToGuest { get; private set; }

    /// <summary>The link of the machine being built (called from MachineImages.NetworkRelay).</summary>
    public static BrowserRelayLink Attach() => s_attached = new BrowserRelayLink();

    /// <summary>A binary message from the relay: one frame for the guest.</summary>
    [JSExport]
    public static void RelayFrame(byte[] frame)
    {
        var link = s_attached;
        if (link == null || link._disposed)
            return;
        if (!RelayFraming.IsFrameSize(frame.Length) || !link._toGuest.TryEnqueue(frame))
            link.DroppedToGuest++;
    }

    /// <summary>The worker's <c>send</c>: the view is valid only during the call, so the worker copies it (slice).</summary>
    [JSImport("send", "wemu-relay")]
    private static partial void Send([JSMarshalAs<JSType.MemoryView>] ArraySegment<byte> frame);

    public int QueuedFrames => _toGuest.Count;

    public ReadOnlySpan<byte> PeekFrame() => _toGuest.Peek();

    public void DequeueFrame() => _toGuest.Dequeue();

    public void ReceiveFrame(ReadOnlySpan<byte> frame)
    {
        if (!_disposed && RelayFraming.IsFrameSize(frame.Length))
            Send(new ArraySegment<byte>(frame.ToArray()));
    }

    public void Poll()
    {
        // Frames arrive through RelayFrame; nothing to service here.
    }

    public void Dispose()
    {
        _disposed = true;
        _toGuest.Clear();
        if (s_attached == this)
            s_attached = null;
    }
}
