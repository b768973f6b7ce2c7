using System.Runtime.InteropServices;

namespace Wemu.Cli;

/// <summary>
/// Puts the controlling terminal in raw mode (cfmakeraw) while the guest owns it, as QEMU's
/// <c>-serial stdio</c> does, and restores it on every way out.
/// </summary>
public sealed partial class RawTerminal : IDisposable
{
    private const int TcsaNow = 0;
    private readonly byte[]? _saved;

    private RawTerminal(byte[]? saved) => _saved = saved;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte[] termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int action, byte[] termios);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte[] termios);

    public static bool IsTerminal(int fd)
    {
        try
        {
            return OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? isatty(fd) == 1 : !Console.IsInputRedirected;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Enters raw mode if stdin is a terminal; otherwise does nothing.</summary>
    public static RawTerminal Enter()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) || !IsTerminal(0))
            return new RawTerminal(null);
        var saved = new byte[256];
        if (tcgetattr(0, saved) != 0)
            return new RawTerminal(null);
        var raw = (byte[])saved.Clone();
        cfmakeraw(raw);
        tcsetattr(0, TcsaNow, raw);
        var t = new RawTerminal(saved);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => t.Dispose();
        return t;
    }

    public bool IsRaw => _saved != null;

    /// <summary>Back to the saved modes; safe to call more than once and from any thread (signal and crash paths).</summary>
    public void Dispose()
    {
        if (_saved != null && Interlocked.Exchange(ref _restored, 1) == 0)
            tcsetattr(0, TcsaNow, _saved);
    }

    private int _restored;
}
