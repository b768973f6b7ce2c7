namespace Wemu.Net;

/// <summary>A name resolution running in the background on the host.</summary>
public interface IHostNameQuery
{
    bool IsCompleted { get; }

    /// <summary>Once completed: the name's IPv4 addresses, empty if it has none or does not exist.</summary>
    IReadOnlyList<uint> Addresses { get; }
}
