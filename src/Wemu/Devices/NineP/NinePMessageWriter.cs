using System.Buffers.Binary;
using System.Text;

namespace Wemu.Devices.NineP;

/// <summary>
/// Writes one 9P reply into a caller-supplied buffer after the 7-byte header (size[4] type[1] tag[2]), which
/// <see cref="Finish"/> fills in. Writing past the buffer sets <see cref="Overflowed"/> instead of throwing.
/// </summary>
internal ref struct NinePMessageWriter
{
    public const int HeaderSize = 7;

    private readonly Span<byte> _buffer;
    private int _position;

    public NinePMessageWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = HeaderSize;
        Overflowed = buffer.Length < HeaderSize;
    }

    public bool Overflowed { get; private set; }

    public readonly int Position => _position;

    public readonly int Remaining => Math.Max(_buffer.Length - _position, 0);

    public void WriteByte(byte value)
    {
        var s = Take(1);
        if (!s.IsEmpty)
            s[0] = value;
    }

    public void WriteUInt16(ushort value)
    {
        var s = Take(2);
        if (!s.IsEmpty)
            BinaryPrimitives.WriteUInt16LittleEndian(s, value);
    }

    public void WriteUInt32(uint value)
    {
        var s = Take(4);
        if (!s.IsEmpty)
            BinaryPrimitives.WriteUInt32LittleEndian(s, value);
    }

    public void WriteUInt64(ulong value)
    {
        var s = Take(8);
        if (!s.IsEmpty)
            BinaryPrimitives.WriteUInt64LittleEndian(s, value);
    }

    public void WriteString(string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue)
        {
            Overflowed = true;
            return;
        }
        WriteUInt16((ushort)length);
        var s = Take(length);
        if (!s.IsEmpty)
            Encoding.UTF8.GetBytes(value, s);
    }

    public void WriteQid(in Qid qid)
    {
        WriteByte(qid.Type);
        WriteUInt32(qid.Version);
        WriteUInt64(qid.Path);
    }

    /// <summary>Reserves <paramref name="count"/> bytes to fill later (Rread data, the Rreaddir count).</summary>
    public Span<byte> Reserve(int count) => Take(count);

    /// <summary>Gives back the end of the last reservation that was not used.</summary>
    public void Unreserve(int count) => _position -= Math.Clamp(count, 0, _position - HeaderSize);

    /// <summary>Writes the header; returns the message length.</summary>
    public readonly int Finish(NinePMessageType type, ushort tag)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_position);
        _buffer[4] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[5..], tag);
        return _position;
    }

    private Span<byte> Take(int count)
    {
        if (Overflowed || count > _buffer.Length - _position)
        {
            Overflowed = true;
            return default;
        }
        var s = _buffer.Slice(_position, count);
        _position += count;
        return s;
    }
}
