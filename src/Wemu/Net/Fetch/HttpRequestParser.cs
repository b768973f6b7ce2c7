using System.Globalization;

namespace Wemu.Net.Fetch;

/// <summary>
/// Parses the HTTP/1.x requests (RFC 9112) a guest writes on one connection, as the bytes arrive, pipelined or
/// not. Bounded everywhere: the head (<see cref="MaxHeadBytes"/>), the body (<see cref="MaxBodyBytes"/>, with a
/// Content-Length or chunked), the requests parsed and not yet taken (<see cref="MaxQueuedRequests"/>, and their bodies
/// together <see cref="MaxBodyBytes"/>: beyond either <see cref="Feed"/> takes nothing and the guest's TCP window
/// closes), so one connection holds at most about twice <see cref="MaxBodyBytes"/>. The first malformed request stops the
/// parser with the status to answer (<see cref="ErrorStatus"/>) and a one-line reason; a proxy answers it and
/// closes, since nothing after a bad message can be framed.
/// </summary>
public sealed class HttpRequestParser
{
    public const int MaxHeadBytes = 16 * 1024;
    public const int MaxBodyBytes = 4 * 1024 * 1024;
    public const int MaxQueuedRequests = 4;

    private readonly HttpHeadReader _head = new(MaxHeadBytes);
    private readonly Queue<HttpRequest> _ready = new();
    private HttpRequest? _current;     // head parsed, body coming
    private BoundedBuffer? _body;
    private long _bodyRemaining;       // Content-Length bytes still to come
    private ChunkedBodyDecoder? _chunked;
    private long _queuedBodyBytes;     // the bodies of the requests in _ready

    /// <summary>The status to answer once the parser failed (400, 413, 431, 501, 505), or 0.</summary>
    public int ErrorStatus { get; private set; }

    /// <summary>Why the parser failed, one line.</summary>
    public string? Error { get; private set; }

    /// <summary>Requests complete and waiting to be taken.</summary>
    public int Count => _ready.Count;

    public bool TryTake(out HttpRequest request)
    {
        if (!_ready.TryDequeue(out request!))
            return false;
        _queuedBodyBytes -= request.Body.Length;
        return true;
    }

    /// <summary>Takes what it can of <paramref name="data"/>; returns the bytes taken (fewer when requests queue up or it failed).</summary>
    public int Feed(ReadOnlySpan<byte> data)
    {
        int taken = 0;
        while (taken < data.Length && ErrorStatus == 0)
        {
            if (_current == null)
            {
                if (_ready.Count >= MaxQueuedRequests || _queuedBodyBytes >= MaxBodyBytes)
                    break;
                taken += _head.Feed(data[taken..]);
                if (_head.IsTooLarge)
                    return Fail(431, $"the request head is larger than {MaxHeadBytes} bytes", taken);
                if (!_head.IsComplete)
                    continue;
                if (!StartRequest())
                    return taken;
                continue;
            }
            if (_chunked != null)
            {
                taken += _chunked.Feed(data[taken..], _body!);
                if (_chunked.Error != null)
                    return Fail(_chunked.IsTooLarge ? 413 : 400, $"chunked body: {_chunked.Error}", taken);
                if (_chunked.IsDone)
                    Finish();
                continue;
            }
            int take = (int)Math.Min(_bodyRemaining, data.Length - taken);
            _body!.Append(data.Slice(taken, take));   // fits: the length was checked against the bound
            taken += take;
            _bodyRemaining -= take;
            if (_bodyRemaining == 0)
                Finish();
        }
        return taken;
    }

    /// <summary>Parses the complete head; false if the parser failed.</summary>
    private bool StartRequest()
    {
        var lines = _head.Lines();
        _head.Reset();
        string line = lines[0];
        var parts = line.Split(' ');
        if (parts.Length != 3 || !HttpFields.IsToken(parts[0]) || parts[1].Length == 0 || !IsTarget(parts[1]))
        {
            Fail(400, $"a malformed request line '{HttpFields.Printable(line)}'", 0);
            return false;
        }
        int minor = parts[2] switch { "HTTP/1.1" => 1, "HTTP/1.0" => 0, _ => -1 };
        if (minor < 0)
        {
            bool http = parts[2].StartsWith("HTTP/", StringComparison.Ordinal);
            Fail(http ? 505 : 400, http ? $"{HttpFields.Printable(parts[2])} is not spoken here (HTTP/1.0 and 1.1 are)" : $"a malformed request line '{HttpFields.Printable(line)}'", 0);
            return false;
        }
        var fields = HttpFields.Parse(lines, 1, out string? error);
        if (fields == null)
        {
            Fail(400, error!, 0);
            return false;
        }
        if (minor == 1 && fields.Get("Host") == null)
        {
            Fail(400, "an HTTP/1.1 request without Host", 0);   // RFC 9112 3.2
            return false;
        }
        var request = new HttpRequest { Method = parts[0], Target = parts[1], MinorVersion = minor, Fields = fields };
        bool hasTransferCoding = fields.Get("Transfer-Encoding") != null;
        var lengths = fields.GetAll("Content-Length").ToList();
        if (hasTransferCoding)
        {
            // RFC 9112 6.1: both is a smuggling attempt or a broken client; only "chunked" alone is understood.
            if (lengths.Count > 0)
            {
                Fail(400, "both Transfer-Encoding and Content-Length", 0);
                return false;
            }
            if (!string.Equals(fields.Get("Transfer-Encoding")!.Trim(), "chunked", StringComparison.OrdinalIgnoreCase)
                || fields.GetAll("Transfer-Encoding").Count() != 1)
            {
                Fail(501, $"Transfer-Encoding '{HttpFields.Printable(fields.Get("Transfer-Encoding")!)}' (only chunked is understood)", 0);
                return false;
            }
            _current = request;
            _body = new BoundedBuffer(MaxBodyBytes);
            _chunked = new ChunkedBodyDecoder();
            return true;
        }
        long length = 0;
        if (lengths.Count > 0)
        {
            if (!long.TryParse(lengths[0], NumberStyles.None, CultureInfo.InvariantCulture, out length) || lengths.Any(l => l != lengths[0]))
            {
                Fail(400, $"a malformed Content-Length '{HttpFields.Printable(lengths[0])}'", 0);
                return false;
            }
            if (length > MaxBodyBytes)
            {
                Fail(413, $"a request body of {length} bytes (the bound is {MaxBodyBytes})", 0);
                return false;
            }
        }
        _current = request;
        _body = new BoundedBuffer((int)length);
        _bodyRemaining = length;
        _chunked = null;
        if (length == 0)
            Finish();
        return true;
    }

    private void Finish()
    {
        var r = _current!;
        var request = new HttpRequest { Method = r.Method, Target = r.Target, MinorVersion = r.MinorVersion, Fields = r.Fields, Body = _body!.Take() };
        _ready.Enqueue(request);
        _queuedBodyBytes += request.Body.Length;
        _current = null;
        _body = null;
        _chunked = null;
    }

    /// <summary>Visible ASCII only (RFC 9112 3.2 targets carry no spaces or controls).</summary>
    private static bool IsTarget(string s)
    {
        foreach (char c in s)
            if (c <= 0x20 || c >= 0x7F)
                return false;
        return s[0] == '/' || s.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || s == "*"
            || s.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
    }

    private int Fail(int status, string reason, int taken)
    {
        ErrorStatus = status;
        Error = reason;
        return taken;
    }
}
