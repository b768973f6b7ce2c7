using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// <c>wemu relay</c> and <c>-nic websocket</c> through the real CLI: a guest on the relay's NAT gets its address
/// by DHCP at boot and downloads a file from an HTTP server on the host's loopback (as 10.0.2.2), checked by
/// SHA-256; the relay closes clients that break the framing (text, oversize and undersize messages, a flood it
/// does not read back) one by one and goes on serving; it refuses pages from other origins and plain HTTP.
/// </summary>
[Collection("Boot")]
public class CliRelayTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Starts <c>wemu relay --port 0</c> and returns it with the URL it printed.</summary>
    internal static (WemuProcess Relay, string Url) StartRelay(params string[] extra)
    {
        var relay = new WemuProcess(["relay", "--port", "0", .. extra]);
        string said = relay.WaitFor("(a NAT into this host's network)", TimeSpan.FromSeconds(60));
        var m = Regex.Match(said, @"wemu relay: listening on (ws://127\.0\.0\.1:[0-9]+/net)");
        Assert.True(m.Success, said);
        return (relay, m.Groups[1].Value);
    }

    [Theory]
    [InlineData("riscv64", false)]
    [InlineData("x86_64", true)]
    public void Guest_On_The_Relay_Gets_An_Address_At_Boot_And_Downloads_From_The_Host(string arch, bool netdevSpelling)
    {
        var download = new byte[2 << 20];
        new Random(7).NextBytes(download);
        using var server = new LoopbackHttpServer(download);
        var (relay, url) = StartRelay();
        using var _ = relay;
        string[] nic = netdevSpelling
            ? ["-netdev", $"websocket,id=n0,url={url}", "-device", "virtio-net-device,netdev=n0"]
            : ["-nic", $"websocket,url={url}"];
        using var wemu = new WemuProcess([arch, .. nic]);
        wemu.WaitFor("Wemu guest ready", BootTimeout);
        wemu.WaitFor("/ # ", CommandTimeout);

        string Run(string command) => wemu.RunShellCommand(command, CommandTimeout);

        string lease = Run(CliNetworkTests.WaitForLease + "; ifconfig eth0; route -n; cat /etc/resolv.conf");
        Assert.Contains("inet addr:10.0.2.15", lease);
        Assert.Matches(@"0\.0\.0\.0\s+10\.0\.2\.2\s+0\.0\.0\.0\s+UG", lease);
        Assert.Contains("nameserver 10.0.2.3", lease);
        relay.WaitFor("client 1 (127.0.0.1:", CommandTimeout);

        string got = Run($"wget -q -O /tmp/down http://10.0.2.2:{server.Port}/download.bin && sha256sum /tmp/down");
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(download)) + "  /tmp/down", got);

        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(CommandTimeout));
        // The machine said goodbye: the relay ends that client's NAT and stays up.
        relay.WaitFor("client 1 closed (the client closed", CommandTimeout);
        Assert.False(relay.HasExited);
    }

    [Fact]
    public void Relay_Closes_Clients_That_Break_The_Framing_And_Goes_On()
    {
        var (relay, url) = StartRelay();
        using var _ = relay;
        var uri = new Uri(url);

        // A text message, a message longer than any frame, one shorter than an Ethernet header: each closed with its code.
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, SendAndAwaitClose(uri, Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, SendAndAwaitClose(uri, new byte[64 << 10], WebSocketMessageType.Binary));
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, SendAndAwaitClose(uri, new byte[5], WebSocketMessageType.Binary));

        // Plain HTTP and raw bytes are answered with an HTTP error, not a crash.
        Assert.StartsWith("HTTP/1.1 426", RawRequest(uri, "GET /net HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 404", RawRequest(uri, "GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 400", RawRequest(uri, "\x01\x02garbage\r\n\r\n"));
        // A page on another site must not use this host's network (browsers send its Origin), nor a rebinding name.
        Assert.StartsWith("HTTP/1.1 403", RawRequest(uri, Upgrade("127.0.0.1", "Origin: http://evil.example\r\n")));
        Assert.StartsWith("HTTP/1.1 403", RawRequest(uri, Upgrade("evil.example", "")));
        Assert.StartsWith("HTTP/1.1 101", RawRequest(uri, Upgrade("127.0.0.1", $"Origin: http://localhost:8080\r\n")));

        // A client that floods 90 MB of full-size ARP requests (padded, as Ethernet pads) and never reads the
        // answers: the relay's queues are bounded, so its memory stays small, and it drops what does not fit.
        using (var flood = Connect(uri))
        {
            var arp = ArpRequest(1514);
            for (int i = 0; i < 60_000; i++)
                flood.SendAsync(arp, WebSocketMessageType.Binary, true, CancellationToken.None).Wait(CommandTimeout);
            Thread.Sleep(500);
            long rss = ResidentBytes(relay.Id);
            Assert.True(rss < 200L << 20, $"relay resident {rss >> 20} MiB after the flood");
        }

        // Still serving: a well-behaved client gets its ARP answer from the gateway.
        using var good = Connect(uri);
        good.SendAsync(ArpRequest(), WebSocketMessageType.Binary, true, CancellationToken.None).Wait(CommandTimeout);
        var buffer = new byte[2048];
        var r = good.ReceiveAsync(buffer, new CancellationTokenSource(CommandTimeout).Token).Result;
        Assert.Equal(WebSocketMessageType.Binary, r.MessageType);
        Assert.True(r.EndOfMessage);
        Assert.Equal(42, r.Count);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(20)));   // ARP reply
        Assert.Equal([0x52, 0x55, 0x0A, 0x00, 0x02, 0x02], buffer.AsSpan(22, 6).ToArray());   // slirp's gateway MAC
        good.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).Wait(CommandTimeout);

        Assert.False(relay.HasExited);
        Assert.DoesNotContain("internal error", relay.Output);
        Assert.Contains("refused: text message", relay.Output);
        Assert.Contains("refused: a message is one Ethernet frame of at most 1518 bytes", relay.Output);
        Assert.Matches(@"refused: a message of 5 bytes is not an Ethernet frame", relay.Output);
        // The good client's line (1 ARP in, 1 reply out) comes last; by then the flooder's has been written too.
        relay.WaitFor("1 frames in, 1 out, 0 dropped)", CommandTimeout);
        var flooded = Regex.Matches(relay.Output, @"closed \([^;]*; ([0-9]+) frames in, ([0-9]+) out, ([0-9]+) dropped\)")
            .Where(m => long.Parse(m.Groups[1].Value) + long.Parse(m.Groups[3].Value) >= 1000);
        Assert.True(flooded.Any(), relay.Output);
    }

    [Theory]
    [InlineData(2, "invalid --port (0-65535)", "--port", "http")]
    [InlineData(2, "invalid --host 'example.org'", "--host", "example.org")]
    [InlineData(2, "unknown option '--frobnicate'", "--frobnicate")]
    public void Relay_Bad_Flags_Are_One_Line(int status, string message, params string[] args)
    {
        using var relay = new WemuProcess(["relay", .. args]);
        Assert.Equal(status, relay.WaitForExit(CommandTimeout));
        Thread.Sleep(100);
        string[] lines = relay.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, relay.Output);
        Assert.StartsWith("wemu relay: " + message, lines[0]);
    }

    [Fact]
    public void Relay_On_A_Port_In_Use_Is_One_Line_And_Status_1()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var relay = new WemuProcess("relay", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, relay.WaitForExit(CommandTimeout));
        Thread.Sleep(100);
        string[] lines = relay.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, relay.Output);
        Assert.StartsWith($"wemu relay: cannot listen on 127.0.0.1:{port}:", lines[0]);
    }

    private static ClientWebSocket Connect(Uri uri)
    {
        var ws = new ClientWebSocket();
        ws.ConnectAsync(uri, new CancellationTokenSource(CommandTimeout).Token).Wait(CommandTimeout);
        return ws;
    }

    private static WebSocketCloseStatus? SendAndAwaitClose(Uri uri, byte[] message, WebSocketMessageType type)
    {
        using var ws = Connect(uri);
        ws.SendAsync(message, type, true, CancellationToken.None).Wait(CommandTimeout);
        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(CommandTimeout);
        while (true)
        {
            var r = ws.ReceiveAsync(buffer, timeout.Token).Result;
            if (r.MessageType == WebSocketMessageType.Close)
                return ws.CloseStatus;
        }
    }

    private static string Upgrade(string host, string extra) =>
        $"GET /net HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        + $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n";

    /// <summary>Sends <paramref name="request"/> on a plain TCP connection and returns the first line of the answer.</summary>
    private static string RawRequest(Uri uri, string request)
    {
        using var tcp = new TcpClient();
        tcp.Connect(IPAddress.Loopback, uri.Port);
        tcp.ReceiveTimeout = 30_000;
        var stream = tcp.GetStream();
        stream.Write(Encoding.Latin1.GetBytes(request));
        var answer = new byte[512];
        int n = stream.Read(answer);
        return Encoding.Latin1.GetString(answer, 0, n).Split("\r\n")[0];
    }

    private static long ResidentBytes(int pid)
    {
        var m = Regex.Match(File.ReadAllText($"/proc/{pid}/status"), @"VmRSS:\s+([0-9]+) kB");
        return m.Success ? long.Parse(m.Groups[1].Value) << 10 : 0;
    }

    /// <summary>"Who has 10.0.2.2? Tell 10.0.2.15", from QEMU's default MAC, padded to <paramref name="size"/> bytes.</summary>
    private static byte[] ArpRequest(int size = 42)
    {
        var f = new byte[size];
        f.AsSpan(0, 6).Fill(0xFF);
        byte[] mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        mac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);        // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);   // IPv4
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1);        // request
        mac.CopyTo(f, 22);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(28), 0x0A00020F);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(38), 0x0A000202);
        return f;
    }
}
