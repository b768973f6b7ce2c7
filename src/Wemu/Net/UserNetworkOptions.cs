namespace Wemu.Net;

/// <summary>The options of <c>-netdev user</c> / <c>-nic user</c> that Wemu implements.</summary>
public sealed class UserNetworkOptions
{
    /// <summary><c>restrict=on</c>: the guest reaches nothing outside but what <see cref="HostForwards"/> forward in.</summary>
    public bool Restrict { get; set; }

    public List<HostForward> HostForwards { get; } = [];

    /// <summary>The NIC's MAC address (<c>mac=</c>; QEMU's default 52:54:00:12:34:56).</summary>
    public byte[] MacAddress { get; set; } = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
}
