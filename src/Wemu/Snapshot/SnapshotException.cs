namespace Wemu.Snapshot;

/// <summary>A snapshot that cannot be written or read: the message is one line for the user.</summary>
public sealed class SnapshotException(string message) : Exception(message);
