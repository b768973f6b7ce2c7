using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// <c>-nic user</c> through the real CLI with the bundled guests: the address the guest got by DHCP at boot, ping of the gateway, DNS, a download from
/// an HTTP server on the host's loopback (as 10.0.2.2) and an upload to it, checked by SHA-256 on both sides, and
/// a page of BusyBox httpd in the guest fetched from the host through <c>hostfwd</c>. One boot per guest.
/// </summary>
[Collection("Boot")]
public class CliNetworkTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("riscv64")]
    [InlineData("x86_64")]
    public void Guest_Gets_An_Address_Resolves_Names_And_Moves_Files_Both_Ways(string arch)
    {
        var download = new byte[3 << 20];
        new Random(13).NextBytes(download);
        using var server = new LoopbackHttpServer(download);
        int forwarded = FreePort();
        using var wemu = new WemuProcess(arch, "-nic", $"user,hostfwd=tcp:127.0.0.1:{forwarded}-:8080");
        wemu.WaitFor("Wemu guest ready", BootTimeout);
        wemu.WaitFor("/ # ", CommandTimeout);

        string Run(string command) => wemu.RunShellCommand(command, CommandTimeout);

        // The guest's rcS started udhcpc in the background at boot; its hook writes resolv.conf last.
        string dhcp = Run(WaitForLease + "; route -n; cat /etc/resolv.conf /var/log/udhcpc.log");
        Assert.Contains("lease of 10.0.2.15 obtained from 10.0.2.2", dhcp);
        Assert.Contains("inet addr:10.0.2.15", Run("ifconfig eth0"));
        // What Linux negotiated (bit i is character i): CSUM, GUEST_CSUM, MAC, MRG_RXBUF, STATUS.
        var features = System.Text.RegularExpressions.Regex.Match(Run("cat /sys/bus/virtio/drivers/virtio_net/virtio*/features"), "[01]{64}");
        Assert.True(features.Success);
        foreach (int bit in new[] { 0, 1, 5, 15, 16 })
            Assert.True(features.Value[bit] == '1', $"feature bit {bit} not negotiated: {features.Value}");
        Assert.Matches(@"0\.0\.0\.0\s+10\.0\.2\.2\s+0\.0\.0\.0\s+UG", dhcp);
        Assert.Contains("nameserver 10.0.2.3", dhcp);

        Assert.Contains("1 packets received", Run("ping -c 1 -W 5 10.0.2.2"));

        // -type=a: one query per name. (Both queries of a plain nslookup can carry the same id on the x86_64 guest,
        // whose clock is jiffies-coarse when Linux marks the TSC unstable: BusyBox then waits 5 s for the AAAA one.)
        string dns = Run("nslookup -type=a localhost; nslookup -type=a no-such-host.invalid");
        Assert.True(dns.Contains("Address: 127.0.0.1") && dns.Contains("NXDOMAIN"), dns);

        // Host -> guest: 3 MiB from the host's loopback server through the gateway address.
        string got = Run($"wget -q -O /tmp/down http://10.0.2.2:{server.Port}/download.bin && sha256sum /tmp/down");
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(download)) + "  /tmp/down", got);

        // Guest -> host: 2 MiB of the guest's random bytes as base64 text (BusyBox wget posts a file as a string,
        // so no NULs), posted; the server answers with their SHA-256.
        string up = Run("dd if=/dev/urandom bs=1024 count=1536 2>/dev/null | base64 > /tmp/up; echo size=$(wc -c < /tmp/up); sha256sum /tmp/up; "
            + $"wget -q -O - --post-file /tmp/up http://10.0.2.2:{server.Port}/upload; echo");
        var sums = System.Text.RegularExpressions.Regex.Matches(up, "[0-9a-f]{64}");
        Assert.True(sums.Count >= 2, up);
        Assert.Equal(sums[0].Value, sums[1].Value);
        var size = System.Text.RegularExpressions.Regex.Match(up, "size=([0-9]+)");
        Assert.True(size.Success, up);
        Assert.True(int.Parse(size.Groups[1].Value) > 2_000_000, up);
        Assert.Equal(int.Parse(size.Groups[1].Value), server.LastUploadLength);

        // Host -> guest server through hostfwd: BusyBox httpd on the guest's port 8080.
        Run("mkdir -p /tmp/www && echo guest-page-$((6*7)) > /tmp/www/index.html && httpd -p 8080 -h /tmp/www");
        using (var http = new HttpClient { Timeout = CommandTimeout })
            Assert.Equal("guest-page-42\n", http.GetStringAsync($"http://127.0.0.1:{forwarded}/index.html").Result);

        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
    }

    /// <summary>
    /// Waits (at most ~60 s of the guest's time) for the lease the default guest asks for at boot: the hook writes
    /// /etc/resolv.conf last. Half-second steps: each is a fork and exec of sleep, which under a loaded host costs
    /// the emulated guest enough that 600 short steps could outlast the test's own timeout.
    /// </summary>
    internal const string WaitForLease = "n=0; until [ -s /etc/resolv.conf ] || [ $n -ge 120 ]; do sleep 0.5; n=$((n+1)); done";

    internal static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
