using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Wemu.Snapshot;

/// <summary>Little-endian values into a growing buffer: what a section's fields are written with.</summary>
public sealed class StateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public int Length => _buffer.WrittenCount;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public void U8(byte value) => Bytes([value]);

    public void Bool(bool value) => U8(value ? (byte)1 : (byte)0);

    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.GetSpan(2), value);
        _buffer.Advance(2);
    }

    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public void I32(int value) => U32((uint)value);

    public void I64(long value) => U64((ulong)value);

    public void Bytes(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    /// <summary>A length (u32) and the bytes.</summary>
    public void Blob(ReadOnlySpan<byte> bytes)
    {
        U32((uint)bytes.Length);
        Bytes(bytes);
    }

    public void String(string value) => Blob(Encoding.UTF8.GetBytes(value));

    public void U64s(ReadOnlySpan<ulong> values)
    {
        U32((uint)values.Length);
        foreach (ulong v in values)
            U64(v);
    }

    public void U32s(ReadOnlySpan<uint> values)
    {
        U32((uint)values.Length);
        foreach (uint v in values)
            U32(v);
    }

    public void Bools(ReadOnlySpan<bool> values)
    {
        U32((uint)values.Length);
        foreach (bool v in values)
            Bool(v);
    }
}
