namespace Wemu.Net.Fetch;

/// <summary>One HTTP/1.x request the guest sent, parsed and with its body whole.</summary>
public sealed class HttpRequest
{
    public required string Method { get; init; }

    /// <summary>The request target as sent: origin-form ("/x?y") or absolute-form ("http://host/x").</summary>
    public required string Target { get; init; }

    /// <summary>0 for HTTP/1.0, 1 for HTTP/1.1.</summary>
    public required int MinorVersion { get; init; }

    public required HttpFields Fields { get; init; }

    public byte[] Body { get; init; } = [];

    /// <summary>RFC 9112 9.3: HTTP/1.1 keeps the connection unless "close"; HTTP/1.0 only with "keep-alive".</summary>
    public bool KeepAlive => MinorVersion >= 1 ? !Fields.HasToken("Connection", "close") : Fields.HasToken("Connection", "keep-alive");

    /// <summary>The path and query of the target ("/" if an absolute-form target has none).</summary>
    public string PathAndQuery
    {
        get
        {
            if (Target.StartsWith('/'))
                return Target;
            int scheme = Target.IndexOf("://", StringComparison.Ordinal);
            if (scheme < 0)
                return "/";
            int slash = Target.IndexOf('/', scheme + 3);
            return slash < 0 ? "/" : Target[slash..];
        }
    }
}
