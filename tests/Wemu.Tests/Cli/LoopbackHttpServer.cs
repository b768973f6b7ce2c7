using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Wemu.Tests.Cli;

/// <summary>
/// HTTP/1.0 on 127.0.0.1, enough for BusyBox wget: GET /download.bin returns the bytes given, POST /upload
/// answers with the SHA-256 of the body.
/// </summary>
internal sealed class LoopbackHttpServer : IDisposable
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
