using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Wemu.Devices.NineP;

/// <summary>
/// Reads the fields of one 9P message (little-endian integers, strings as u16 length + UTF-8). Running past the
/// end or meeting a string that is not UTF-8 sets <see cref="Failed"/> and yields zeros, never an exception:
/// handlers read every field first and answer a failed parse with Rlerror(EPROTO) before acting.
/// </summary>
internal ref struct NinePMessageReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public NinePMessageReader(ReadOnlySpan<byte> data, int position)
    {
        _data = data;
        _position = position;
    }

    public bool Failed { get; private set; }

    public readonly int Remaining => _data.Length - _position;

    public byte ReadByte() => Take(1) is { IsEmpty: false } s ? s[0] : (byte)0;

    public ushort ReadUInt16() => Take(2) is { IsEmpty: false } s ? BinaryPrimitives.ReadUInt16LittleEndian(s) : (ushort)0;

    public uint ReadUInt32() => Take(4) is { IsEmpty: false } s ? BinaryPrimitives.ReadUInt32LittleEndian(s) : 0;

    public ulong ReadUInt64() => Take(8) is { IsEmpty: false } s ? BinaryPrimitives.ReadUInt64LittleEndian(s) : 0;

    /// <summary>A string[s]: u16 byte count, then UTF-8 bytes.</summary>
    public string ReadString()
    {
        int length = ReadUInt16();
        if (Failed)
            return "";
        if (length == 0)
            return "";
        var bytes = Take(length);
        if (bytes.IsEmpty)
            return "";
        if (!Utf8.IsValid(bytes))
        {
            Failed = true;
            return "";
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>The next <paramref name="count"/> bytes (Twrite data), or empty with <see cref="Failed"/> set.</summary>
    public ReadOnlySpan<byte> ReadBytes(int count) => count == 0 ? default : Take(count);

    private ReadOnlySpan<byte> Take(int count)
    {
        if (Failed || count < 0 || count > _data.Length - _position)
        {
            Failed = true;
            return default;
        }
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }
}
