namespace Wemu.Memory;

/// <summary>
/// The physical address space of a machine: RAM regions (host pointers) and MMIO windows.
/// CPUs use <see cref="TryGetRam"/> to fill their soft TLBs and <see cref="ReadMmio"/>/<see cref="WriteMmio"/>
/// for everything else; DMA-capable devices use <see cref="TryGetDmaSpan"/>, which checks every
/// guest-supplied address and length against RAM.
/// </summary>
public sealed unsafe class PhysicalBus
{
    private GuestRam[] _ram = [];
    private MmioWindow[] _mmio = [];

    public IReadOnlyList<GuestRam> RamRegions => _ram;

    public IReadOnlyList<MmioWindow> MmioWindows => _mmio;

    /// <summary>Set when the guest touches an unmapped physical address (for diagnostics).</summary>
    public ulong LastUnmappedAddress { get; private set; }

    public GuestRam AddRam(ulong baseAddress, ulong size)
    {
        var ram = new GuestRam(baseAddress, size);
        CheckOverlap(baseAddress, size);
        _ram = [.. _ram, ram];
        return ram;
    }

    public void Map(ulong baseAddress, ulong size, IMmioDevice device)
    {
        CheckOverlap(baseAddress, size);
        var list = new List<MmioWindow>(_mmio) { new(baseAddress, size, device) };
        list.Sort((a, b) => a.BaseAddress.CompareTo(b.BaseAddress));
        _mmio = [.. list];
    }

    private void CheckOverlap(ulong baseAddress, ulong size)
    {
        foreach (var r in _ram)
            if (baseAddress < r.EndAddress && r.BaseAddress < baseAddress + size)
                throw new InvalidOperationException($"region 0x{baseAddress:x} overlaps RAM at 0x{r.BaseAddress:x}");
        foreach (var w in _mmio)
            if (baseAddress < w.BaseAddress + w.Size && w.BaseAddress < baseAddress + size)
                throw new InvalidOperationException($"region 0x{baseAddress:x} overlaps MMIO at 0x{w.BaseAddress:x}");
    }

    /// <summary>Finds the RAM region holding the page of <paramref name="address"/>.</summary>
    public GuestRam? FindRam(ulong address)
    {
        var ram = _ram;
        for (int i = 0; i < ram.Length; i++)
            if (address - ram[i].BaseAddress < ram[i].Size)
                return ram[i];
        return null;
    }

    /// <summary>Host pointer for [address, address+length) if it lies entirely in one RAM region.</summary>
    public bool TryGetRam(ulong address, ulong length, out byte* pointer)
    {
        var ram = _ram;
        for (int i = 0; i < ram.Length; i++)
        {
            if (ram[i].Contains(address, length))
            {
                pointer = ram[i].Pointer + (address - ram[i].BaseAddress);
                return true;
            }
        }
        pointer = null;
        return false;
    }

    /// <summary>True if [address, address+length) lies entirely in one RAM region.</summary>
    public bool TryGetRamRange(ulong address, ulong length) => TryGetRam(address, length, out _);

    /// <summary>
    /// A span over guest RAM for device DMA. Returns false (and an empty span) if any byte of the
    /// range is outside RAM: a guest-supplied descriptor can never reach host memory outside RAM.
    /// </summary>
    public bool TryGetDmaSpan(ulong address, uint length, out Span<byte> span)
    {
        if (TryGetRam(address, length, out var p))
        {
            span = new Span<byte>(p, (int)Math.Min(length, int.MaxValue));
            return length <= int.MaxValue;
        }
        span = default;
        return false;
    }

    public MmioWindow? FindMmio(ulong address)
    {
        var w = _mmio;
        int lo = 0, hi = w.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            var m = w[mid];
            if (address < m.BaseAddress) hi = mid - 1;
            else if (address - m.BaseAddress >= m.Size) lo = mid + 1;
            else return m;
        }
        return null;
    }

    /// <summary>Reads an MMIO register or RAM. Returns false for an unmapped address (access fault).</summary>
    public bool ReadMmio(ulong address, int size, out ulong value)
    {
        var w = FindMmio(address);
        if (w != null && address - w.BaseAddress + (ulong)size <= w.Size)
        {
            value = w.Device.Read(address - w.BaseAddress, size);
            return true;
        }
        if (TryGetRam(address, (ulong)size, out var p))
        {
            value = size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            return true;
        }
        LastUnmappedAddress = address;
        value = 0;
        return false;
    }

    /// <summary>Writes an MMIO register or RAM. Returns false for an unmapped address (access fault).</summary>
    public bool WriteMmio(ulong address, int size, ulong value)
    {
        var w = FindMmio(address);
        if (w != null && address - w.BaseAddress + (ulong)size <= w.Size)
        {
            w.Device.Write(address - w.BaseAddress, size, value);
            return true;
        }
        if (TryGetRam(address, (ulong)size, out var p))
        {
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                case 4: *(uint*)p = (uint)value; break;
                default: *(ulong*)p = value; break;
            }
            return true;
        }
        LastUnmappedAddress = address;
        return false;
    }

    /// <summary>Copies host bytes into guest physical memory (loaders). Throws if outside RAM.</summary>
    public void Load(ulong address, ReadOnlySpan<byte> data)
    {
        if (!TryGetRam(address, (ulong)data.Length, out var p))
            throw new ArgumentOutOfRangeException(nameof(address), $"0x{address:x}+{data.Length} is not in guest RAM");
        data.CopyTo(new Span<byte>(p, data.Length));
        NotifyWrite(address, (ulong)data.Length);
    }

    // Code pages: pages of RAM that hold translated guest code. A write to one (by a CPU store
    // slow path or device DMA) unmarks it and tells the translators, which drop their blocks.

    private int _codePageCount;

    /// <summary>Raised with the physical page address when a marked code page is written.</summary>
    public event Action<ulong>? CodePageWritten;

    /// <summary>True once any page has been marked, so writers can skip the check cheaply.</summary>
    public bool HasCodePages => _codePageCount != 0;

    /// <summary>Marks the RAM page holding <paramref name="address"/> as holding translated code.</summary>
    public void MarkCodePage(ulong address)
    {
        var ram = FindRam(address);
        if (ram == null)
            return;
        ref byte flag = ref ram.CodePages[(address - ram.BaseAddress) >> 12];
        if (flag == 0)
        {
            flag = 1;
            _codePageCount++;
        }
    }

    public bool IsCodePage(ulong address)
    {
        if (_codePageCount == 0)
            return false;
        var ram = FindRam(address);
        return ram != null && ram.CodePages[(address - ram.BaseAddress) >> 12] != 0;
    }

    /// <summary>Reports a write to [address, address+length) that did not go through a CPU's fast path.</summary>
    public void NotifyWrite(ulong address, ulong length)
    {
        if (_codePageCount == 0 || length == 0)
            return;
        ulong last = (address + length - 1) & ~0xFFFUL;
        for (ulong page = address & ~0xFFFUL; ; page += 0x1000)
        {
            var ram = FindRam(page);
            if (ram != null)
            {
                ref byte flag = ref ram.CodePages[(page - ram.BaseAddress) >> 12];
                if (flag != 0)
                {
                    flag = 0;
                    _codePageCount--;
                    CodePageWritten?.Invoke(page);
                }
            }
            if (page >= last)
                break;
        }
    }

    /// <summary>Unmarks every code page (a translator dropped its whole cache).</summary>
    public void ClearCodePages()
    {
        foreach (var ram in _ram)
            Array.Clear(ram.CodePages);
        _codePageCount = 0;
    }
}
