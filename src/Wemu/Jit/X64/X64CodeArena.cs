using System.Runtime.InteropServices;

namespace Wemu.Jit.X64;

/// <summary>
/// Memory for generated x86-64 code, filled from the start and reset as a whole (QEMU's code
/// buffer works the same way), so nothing is freed piecemeal. Never writable and executable at
/// once: one anonymous shared-memory file (<c>memfd_create</c>) mapped twice, read-write where the
/// engine copies code in and read-execute where it runs (as the .NET runtime maps its own code), so
/// no address the generated code or the guest can reach is both. Only on Linux x86-64 hosts
/// (<see cref="TryCreate"/> returns null elsewhere, or when the system refuses the mappings, and
/// the engine keeps to the IL backend).
/// </summary>
public sealed unsafe partial class X64CodeArena : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapShared = 1;
    private const uint MfdCloexec = 1;

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(nint addr, nuint length);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int memfd_create(string name, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, nint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>The read-write view (where code is copied in) and the read-execute view (where it runs).</summary>
    private byte* _write, _base;
    private int _used;
    /// <summary>Bytes at the start that <see cref="Reset"/> keeps: the <see cref="Enter"/> trampoline.</summary>
    private readonly int _reserved;

    private X64CodeArena(byte* write, byte* exec, int size)
    {
        _write = write;
        _base = exec;
        Capacity = size;
        Enter = Add(X64Backend.Compiler.EnterCode());
        _reserved = _used;
    }

    /// <summary>
    /// The one way into generated code, <c>long enter(byte* ctx, long count, byte* code)</c>: it saves the
    /// callee-saved registers and sets up the frame every region shares, then jumps to <c>code</c> (see
    /// <see cref="X64Backend.Compiler.EnterCode"/>); the region's exit returns to the caller.
    /// </summary>
    public byte* Enter { get; }

    /// <summary>Runs the code at <paramref name="entry"/> (from <see cref="Add"/>) with the exit context <paramref name="ctx"/>; returns the count.</summary>
    public long Run(byte* ctx, byte* entry, long count = 0) => ((delegate* unmanaged<byte*, long, byte*, long>)Enter)(ctx, count, entry);

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
            int fd = memfd_create("wemu-jit", MfdCloexec);
            if (fd < 0)
                return null;
            try
            {
                if (ftruncate(fd, size) != 0)
                    return null;
                nint write = mmap(0, (nuint)size, ProtRead | ProtWrite, MapShared, fd, 0);
                if (write == -1)
                    return null;
                nint exec = mmap(0, (nuint)size, ProtRead | ProtExec, MapShared, fd, 0);
                if (exec == -1)
                {
                    munmap(write, (nuint)size);
                    return null;
                }
                return new X64CodeArena((byte*)write, (byte*)exec, size);
            }
            finally
            {
                close(fd);   // the mappings keep the memory
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Copies <paramref name="code"/> in and returns its entry point (in the executable view), or null when the arena is full.</summary>
    public byte* Add(ReadOnlySpan<byte> code)
    {
        int start = (_used + 15) & ~15;
        if (start + code.Length > Capacity)
            return null;
        code.CopyTo(new Span<byte>(_write + start, code.Length));
        _used = start + code.Length;
        return _base + start;
    }

    /// <summary>Forgets all code (the caller guarantees none of it is running or referenced).</summary>
    public void Reset() => _used = _reserved;

    public void Dispose()
    {
        if (_base != null)
        {
            munmap((nint)_base, (nuint)Capacity);
            munmap((nint)_write, (nuint)Capacity);
            _base = _write = null;
        }
    }
}
