namespace Wemu.Devices;

/// <summary>An interrupt controller input side: numbered level-triggered lines.</summary>
public interface IInterruptSink
{
    void SetIrq(int number, bool level);
}
