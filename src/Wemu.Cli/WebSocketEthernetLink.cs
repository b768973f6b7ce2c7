using System.Net.WebSockets;
using System.Threading.Channels;
using Wemu.Machines;
using Wemu.Net;

namespace Wemu.Cli;

/// <summary>
/// <c>-nic websocket,url=ws://HOST:PORT/net</c> natively: the guest's Ethernet frames go to a relay (<c>wemu relay</c>)
/// over a <see cref="ClientWebSocket"/>, one binary message per frame (<see cref="RelayFraming"/>). The socket is
/// read and written by two tasks on the thread pool; they meet the machine's thread only through two bounded
/// queues, which the NIC empties and fills from its own calls (<see cref="IEthernetLink"/>), never the other way.
/// A full queue drops the frame, as a congested link does. <see cref="FrameArrived"/> wakes an idle machine loop.
/// </summary>
public sealed class WebSocketEthernetLink : IEthernetLink
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket;
    private readonly string _url;
    private readonly Channel<byte[]> _toGuest = Channel.CreateBounded<byte[]>(
        new BoundedChannelOptions(RelayFraming.MaxQueuedFrames) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<byte[]> _toRelay = Channel.CreateBounded<byte[]>(
        new BoundedChannelOptions(RelayFraming.MaxQueuedFrames) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sending;
    private byte[]? _next;
    private int _closedReported;
    private bool _disposed;

    private WebSocketEthernetLink(ClientWebSocket socket, string url)
    {
        _socket = socket;
        _url = url;
        _ = Task.Run(ReceiveLoop);
        _sending = Task.Run(SendLoop);
    }

    /// <summary>Set when a frame for the guest arrives.</summary>
    public AutoResetEvent FrameArrived { get; } = new(false);

    /// <summary>Frames the guest sent while the queue to the relay was full: dropped.</summary>
    public long DroppedToRelay { get; private set; }

    /// <summary>Connects, or throws <see cref="ConfigException"/> with one line saying why not.</summary>
    public static WebSocketEthernetLink Connect(string url)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        try
        {
            socket.ConnectAsync(new Uri(url), timeout.Token).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is WebSocketException or HttpRequestException or OperationCanceledException or IOException or ArgumentException)
        {
            socket.Dispose();
            string why = e is OperationCanceledException ? $"no answer in {ConnectTimeout.TotalSeconds:F0} s" : Innermost(e);
            throw new ConfigException($"cannot reach the network relay {url}: {why} (start one with: wemu relay --port PORT)");
        }
        return new WebSocketEthernetLink(socket, url);
    }

    private static string Innermost(Exception e)
    {
        string text = e.Message;
        for (var inner = e.InnerException; inner != null; inner = inner.InnerException)
            text = inner.Message;
        return text.ReplaceLineEndings(" ").Trim();
    }

    public int QueuedFrames => (_next != null ? 1 : 0) + _toGuest.Reader.Count;

    public ReadOnlySpan<byte> PeekFrame()
    {
        if (_next == null && _toGuest.Reader.TryRead(out var frame))
            _next = frame;
        return _next;
    }

    public void DequeueFrame()
    {
        if (_next == null)
            _toGuest.Reader.TryRead(out _);
        _next = null;
    }

    public void ReceiveFrame(ReadOnlySpan<byte> frame)
    {
        if (!RelayFraming.IsFrameSize(frame.Length) || !_toRelay.Writer.TryWrite(frame.ToArray()))
            DroppedToRelay++;
    }

    public void Poll()
    {
        // The tasks fill the queue; the NIC takes frames from it in PeekFrame.
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[RelayFraming.MaxFrameSize + 1];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int length = 0;
                ValueWebSocketReceiveResult r;
                do
                {
                    // A message longer than a frame fills the buffer's last byte and is then read to its end, dropped.
                    var room = length < buffer.Length ? buffer.AsMemory(length) : buffer.AsMemory(buffer.Length - 1);
                    r = await _socket.ReceiveAsync(room, _stop.Token).ConfigureAwait(false);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        ReportClosed($"the relay closed the connection ({_socket.CloseStatusDescription})");
                        return;
                    }
                    length = Math.Min(length + r.Count, buffer.Length);
                }
                while (!r.EndOfMessage);
                if (r.MessageType != WebSocketMessageType.Binary || !RelayFraming.IsFrameSize(length))
                    continue;
                // Wait mode: when the guest does not take its frames, this stops reading the socket, and the relay's
                // own bounded queue for this client fills and drops instead.
                await _toGuest.Writer.WriteAsync(buffer.AsSpan(0, length).ToArray(), _stop.Token).ConfigureAwait(false);
                FrameArrived.Set();
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or ChannelClosedException)
        {
            if (!_stop.IsCancellationRequested)
                ReportClosed(Innermost(e));
        }
    }

    private async Task SendLoop()
    {
        try
        {
            await foreach (var frame in _toRelay.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
                await _socket.SendAsync(frame, WebSocketMessageType.Binary, true, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or ChannelClosedException)
        {
            if (!_stop.IsCancellationRequested)
                ReportClosed(Innermost(e));
        }
    }

    /// <summary>Once: the guest's network is gone (the machine runs on; its NIC just hears nothing more).</summary>
    private void ReportClosed(string why)
    {
        if (Interlocked.Exchange(ref _closedReported, 1) == 0)
            Console.Error.Write($"\r\nwemu: network relay {_url}: {why}; the guest's network is down\r\n");
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Interlocked.Exchange(ref _closedReported, 1);   // the close below is ours: nothing to report
        // A polite close, bounded: the frames already queued go first (one send at a time), then the close.
        _toRelay.Writer.TryComplete();
        try
        {
            if (_sending.Wait(TimeSpan.FromSeconds(1)) && _socket.State == WebSocketState.Open)
                _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "machine stopped", CancellationToken.None).Wait(TimeSpan.FromSeconds(1));
        }
        catch (AggregateException)
        {
            // the relay went away meanwhile
        }
        _stop.Cancel();
        _socket.Dispose();
        _toGuest.Writer.TryComplete();
    }
}
