namespace Wemu.Net.Fetch;

/// <summary>
/// A growable byte buffer with a hard bound: it grows by doubling as bytes come (so a small message costs little)
/// and refuses to pass <see cref="Limit"/>. Message bodies collect here.
/// </summary>
internal sealed class BoundedBuffer(int limit)
{
    private byte[] _data = [];

    public int Limit { get; } = limit;

    public int Length { get; private set; }

    /// <summary>Appends all of <paramref name="bytes"/>, or nothing and false if the bound would be passed.</summary>
    public bool Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > Limit - Length)
            return false;
        if (Length + bytes.Length > _data.Length)
            Array.Resize(ref _data, Math.Min(Limit, Math.Max(Math.Max(256, _data.Length * 2), Length + bytes.Length)));
        bytes.CopyTo(_data.AsSpan(Length));
        Length += bytes.Length;
        return true;
    }

    /// <summary>The bytes collected, as an array of their own; the buffer starts empty again.</summary>
    public byte[] Take()
    {
        var result = _data.AsSpan(0, Length).ToArray();
        _data = [];
        Length = 0;
        return result;
    }
}
