namespace Wemu.Net;

/// <summary>A listening host TCP socket (<c>hostfwd=tcp:...</c>).</summary>
public interface IHostTcpListener : IDisposable
{
    /// <summary>A connection that arrived, already connected, or null if none is waiting.</summary>
    IHostTcpSocket? Accept();
}
