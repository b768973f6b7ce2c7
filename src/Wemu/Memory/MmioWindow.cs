namespace Wemu.Memory;

/// <summary>One device register window in the physical address space.</summary>
public sealed record MmioWindow(ulong BaseAddress, ulong Size, IMmioDevice Device);
