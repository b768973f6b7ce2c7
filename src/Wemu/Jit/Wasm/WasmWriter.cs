namespace Wemu.Jit.Wasm;

/// <summary>
/// A growable byte buffer with the WebAssembly binary encodings (LEB128 integers, sections with
/// their size prefixed). Used for function bodies and for whole modules.
/// </summary>
public sealed class WasmWriter
{
    private byte[] _buffer;

    public WasmWriter(int capacity = 256) => _buffer = new byte[capacity];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Length);

    public void Clear() => Length = 0;

    public void Byte(byte b)
    {
        if (Length == _buffer.Length)
            Array.Resize(ref _buffer, _buffer.Length * 2);
        _buffer[Length++] = b;
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        while (Length + bytes.Length > _buffer.Length)
            Array.Resize(ref _buffer, _buffer.Length * 2);
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    /// <summary>Unsigned LEB128.</summary>
    public void U32(uint value)
    {
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            if (value != 0)
                b |= 0x80;
            Byte(b);
        }
        while (value != 0);
    }

    /// <summary>
    /// A non-negative i32 as a signed LEB128 of always five bytes, so it can be rewritten in place later
    /// (<see cref="PatchS32Fixed"/>; the page's prebuilt RISC-V interpreter patches its addresses so).
    /// </summary>
    public void S32Fixed(int value)
    {
        Span<byte> at = stackalloc byte[5];
        PatchS32Fixed(at, value);
        Bytes(at);
    }

    /// <summary>Writes <paramref name="value"/> (0 to int.MaxValue) as <see cref="S32Fixed"/> does into the five bytes at <paramref name="at"/>.</summary>
    public static void PatchS32Fixed(Span<byte> at, int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        for (int i = 0; i < 4; i++)
            at[i] = (byte)(((value >> (7 * i)) & 0x7F) | 0x80);
        at[4] = (byte)((value >> 28) & 0x7F);
    }

    /// <summary>Signed LEB128 (i32.const, i64.const and block types use it).</summary>
    public void S64(long value)
    {
        while (true)
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            bool done = (value == 0 && (b & 0x40) == 0) || (value == -1 && (b & 0x40) != 0);
            if (!done)
                b |= 0x80;
            Byte(b);
            if (done)
                return;
        }
    }

    public void Name(string name)
    {
        U32((uint)name.Length);
        foreach (char c in name)
            Byte((byte)c);
    }

    /// <summary>Section <paramref name="id"/> with <paramref name="body"/>'s bytes, size-prefixed.</summary>
    public void Section(byte id, WasmWriter body)
    {
        Byte(id);
        U32((uint)body.Length);
        Bytes(body.Written);
    }

    public byte[] ToArray() => Written.ToArray();
}
