namespace Wemu.Net;

/// <summary>Where a host TCP socket is in its life.</summary>
public enum HostSocketState
{
    Connecting,
    Connected,
    /// <summary>The connection was refused, timed out or broke.</summary>
    Failed,
}
