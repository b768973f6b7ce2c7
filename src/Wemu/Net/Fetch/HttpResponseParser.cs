using System.Globalization;

namespace Wemu.Net.Fetch;

/// <summary>
/// Parses the one HTTP/1.x response (RFC 9112) a server in the guest sends to a request from the page, as the bytes
/// arrive: 1xx interim responses are skipped, the body is delimited by Content-Length, by the chunked coding, or by
/// the end of the stream (<see cref="EndOfStream"/>), and has none after HEAD, 204 and 304. The head and the body
/// are bounded (<see cref="MaxHeadBytes"/>, <see cref="MaxBodyBytes"/>); past a bound, or on malformed framing, the
/// parser fails with a one-line <see cref="Error"/>.
/// </summary>
public sealed class HttpResponseParser(bool headRequest)
{
    public const int MaxHeadBytes = 64 * 1024;
    public const int MaxBodyBytes = 16 * 1024 * 1024;

    private readonly HttpHeadReader _head = new(MaxHeadBytes);
    private int _status;
    private string _reason = "";
    private HttpFields? _fields;
    private BoundedBuffer? _body;
    private ChunkedBodyDecoder? _chunked;
    private long _remaining = -1;    // Content-Length bytes still to come; -1: to the end of the stream

    public HttpResponse? Response { get; private set; }

    public string? Error { get; private set; }

    public bool IsDone => Response != null || Error != null;

    /// <summary>Takes bytes (all of them: what follows the response is ignored); returns how many.</summary>
    public int Feed(ReadOnlySpan<byte> data)
    {
        int taken = 0;
        while (taken < data.Length && !IsDone)
        {
            if (_fields == null)
            {
                taken += _head.Feed(data[taken..]);
                if (_head.IsTooLarge)
                    return Fail($"the response head is larger than {MaxHeadBytes} bytes", data.Length);
                if (_head.IsComplete)
                    StartBody();
                continue;
            }
            if (_chunked != null)
            {
                taken += _chunked.Feed(data[taken..], _body!);
                if (_chunked.Error != null)
                    return Fail($"chunked body: {_chunked.Error}", data.Length);
                if (_chunked.IsDone)
                    Finish();
                continue;
            }
            int n = (int)(_remaining < 0 ? data.Length - taken : Math.Min(_remaining, data.Length - taken));
            if (!_body!.Append(data.Slice(taken, n)))
                return Fail($"the response body is larger than {MaxBodyBytes} bytes", data.Length);
            taken += n;
            if (_remaining > 0)
            {
                _remaining -= n;
                if (_remaining == 0)
                    Finish();
            }
        }
        return data.Length;
    }

    /// <summary>The server closed the connection: a body delimited by the close is complete, anything else is cut short.</summary>
    public void EndOfStream()
    {
        if (IsDone)
            return;
        if (_fields != null && _chunked == null && _remaining < 0)
            Finish();
        else
            Error = _fields == null ? "the guest closed the connection without a response" : "the guest closed the connection before the end of the body";
    }

    private void StartBody()
    {
        var lines = _head.Lines();
        _head.Reset();
        string line = lines[0];
        // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4)
        if (line.Length < 12 || !(line.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) || line.StartsWith("HTTP/1.0 ", StringComparison.Ordinal))
            || !int.TryParse(line.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int status) || status < 100
            || (line.Length > 12 && line[12] != ' '))
        {
            Fail($"a malformed status line '{HttpFields.Printable(line)}'", 0);
            return;
        }
        var fields = HttpFields.Parse(lines, 1, out string? error);
        if (fields == null)
        {
            Fail(error!, 0);
            return;
        }
        if (status < 200)
            return;   // 1xx: an interim response (100 Continue...); the real one follows
        _status = status;
        _reason = line.Length > 13 ? line[13..] : "";
        _fields = fields;
        _body = new BoundedBuffer(MaxBodyBytes);
        if (headRequest || status is 204 or 304)
        {
            Finish();
            return;
        }
        if (fields.Get("Transfer-Encoding") is { } coding)
        {
            if (!fields.HasToken("Transfer-Encoding", "chunked"))
            {
                Fail($"Transfer-Encoding '{HttpFields.Printable(coding)}' (only chunked is understood)", 0);
                return;
            }
            _chunked = new ChunkedBodyDecoder();
            return;
        }
        if (fields.Get("Content-Length") is { } length)
        {
            if (!long.TryParse(length, NumberStyles.None, CultureInfo.InvariantCulture, out _remaining))
            {
                Fail($"a malformed Content-Length '{HttpFields.Printable(length)}'", 0);
                return;
            }
            if (_remaining > MaxBodyBytes)
            {
                Fail($"a response body of {_remaining} bytes (the bound is {MaxBodyBytes})", 0);
                return;
            }
            if (_remaining == 0)
                Finish();
        }
    }

    private void Finish() => Response = new HttpResponse(_status, _reason, _fields!, _body!.Take());

    private int Fail(string reason, int taken)
    {
        Error = reason;
        return taken;
    }
}
