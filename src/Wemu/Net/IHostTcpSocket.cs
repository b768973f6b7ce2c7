namespace Wemu.Net;

/// <summary>A host TCP connection, non-blocking: reads and writes take what is there and return.</summary>
public interface IHostTcpSocket : IDisposable
{
    /// <summary><see cref="Receive"/>: nothing to read now.</summary>
    const int WouldBlock = -1;

    /// <summary><see cref="Receive"/> and <see cref="Send"/>: the connection broke (reset, or refused).</summary>
    const int Error = -2;

    HostSocketState State { get; }

    /// <summary>Bytes read (more than 0), 0 at the end of the stream, <see cref="WouldBlock"/> or <see cref="Error"/>.</summary>
    int Receive(Span<byte> buffer);

    /// <summary>Bytes the host took (0 when its buffer is full), or <see cref="Error"/>.</summary>
    int Send(ReadOnlySpan<byte> data);

    /// <summary>Sends FIN to the host peer (the guest closed its side).</summary>
    void ShutdownSend();
}
