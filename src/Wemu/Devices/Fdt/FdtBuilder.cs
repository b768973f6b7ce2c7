using System.Buffers.Binary;
using System.Text;

namespace Wemu.Devices.Fdt;

/// <summary>
/// Writes a flattened devicetree blob, version 17 (Devicetree Specification 0.4, chapter 5): header, memory
/// reservation block, structure block and a deduplicated strings block. Nodes are opened and closed in order;
/// the first node is the root, named "".
/// </summary>
/// <example>
/// <code>
/// var fdt = new FdtBuilder();
/// fdt.BeginNode("");
/// fdt.PropertyU32("#address-cells", 2);
/// fdt.BeginNode("memory@80000000");
/// fdt.PropertyString("device_type", "memory");
/// fdt.PropertyU64("reg", 0x8000_0000, 0x800_0000);
/// fdt.EndNode();
/// fdt.EndNode();
/// byte[] dtb = fdt.Build();
/// </code>
/// </example>
public sealed class FdtBuilder
{
    public const uint Magic = 0xD00DFEED;
    public const uint Version = 17;
    public const uint LastCompatibleVersion = 16;

    // Structure block tokens (spec 5.4.1).
    private const uint TokenBeginNode = 1, TokenEndNode = 2, TokenProp = 3, TokenEnd = 9;

    private const int HeaderSize = 40;

    private readonly List<byte> _structure = [];
    private readonly List<byte> _strings = [];
    private readonly Dictionary<string, int> _stringOffsets = [];
    private readonly List<(ulong Address, ulong Size)> _reservations = [];
    private int _depth;
    private bool _rootClosed;
    private uint _nextPhandle = 1;

    /// <summary>The physical ID of the boot CPU (header field boot_cpuid_phys).</summary>
    public uint BootCpuIdPhys { get; set; }

    /// <summary>Depth of the currently open node (0 before the root is opened).</summary>
    public int Depth => _depth;

    /// <summary>Reserves a physical memory range (spec 5.3), e.g. firmware the OS must not touch.</summary>
    public void AddMemoryReservation(ulong address, ulong size) => _reservations.Add((address, size));

    /// <summary>A fresh phandle (spec 2.3.3): unique, non-zero and not 0xffffffff.</summary>
    public uint AllocatePhandle() => _nextPhandle++;

    public void BeginNode(string name)
    {
        if (_rootClosed)
            throw new InvalidOperationException("the root node is already closed");
        if (_depth == 0 && name.Length != 0)
            throw new ArgumentException("the root node's name is empty", nameof(name));
        if (_depth > 0 && (name.Length == 0 || name.Contains('\0') || name.Contains('/')))
            throw new ArgumentException($"invalid node name '{name}'", nameof(name));
        AppendU32(TokenBeginNode);
        AppendString(name);
        _depth++;
    }

    public void EndNode()
    {
        if (_depth == 0)
            throw new InvalidOperationException("no open node");
        AppendU32(TokenEndNode);
        _depth--;
        if (_depth == 0)
            _rootClosed = true;
    }

    /// <summary>A property with a raw value (spec 5.4.1 FDT_PROP).</summary>
    public void Property(string name, ReadOnlySpan<byte> value)
    {
        if (_depth == 0)
            throw new InvalidOperationException("properties belong to an open node");
        if (name.Length == 0 || name.Contains('\0'))
            throw new ArgumentException($"invalid property name '{name}'", nameof(name));
        AppendU32(TokenProp);
        AppendU32((uint)value.Length);
        AppendU32((uint)StringOffset(name));
        foreach (byte b in value)
            _structure.Add(b);
        Pad();
    }

    /// <summary>A property with no value (a boolean such as <c>interrupt-controller</c>).</summary>
    public void PropertyEmpty(string name) => Property(name, []);

    /// <summary>A list of 32-bit big-endian cells.</summary>
    public void PropertyU32(string name, params uint[] cells)
    {
        var bytes = new byte[cells.Length * 4];
        for (int i = 0; i < cells.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(i * 4), cells[i]);
        Property(name, bytes);
    }

    /// <summary>A list of 64-bit values, each as two cells (high, low): <c>reg</c> with #address-cells = #size-cells = 2.</summary>
    public void PropertyU64(string name, params ulong[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(i * 8), values[i]);
        Property(name, bytes);
    }

    /// <summary>A NUL-terminated string.</summary>
    public void PropertyString(string name, string value) => PropertyStrings(name, value);

    /// <summary>A string list: NUL-terminated strings one after another (e.g. <c>compatible</c>).</summary>
    public void PropertyStrings(string name, params string[] values)
    {
        var bytes = new List<byte>();
        foreach (var v in values)
        {
            if (v.Contains('\0'))
                throw new ArgumentException("strings cannot contain NUL", nameof(values));
            bytes.AddRange(Encoding.UTF8.GetBytes(v));
            bytes.Add(0);
        }
        Property(name, bytes.ToArray());
    }

    /// <summary>Writes a <c>phandle</c> property for the current node and returns it (allocating one if 0).</summary>
    public uint PropertyPhandle(uint phandle = 0)
    {
        if (phandle == 0)
            phandle = AllocatePhandle();
        PropertyU32("phandle", phandle);
        return phandle;
    }

    /// <summary>The blob (spec 5.1 layout: header, reservations, structure, strings).</summary>
    public byte[] Build()
    {
        if (!_rootClosed || _depth != 0)
            throw new InvalidOperationException("the tree needs exactly one root node, closed");
        int reservationOffset = HeaderSize; // 8-byte aligned (spec 5.3)
        int reservationSize = (_reservations.Count + 1) * 16;
        int structureOffset = reservationOffset + reservationSize;
        int structureSize = _structure.Count + 4; // + FDT_END
        int stringsOffset = structureOffset + structureSize;
        int stringsSize = _strings.Count;
        int total = stringsOffset + stringsSize;

        var blob = new byte[total];
        var span = blob.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(span[0..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)total);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)structureOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], (uint)stringsOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], (uint)reservationOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[20..], Version);
        BinaryPrimitives.WriteUInt32BigEndian(span[24..], LastCompatibleVersion);
        BinaryPrimitives.WriteUInt32BigEndian(span[28..], BootCpuIdPhys);
        BinaryPrimitives.WriteUInt32BigEndian(span[32..], (uint)stringsSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[36..], (uint)structureSize);

        int p = reservationOffset;
        foreach (var (address, size) in _reservations)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span[p..], address);
            BinaryPrimitives.WriteUInt64BigEndian(span[(p + 8)..], size);
            p += 16;
        }
        // The terminating (0, 0) entry is already zero.

        for (int i = 0; i < _structure.Count; i++)
            blob[structureOffset + i] = _structure[i];
        BinaryPrimitives.WriteUInt32BigEndian(span[(structureOffset + _structure.Count)..], TokenEnd);
        for (int i = 0; i < _strings.Count; i++)
            blob[stringsOffset + i] = _strings[i];
        return blob;
    }

    private int StringOffset(string name)
    {
        if (!_stringOffsets.TryGetValue(name, out int offset))
        {
            offset = _strings.Count;
            _strings.AddRange(Encoding.UTF8.GetBytes(name));
            _strings.Add(0);
            _stringOffsets.Add(name, offset);
        }
        return offset;
    }

    private void AppendU32(uint value)
    {
        _structure.Add((byte)(value >> 24));
        _structure.Add((byte)(value >> 16));
        _structure.Add((byte)(value >> 8));
        _structure.Add((byte)value);
    }

    private void AppendString(string s)
    {
        _structure.AddRange(Encoding.UTF8.GetBytes(s));
        _structure.Add(0);
        Pad();
    }

    /// <summary>Tokens and property values are padded to 32-bit alignment (spec 5.4.2).</summary>
    private void Pad()
    {
        while ((_structure.Count & 3) != 0)
            _structure.Add(0);
    }
}
