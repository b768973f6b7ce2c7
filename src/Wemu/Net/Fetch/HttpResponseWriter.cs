using System.Text;

namespace Wemu.Net.Fetch;

/// <summary>
/// Writes the HTTP/1.1 responses the stack sends the guest (RFC 9112): the head of a fetched response with the
/// framing the stack chose, and the short error responses (400, 502...) with a one-line text body.
/// </summary>
public static class HttpResponseWriter
{
    /// <summary>The largest head written; fields that would pass it are left out.</summary>
    public const int MaxHeadBytes = 32 * 1024;

    /// <summary>How a body is delimited toward the guest.</summary>
    public enum Framing
    {
        /// <summary>No body (HEAD, 1xx, 204, 304); a Content-Length, if given, is the length a GET would have.</summary>
        None,
        ContentLength,
        Chunked,
        /// <summary>HTTP/1.0: the body ends when the connection does.</summary>
        Close,
    }

    /// <summary>
    /// Fields a proxy does not pass on (RFC 9110 7.6.1 hop-by-hop fields), and the body's length and coding: the
    /// browser has already decoded the body and the stack frames it again.
    /// </summary>
    public static bool IsHopByHop(string name) => name.ToLowerInvariant() is "connection" or "keep-alive" or "proxy-connection"
        or "transfer-encoding" or "te" or "trailer" or "upgrade" or "proxy-authenticate" or "proxy-authorization"
        or "content-length" or "content-encoding";

    /// <summary>The head: status line, the fields that are not hop-by-hop, the framing fields, Connection.</summary>
    public static byte[] Head(int status, string reason, IReadOnlyList<KeyValuePair<string, string>> fields, Framing framing,
        long contentLength, bool close)
    {
        var s = new StringBuilder();
        s.Append("HTTP/1.1 ").Append(status).Append(' ').Append(CleanReason(status, reason)).Append("\r\n");
        int budget = MaxHeadBytes - 128;   // room for the framing fields and the empty line
        foreach (var (name, value) in fields)
        {
            if (IsHopByHop(name) || !HttpFields.IsToken(name) || !IsFieldValue(value))
                continue;
            if (s.Length + name.Length + value.Length + 4 > budget)
                break;
            s.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        if (framing == Framing.ContentLength || (framing == Framing.None && contentLength >= 0))
            s.Append("Content-Length: ").Append(contentLength).Append("\r\n");
        else if (framing == Framing.Chunked)
            s.Append("Transfer-Encoding: chunked\r\n");
        s.Append(close || framing == Framing.Close ? "Connection: close\r\n" : "").Append("\r\n");
        return Encoding.Latin1.GetBytes(s.ToString());
    }

    /// <summary>A complete error response with a one-line text body saying why.</summary>
    public static byte[] Error(int status, string message, bool close)
    {
        var body = Encoding.UTF8.GetBytes(OneLine(message) + "\n");
        var head = Head(status, "", [new("Content-Type", "text/plain; charset=utf-8")], Framing.ContentLength, body.Length, close);
        var all = new byte[head.Length + body.Length];
        head.CopyTo(all, 0);
        body.CopyTo(all, head.Length);
        return all;
    }

    /// <summary>The size line of a chunk (RFC 9112 7.1: hex size, CRLF).</summary>
    public static int ChunkHeader(int length, Span<byte> destination)
    {
        var text = length.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "\r\n";
        return Encoding.ASCII.GetBytes(text, destination);
    }

    /// <summary>RFC 9110 section 15's reason phrases for the statuses met here.</summary>
    public static string ReasonPhrase(int status) => status switch
    {
        200 => "OK", 201 => "Created", 202 => "Accepted", 204 => "No Content", 206 => "Partial Content",
        301 => "Moved Permanently", 302 => "Found", 303 => "See Other", 304 => "Not Modified", 307 => "Temporary Redirect",
        308 => "Permanent Redirect", 400 => "Bad Request", 401 => "Unauthorized", 403 => "Forbidden", 404 => "Not Found",
        405 => "Method Not Allowed", 408 => "Request Timeout", 413 => "Content Too Large", 416 => "Range Not Satisfiable",
        429 => "Too Many Requests", 431 => "Request Header Fields Too Large", 500 => "Internal Server Error",
        501 => "Not Implemented", 502 => "Bad Gateway", 503 => "Service Unavailable", 504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported", _ => "Status",
    };

    private static string CleanReason(int status, string reason) =>
        reason.Length == 0 || !IsFieldValue(reason) ? ReasonPhrase(status) : reason;

    private static bool IsFieldValue(string value)
    {
        foreach (char c in value)
            if ((c < 0x20 && c != '\t') || c == 0x7F || c > 0xFF)
                return false;
        return true;
    }

    private static string OneLine(string s)
    {
        var chars = s.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (chars[i] < 0x20)
                chars[i] = ' ';
        return new string(chars);
    }
}
