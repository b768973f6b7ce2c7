namespace Wemu.Net.Fetch;

/// <summary>
/// One <c>fetch()</c> on behalf of the guest: the request, and the answer as the client delivers it — the response
/// head, then the body one piece at a time (the stack asks for each, so at most one piece waits here), then its
/// end, or a failure at any point. The connection reads it from its poll.
/// </summary>
public sealed class FetchExchange(FetchRequest request)
{
    /// <summary>The largest body piece the client may hand over at once.</summary>
    public const int MaxPiece = 64 * 1024;

    private byte[]? _piece;
    private int _pieceOffset;

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

    /// <summary>True while a body piece was asked for and has not come.</summary>
    public bool Reading { get; internal set; }

    internal int Available => _piece == null ? 0 : _piece.Length - _pieceOffset;

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

    /// <summary>One piece of the body (the client keeps it no longer: it is copied).</summary>
    public void Body(ReadOnlySpan<byte> piece)
    {
        Reading = false;
        if (Failure != null || BodyEnded)
            return;
        if (piece.Length > MaxPiece || Available > 0)
        {
            Fail($"the page delivered a body piece of {piece.Length} bytes out of turn");
            return;
        }
        _piece = piece.ToArray();
        _pieceOffset = 0;
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

    /// <summary>Copies body bytes out of the waiting piece.</summary>
    internal int TakeBody(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, Available);
        _piece.AsSpan(_pieceOffset, n).CopyTo(destination);
        _pieceOffset += n;
        if (Available == 0)
            _piece = null;
        return n;
    }
}
