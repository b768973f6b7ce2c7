namespace Wemu.Net.Fetch;

/// <summary>
/// One guest TCP connection to an outside address in the page, seen by the stack as a host socket: the bytes the
/// guest writes are HTTP/1.x requests (<see cref="HttpRequestParser"/>), each becomes a <c>fetch()</c> of
/// <c>{origin}{path}</c> (<see cref="FetchNetworkHost"/> chose the origin from the address the guest connected to),
/// and the answer goes back as an HTTP/1.1 response: the status and fields of the fetched response, its body with a
/// Content-Length when the browser knew it, chunked otherwise (to-the-end for HTTP/1.0). Pipelined requests are
/// answered in order, one fetch at a time per connection. A fetch that fails before its response is a 502 with the
/// reason as its one-line body; one that fails in the body ends the connection (the guest sees the body cut short).
/// Memory is bounded: the parser's bounds, <see cref="FetchExchange.MaxBuffered"/> of body waiting, and
/// <see cref="OutputBytes"/> of output.
/// A connection that opens with a TLS handshake record is HTTPS: with the page's <see cref="ITlsTerminator"/> the
/// same HTTP runs inside the terminated TLS and fetches the https origin; without one it is reset.
/// </summary>
internal sealed class FetchProxyConnection : IHostTcpSocket
{
    /// <summary>Output buffered toward the stack (which itself buffers 64 KiB toward the guest).</summary>
    public const int OutputBytes = 128 * 1024;

    private readonly FetchNetworkHost _host;
    private string _origin;
    private readonly string _tlsOrigin, _certificateName;
    private ITlsServerSession? _tls;                  // HTTPS: the guest's TLS, terminated here
    private readonly byte[] _plain = new byte[16 * 1024];
    private int _plainStart, _plainEnd;               // decrypted bytes the parser has not taken yet

    /// <summary>Decrypted bytes held inside the TLS session before the guest's input is refused (its window closes).</summary>
    public const int MaxTlsPlaintext = 64 * 1024;
    private readonly HttpRequestParser _parser = new();
    private readonly ByteRing _out = new(OutputBytes);
    private HttpRequest? _request;
    private FetchExchange? _exchange;
    private bool _headWritten, _noBody, _chunked;
    private long _bodyLeft;          // Content-Length framing: bytes still owed
    private bool _closing;           // send what is buffered, then end the stream
    private bool _broken;            // reset the connection
    private bool _sawBytes;
    private bool _closeAfterResponse; // this response says Connection: close
    private bool _guestClosed;        // the guest sent FIN: answer what it asked, then close
    private bool _disposed;

    /// <param name="host">The page's network.</param>
    /// <param name="origin">What plain HTTP on this connection fetches.</param>
    /// <param name="tlsOrigin">What HTTPS on this connection fetches, once its TLS is terminated.</param>
    /// <param name="certificateName">The name the certificate is for when the ClientHello has no SNI.</param>
    public FetchProxyConnection(FetchNetworkHost host, string origin, string tlsOrigin, string certificateName)
    {
        _host = host;
        _origin = origin;
        _tlsOrigin = tlsOrigin;
        _certificateName = certificateName;
    }

    public HostSocketState State => HostSocketState.Connected;

    public int Receive(Span<byte> buffer)
    {
        if (_disposed || _broken)
            return IHostTcpSocket.Error;
        if (_tls != null)
            FeedPlaintext();
        Pump();
        if (_broken)
            return IHostTcpSocket.Error;
        if (buffer.IsEmpty)
            return IHostTcpSocket.WouldBlock;
        if (_tls != null)
            return ReceiveTls(buffer);
        if (_out.Count > 0)
        {
            _host.NoteProgress();
            int n = 0;
            while (n < buffer.Length && _out.Count > 0)
            {
                var span = _out.ReadableSpan();
                int take = Math.Min(span.Length, buffer.Length - n);
                span[..take].CopyTo(buffer[n..]);
                _out.Consume(take);
                n += take;
            }
            return n;
        }
        return _closing && _exchange == null ? 0 : IHostTcpSocket.WouldBlock;
    }

    public int Send(ReadOnlySpan<byte> data)
    {
        if (_disposed || _broken)
            return IHostTcpSocket.Error;
        if (_closing || _parser.ErrorStatus != 0)
            return data.Length;   // nothing after a bad request or a close can be answered: dropped
        if (!_sawBytes && data.Length > 0)
        {
            _sawBytes = true;
            if (data[0] == 0x16)
            {
                // A TLS handshake record (type 22): HTTPS. Terminated here with the page's CA when the page has
                // one; else a reset, not an HTTP answer the TLS client could not read.
                if (_host.Tls == null)
                {
                    _host.Log($"{_origin}: the guest speaks TLS (HTTPS), which this page does not terminate; connection reset");
                    _broken = true;
                    return IHostTcpSocket.Error;
                }
                _tls = _host.Tls.Accept(_certificateName);
                _origin = _tlsOrigin;
            }
        }
        if (_tls != null)
            return SendTls(data);
        int n = _parser.Feed(data);
        Pump();
        return n;
    }

    private int SendTls(ReadOnlySpan<byte> data)
    {
        var tls = _tls!;
        if (tls.Error != null)
            return data.Length;
        if (tls.PlaintextAvailable > MaxTlsPlaintext)
            return 0;   // the parser is behind: the guest's window closes until it catches up
        if (!tls.Offer(data))
        {
            _host.Log($"{_origin}: the guest's TLS failed: {tls.Error}");
            _closing = true;   // the alert goes out, then the end of the stream
            return data.Length;
        }
        FeedPlaintext();
        Pump();
        return data.Length;
    }

    /// <summary>Moves decrypted bytes into the request parser as far as it takes them.</summary>
    private void FeedPlaintext()
    {
        var tls = _tls!;
        while (_parser.ErrorStatus == 0 && !_closing)
        {
            if (_plainStart == _plainEnd)
            {
                if (tls.PlaintextAvailable == 0)
                    return;
                _plainStart = 0;
                _plainEnd = tls.ReadPlaintext(_plain);
                if (_plainEnd <= 0)
                {
                    _plainEnd = 0;
                    return;
                }
            }
            int n = _parser.Feed(_plain.AsSpan(_plainStart, _plainEnd - _plainStart));
            if (n == 0)
                return;
            _plainStart += n;
        }
    }

    /// <summary>Encrypts buffered output as the stack has room for it; the session's own bytes (handshake, alerts) first.</summary>
    private int ReceiveTls(Span<byte> buffer)
    {
        var tls = _tls!;
        while (_out.Count > 0 && tls.IsHandshakeComplete && tls.Error == null && tls.CiphertextAvailable < buffer.Length)
        {
            var span = _out.ReadableSpan();
            int n = Math.Min(span.Length, 16 * 1024);
            tls.WritePlaintext(span[..n]);
            _out.Consume(n);
        }
        if (tls.CiphertextAvailable > 0)
        {
            _host.NoteProgress();
            return tls.ReadCiphertext(buffer);
        }
        if (tls.Error != null || tls.IsClosed || (_closing && _exchange == null && _out.Count == 0))
            return 0;
        return IHostTcpSocket.WouldBlock;
    }

    /// <summary>The guest closed its side: answer what it asked, then close.</summary>
    public void ShutdownSend()
    {
        _guestClosed = true;
        Pump();
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _host.ProxyConnectionClosed();
        EndExchange(cancel: true);
    }

    /// <summary>Moves the connection on: starts the next fetch, writes heads and body pieces while there is room.</summary>
    private void Pump()
    {
        while (!_broken && !_disposed)
        {
            if (_exchange == null)
            {
                if (_closing || !StartNext())
                    return;
            }
            var ex = _exchange!;
            if (!_headWritten)
            {
                if (ex.Failure != null)
                {
                    _host.Log($"{ex.Request.Method} {ex.Request.Url}: {ex.Failure} (the guest gets 502)");
                    if (!WriteError(502, $"wemu: fetch {ex.Request.Url} failed: {ex.Failure}"))
                        return;
                    EndExchange(cancel: false);
                    continue;
                }
                if (!ex.HasResponse || !WriteHead(ex))
                    return;
            }
            if (!PumpBody(ex))
                return;
        }
    }

    /// <summary>Takes the next parsed request and starts its fetch, or answers a parse error; false if there is nothing to do now.</summary>
    private bool StartNext()
    {
        if (_parser.Count == 0)
        {
            if (_parser.ErrorStatus != 0)
            {
                _host.Log($"{_origin}: a malformed request from the guest: {_parser.Error} (the guest gets {_parser.ErrorStatus})");
                if (WriteError(_parser.ErrorStatus, $"wemu: {_parser.Error}", close: true))
                    _closing = true;
            }
            else if (_guestClosed)
                _closing = true;
            return false;
        }
        if (!_host.TryAcquireFetch())
            return false;   // the page's fetches are all busy: this one waits (the guest sees a slow server)
        _parser.TryTake(out var request);
        _request = request;
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var f in request.Fields.All)
            if (!FetchNetworkHost.IsDroppedRequestField(f.Key))
                headers.Add(f);
        _exchange = new FetchExchange(new FetchRequest(request.Method, UrlOf(request), headers, request.Body));
        _headWritten = false;
        _host.Client.Start(_exchange);
        return true;
    }

    /// <summary>
    /// What to fetch: the connection's origin and the request's path; but an absolute-form target (RFC 9112 3.2.2,
    /// a client told to use 10.0.2.2 as its http_proxy, as container2wasm's guests are) is fetched as it names,
    /// with 10.0.2.2 in it standing for the page's host as everywhere.
    /// </summary>
    private string UrlOf(HttpRequest request)
    {
        if (_tls == null && Uri.TryCreate(request.Target, UriKind.Absolute, out var target) && target.Scheme == "http")
        {
            return target.Host == "10.0.2.2"
                ? _host.GatewayOrigin((ushort)target.Port) + target.PathAndQuery
                : target.GetLeftPart(UriPartial.Authority) + target.PathAndQuery;
        }
        return _origin + request.PathAndQuery;
    }

    private bool WriteHead(FetchExchange ex)
    {
        var request = _request!;
        _noBody = request.Method == "HEAD" || ex.Status is (>= 100 and < 200) or 204 or 304;
        var framing = _noBody ? HttpResponseWriter.Framing.None
            : ex.ContentLength >= 0 ? HttpResponseWriter.Framing.ContentLength
            : request.MinorVersion >= 1 ? HttpResponseWriter.Framing.Chunked
            : HttpResponseWriter.Framing.Close;
        bool close = !request.KeepAlive || framing == HttpResponseWriter.Framing.Close;
        int status = ex.Status is >= 200 and <= 599 ? ex.Status : 502;
        var head = HttpResponseWriter.Head(status, ex.StatusText, ex.Headers, framing, ex.ContentLength, close);
        if (head.Length > _out.Free)
            return false;
        _out.Write(head);
        _headWritten = true;
        _chunked = framing == HttpResponseWriter.Framing.Chunked;
        _bodyLeft = framing == HttpResponseWriter.Framing.ContentLength ? ex.ContentLength : long.MaxValue;
        if (close)
            _closeAfterResponse = true;
        if (_noBody)
            _host.Client.Cancel(ex);   // nothing of the body is wanted
        return true;
    }

    /// <summary>Copies body pieces while there is room; true when the exchange is over (next request), false to wait.</summary>
    private bool PumpBody(FetchExchange ex)
    {
        Span<byte> size = stackalloc byte[16];
        while (true)
        {
            if (_noBody)
            {
                EndExchange(cancel: false);
                return true;
            }
            if (ex.Available > 0)
            {
                int room = _out.Free - (_chunked ? 16 : 0);
                int n = (int)Math.Min(Math.Min(room, ex.Available), _bodyLeft);
                if (n <= 0 && _bodyLeft > 0)
                    return false;   // the guest has not taken the output yet
                if (_chunked)
                    _out.Write(size[..HttpResponseWriter.ChunkHeader(n, size)]);
                for (int left = n; left > 0;)
                {
                    var span = _out.WritableSpan();   // straight into the ring (two spans when it wraps)
                    int took = ex.TakeBody(span[..Math.Min(span.Length, left)]);
                    _out.Commit(took);
                    left -= took;
                }
                if (_chunked)
                    _out.Write("\r\n"u8);
                if (_bodyLeft != long.MaxValue)
                {
                    _bodyLeft -= n;
                    if (_bodyLeft == 0)
                    {
                        // All the announced body is out: the response is complete for the guest. More than the
                        // Content-Length announced cannot be framed: the connection ends after it.
                        if (ex.Available > 0)
                            _closeAfterResponse = true;
                        EndExchange(cancel: !ex.BodyEnded);
                        return true;
                    }
                }
                continue;
            }
            if (ex.Failure != null)
            {
                _host.Log($"{ex.Request.Method} {ex.Request.Url}: the body broke off: {ex.Failure}");
                _closing = true;   // cut short: the guest sees fewer bytes than announced, or no last chunk
                EndExchange(cancel: true);
                return false;
            }
            if (ex.BodyEnded)
            {
                if (_chunked)
                {
                    if (_out.Free < 5)
                        return false;
                    _out.Write("0\r\n\r\n"u8);
                }
                else if (_bodyLeft != long.MaxValue && _bodyLeft > 0)
                {
                    _host.Log($"{ex.Request.Method} {ex.Request.Url}: the body ended {_bodyLeft} bytes short of its Content-Length");
                    _closing = true;
                }
                else if (_bodyLeft == long.MaxValue)
                    _closing = true;   // HTTP/1.0 framing: the end of the stream is the end of the body
                EndExchange(cancel: false);
                return true;
            }
            if (!ex.Reading && ex.Available < FetchExchange.MaxBuffered / 2)
            {
                ex.Reading = true;
                _host.Client.ReadBody(ex);
                continue;   // a client may answer at once
            }
            return false;
        }
    }

    private bool WriteError(int status, string message, bool close = false)
    {
        bool keep = !close && _request is { KeepAlive: true };
        var bytes = HttpResponseWriter.Error(status, message, !keep);
        if (bytes.Length > _out.Free)
            return false;
        _out.Write(bytes);
        if (!keep)
            _closeAfterResponse = true;
        return true;
    }

    private void EndExchange(bool cancel)
    {
        var ex = _exchange;
        if (ex == null)
            return;
        _exchange = null;
        _request = null;
        if (cancel && !ex.BodyEnded && ex.Failure == null)
            _host.Client.Cancel(ex);
        _host.ReleaseFetch();
        if (_closeAfterResponse)
            _closing = true;   // Connection: close was answered; requests pipelined behind it are dropped
        _closeAfterResponse = false;
    }
}
