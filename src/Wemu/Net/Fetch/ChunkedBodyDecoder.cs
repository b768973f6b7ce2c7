namespace Wemu.Net.Fetch;

/// <summary>
/// Decodes the chunked transfer coding (RFC 9112 section 7.1) as bytes arrive, one state per byte of framing, so
/// a body is looked at once however it is split. Chunk extensions are skipped, trailer fields read and dropped.
/// The decoded bytes go to a <see cref="BoundedBuffer"/>: a body over its bound is an error, not an allocation.
/// </summary>
internal sealed class ChunkedBodyDecoder
{
    private enum State { Size, Extension, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf, Done, Error }

    private const int MaxSizeDigits = 8;          // up to 4 GiB - 1 per chunk; a longer size is nonsense here
    private const int MaxTrailerBytes = 8 * 1024;

    private State _state = State.Size;
    private long _size;
    private int _digits;
    private long _remaining;
    private int _trailerBytes;
    private bool _trailerLineEmpty = true;

    public bool IsDone => _state == State.Done;

    public string? Error { get; private set; }

    /// <summary>True if the error is a body over the buffer's bound.</summary>
    public bool IsTooLarge { get; private set; }

    /// <summary>Takes bytes up to the end of the body (never past it); returns how many it took.</summary>
    public int Feed(ReadOnlySpan<byte> data, BoundedBuffer body)
    {
        int i = 0;
        while (i < data.Length && _state is not (State.Done or State.Error))
        {
            if (_state == State.Data)
            {
                int n = (int)Math.Min(_remaining, data.Length - i);
                if (!body.Append(data.Slice(i, n)))
                {
                    IsTooLarge = true;
                    return Fail($"the body is larger than {body.Limit} bytes", i);
                }
                i += n;
                _remaining -= n;
                if (_remaining == 0)
                    _state = State.DataCr;
                continue;
            }
            byte b = data[i++];
            switch (_state)
            {
                case State.Size:
                    if (HexValue(b) is int v && _digits < MaxSizeDigits)
                    {
                        _size = _size * 16 + v;
                        _digits++;
                    }
                    else if (_digits > 0 && (b == ';' || b == ' ' || b == '\t'))
                        _state = State.Extension;
                    else if (_digits > 0 && b == '\r')
                        _state = State.SizeLf;
                    else if (_digits > 0 && b == '\n')
                        EndSizeLine();
                    else
                        return Fail("a malformed chunk size", i);
                    break;
                case State.Extension:
                    if (b == '\n')
                        EndSizeLine();
                    else if (b == '\r')
                        _state = State.SizeLf;
                    else if (++_trailerBytes > MaxTrailerBytes)
                        return Fail("chunk extensions too long", i);
                    break;
                case State.SizeLf:
                    if (b != '\n')
                        return Fail("a chunk size line without its LF", i);
                    EndSizeLine();
                    break;
                case State.DataCr:
                    if (b == '\r')
                        _state = State.DataLf;
                    else if (b == '\n')
                        NextChunk();
                    else
                        return Fail("chunk data longer than its size", i);
                    break;
                case State.DataLf:
                    if (b != '\n')
                        return Fail("chunk data longer than its size", i);
                    NextChunk();
                    break;
                case State.Trailer:
                    if (++_trailerBytes > MaxTrailerBytes)
                        return Fail("trailer fields too long", i);
                    if (b == '\r')
                        _state = State.TrailerLf;
                    else if (b == '\n')
                        EndTrailerLine();
                    else
                        _trailerLineEmpty = false;
                    break;
                case State.TrailerLf:
                    if (b != '\n')
                        return Fail("a trailer line without its LF", i);
                    EndTrailerLine();
                    break;
            }
        }
        return i;
    }

    private void EndSizeLine()
    {
        if (_size == 0)
        {
            _state = State.Trailer;   // the last chunk: trailer fields, then an empty line
            _trailerLineEmpty = true;
            return;
        }
        _remaining = _size;
        _state = State.Data;
    }

    private void NextChunk()
    {
        _state = State.Size;
        _size = 0;
        _digits = 0;
    }

    private void EndTrailerLine()
    {
        if (_trailerLineEmpty)
            _state = State.Done;
        else
        {
            _state = State.Trailer;
            _trailerLineEmpty = true;
        }
    }

    private int Fail(string reason, int consumed)
    {
        Error = reason;
        _state = State.Error;
        return consumed;
    }

    private static int? HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => null,
    };
}
