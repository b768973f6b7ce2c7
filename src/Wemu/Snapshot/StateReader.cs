using System.Buffers.Binary;
using System.Text;

namespace Wemu.Snapshot;

/// <summary>
/// Reads what <see cref="StateWriter"/> wrote. Running past the end, or a length that does not match what the
/// machine being loaded has, is a <see cref="SnapshotException"/> naming <see cref="Where"/>: a damaged or
/// foreign file never loads half-way without saying so.
/// </summary>
public sealed class StateReader(ReadOnlyMemory<byte> data, string where)
{
    private int _position;

    public string Where { get; set; } = where;

    /// <summary>
    /// <c>-force-resume</c>: a part whose outside world changed since the save (a disk image) goes on with a
    /// <see cref="Note"/> instead of refusing the load.
    /// </summary>
    public bool Force { get; init; }

    /// <summary>Where a part reports what it let through because of <see cref="Force"/>.</summary>
    public Action<string>? Note { get; init; }

    public int Remaining => data.Length - _position;

    public bool AtEnd => _position == data.Length;

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > Remaining)
            throw new SnapshotException($"snapshot section {Where} is truncated");
        var span = data.Span.Slice(_position, count);
        _position += count;
        return span;
    }

    public byte U8() => Take(1)[0];

    public bool Bool() => U8() switch
    {
        0 => false,
        1 => true,
        var b => throw new SnapshotException($"snapshot section {Where}: {b} is not a boolean"),
    };

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public int I32() => (int)U32();

    public long I64() => (long)U64();

    public ReadOnlySpan<byte> Bytes(int count) => Take(count);

    /// <summary>The next <paramref name="count"/> bytes, without copying.</summary>
    public ReadOnlyMemory<byte> Memory(int count)
    {
        Take(count);
        return data.Slice(_position - count, count);
    }

    /// <summary>A length-prefixed blob, at most <paramref name="maxLength"/> bytes.</summary>
    public ReadOnlyMemory<byte> Blob(int maxLength = int.MaxValue)
    {
        uint length = U32();
        if (length > (uint)maxLength || length > (uint)Remaining)
            throw new SnapshotException($"snapshot section {Where} is truncated or damaged (a length of {length})");
        var blob = data.Slice(_position, (int)length);
        _position += (int)length;
        return blob;
    }

    public string String(int maxLength = 4096) => Encoding.UTF8.GetString(Blob(maxLength).Span);

    /// <summary>Exactly <paramref name="destination"/>.Length values (the machine's own size), else an error.</summary>
    public void U64s(Span<ulong> destination)
    {
        ExpectCount(destination.Length);
        for (int i = 0; i < destination.Length; i++)
            destination[i] = U64();
    }

    public void U32s(Span<uint> destination)
    {
        ExpectCount(destination.Length);
        for (int i = 0; i < destination.Length; i++)
            destination[i] = U32();
    }

    public void Bools(Span<bool> destination)
    {
        ExpectCount(destination.Length);
        for (int i = 0; i < destination.Length; i++)
            destination[i] = Bool();
    }

    public void BytesInto(Span<byte> destination)
    {
        var blob = Blob();
        if (blob.Length != destination.Length)
            throw new SnapshotException($"snapshot section {Where} holds {blob.Length} bytes where this machine has {destination.Length}");
        blob.Span.CopyTo(destination);
    }

    private void ExpectCount(int count)
    {
        uint n = U32();
        if (n != (uint)count)
            throw new SnapshotException($"snapshot section {Where} holds {n} values where this machine has {count}");
    }
}
