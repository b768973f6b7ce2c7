using System.Text;

namespace Wemu.Net.Fetch;

/// <summary>
/// One request from the page to a server in the guest (<c>vm.fetch</c>), as a host socket the stack connects into
/// the guest: it writes the request (HTTP/1.1, <c>Connection: close</c>) and parses what the guest answers
/// (<see cref="HttpResponseParser"/>). <see cref="Completed"/> runs once, when the response is whole or the
/// exchange failed (the guest refused the connection, reset it, closed it early, or sent something malformed).
/// </summary>
public sealed class GuestHttpExchange : IHostTcpSocket
{
    private readonly byte[] _request;
    private int _sent;
    private readonly HttpResponseParser _parser;
    private bool _connected;
    private bool _finished;

    public GuestHttpExchange(HttpRequest request, ushort port)
    {
        Port = port;
        _parser = new HttpResponseParser(request.Method == "HEAD");
        var head = new StringBuilder();
        head.Append(request.Method).Append(' ').Append(request.PathAndQuery).Append(" HTTP/1.1\r\n");
        head.Append("Host: localhost:").Append(port).Append("\r\n");
        foreach (var (name, value) in request.Fields.All)
            if (!HttpResponseWriter.IsHopByHop(name) && !string.Equals(name, "Host", StringComparison.OrdinalIgnoreCase))
                head.Append(name).Append(": ").Append(value).Append("\r\n");
        if (request.Body.Length > 0 || request.Method is "POST" or "PUT" or "PATCH")
            head.Append("Content-Length: ").Append(request.Body.Length).Append("\r\n");
        head.Append("Connection: close\r\n\r\n");
        var h = Encoding.Latin1.GetBytes(head.ToString());
        _request = new byte[h.Length + request.Body.Length];
        h.CopyTo(_request, 0);
        request.Body.CopyTo(_request, h.Length);
    }

    public ushort Port { get; }

    /// <summary>Runs once with this exchange when <see cref="Response"/> or <see cref="Error"/> is set.</summary>
    public Action<GuestHttpExchange>? Completed { get; set; }

    public HttpResponse? Response { get; private set; }

    public string? Error { get; private set; }

    public HostSocketState State => HostSocketState.Connected;

    public int Receive(Span<byte> buffer)
    {
        _connected = true;
        if (_finished)
            return 0;
        int n = Math.Min(buffer.Length, _request.Length - _sent);
        if (n == 0)
            return IHostTcpSocket.WouldBlock;   // the request is out; the server answers and closes
        _request.AsSpan(_sent, n).CopyTo(buffer);
        _sent += n;
        return n;
    }

    public int Send(ReadOnlySpan<byte> data)
    {
        if (_finished)
            return data.Length;
        _parser.Feed(data);
        Check();
        return _finished && Error != null ? IHostTcpSocket.Error : data.Length;
    }

    public void ShutdownSend()
    {
        _parser.EndOfStream();
        Check();
    }

    /// <summary>The stack dropped the connection (reset, refused, or the network went away).</summary>
    public void Dispose()
    {
        if (_finished)
            return;
        _parser.EndOfStream();
        if (_parser.Response == null)
            Finish(null, _connected
                ? $"the connection to guest port {Port} was reset before a whole response ({_parser.Error ?? "no response"})"
                : $"guest port {Port} refused the connection (is a server listening on it?)");
        else
            Check();
    }

    /// <summary>Ends the exchange from the page's side (vm.fetch gave up).</summary>
    public void Abort(string reason) => Finish(null, reason);

    private void Check()
    {
        if (_finished || !_parser.IsDone)
            return;
        Finish(_parser.Response, _parser.Response == null ? $"guest port {Port}: {_parser.Error}" : null);
    }

    private void Finish(HttpResponse? response, string? error)
    {
        if (_finished)
            return;
        _finished = true;
        Response = response;
        Error = error;
        Completed?.Invoke(this);
    }
}
