using System.Globalization;

namespace Wemu.Net;

/// <summary>
/// One <c>hostfwd=</c> rule (QEMU's <c>[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT</c>): connections to
/// the host's HOSTADDR:HOSTPORT (127.0.0.1 unless given) are forwarded to GUESTADDR:GUESTPORT (10.0.2.15 unless given).
/// </summary>
public sealed record HostForward(bool Udp, uint HostAddress, ushort HostPort, uint GuestAddress, ushort GuestPort)
{
    /// <summary>Parses QEMU's spelling; a <see cref="FormatException"/> says what is wrong.</summary>
    public static HostForward Parse(string rule)
    {
        string rest = rule;
        bool udp = false;
        int colon = rest.IndexOf(':');
        if (colon < 0)
            throw new FormatException($"invalid hostfwd rule '{rule}' (tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)");
        string proto = rest[..colon];
        if (proto is "udp")
            udp = true;
        else if (proto is not ("tcp" or ""))
            throw new FormatException($"invalid hostfwd protocol '{proto}' (tcp or udp)");
        rest = rest[(colon + 1)..];
        int dash = rest.IndexOf('-');
        if (dash < 0)
            throw new FormatException($"invalid hostfwd rule '{rule}' (tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)");
        var (hostAddress, hostPort) = Endpoint(rest[..dash], UserNetwork.HostLoopback, rule);
        var (guestAddress, guestPort) = Endpoint(rest[(dash + 1)..], UserNetwork.GuestAddress, rule);
        if (guestPort == 0)
            throw new FormatException($"invalid hostfwd guest port in '{rule}' (1 to 65535)");
        return new HostForward(udp, hostAddress, hostPort, guestAddress, guestPort);
    }

    private static (uint, ushort) Endpoint(string text, uint defaultAddress, string rule)
    {
        int colon = text.LastIndexOf(':');
        if (colon < 0)
            throw new FormatException($"invalid hostfwd rule '{rule}' (ADDR:PORT on each side of '-', ADDR may be empty)");
        string a = text[..colon], p = text[(colon + 1)..];
        uint address = defaultAddress;
        if (a.Length > 0 && !TryParseAddress(a, out address))
            throw new FormatException($"invalid hostfwd address '{a}' in '{rule}' (IPv4 dotted quad)");
        if (!ushort.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
            throw new FormatException($"invalid hostfwd port '{p}' in '{rule}' (0 to 65535)");
        return (address, port);
    }

    /// <summary>A dotted-quad IPv4 address in host order.</summary>
    public static bool TryParseAddress(string text, out uint address)
    {
        address = 0;
        var parts = text.Split('.');
        if (parts.Length != 4)
            return false;
        foreach (var part in parts)
        {
            if (!byte.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out byte b))
                return false;
            address = (address << 8) | b;
        }
        return true;
    }

    /// <summary>An IPv4 address in host order as a dotted quad.</summary>
    public static string FormatAddress(uint a) => $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}";
}
