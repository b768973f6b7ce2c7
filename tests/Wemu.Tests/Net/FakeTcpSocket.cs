using Wemu.Net;

namespace Wemu.Tests.Net;

/// <summary>A host TCP socket whose state, data and reading the test controls (<see cref="FakeNetworkHost"/>).</summary>
internal sealed class FakeTcpSocket : IHostTcpSocket
{
    public HostSocketState State { get; set; }

    public uint Address;
    public ushort Port;

    /// <summary>Bytes still offered to Receive (-1: without end); the stream ends when it reaches 0 and <see cref="Eof"/>.</summary>
    public long Readable;
    public bool Eof;
    public long BytesRead;

    /// <summary>How many bytes Send takes per call (0: the host is not reading).</summary>
    public int SendCapacity = int.MaxValue;
    public MemoryStream Sent { get; } = new();
    public bool ShutDown, Disposed;

    public int Receive(Span<byte> buffer)
    {
        if (Disposed)
            return IHostTcpSocket.Error;
        if (Readable == 0)
            return Eof ? 0 : IHostTcpSocket.WouldBlock;
        int n = Readable < 0 ? buffer.Length : (int)Math.Min(buffer.Length, Readable);
        for (int i = 0; i < n; i++)
            buffer[i] = (byte)(BytesRead + i);
        BytesRead += n;
        if (Readable > 0)
            Readable -= n;
        return n;
    }

    public int Send(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, SendCapacity);
        Sent.Write(data[..n]);
        return n;
    }

    public void ShutdownSend() => ShutDown = true;

    public void Dispose() => Disposed = true;
}
