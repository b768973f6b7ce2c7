namespace Wemu.Net;

/// <summary>
/// What a NIC's frames go to and come from: the local NAT (<see cref="UserNetwork"/>, <c>-nic user</c>) or a
/// link to a relay that runs the NAT elsewhere (<c>-nic websocket</c>). Driven from the machine's one thread:
/// the NIC hands it the guest's frames, takes frames for the guest from its queue, and the board's tick calls
/// <see cref="Poll"/>. A link whose host delivers frames on other threads queues them and hands them over only
/// from these calls. The queue toward the guest is bounded (<see cref="UserNetwork.MaxQueuedFrames"/>).
/// </summary>
public interface IEthernetLink : IDisposable
{
    /// <summary>An Ethernet frame (without FCS) the guest sent; dropped if the link cannot take it now.</summary>
    void ReceiveFrame(ReadOnlySpan<byte> frame);

    /// <summary>Frames waiting for the guest.</summary>
    int QueuedFrames { get; }

    /// <summary>The next frame for the guest (valid until <see cref="DequeueFrame"/>), or empty.</summary>
    ReadOnlySpan<byte> PeekFrame();

    /// <summary>Removes the frame <see cref="PeekFrame"/> returned.</summary>
    void DequeueFrame();

    /// <summary>Services the host side (sockets, timers, frames that arrived); returns at once.</summary>
    void Poll();
}
