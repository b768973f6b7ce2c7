namespace Wemu.Net.Fetch;

/// <summary>
/// The header fields of one HTTP/1.x message in the order they came (RFC 9110 section 5), with the checks a proxy
/// needs before it trusts them: token names, no obsolete line folding, no control characters in values.
/// </summary>
public sealed class HttpFields
{
    /// <summary>More fields than this in one message is an error (a guest cannot make the page hold thousands).</summary>
    public const int MaxFields = 128;

    private readonly List<KeyValuePair<string, string>> _fields = [];

    public int Count => _fields.Count;

    public IReadOnlyList<KeyValuePair<string, string>> All => _fields;

    public void Add(string name, string value) => _fields.Add(new(name, value));

    /// <summary>The first value of <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? Get(string name)
    {
        foreach (var f in _fields)
            if (string.Equals(f.Key, name, StringComparison.OrdinalIgnoreCase))
                return f.Value;
        return null;
    }

    /// <summary>Every value of <paramref name="name"/>.</summary>
    public IEnumerable<string> GetAll(string name)
    {
        foreach (var f in _fields)
            if (string.Equals(f.Key, name, StringComparison.OrdinalIgnoreCase))
                yield return f.Value;
    }

    /// <summary>True if a comma-separated list field (Connection, Transfer-Encoding) holds <paramref name="token"/>.</summary>
    public bool HasToken(string name, string token)
    {
        foreach (var value in GetAll(name))
            foreach (var part in value.Split(','))
                if (string.Equals(part.Trim(), token, StringComparison.OrdinalIgnoreCase))
                    return true;
        return false;
    }

    /// <summary>Parses field lines (RFC 9112 section 5); null and a reason if one is malformed.</summary>
    public static HttpFields? Parse(IReadOnlyList<string> lines, int first, out string? error)
    {
        var fields = new HttpFields();
        error = null;
        for (int i = first; i < lines.Count; i++)
        {
            string line = lines[i];
            if (line[0] is ' ' or '\t')
            {
                error = "obsolete line folding in a header field";   // RFC 9112 5.2: reject in requests
                return null;
            }
            int colon = line.IndexOf(':');
            if (colon <= 0 || !IsToken(line.AsSpan(0, colon)))
            {
                error = $"malformed header field line '{Printable(line)}'";
                return null;
            }
            string value = line[(colon + 1)..].Trim(' ', '\t');
            foreach (char c in value)
            {
                if ((c < 0x20 && c != '\t') || c == 0x7F)
                {
                    error = $"a control character in the value of '{line[..colon]}'";
                    return null;
                }
            }
            if (fields.Count == MaxFields)
            {
                error = $"more than {MaxFields} header fields";
                return null;
            }
            fields.Add(line[..colon], value);
        }
        return fields;
    }

    /// <summary>RFC 9110 5.6.2 token: visible ASCII except delimiters.</summary>
    public static bool IsToken(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty)
            return false;
        foreach (char c in s)
        {
            if (c <= 0x20 || c >= 0x7F || "\"(),/:;<=>?@[\\]{}".Contains(c))
                return false;
        }
        return true;
    }

    /// <summary>A line cut short and with control characters shown as '?', for error messages.</summary>
    public static string Printable(string s)
    {
        var chars = s.Length > 60 ? s[..60].ToCharArray() : s.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (chars[i] < 0x20 || chars[i] >= 0x7F)
                chars[i] = '?';
        return new string(chars) + (s.Length > 60 ? "..." : "");
    }
}
