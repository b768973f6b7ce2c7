namespace Wemu.Devices;

/// <summary>What a guest asks of the machine through a power-control device.</summary>
public enum PowerRequest
{
    /// <summary>Stop the machine; the exit code says pass (0) or fail.</summary>
    PowerOff,

    /// <summary>Reset the machine and boot again.</summary>
    Reset,
}
