using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// 100 MiB through <c>-nic user</c> each way with the RISC-V guest and the real CLI, checked by SHA-256 on both
/// sides: a download by BusyBox <c>wget</c> from an HTTP server on the host's loopback (as 10.0.2.2), and an upload
/// by <c>nc</c> to a TCP sink there. The guest repeats one random MiB for the upload, so it needs no 100 MiB file.
/// </summary>
[Collection("Boot")]
public class CliNetworkBulkTests
{
    private const int MiB = 1 << 20;
    private const int Count = 100;
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan TransferTimeout = TimeSpan.FromSeconds(300);

    [Fact]
    public void A_Hundred_MiB_Go_Each_Way_Intact()
    {
        var download = new byte[Count * MiB];
        new Random(100).NextBytes(download);
        using var server = new LoopbackHttpServer(download);
        using var sink = new TcpSink();
        using var wemu = new WemuProcess("riscv64", "-m", "256M", "-nic", "user");
        wemu.WaitFor("Wemu guest ready", BootTimeout);
        wemu.WaitFor("/ # ", BootTimeout);

        string Run(string command) => wemu.RunShellCommand(command, TransferTimeout);

        Run(CliNetworkTests.WaitForLease);

        string got = Run($"wget -q -O - http://10.0.2.2:{server.Port}/download.bin | sha256sum");
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(download)) + "  -", got);

        const string repeat = "(i=0; while [ $i -lt 100 ]; do cat /tmp/r; i=$((i+1)); done)";
        string up = Run($"dd if=/dev/urandom of=/tmp/r bs=1024 count=1024 2>/dev/null; {repeat} | nc 10.0.2.2 {sink.Port}; echo nc=$?; {repeat} | sha256sum");
        Assert.Contains("nc=0", up);
        var (length, hash) = sink.Result(TransferTimeout);
        Assert.Equal((long)Count * MiB, length);
        Assert.Contains(hash + "  -", up);

        wemu.Send("poweroff\n");
        Assert.Equal(0, wemu.WaitForExit(TransferTimeout));
    }

    /// <summary>One TCP connection on the host's loopback, read to its end: its length and SHA-256.</summary>
    private sealed class TcpSink : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly Task<(long, string)> _result;

        public TcpSink()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen();
            _result = Task.Run(() =>
            {
                using var c = _listener.Accept();
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                long total = 0;
                int n;
                while ((n = c.Receive(buffer)) > 0)
                {
                    sha.AppendData(buffer, 0, n);
                    total += n;
                }
                return (total, Convert.ToHexStringLower(sha.GetHashAndReset()));
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public (long Length, string Hash) Result(TimeSpan timeout) =>
            _result.Wait(timeout) ? _result.Result : throw new TimeoutException("the upload never ended");

        public void Dispose() => _listener.Dispose();
    }
}
