namespace Wemu.Jit.Ir;

/// <summary>How compiled code leaves: what the dispatcher does next.</summary>
public enum IrExitKind : byte
{
    /// <summary>Continue with the block at the new pc (chained by the dispatcher).</summary>
    Chain,

    /// <summary>Interpret the instruction at the new pc (untranslated), then return to the machine loop.</summary>
    Interpret,

    /// <summary>Return to the machine loop (a trap was taken or state the loop watches changed).</summary>
    Stop,
}
