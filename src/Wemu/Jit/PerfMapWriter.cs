using System.Globalization;

namespace Wemu.Jit;

/// <summary>
/// Linux perf's map of generated code (<c>-perfmap</c>, as QEMU's): one line "START SIZE NAME" (hex) for each
/// region of x86-64 code, in <c>/tmp/perf-PID.map</c>, which <c>perf report</c> reads to name samples in code
/// that no file on disk holds. A region is named by its guest pc (<c>guest-0x...</c>). Lines are flushed as
/// they are written, so a map is whole however the process ends.
/// </summary>
public sealed class PerfMapWriter : IDisposable
{
    private readonly TextWriter _writer;

    public PerfMapWriter(TextWriter writer) => _writer = writer;

    /// <summary>The map perf looks for: <c>/tmp/perf-PID.map</c> of this process (replaced if it exists).</summary>
    public static PerfMapWriter ForThisProcess()
    {
        string path = Path.Combine("/tmp", $"perf-{Environment.ProcessId}.map");
        try
        {
            return new PerfMapWriter(new StreamWriter(path, append: false) { AutoFlush = true });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Machines.ConfigException($"-perfmap: cannot write {path}: {e.Message}");
        }
    }

    public void Add(nint start, int size, ulong guestPc)
    {
        lock (_writer)
            _writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{start:x} {size:x} guest-0x{guestPc:x}"));
    }

    public void Dispose() => _writer.Dispose();
}
