using System.Runtime.InteropServices;

namespace Wemu.Memory;

/// <summary>
/// Host memory no access should ever reach: where the soft TLB points the host-address delta of
/// entries that are not RAM (MMIO, unmapped space), so that a fast path that wrongly matched such
/// an entry would land here rather than at a host address the guest chose. On Linux and macOS it
/// is mapped with no access at all (a stray access faults at once, visibly); elsewhere (the
/// browser's linear memory, Windows) it is a zeroed scratch area that holds nothing of the host's.
/// Two pages: a page offset (at most 0xFFF) plus an access of up to 16 bytes stays inside.
/// </summary>
public static unsafe partial class GuardPage
{
    public const int Size = 0x2000;

    private const int ProtNone = 0, MapPrivate = 2, MapAnonymousLinux = 0x20, MapAnonymousDarwin = 0x1000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    /// <summary>The first byte of the guard area (never freed).</summary>
    public static nint Address { get; } = Create(out s_inaccessible);

    private static readonly bool s_inaccessible;

    /// <summary>True when the area faults on any access (mapped PROT_NONE), false for the scratch fallback.</summary>
    public static bool IsInaccessible => Address != 0 && s_inaccessible;

    private static nint Create(out bool inaccessible)
    {
        inaccessible = false;
        if ((OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && !OperatingSystem.IsBrowser())
        {
            try
            {
                int anonymous = OperatingSystem.IsLinux() ? MapAnonymousLinux : MapAnonymousDarwin;
                nint p = mmap(0, Size, ProtNone, MapPrivate | anonymous, -1, 0);
                if (p != -1 && p != 0)
                {
                    inaccessible = true;
                    return p;
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // no libc mmap: the scratch area below
            }
        }
        return (nint)NativeMemory.AlignedAlloc(Size, 4096) is var q && q != 0 ? Clear(q) : throw new OutOfMemoryException();
    }

    private static nint Clear(nint p)
    {
        NativeMemory.Clear((void*)p, Size);
        return p;
    }
}
