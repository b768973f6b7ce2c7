namespace Wemu.Net.Fetch;

/// <summary>What the page is asked to <c>fetch()</c>: a guest's HTTP request with its URL resolved.</summary>
public sealed record FetchRequest(string Method, string Url, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body);
