namespace Wemu.Net;

/// <summary>A fixed-capacity byte queue: a TCP connection's bytes on their way to the guest or to the host.</summary>
internal sealed class ByteRing(int capacity)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _head;

    public int Count { get; private set; }

    public int Capacity => _buffer.Length;

    public int Free => _buffer.Length - Count;

    /// <summary>Appends as much of <paramref name="data"/> as fits; returns the bytes taken.</summary>
    public int Write(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, Free);
        int tail = (_head + Count) % _buffer.Length;
        int first = Math.Min(n, _buffer.Length - tail);
        data[..first].CopyTo(_buffer.AsSpan(tail));
        data[first..n].CopyTo(_buffer);
        Count += n;
        return n;
    }

    /// <summary>The free space at the tail as one span (fill it, then <see cref="Commit"/>).</summary>
    public Span<byte> WritableSpan()
    {
        int tail = (_head + Count) % _buffer.Length;
        return _buffer.AsSpan(tail, Math.Min(Free, _buffer.Length - tail));
    }

    public void Commit(int n) => Count += Math.Min(n, Free);

    /// <summary>Copies bytes at <paramref name="offset"/> from the head without removing them.</summary>
    public void Peek(int offset, Span<byte> destination)
    {
        int start = (_head + offset) % _buffer.Length;
        int first = Math.Min(destination.Length, _buffer.Length - start);
        _buffer.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    /// <summary>The bytes at the head as one span (the first part if they wrap).</summary>
    public ReadOnlySpan<byte> ReadableSpan() => _buffer.AsSpan(_head, Math.Min(Count, _buffer.Length - _head));

    public void Consume(int n)
    {
        n = Math.Min(n, Count);
        _head = (_head + n) % _buffer.Length;
        Count -= n;
        if (Count == 0)
            _head = 0;
    }
}
