namespace Wemu.Machines;

/// <summary>One row of a board's memory map: a named window, its place, and its interrupt (0 = none).</summary>
public sealed record BoardRegion(string Name, ulong Base, ulong Size, int Irq = 0);
