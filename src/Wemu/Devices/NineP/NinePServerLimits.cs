namespace Wemu.Devices.NineP;

/// <summary>
/// What one 9P session may make the host hold, whatever the guest sends. Beyond a limit the guest gets an errno
/// (EMFILE for fids and open files, ENOMEM for path memory), never unbounded host memory or descriptors.
/// </summary>
public sealed record NinePServerLimits
{
    /// <summary>The defaults: 64Ki fids, 4Ki open files, 64 MiB of directory listings, 32 MiB of fid paths.</summary>
    public static NinePServerLimits Default { get; } = new();

    /// <summary>
    /// Fids held at once (EMFILE beyond). Linux's client uses one per dentry it keeps plus one per open file, so a
    /// busy guest stays in the low thousands; 64Ki fids cost at most a few MiB of bookkeeping.
    /// </summary>
    public int MaxFids { get; init; } = 64 * 1024;

    /// <summary>
    /// Fids with an open file (a host file descriptor on the host share) at once (EMFILE beyond). Far more than a
    /// guest's programs keep open over 9P, and well under usual descriptor limits, so the rest of the emulator
    /// (disk images, the JIT's code memory) still gets descriptors whatever the guest does.
    /// </summary>
    public int MaxOpenFiles { get; init; } = 4096;

    /// <summary>
    /// Bytes of directory snapshots kept between Treaddir calls, over all fids (estimated as UTF-16 name bytes
    /// plus a per-entry overhead). Beyond it the oldest snapshots are dropped and taken again if their fid reads
    /// on (entries added or removed in between may then be seen twice or missed, as POSIX allows). One directory
    /// larger than the whole budget is kept alone, so the most held is the budget or that one listing.
    /// </summary>
    public long ListingBudgetBytes { get; init; } = 64L << 20;

    /// <summary>
    /// Characters of fid paths held over all fids (ENOMEM beyond). Each path is at most PATH_MAX bytes (walks,
    /// creates and the renames that carry fids along refuse longer ones), so 64Ki fids of the longest paths would
    /// hold 512 MiB; 16Mi characters (32 MiB) leaves an average of 256 characters at the full fid count.
    /// </summary>
    public long PathBudgetChars { get; init; } = 16L << 20;
}
