using System.Runtime.InteropServices;

namespace Wemu.Cli;

/// <summary>
/// SIGTERM, SIGHUP and SIGINT end the run as QEMU does ("terminating on signal N"): the machine loop sees
/// <see cref="Received"/> after its current slice, flushes the disks and restores the terminal. If the loop does
/// not get there within a few seconds, the terminal is restored here and the process exits.
/// </summary>
public static class StopSignals
{
    private static readonly TimeSpan s_grace = TimeSpan.FromSeconds(5);
    private static int s_received;

    /// <summary>The signal number that asked us to stop, or null.</summary>
    public static int? Received => Volatile.Read(ref s_received) is int n and not 0 ? n : null;

    /// <summary>Set when a signal arrives (wakes an idle machine loop).</summary>
    public static ManualResetEvent Arrived { get; } = new(false);

    /// <summary>Installs the handlers; disposing the result removes them.</summary>
    public static IDisposable Register()
    {
        if (OperatingSystem.IsWindows() || OperatingSystem.IsBrowser())
            return new Registrations([]);
        return new Registrations(
        [
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => Handle(c, 15)),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => Handle(c, 1)),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, c => Handle(c, 2)),
        ]);
    }

    private static void Handle(PosixSignalContext context, int number)
    {
        context.Cancel = true;
        if (Interlocked.CompareExchange(ref s_received, number, 0) != 0)
            return;
        Arrived.Set();
        ArmFallback(number);
    }

    /// <summary>
    /// The machine thread may be inside one long operation when the user asks to stop (a signal, or Ctrl-A x
    /// when <paramref name="signal"/> is null): if it has not stopped within a few seconds, restore the terminal,
    /// flush what can be flushed and exit from here.
    /// </summary>
    public static void ArmFallback(int? signal)
    {
        var fallback = new Thread(() =>
        {
            Thread.Sleep(s_grace);
            Program.Abandon(signal);
        }) { IsBackground = true, Name = "stop-fallback" };
        fallback.Start();
    }

    private sealed class Registrations(PosixSignalRegistration[] items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var r in items)
                r.Dispose();
        }
    }
}
