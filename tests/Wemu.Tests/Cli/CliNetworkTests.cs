using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// <c>-nic user</c> through the real CLI with the bundled guests: DHCP, ping of the gateway, DNS, a download from
/// an HTTP server on the host's loopback (as 10.0.2.2) and an upload to it, checked by SHA-256 on both sides, and
/// a page of BusyBox httpd in the guest fetched from the host through <c>hostfwd</c>. One boot per guest.
/// </summary>
[Collection("Boot")]
public class CliNetworkTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    // udhcpc's hook: what BusyBox's examples/udhcp/simple.script does, in one line.
    private const string DhcpScript =
        "printf '#!/bin/sh\\ncase \"$1\" in deconfig) ifconfig $interface 0.0.0.0 up;; bound|renew) ifconfig $interface $ip netmask $subnet up; "
        + "route add default gw $router; echo nameserver $dns > /etc/resolv.conf;; esac\\n' > /tmp/dhcp.sh; chmod +x /tmp/dhcp.sh";

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

        string Run(string command)
        {
            wemu.Send(command + "; echo cmd\"\"-done\n");
            string output = wemu.WaitFor("cmd-done", CommandTimeout);
            wemu.WaitFor("/ # ", CommandTimeout);
            return output;
        }

        Run(DhcpScript);
        string dhcp = Run("udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5; route -n; cat /etc/resolv.conf");
        Assert.Contains("lease of 10.0.2.15 obtained from 10.0.2.2", dhcp);
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

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>
    /// HTTP/1.0 on 127.0.0.1, enough for BusyBox wget: GET /download.bin returns the bytes given, POST /upload
    /// answers with the SHA-256 of the body.
    /// </summary>
    private sealed class LoopbackHttpServer : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly byte[] _download;

        public LoopbackHttpServer(byte[] download)
        {
            _download = download;
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen();
            new Thread(AcceptLoop) { IsBackground = true }.Start();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public volatile int LastUploadLength = -1;

        private void AcceptLoop()
        {
            try
            {
                while (true)
                {
                    var c = _listener.Accept();
                    new Thread(() => Serve(c)) { IsBackground = true }.Start();
                }
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        private void Serve(Socket c)
        {
            using var stream = new NetworkStream(c, ownsSocket: true);
            stream.ReadTimeout = 60_000;
            var head = new MemoryStream();
            while (!head.ToArray().AsSpan().EndsWith("\r\n\r\n"u8))
            {
                int b = stream.ReadByte();
                if (b < 0)
                    return;
                head.WriteByte((byte)b);
            }
            string request = Encoding.ASCII.GetString(head.ToArray());
            byte[] body;
            if (request.StartsWith("GET /download.bin "))
                body = _download;
            else if (request.StartsWith("POST /upload "))
            {
                var m = System.Text.RegularExpressions.Regex.Match(request, @"Content-Length: *([0-9]+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
                int length = m.Success ? int.Parse(m.Groups[1].Value) : 0;
                var upload = new byte[length];
                stream.ReadExactly(upload);
                LastUploadLength = length;
                body = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(upload)));
            }
            else
            {
                stream.Write("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"u8);
                return;
            }
            stream.Write(Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
            stream.Write(body);
        }

        public void Dispose() => _listener.Dispose();
    }
}
