using System.Buffers.Binary;
using System.Text;

namespace Wemu.Tests.Devices;

/// <summary>
/// An independent, strict reader of flattened devicetree blobs (Devicetree Specification 0.4 chapter 5) used to
/// check <c>FdtBuilder</c> without external tools. Throws <see cref="InvalidDataException"/> on any violation.
/// </summary>
internal sealed class DtbReader
{
    public sealed class Node(string name)
    {
        public string Name { get; } = name;

        public Dictionary<string, byte[]> Properties { get; } = [];

        public List<Node> Children { get; } = [];

        public Node Child(string name) => Children.Single(c => c.Name == name);

        public uint[] Cells(string property)
        {
            var v = Properties[property];
            var cells = new uint[v.Length / 4];
            for (int i = 0; i < cells.Length; i++)
                cells[i] = BinaryPrimitives.ReadUInt32BigEndian(v.AsSpan(i * 4));
            return cells;
        }

        public string[] Strings(string property) =>
            Encoding.UTF8.GetString(Properties[property]).TrimEnd('\0').Split('\0');
    }

    public DtbReader(byte[] blob)
    {
        var b = blob.AsSpan();
        uint U32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(offset));
        if (blob.Length < 40 || U32(0) != 0xD00DFEED)
            throw new InvalidDataException("bad magic");
        TotalSize = U32(4);
        OffStruct = U32(8);
        OffStrings = U32(12);
        OffReservations = U32(16);
        Version = U32(20);
        LastCompatibleVersion = U32(24);
        BootCpuIdPhys = U32(28);
        SizeStrings = U32(32);
        SizeStruct = U32(36);
        if (TotalSize != blob.Length)
            throw new InvalidDataException("totalsize does not match the blob");
        if (OffReservations % 8 != 0 || OffStruct % 4 != 0)
            throw new InvalidDataException("misaligned block");
        if (OffStruct + SizeStruct > TotalSize || OffStrings + SizeStrings > TotalSize)
            throw new InvalidDataException("block outside the blob");

        for (int p = (int)OffReservations; ; p += 16)
        {
            ulong address = BinaryPrimitives.ReadUInt64BigEndian(b[p..]);
            ulong size = BinaryPrimitives.ReadUInt64BigEndian(b[(p + 8)..]);
            if (address == 0 && size == 0)
                break;
            Reservations.Add((address, size));
        }

        var strings = b.Slice((int)OffStrings, (int)SizeStrings);
        var structure = b.Slice((int)OffStruct, (int)SizeStruct);
        int pos = 0;
        var stack = new Stack<Node>();
        Node? root = null;
        while (true)
        {
            if (pos + 4 > structure.Length)
                throw new InvalidDataException("structure block ends without FDT_END");
            uint token = BinaryPrimitives.ReadUInt32BigEndian(structure[pos..]);
            pos += 4;
            switch (token)
            {
                case 1: // FDT_BEGIN_NODE
                {
                    int end = structure[pos..].IndexOf((byte)0);
                    var node = new Node(Encoding.UTF8.GetString(structure.Slice(pos, end)));
                    pos = Align(pos + end + 1);
                    if (stack.Count == 0)
                    {
                        if (root != null)
                            throw new InvalidDataException("second root node");
                        root = node;
                    }
                    else
                    {
                        stack.Peek().Children.Add(node);
                    }
                    stack.Push(node);
                    break;
                }
                case 2: // FDT_END_NODE
                    if (stack.Count == 0)
                        throw new InvalidDataException("FDT_END_NODE without node");
                    stack.Pop();
                    break;
                case 3: // FDT_PROP
                {
                    if (stack.Count == 0)
                        throw new InvalidDataException("property outside a node");
                    int length = (int)BinaryPrimitives.ReadUInt32BigEndian(structure[pos..]);
                    int nameOffset = (int)BinaryPrimitives.ReadUInt32BigEndian(structure[(pos + 4)..]);
                    pos += 8;
                    if (nameOffset >= strings.Length)
                        throw new InvalidDataException("property name outside the strings block");
                    int nameEnd = strings[nameOffset..].IndexOf((byte)0);
                    if (nameEnd < 0)
                        throw new InvalidDataException("unterminated property name");
                    string name = Encoding.UTF8.GetString(strings.Slice(nameOffset, nameEnd));
                    if (!stack.Peek().Properties.TryAdd(name, structure.Slice(pos, length).ToArray()))
                        throw new InvalidDataException($"duplicate property {name}");
                    pos = Align(pos + length);
                    break;
                }
                case 4: // FDT_NOP
                    break;
                case 9: // FDT_END
                    if (stack.Count != 0 || root == null)
                        throw new InvalidDataException("FDT_END with open nodes");
                    if (pos != structure.Length)
                        throw new InvalidDataException("size_dt_struct does not end at FDT_END");
                    Root = root;
                    return;
                default:
                    throw new InvalidDataException($"bad token {token}");
            }
        }
    }

    public uint TotalSize { get; }
    public uint OffStruct { get; }
    public uint OffStrings { get; }
    public uint OffReservations { get; }
    public uint Version { get; }
    public uint LastCompatibleVersion { get; }
    public uint BootCpuIdPhys { get; }
    public uint SizeStrings { get; }
    public uint SizeStruct { get; }
    public List<(ulong Address, ulong Size)> Reservations { get; } = [];
    public Node Root { get; } = null!;

    private static int Align(int p) => (p + 3) & ~3;
}
