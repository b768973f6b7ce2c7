namespace Wemu.Net;

/// <summary>
/// The relay protocol (<c>-nic websocket</c>, <c>wemu relay</c>): a WebSocket (RFC 6455) on the path
/// <see cref="Path"/>, on which each binary message is exactly one Ethernet frame without FCS, guest to relay and
/// relay to guest; nothing else is sent (no header, no control messages of our own). A frame is
/// <see cref="MinFrameSize"/> to <see cref="MaxFrameSize"/> bytes. The relay closes a client that sends a text
/// message or a message outside those sizes (close codes 1003 and 1009); a client drops such messages from a relay.
/// Either side drops frames it has no room for, as a congested link would: both queues are bounded.
/// </summary>
public static class RelayFraming
{
    /// <summary>The relay's path: <c>ws://HOST:PORT/net</c>.</summary>
    public const string Path = "/net";

    /// <summary>An Ethernet header: destination, source, EtherType.</summary>
    public const int MinFrameSize = 14;

    /// <summary>The largest frame the NAT takes: 1514 bytes, and 4 more for a VLAN tag.</summary>
    public const int MaxFrameSize = UserNetwork.MaxFrameSize + 4;

    /// <summary>Frames waiting in each direction of one link or client before more are dropped.</summary>
    public const int MaxQueuedFrames = UserNetwork.MaxQueuedFrames;

    public static bool IsFrameSize(int length) => length is >= MinFrameSize and <= MaxFrameSize;
}
