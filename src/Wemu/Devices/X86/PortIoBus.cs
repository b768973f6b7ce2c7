namespace Wemu.Devices.X86;

/// <summary>
/// The x86 I/O port address space (64 KiB of ports) as QEMU's <c>address_space_io</c>: devices are mapped on port
/// ranges; reads of unassigned ports return all ones of the access size and writes to them are ignored (QEMU's
/// unassigned_io_ops). Port 0x80 (the POST/delay port) is unassigned unless something is mapped there, which
/// matches QEMU pc's ioport80 device (reads all ones, writes ignored).
/// </summary>
/// <remarks>
/// Access splitting follows QEMU's memory core (flatview_read_continue / memory_access_size): a piece of an access
/// goes to the mapping that holds its first port, sized by the natural alignment of its offset in that mapping
/// (capped at 4 bytes, the default valid.max_access_size), and it is not cut at the mapping's end, since QEMU only
/// clips RAM sections. The device receives the whole piece (1, 2 or 4 bytes) and does what QEMU's
/// access_with_adjusted_size does for its impl sizes: the byte-wide devices here read or write byte by byte at
/// consecutive offsets. Unassigned pieces are sized by the alignment of the port and read all ones. Bytes past port
/// 0xffff read all ones (the port space does not wrap). Sizes other than 1, 2 and 4 are not I/O instructions:
/// reads return all ones, writes are ignored. Lookups use a 64 Ki-entry table, no allocation per access.
/// </remarks>
public sealed class PortIoBus
{
    private const int PortCount = 0x10000;

    private readonly byte[] _owner = new byte[PortCount]; // index into _devices + 1; 0 = unassigned
    private IPortDevice[] _devices = [];
    private int[] _firstPorts = [];

    /// <summary>Maps <paramref name="count"/> ports from <paramref name="first"/> to <paramref name="device"/>.</summary>
    public void Map(ushort first, int count, IPortDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first + count, PortCount);
        if (_devices.Length >= byte.MaxValue)
            throw new InvalidOperationException("too many port mappings");
        for (int p = first; p < first + count; p++)
            if (_owner[p] != 0)
                throw new InvalidOperationException($"ports 0x{first:x}+{count} overlap the mapping at 0x{_firstPorts[_owner[p] - 1]:x}");
        _devices = [.. _devices, device];
        _firstPorts = [.. _firstPorts, first];
        byte index = (byte)_devices.Length;
        for (int p = first; p < first + count; p++)
            _owner[p] = index;
    }

    /// <summary>The device mapped at <paramref name="port"/>, or null.</summary>
    public IPortDevice? DeviceAt(ushort port) => _owner[port] == 0 ? null : _devices[_owner[port] - 1];

    public uint Read(ushort port, int size)
    {
        if (size is not (1 or 2 or 4))
            return uint.MaxValue;
        uint result = 0;
        int done = 0;
        while (done < size)
        {
            int p = port + done;
            int piece = Piece(p, size - done, out int index);
            uint value = index < 0 ? uint.MaxValue : _devices[index].Read((ushort)p, piece);
            if (piece < 4)
                value &= (1u << (8 * piece)) - 1;
            result |= value << (8 * done);
            done += piece;
        }
        return result;
    }

    public void Write(ushort port, int size, uint value)
    {
        if (size is not (1 or 2 or 4))
            return;
        int done = 0;
        while (done < size)
        {
            int p = port + done;
            int piece = Piece(p, size - done, out int index);
            if (index >= 0)
            {
                uint part = value >> (8 * done);
                if (piece < 4)
                    part &= (1u << (8 * piece)) - 1;
                _devices[index].Write((ushort)p, piece, part);
            }
            done += piece;
        }
    }

    /// <summary>Size of the next piece of an access at <paramref name="port"/> with <paramref name="remaining"/> bytes left.</summary>
    private int Piece(int port, int remaining, out int index)
    {
        int offset;
        if (port >= PortCount)
        {
            index = -1;
            return 1;
        }
        if (_owner[port] == 0)
        {
            index = -1;
            offset = port;
        }
        else
        {
            index = _owner[port] - 1;
            offset = port - _firstPorts[index];
        }
        // QEMU memory_access_size: bounded by the alignment of the offset (none at offset 0), then a power of two.
        int piece = Math.Min(remaining, PortCount - port);
        int align = offset & -offset;
        if (align != 0 && align < piece)
            piece = align;
        return piece >= 4 ? 4 : piece >= 2 ? 2 : 1;
    }
}
