namespace Wemu.Devices;

/// <summary>A level-triggered interrupt line from a device to one input of an interrupt controller.</summary>
public sealed class IrqLine
{
    private readonly IInterruptSink _sink;

    public IrqLine(IInterruptSink sink, int number)
    {
        _sink = sink;
        Number = number;
    }

    public int Number { get; }

    public bool Level { get; private set; }

    public void Set(bool level)
    {
        if (level == Level)
            return;
        Level = level;
        _sink.SetIrq(Number, level);
    }

    /// <summary>A snapshot's level, without telling the controller (whose own state was restored with it).</summary>
    public void RestoreLevel(bool level) => Level = level;

    public void Raise() => Set(true);

    public void Lower() => Set(false);
}
