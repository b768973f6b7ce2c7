namespace Wemu.Cpu.X86;

/// <summary>
/// A guest exception raised while executing an instruction (#PF, #GP, #UD...). The interpreter
/// unwinds to the instruction boundary and delivers it through the IDT. Faults are rare next to
/// instructions (the fast paths never throw), and one instance per CPU is reused, so raising one
/// allocates nothing.
/// </summary>
internal sealed class X86Exception : Exception
{
    public int Vector;
    public uint ErrorCode;
    public bool HasErrorCode;

    public X86Exception() : base("guest exception") { }
}
