namespace Wemu.Net.Fetch;

/// <summary>
/// One <c>fetch()</c> on behalf of the guest: the request, and the answer as the client delivers it — the response
/// head, then the body in pieces while the stack wants them (the stack asks with <see cref="IFetchClient.ReadBody"/>;
/// the client hands over pieces until <see cref="Body"/> says there is no more room, at most
/// <see cref="MaxBuffered"/> bytes), then its end, or a failure at any point. The connection reads it from its poll.
/// Several pieces per request let a whole burst cross between two slices of the machine (the page delivers only
/// then): one piece per slice capped a download at a few MB/s.
/// </summary>
public sealed class FetchExchange(FetchRequest request)
{
    /// <summary>The largest body piece the client may hand over at once.</summary>
    public const int MaxPiece = 64 * 1024;

    /// <summary>Body bytes held here before <see cref="Body"/> says stop.</summary>
    public const int MaxBuffered = 256 * 1024;

    private readonly Queue<byte[]> _pieces = new();
    private int _offset;     // into the first piece

    public FetchRequest Request { get; } = request;

    /// <summary>For the client: its handle on the exchange (the browser client's fetch id).</summary>
    public int Id { get; set; }

    public bool HasResponse { get; private set; }

    public int Status { get; private set; }

    public string StatusText { get; private set; } = "";

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; private set; } = [];

    /// <summary>The body's length if the response said it and the body is not re-coded, else -1.</summary>
    public long ContentLength { get; private set; } = -1;

    /// <summary>Why the fetch failed (before or during the body), or null.</summary>
    public string? Failure { get; private set; }

    public bool BodyEnded { get; private set; }

    /// <summary>True while the client may hand over pieces (from <see cref="IFetchClient.ReadBody"/> until the buffer fills).</summary>
    public bool Reading { get; internal set; }

    /// <summary>Body bytes waiting here.</summary>
    public int Available { get; private set; }

    /// <summary>The response head arrived.</summary>
    public void Respond(int status, string statusText, IReadOnlyList<KeyValuePair<string, string>> headers, long contentLength)
    {
        if (HasResponse || Failure != null)
            return;
        HasResponse = true;
        Status = status;
        StatusText = statusText;
        Headers = headers;
        ContentLength = contentLength;
    }

    /// <summary>One piece of the body (copied); true if there is room for more, false when the client must wait for the next read.</summary>
    public bool Body(ReadOnlySpan<byte> piece)
    {
        if (Failure != null || BodyEnded)
        {
            Reading = false;
            return false;
        }
        if (piece.Length > MaxPiece || Available >= MaxBuffered)
        {
            Fail($"the page delivered a body piece of {piece.Length} bytes with {Available} bytes waiting (at most {MaxPiece}, until {MaxBuffered})");
            return false;
        }
        if (piece.Length > 0)
        {
            _pieces.Enqueue(piece.ToArray());
            Available += piece.Length;
        }
        if (Available >= MaxBuffered)
            Reading = false;
        return Reading;
    }

    public void End()
    {
        Reading = false;
        BodyEnded = true;
    }

    public void Fail(string reason)
    {
        Reading = false;
        Failure ??= reason;
    }

    /// <summary>Copies body bytes out of the waiting pieces.</summary>
    internal int TakeBody(Span<byte> destination)
    {
        int n = 0;
        while (n < destination.Length && _pieces.Count > 0)
        {
            var first = _pieces.Peek();
            int take = Math.Min(destination.Length - n, first.Length - _offset);
            first.AsSpan(_offset, take).CopyTo(destination[n..]);
            n += take;
            _offset += take;
            if (_offset == first.Length)
            {
                _pieces.Dequeue();
                _offset = 0;
            }
        }
        Available -= n;
        return n;
    }
}
