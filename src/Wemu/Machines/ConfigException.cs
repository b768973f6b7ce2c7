namespace Wemu.Machines;

/// <summary>A user error in flags or images: hosts print the message as one line and exit with status 2.</summary>
public sealed class ConfigException(string message) : Exception(message);
