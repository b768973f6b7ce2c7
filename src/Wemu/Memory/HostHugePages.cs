using System.Runtime.InteropServices;

namespace Wemu.Memory;

/// <summary>
/// Asks Linux for transparent huge pages (2 MiB) under a large native block (guest RAM), as QEMU does for its RAM
/// blocks (<c>madvise(MADV_HUGEPAGE)</c>): with 4 KiB pages every guest working set beyond a few MiB misses the host's
/// TLB as well as ours. Advice only: the kernel may ignore it (THP "never"), and elsewhere (the browser, macOS,
/// Windows) it does nothing.
/// </summary>
public static unsafe partial class HostHugePages
{
    private const int MadvHugepage = 14;
    private const nuint HugePage = 2 << 20;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint addr, nuint length, int advice);

    /// <summary>Advises the 2 MiB-aligned part of [<paramref name="start"/>, +<paramref name="length"/>); true if the kernel took it.</summary>
    public static bool Advise(void* start, nuint length)
    {
        if (!OperatingSystem.IsLinux() || OperatingSystem.IsBrowser())
            return false;
        nuint from = ((nuint)start + HugePage - 1) & ~(HugePage - 1), to = ((nuint)start + length) & ~(HugePage - 1);
        if (to <= from)
            return false;
        try
        {
            return madvise((nint)from, to - from, MadvHugepage) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
