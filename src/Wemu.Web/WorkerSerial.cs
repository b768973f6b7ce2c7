using Wemu.Devices;

namespace Wemu.Web;

/// <summary>
/// The guest's serial line as the worker sees it: bytes the page typed wait in a queue until the
/// UART polls for them; guest output gathers here and the worker's loop takes it after each slice
/// and posts it to the page in one message (one message per slice, not one per byte).
/// </summary>
public sealed class WorkerSerial : ICharBackend
{
    private readonly Queue<byte> _input = new();
    private byte[] _output = new byte[4096];
    private int _outputCount;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_outputCount + data.Length > _output.Length)
            Array.Resize(ref _output, Math.Max(_output.Length * 2, _outputCount + data.Length));
        data.CopyTo(_output.AsSpan(_outputCount));
        _outputCount += data.Length;
    }

    public bool TryRead(out byte value) => _input.TryDequeue(out value);

    /// <summary>Bytes typed in the page, in order.</summary>
    public void Enqueue(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
            _input.Enqueue(b);
    }

    /// <summary>Input not yet taken by the guest.</summary>
    public int PendingInput => _input.Count;

    /// <summary>The output gathered since the last call, or null if there is none.</summary>
    public byte[]? TakeOutput()
    {
        if (_outputCount == 0)
            return null;
        var result = _output.AsSpan(0, _outputCount).ToArray();
        _outputCount = 0;
        return result;
    }

    /// <summary>Forgets pending input and output (a new machine after a reset keeps the line).</summary>
    public void Clear()
    {
        _input.Clear();
        _outputCount = 0;
    }
}
