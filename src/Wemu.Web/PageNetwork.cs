using System.Diagnostics;
using System.Runtime.InteropServices.JavaScript;
using System.Runtime.Versioning;
using System.Text;
using Wemu.Devices.NineP;
using Wemu.Net;
using Wemu.Net.Fetch;

namespace Wemu.Web;

/// <summary>
/// <c>-nic user</c> in the page: the C# half of the bridge between the stack's <see cref="FetchNetworkHost"/> and the
/// worker's <c>fetch()</c> (wwwroot/net-fetch.js, module "wemu-net"). C# starts fetches, asks for body pieces and
/// cancels through the imports; the worker hands results back through the exports between two slices of the
/// machine (one thread: never while the machine runs), and the stack takes them up at its next poll. The same
/// bridge carries <c>vm.fetch</c>: <see cref="FetchIntoGuest"/> queues a request into a guest port, and the answer
/// goes back through <c>guestResponse</c>/<c>guestFailed</c>; with <c>-nic websocket</c> too
/// (<see cref="WithInbound"/>).
/// </summary>
[SupportedOSPlatform("browser")]
public static partial class PageNetwork
{
    private static string? s_pageUrl;
    private static FetchNetworkHost? s_host;
    private static readonly Dictionary<int, FetchExchange> s_fetches = [];
    private static readonly Dictionary<int, GuestHttpExchange> s_pending = [];   // vm.fetch's, by the worker's id
    private static int s_nextId;

    /// <summary>The page's URL (what 10.0.2.2 stands for); the worker sets it before <see cref="WebMachine.Start"/>.</summary>
    [JSExport]
    public static void SetPageUrl(string url) => s_pageUrl = url;

    /// <summary>Where the page's CA certificate lands on the share (the guest's /mnt/host/wemu-ca.crt).</summary>
    public const string CaCertificatePath = "/wemu-ca.crt";

    /// <summary>A machine is being built: the previous machine's fetches are dropped, and vm.fetch finds no network until a NIC is made.</summary>
    internal static void Forget()
    {
        foreach (var id in s_fetches.Keys)
            CancelFetch(id);
        s_fetches.Clear();
        foreach (var exchange in s_pending.Values.ToList())
            exchange.Abort("the machine was restarted");   // vm.fetch's promise fails now, not at its timeout
        s_pending.Clear();
        s_host = null;
    }

    /// <summary>
    /// A fresh host for a machine with a NIC, with HTTPS terminated by
    /// a CA made now, whose certificate goes on the page's share for the guest to trust.
    /// </summary>
    internal static INetworkHost Create(MemoryFileSystem share)
    {
        var made = Stopwatch.StartNew();
        var tls = new PageTlsTerminator();
        share.WriteFile(CaCertificatePath, Encoding.ASCII.GetBytes(tls.CaCertificatePem));
        Log($"HTTPS: the page's CA was made in {made.ElapsedMilliseconds} ms; the guest trusts it by installing /mnt/host{CaCertificatePath}");
        s_host = new FetchNetworkHost(new Client(), s_pageUrl ?? "http://localhost/", Log) { Tls = tls };
        return s_host;
    }

    /// <summary>
    /// <c>-nic websocket</c>: the relay's link, shared with a local stack that only carries <c>vm.fetch</c> into the
    /// guest (the relay's NAT cannot see the page). The local stack is restricted (it opens nothing outward) and has
    /// no fetch behind it: its host only hands over the requests vm.fetch queues.
    /// </summary>
    internal static IEthernetLink WithInbound(IEthernetLink relay, byte[] mac)
    {
        s_host = new FetchNetworkHost(new Client(), s_pageUrl ?? "http://localhost/", Log);
        var inbound = new UserNetwork(new UserNetworkOptions { Restrict = true, MacAddress = mac }, s_host);
        return new InboundSplitLink(relay, inbound);
    }

    /// <summary>The network moved data toward the guest a moment ago: the machine loop should not sleep (<see cref="FetchNetworkHost.WantsPolling"/>).</summary>
    internal static bool WantsPolling => s_host?.WantsPolling == true;

    [JSImport("log", "wemu-net")]
    private static partial void Log(string message);

    [JSImport("start", "wemu-net")]
    private static partial void StartFetch(int id, string method, string url, string[] names, string[] values, byte[] body);

    [JSImport("read", "wemu-net")]
    private static partial void ReadFetch(int id);

    [JSImport("cancel", "wemu-net")]
    private static partial void CancelFetch(int id);

    [JSImport("guestResponse", "wemu-net")]
    private static partial void GuestResponse(int id, int status, string reason, string[] names, string[] values, byte[] body);

    [JSImport("guestFailed", "wemu-net")]
    private static partial void GuestFailed(int id, string reason);

    /// <summary>The response head of fetch <paramref name="id"/>; <paramref name="contentLength"/> -1 if unknown or re-coded.</summary>
    [JSExport]
    public static void FetchResponded(int id, int status, string statusText, string[] names, string[] values, double contentLength)
    {
        if (!s_fetches.TryGetValue(id, out var ex))
            return;
        var headers = new List<KeyValuePair<string, string>>(Math.Min(names.Length, values.Length));
        for (int i = 0; i < names.Length && i < values.Length; i++)
            headers.Add(new(names[i], values[i]));
        ex.Respond(status, statusText, headers, contentLength >= 0 ? (long)contentLength : -1);
    }

    /// <summary>One body piece (at most <see cref="FetchExchange.MaxPiece"/> bytes) of fetch <paramref name="id"/>; true: send more.</summary>
    [JSExport]
    public static bool FetchBody(int id, byte[] piece) => s_fetches.TryGetValue(id, out var ex) && ex.Body(piece);

    [JSExport]
    public static void FetchEnded(int id)
    {
        if (s_fetches.Remove(id, out var ex))
            ex.End();
    }

    [JSExport]
    public static void FetchFailed(int id, string reason)
    {
        if (s_fetches.Remove(id, out var ex))
            ex.Fail(reason);
    }

    /// <summary>
    /// vm.fetch: a request for guest port <paramref name="port"/>, answered later through guestResponse or
    /// guestFailed with the same <paramref name="id"/>. Returns "" or why it cannot start.
    /// </summary>
    [JSExport]
    public static string FetchIntoGuest(int id, int port, string method, string pathAndQuery, string[] names, string[] values, byte[] body)
    {
        if (s_host == null)
            return "the machine has no network (start it with -nic user or -nic websocket)";
        if (port is < 1 or > 65535)
            return $"port {port} is not a TCP port";
        if (!HttpFields.IsToken(method) || !pathAndQuery.StartsWith('/') || pathAndQuery.Any(c => c <= 0x20 || c >= 0x7F))
            return $"not a request the guest could read: {method} {pathAndQuery}";
        var fields = new HttpFields();
        for (int i = 0; i < names.Length && i < values.Length && fields.Count < HttpFields.MaxFields; i++)
            if (HttpFields.IsToken(names[i]) && !values[i].Any(c => c < 0x20 || c > 0xFF))
                fields.Add(names[i], values[i]);
        var request = new HttpRequest { Method = method, Target = pathAndQuery, MinorVersion = 1, Fields = fields, Body = body };
        var exchange = s_host.FetchIntoGuest((ushort)port, request);
        if (exchange == null)
            return $"too many requests wait for the guest already ({FetchNetworkHost.MaxQueuedInbound})";
        exchange.Completed = e =>
        {
            if (e.Response is { } r)
            {
                var n = new string[r.Fields.Count];
                var v = new string[r.Fields.Count];
                for (int i = 0; i < n.Length; i++)
                    (n[i], v[i]) = (r.Fields.All[i].Key, r.Fields.All[i].Value);
                GuestResponse(id, r.Status, r.Reason, n, v, r.Body);
            }
            else
                GuestFailed(id, e.Error ?? "no response");
        };
        s_pending[id] = exchange;
        exchange.Completed += e => s_pending.Remove(id);
        return "";
    }

    /// <summary>vm.fetch gave up (its time ran out): the exchange ends, the guest's connection is closed.</summary>
    [JSExport]
    public static void AbortIntoGuest(int id, string reason)
    {
        if (s_pending.Remove(id, out var exchange))
            exchange.Abort(reason);
    }

    /// <summary>The stack's view of the worker's fetch: an id per exchange, calls into net-fetch.js.</summary>
    private sealed class Client : IFetchClient
    {
        public void Start(FetchExchange exchange)
        {
            int id = ++s_nextId;
            exchange.Id = id;
            s_fetches[id] = exchange;
            var r = exchange.Request;
            var names = new string[r.Headers.Count];
            var values = new string[r.Headers.Count];
            for (int i = 0; i < names.Length; i++)
                (names[i], values[i]) = (r.Headers[i].Key, r.Headers[i].Value);
            StartFetch(id, r.Method, r.Url, names, values, r.Body);
        }

        public void ReadBody(FetchExchange exchange)
        {
            if (s_fetches.ContainsKey(exchange.Id))
                ReadFetch(exchange.Id);
        }

        public void Cancel(FetchExchange exchange)
        {
            if (s_fetches.Remove(exchange.Id))
                CancelFetch(exchange.Id);
        }
    }
}
