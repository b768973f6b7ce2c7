namespace Wemu.Net;

/// <summary>
/// A NIC's link (<paramref name="outside"/>, a relay's NAT in the page) shared with a second, local stack
/// (<paramref name="inbound"/>) that only opens connections into the guest: the page's <c>vm.fetch</c> with
/// <c>-nic websocket</c>, where the NAT that serves the guest runs in the relay and cannot see the page. The local
/// stack opens its connections from 10.0.2.2 as hostfwd does, with the NIC's MAC; the guest's answers are told
/// apart by their four-tuple (<see cref="UserNetwork.HoldsConnectionOf"/>), everything else goes to the outside.
/// Frames toward the guest come from both, taking turns.
/// </summary>
public sealed class InboundSplitLink(IEthernetLink outside, UserNetwork inbound) : IEthernetLink
{
    private IEthernetLink? _peeked;
    private bool _inboundFirst;

    public IEthernetLink Outside => outside;

    public UserNetwork Inbound => inbound;

    public void ReceiveFrame(ReadOnlySpan<byte> frame)
    {
        if (inbound.HoldsConnectionOf(frame))
            inbound.ReceiveFrame(frame);
        else
            outside.ReceiveFrame(frame);
    }

    public int QueuedFrames => outside.QueuedFrames + inbound.QueuedFrames;

    public ReadOnlySpan<byte> PeekFrame()
    {
        _peeked ??= Next();
        return _peeked == null ? default : _peeked.PeekFrame();
    }

    public void DequeueFrame()
    {
        var from = _peeked ?? Next();
        _peeked = null;
        if (from == null)
            return;
        from.DequeueFrame();
        _inboundFirst = from != inbound;
    }

    /// <summary>The side whose frame goes next: the one whose turn it is, if it has one.</summary>
    private IEthernetLink? Next()
    {
        IEthernetLink first = _inboundFirst ? inbound : outside, second = _inboundFirst ? outside : inbound;
        return first.QueuedFrames > 0 ? first : second.QueuedFrames > 0 ? second : null;
    }

    public void Poll()
    {
        _peeked = null;
        outside.Poll();
        inbound.Poll();
    }

    public void Dispose()
    {
        outside.Dispose();
        inbound.Dispose();
    }
}
