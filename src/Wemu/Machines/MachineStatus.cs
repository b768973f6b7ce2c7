namespace Wemu.Machines;

/// <summary>What a machine did in its last time slice.</summary>
public enum MachineStatus
{
    /// <summary>Ran its budget; call again.</summary>
    Running,

    /// <summary>Every hart waits for an interrupt: the host may sleep until <see cref="Machine.NextDeadline"/> or input.</summary>
    Idle,

    /// <summary>The guest powered off (or a test signalled its result); see <see cref="Machine.ExitCode"/>.</summary>
    PoweredOff,

    /// <summary>The guest asked for a reset; the host restarts or exits (-no-reboot).</summary>
    ResetRequested,
}
