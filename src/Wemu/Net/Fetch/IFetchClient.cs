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

    /// <summary>
    /// The stack has room: deliver body pieces (at most <see cref="FetchExchange.MaxPiece"/> bytes each) until
    /// <see cref="FetchExchange.Body"/> returns false, then wait for the next call.
    /// </summary>
    void ReadBody(FetchExchange exchange);

    /// <summary>The guest went away: stop the request and drop what is left of it.</summary>
    void Cancel(FetchExchange exchange);
}
