namespace Wemu.Net.Fetch;

/// <summary>
/// The page's <c>fetch()</c> as the stack sees it. Nothing here blocks or calls back at once in the browser: the
/// client answers later through the exchange (<see cref="FetchExchange.Respond"/>, <see cref="FetchExchange.Body"/>,
/// <see cref="FetchExchange.End"/>, <see cref="FetchExchange.Fail"/>), between two slices of the machine, and the
/// stack picks the answer up from its next poll. A test's client may answer at once; the stack allows for both.
/// </summary>
public interface IFetchClient
{
    /// <summary>Starts the request of <paramref name="exchange"/>.</summary>
    void Start(FetchExchange exchange);

    /// <summary>The stack has room: deliver the next piece of the body (one piece per call, at most <see cref="FetchExchange.MaxPiece"/> bytes).</summary>
    void ReadBody(FetchExchange exchange);

    /// <summary>The guest went away: stop the request and drop what is left of it.</summary>
    void Cancel(FetchExchange exchange);
}
