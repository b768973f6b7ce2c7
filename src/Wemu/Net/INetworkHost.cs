namespace Wemu.Net;

/// <summary>
/// What <see cref="UserNetwork"/> needs of its host: a clock, TCP and UDP sockets, and name resolution. Every
/// call returns at once (sockets are polled, names resolve in the background): the stack runs on the machine's
/// one thread, natively and in the page. Natively this is ordinary host sockets (Wemu.Cli's HostSocketNetwork);
/// in the page a later backend will put fetch and WebSocket behind the same calls. Addresses are IPv4 in host
/// order (10.0.2.2 is 0x0A000202).
/// </summary>
public interface INetworkHost
{
    /// <summary>A monotonic clock in microseconds (TCP timers, NAT entry timeouts).</summary>
    long Microseconds { get; }

    /// <summary>Starts a TCP connection; it is <see cref="HostSocketState.Connecting"/> until the host knows.</summary>
    IHostTcpSocket ConnectTcp(uint address, ushort port);

    /// <summary>A UDP socket bound to an ephemeral port, or null if the host refuses one.</summary>
    IHostUdpSocket? OpenUdp();

    /// <summary>Listens for <c>hostfwd=tcp:...</c>; throws a ConfigException-style error the host reports if it cannot.</summary>
    IHostTcpListener ListenTcp(uint address, ushort port);

    /// <summary>A UDP socket bound to <paramref name="address"/>:<paramref name="port"/> for <c>hostfwd=udp:...</c>.</summary>
    IHostUdpSocket ListenUdp(uint address, ushort port);

    /// <summary>Starts resolving a host name to IPv4 addresses.</summary>
    IHostNameQuery ResolveName(string name);

    /// <summary>
    /// A connection the host wants opened into a guest port of its choosing (the page's <c>vm.fetch</c>; hostfwd
    /// listeners have their port fixed by the rule), already connected on the host's side; null if none waits.
    /// The stack opens it as it opens a forwarded one, from 10.0.2.2. Natively there are none.
    /// </summary>
    IHostTcpSocket? AcceptIntoGuest(out uint guestAddress, out ushort guestPort)
    {
        guestAddress = 0;
        guestPort = 0;
        return null;
    }
}
