using Wemu.Net.Fetch;

namespace Wemu.Tests.Net;

/// <summary>
/// The page's fetch() in tests: records every exchange started, every body read asked for and every cancel, and
/// answers only when the test says (or at once, through <see cref="Answer"/>), as the browser answers between slices.
/// </summary>
internal sealed class FakeFetchClient : IFetchClient
{
    public List<FetchExchange> Started { get; } = [];

    public List<FetchExchange> Cancelled { get; } = [];

    public int BodyReads;

    /// <summary>When set, every fetch is answered at once with this response and body (in pieces of <see cref="PieceSize"/>).</summary>
    public Func<FetchRequest, (int Status, byte[] Body, long ContentLength)>? Answer;

    public int PieceSize = 1000;

    private readonly Dictionary<FetchExchange, (byte[] Body, int Offset)> _bodies = [];

    public void Start(FetchExchange exchange)
    {
        Started.Add(exchange);
        if (Answer != null)
        {
            var (status, body, length) = Answer(exchange.Request);
            exchange.Respond(status, "", [new("Content-Type", "application/octet-stream")], length);
            _bodies[exchange] = (body, 0);
        }
    }

    /// <summary>Body pieces handed over in all.</summary>
    public int Pieces;

    public void ReadBody(FetchExchange exchange)
    {
        BodyReads++;
        while (_bodies.TryGetValue(exchange, out var b))   // else the test delivers it
        {
            int n = Math.Min(PieceSize, b.Body.Length - b.Offset);
            if (n == 0)
            {
                exchange.End();
                return;
            }
            _bodies[exchange] = (b.Body, b.Offset + n);
            Pieces++;
            if (!exchange.Body(b.Body.AsSpan(b.Offset, n)))
                return;
        }
    }

    public void Cancel(FetchExchange exchange) => Cancelled.Add(exchange);
}
