namespace Wemu.Devices.NineP;

/// <summary>One name in a directory listing: the name, the file's inode (qid path) and its type bits (<see cref="LinuxFileMode"/>).</summary>
public readonly record struct DirectoryEntry(string Name, ulong Inode, uint TypeMode);
