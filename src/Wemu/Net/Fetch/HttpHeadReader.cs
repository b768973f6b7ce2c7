using System.Text;

namespace Wemu.Net.Fetch;

/// <summary>
/// Collects the head of an HTTP/1.x message (start line and header fields, RFC 9112 section 2.1) byte by byte up to
/// the empty line, within a fixed bound, and splits it into lines. Lines may end in CRLF or a bare LF (RFC 9112
/// 2.2 lets a recipient accept LF alone); empty lines before the start line are skipped (2.2 again).
/// </summary>
internal sealed class HttpHeadReader(int maxBytes)
{
    private readonly byte[] _buffer = new byte[maxBytes];
    private int _length;
    private bool _started;

    /// <summary>True once the empty line ended the head; <see cref="Lines"/> then holds it.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>True if the head did not fit in the bound.</summary>
    public bool IsTooLarge { get; private set; }

    /// <summary>Takes bytes up to and including the head's last line; returns how many it took.</summary>
    public int Feed(ReadOnlySpan<byte> data)
    {
        int i = 0;
        while (i < data.Length && !IsComplete && !IsTooLarge)
        {
            byte b = data[i++];
            if (!_started && (b == '\r' || b == '\n'))
                continue;   // empty lines before the start line
            _started = true;
            if (_length == _buffer.Length)
            {
                IsTooLarge = true;
                break;
            }
            _buffer[_length++] = b;
            if (b == '\n' && EndsWithEmptyLine())
                IsComplete = true;
        }
        return i;
    }

    private bool EndsWithEmptyLine()
    {
        // ...\n\n or ...\n\r\n
        if (_length >= 2 && _buffer[_length - 2] == '\n')
            return true;
        return _length >= 3 && _buffer[_length - 2] == '\r' && _buffer[_length - 3] == '\n';
    }

    /// <summary>The head's lines without their line ends (the empty last line left out), as Latin-1 text.</summary>
    public List<string> Lines()
    {
        var lines = new List<string>();
        var text = Encoding.Latin1.GetString(_buffer, 0, _length);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.EndsWith('\r') ? raw[..^1] : raw;
            if (line.Length == 0)
                break;
            lines.Add(line);
        }
        return lines;
    }

    /// <summary>Ready for the next message.</summary>
    public void Reset()
    {
        _length = 0;
        _started = false;
        IsComplete = IsTooLarge = false;
    }
}
