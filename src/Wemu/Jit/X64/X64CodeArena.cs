using System.Runtime.InteropServices;

namespace Wemu.Jit.X64;

/// <summary>
/// Memory for generated x86-64 code: one anonymous mapping, filled from the start and reset as a
/// whole (QEMU's code buffer works the same way), so nothing is freed piecemeal. Only on Linux
/// x86-64 hosts (<see cref="TryCreate"/> returns null elsewhere, or when the system refuses an
/// executable mapping, and the engine keeps to the IL backend).
/// </summary>
public sealed unsafe partial class X64CodeArena : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 2, MapAnonymous = 0x20;

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(nint addr, nuint length);

    private byte* _base;
    private int _used;

    private X64CodeArena(byte* @base, int size)
    {
        _base = @base;
        Capacity = size;
    }

    public int Capacity { get; }

    public int Used => _used;

    /// <summary>True where generated x86-64 code can run: a Linux process on an x86-64 CPU.</summary>
    public static bool Supported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public static X64CodeArena? TryCreate(int size)
    {
        if (!Supported)
            return null;
        try
        {
            nint p = mmap(0, (nuint)size, ProtRead | ProtWrite | ProtExec, MapPrivate | MapAnonymous, -1, 0);
            if (p == -1 || p == 0)
                return null;
            return new X64CodeArena((byte*)p, size);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Copies <paramref name="code"/> in and returns its entry point, or null when the arena is full.</summary>
    public byte* Add(ReadOnlySpan<byte> code)
    {
        int start = (_used + 15) & ~15;
        if (start + code.Length > Capacity)
            return null;
        code.CopyTo(new Span<byte>(_base + start, code.Length));
        _used = start + code.Length;
        return _base + start;
    }

    /// <summary>Forgets all code (the caller guarantees none of it is running or referenced).</summary>
    public void Reset() => _used = 0;

    public void Dispose()
    {
        if (_base != null)
        {
            munmap((nint)_base, (nuint)Capacity);
            _base = null;
        }
    }
}
