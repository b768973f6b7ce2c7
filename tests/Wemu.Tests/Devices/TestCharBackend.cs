using Wemu.Devices;

namespace Wemu.Tests.Devices;

/// <summary>A serial line for tests: queued input, recorded output and write-call count.</summary>
internal sealed class TestCharBackend : ICharBackend
{
    public Queue<byte> Input { get; } = new();

    public List<byte> Output { get; } = [];

    public int WriteCalls { get; private set; }

    public string OutputText => System.Text.Encoding.ASCII.GetString(Output.ToArray());

    public void Type(string text)
    {
        foreach (char c in text)
            Input.Enqueue((byte)c);
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        WriteCalls++;
        Output.AddRange(data.ToArray());
    }

    public bool TryRead(out byte value) => Input.TryDequeue(out value);
}
