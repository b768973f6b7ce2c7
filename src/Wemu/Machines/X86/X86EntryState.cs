namespace Wemu.Machines.X86;

/// The CPU state at Linux's 64-bit entry point (boot.rst "64-bit BOOT PROTOCOL").
public sealed class X86EntryState
{
    public ulong Rip, Rsp, Rsi, Rflags = 2;
    public ulong Cr0, Cr3, Cr4, Efer;
    public ulong GdtBase; public ushort GdtLimit;
    public ulong IdtBase; public ushort IdtLimit;
    public ushort CodeSelector, DataSelector;   // CS; DS/ES/SS/FS/GS get DataSelector
    public ulong CodeDescriptor, DataDescriptor; // the raw 8-byte GDT entries those selectors point at
    public ushort Fcw = 0x37f; public uint Mxcsr = 0x1f80;
}
