using System.Runtime.InteropServices;

namespace Wemu.Memory;

/// <summary>
/// A block of guest RAM in native memory: its address never moves, so interpreters,
/// compiled blocks and generated WebAssembly can address it directly.
/// </summary>
public sealed unsafe class GuestRam : IDisposable
{
    public GuestRam(ulong baseAddress, ulong size)
    {
        if (size == 0 || (size & 0xFFF) != 0)
            throw new ArgumentException("RAM size must be a non-zero multiple of 4 KiB", nameof(size));
        BaseAddress = baseAddress;
        Size = size;
        nuint bytes = (nuint)size + 4096;
        if (HeapEnd is { } heapEnd)
        {
            // WebAssembly: calloc clears every byte (its malloc has no lazily zeroed OS pages), ~1 s for
            // 256 MiB in the page. memory.grow's new pages are zero and untouched, so only the part of the
            // block below the heap's end before this allocation can hold old data: clear that part.
            nuint end = heapEnd();
            _allocation = (byte*)NativeMemory.Alloc(bytes);
            nuint start = (nuint)_allocation;
            if (start < end)
                NativeMemory.Clear(_allocation, Math.Min(bytes, end - start));
        }
        else
        {
            // calloc: large blocks come straight from the OS already zeroed and are touched lazily, so a
            // 256 MiB guest costs nothing until it uses its memory (clearing it here cost ~150 ms).
            _allocation = (byte*)NativeMemory.AllocZeroed(bytes);
            // (2 MiB host pages where Linux gives them, as QEMU's RAM: pigz's step ~4 % faster, bench/native-ab.sh)
            HostHugePages.Advise(_allocation, bytes);
        }
        Pointer = (byte*)(((nuint)_allocation + 4095) & ~(nuint)4095);
        CodePages = new byte[size >> 12];
    }

    /// <summary>
    /// Set by a host whose native heap is one WebAssembly memory (the page): the memory's current size
    /// in bytes. Memory above it does not exist yet, and memory.grow adds it zeroed (WebAssembly spec,
    /// "grow mem"), so RAM allocated from there needs no clearing. Null natively (calloc is lazy there).
    /// </summary>
    public static Func<nuint>? HeapEnd { get; set; }

    /// <summary>One byte per 4 KiB page: non-zero if the page holds translated code (see <see cref="PhysicalBus.MarkCodePage"/>).</summary>
    internal byte[] CodePages { get; }

    public ulong BaseAddress { get; }

    public ulong Size { get; }

    public byte* Pointer { get; private set; }

    private byte* _allocation;

    public ulong EndAddress => BaseAddress + Size;

    public bool Contains(ulong address, ulong length) =>
        address >= BaseAddress && length <= Size && address - BaseAddress <= Size - length;

    public Span<byte> AsSpan() => new(Pointer, checked((int)Math.Min(Size, int.MaxValue)));

    public Span<byte> Slice(ulong address, int length)
    {
        if (length < 0 || !Contains(address, (ulong)length))
            throw new ArgumentOutOfRangeException(nameof(address));
        return new Span<byte>(Pointer + (address - BaseAddress), length);
    }

    public void Dispose()
    {
        if (Pointer != null)
        {
            NativeMemory.Free(_allocation);
            Pointer = null;
        }
    }
}
