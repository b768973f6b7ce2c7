using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;
using Wemu.Devices;

namespace Wemu.Cli;

/// <summary>
/// The guest's serial line on the process's stdin/stdout. A background reader feeds input to
/// the machine thread through a queue; output is buffered and flushed by the main loop.
/// Recognises QEMU's escape: Ctrl-A x quits, Ctrl-A a sends Ctrl-A, Ctrl-A c switches between the console and
/// the monitor (whose lines wait in <see cref="MonitorCommands"/> for the machine thread). The queue holds at most
/// <see cref="InputCapacity"/> bytes: when a guest does not read, the reader stops reading stdin, so a fast
/// producer (<c>yes | wemu</c>) is held back by the pipe instead of growing the emulator's memory.
/// </summary>
public sealed class StdioSerial : ICharBackend, IDisposable
{
    private const byte CtrlA = 0x01;
    /// <summary>Input bytes queued for the guest at most (then stdin is left unread until it drains to half).</summary>
    public const int InputCapacity = 64 * 1024;

    private readonly ConcurrentQueue<byte> _input = new();
    private readonly AutoResetEvent _space = new(false);
    private int _queued;
    // Plain file descriptors, not Console streams: on a terminal, .NET's console stream saves and
    // restores the terminal's modes around every read, which can undo raw mode (the tty then
    // buffered lines and echoed, so Ctrl-A x only arrived after Enter).
    private readonly Stream _stdout = StdStream(1, FileAccess.Write);

    private static Stream StdStream(int fd, FileAccess access) =>
        OperatingSystem.IsWindows()
            ? (fd == 0 ? Console.OpenStandardInput() : Console.OpenStandardOutput())
            : new FileStream(new SafeFileHandle(fd, ownsHandle: false), access, 1, isAsync: false);
    private readonly MemoryStream _pending = new();
    private readonly bool _escapes;
    private bool _sawCtrlA;

    /// <param name="escapes">Ctrl-A x / a / c as QEMU's multiplexer.</param>
    /// <param name="monitorOnly">
    /// <c>-monitor stdio</c> (with <c>-serial none</c>): stdin and stdout are QEMU's monitor alone, its
    /// prompt printed at once, lines not echoed (a terminal echoes them itself; a pipe wants none), the
    /// guest's serial output dropped.
    /// </param>
    public StdioSerial(bool escapes, bool monitorOnly = false)
    {
        _escapes = escapes && !monitorOnly;
        _monitorOnly = monitorOnly;
        _monitor = monitorOnly;
        if (monitorOnly)
            MonitorWrite("QEMU-compatible monitor (Wemu) - type 'help' for more information\n(qemu) ");
        var reader = new Thread(ReadLoop) { IsBackground = true, Name = "stdin" };
        reader.Start();
    }

    /// <summary>Signalled whenever input arrives (wakes an idle machine).</summary>
    public AutoResetEvent InputArrived { get; } = new(false);

    /// <summary>Lines typed at the monitor's prompt (Ctrl-A c), for the machine thread to carry out between slices.</summary>
    public ConcurrentQueue<string> MonitorCommands { get; } = new();

    /// <summary>True while keys go to the monitor rather than the guest.</summary>
    public bool InMonitor => _monitor;

    private volatile bool _monitor;
    private readonly bool _monitorOnly;
    private readonly System.Text.StringBuilder _monitorLine = new();
    private readonly Lock _stdoutLock = new();

    /// <summary>Text from the monitor (its prompt, echo and answers), written at once.</summary>
    public void MonitorWrite(string text)
    {
        lock (_stdoutLock)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text.Replace("\n", "\r\n"));
            _stdout.Write(bytes);
            _stdout.Flush();
        }
    }

    private void MonitorKey(byte b)
    {
        if (b is (byte)'\r' or (byte)'\n')
        {
            if (!_monitorOnly)
                MonitorWrite("\n");
            MonitorCommands.Enqueue(_monitorLine.ToString());
            _monitorLine.Clear();
            InputArrived.Set();
        }
        else if (b is 0x7F or 0x08)
        {
            if (_monitorLine.Length > 0)
            {
                _monitorLine.Length--;
                if (!_monitorOnly)
                    MonitorWrite("\b \b");
            }
        }
        else if (b >= 0x20 && b < 0x7F && _monitorLine.Length < 4096)
        {
            _monitorLine.Append((char)b);
            if (!_monitorOnly)
                MonitorWrite(((char)b).ToString());
        }
    }

    /// <summary>Set when the user typed Ctrl-A x.</summary>
    public volatile bool QuitRequested;

    /// <summary>Set when stdin reached end of file.</summary>
    public volatile bool InputClosed;

    private void ReadLoop()
    {
        using var stdin = StdStream(0, FileAccess.Read);
        var buf = new byte[4096];
        while (true)
        {
            // Back-pressure: read only when a whole buffer fits.
            while (Volatile.Read(ref _queued) > InputCapacity - buf.Length)
                _space.WaitOne(100);
            int n;
            try
            {
                n = stdin.Read(buf, 0, buf.Length);
            }
            catch (IOException)
            {
                n = 0;
            }
            if (n <= 0)
            {
                InputClosed = true;
                InputArrived.Set();
                return;
            }
            for (int i = 0; i < n; i++)
            {
                byte b = buf[i];
                if (_escapes)
                {
                    if (_sawCtrlA)
                    {
                        _sawCtrlA = false;
                        if (b == 'x' || b == 'X')
                        {
                            QuitRequested = true;
                            InputArrived.Set();
                            StopSignals.ArmFallback(null);
                            return;
                        }
                        if (b == 'c' || b == 'C')
                        {
                            _monitor = !_monitor;
                            _monitorLine.Clear();
                            MonitorWrite(_monitor ? "\nQEMU-compatible monitor (Wemu) - type 'help' for more information\n(qemu) " : "\n");
                            continue;
                        }
                        if (b != CtrlA)
                            continue;
                    }
                    else if (b == CtrlA)
                    {
                        _sawCtrlA = true;
                        continue;
                    }
                }
                if (_monitor)
                {
                    MonitorKey(b);
                    continue;
                }
                _input.Enqueue(b);
                Interlocked.Increment(ref _queued);
            }
            InputArrived.Set();
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (!_monitorOnly)
            _pending.Write(data);
    }

    public bool TryRead(out byte value)
    {
        if (!_input.TryDequeue(out value))
            return false;
        if (Interlocked.Decrement(ref _queued) == InputCapacity / 2)
            _space.Set();
        return true;
    }

    public void Flush()
    {
        if (_pending.Length == 0)
            return;
        lock (_stdoutLock)
        {
            _stdout.Write(_pending.GetBuffer(), 0, (int)_pending.Length);
            _stdout.Flush();
        }
        _pending.SetLength(0);
    }

    public void Dispose() => Flush();
}
