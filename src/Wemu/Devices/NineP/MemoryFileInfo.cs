namespace Wemu.Devices.NineP;

/// <summary>One entry of <see cref="MemoryFileSystem.ListFiles"/>.</summary>
public sealed record MemoryFileInfo(string Name, bool IsDirectory, long Length);
