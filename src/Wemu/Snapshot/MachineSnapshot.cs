using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using K4os.Compression.LZ4;
using Wemu.Machines;
using Wemu.Memory;

namespace Wemu.Snapshot;

/// <summary>
/// A running machine to a file and back (docs/SNAPSHOTS.md). The file: the magic <c>WEMUSNAP</c>, the format
/// version, a header (producer, board, RAM size, the machine's layout) with its CRC-32, then sections, each its name,
/// the version of its description, its length and its CRC-32: one per part of <see cref="Machine.StateParts"/> and
/// <c>ram</c> (each RAM region: a bitmap of the 4 KiB pages that are not all zero, then those pages in LZ4 blocks
/// of at most 1 MiB). Loading checks everything before it changes the machine it loads into: the magic, the
/// version, the board, the RAM size, the layout, every section's length and CRC; a file that fails any of them is
/// refused with one line (<see cref="SnapshotException"/>) and the machine is untouched. Saved between slices only.
/// </summary>
public static class MachineSnapshot
{
    public static ReadOnlySpan<byte> Magic => "WEMUSNAP"u8;

    public const uint FormatVersion = 1;

    /// <summary>Where the last <see cref="Load"/> spent its time (the checks with the CRCs, RAM, the parts), for measurements.</summary>
    public static string LastLoad { get; private set; } = "";

    private const int PageSize = 4096, PagesPerBlock = 256;

    /// <summary>The layout recorded in a snapshot file (its header checked), to build a machine that matches it.</summary>
    public static string ReadLayout(ReadOnlyMemory<byte> file) => ReadHeader(file, out _).Layout;

    private static (string Producer, string Board, ulong RamBytes, string Layout) ReadHeader(ReadOnlyMemory<byte> file, out StateReader rest)
    {
        if (file.Length < Magic.Length || !file.Span[..Magic.Length].SequenceEqual(Magic))
            throw new SnapshotException("not a Wemu snapshot (no WEMUSNAP magic)");
        var r = new StateReader(file[Magic.Length..], "header");
        uint format = r.U32();
        if (format != FormatVersion)
            throw new SnapshotException($"snapshot format version {format}; this wemu reads version {FormatVersion}");
        var headerBytes = r.Blob(1 << 20);
        if (r.U32() != Crc32.HashToUInt32(headerBytes.Span))
            throw new SnapshotException("snapshot header is damaged (checksum mismatch)");
        var header = new StateReader(headerBytes, "header");
        rest = r;
        return (header.String(), header.String(), header.U64(), header.String(1 << 16));
    }

    /// <summary>What a machine's layout says about it: the board, RAM, and what each state part is.</summary>
    public static string Layout(Machine machine)
    {
        var b = new StringBuilder();
        b.Append(machine.SnapshotBoard);
        foreach (var ram in machine.Bus.RamRegions)
            b.Append($" ram@{ram.BaseAddress:x}+{ram.Size:x}");
        foreach (var (name, part) in machine.StateParts())
            b.Append($" {name}:{part.StateLayout}");
        return b.ToString();
    }

    /// <summary>Writes <paramref name="machine"/> (between slices) to <paramref name="output"/>.</summary>
    public static void Save(Machine machine, Stream output)
    {
        string board = machine.SnapshotBoard ?? throw new SnapshotException("this machine cannot be saved yet (only the riscv64 virt board can)");
        var sections = new List<(string Name, int Version, byte[] Payload)>();
        foreach (var (name, part) in machine.StateParts())
        {
            var w = new StateWriter();
            part.SaveState(w);
            sections.Add((name, part.StateVersion, w.WrittenSpan.ToArray()));
        }
        sections.Add(("ram", 1, SaveRam(machine.Bus)));

        var header = new StateWriter();
        header.String($"wemu {typeof(MachineSnapshot).Assembly.GetName().Version}");
        header.String(board);
        header.U64(RamBytes(machine.Bus));
        header.String(Layout(machine));
        output.Write(Magic);
        var head = new StateWriter();
        head.U32(FormatVersion);
        head.Blob(header.WrittenSpan);
        head.U32(Crc32.HashToUInt32(header.WrittenSpan));
        head.U32((uint)sections.Count);
        output.Write(head.WrittenSpan);
        foreach (var (name, version, payload) in sections)
        {
            var s = new StateWriter();
            s.String(name);
            s.U32((uint)version);
            s.U64((ulong)payload.Length);
            s.U32(Crc32.HashToUInt32(payload));
            output.Write(s.WrittenSpan);
            output.Write(payload);
        }
    }

    /// <summary>
    /// Loads <paramref name="file"/> into <paramref name="machine"/>, a machine just built with the same
    /// configuration (not yet run). Everything is checked first; then RAM and every part are loaded.
    /// </summary>
    public static void Load(Machine machine, ReadOnlyMemory<byte> file, bool force = false, Action<string>? note = null)
    {
        string board = machine.SnapshotBoard ?? throw new SnapshotException("this machine cannot be resumed from a snapshot yet (only the riscv64 virt board can)");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var (producer, savedBoard, ramBytes, layout) = ReadHeader(file, out var r);
        if (savedBoard != board)
            throw new SnapshotException($"snapshot of a {savedBoard} machine; this machine is {board}");
        if (ramBytes != RamBytes(machine.Bus))
            throw new SnapshotException($"snapshot of a machine with {ramBytes >> 20} MiB of RAM; this one has {RamBytes(machine.Bus) >> 20} MiB (use the same -m)");
        string ours = Layout(machine);
        if (layout != ours)
            throw new SnapshotException($"snapshot of another machine layout (saved: {layout}; this one: {ours}): start it with the same devices");

        var sections = ReadSections(r);
        var parts = machine.StateParts().ToList();
        foreach (var (name, part) in parts)
        {
            if (!sections.TryGetValue(name, out var s))
                throw new SnapshotException($"snapshot has no section {name}");
            if (s.Version != part.StateVersion)
                throw new SnapshotException($"snapshot section {name} is {part.StateName} version {s.Version}; this wemu reads version {part.StateVersion} (made by {producer})");
        }
        if (!sections.TryGetValue("ram", out var ram) || ram.Version != 1)
            throw new SnapshotException("snapshot has no RAM section this wemu reads");
        if (sections.Count != parts.Count + 1)
            throw new SnapshotException("snapshot has sections this machine does not have");

        // The checks passed: from here on a failure (a damaged value inside a section) leaves the machine half
        // loaded, so the caller must discard it (the CLI exits; the page builds a new machine).
        double checkedMs = watch.Elapsed.TotalMilliseconds;
        LoadRam(machine.Bus, ram.Payload, machine.RamUnwritten);
        machine.RamUnwritten = false;
        double ramMs = watch.Elapsed.TotalMilliseconds - checkedMs;
        foreach (var (name, part) in parts)
        {
            var reader = new StateReader(sections[name].Payload, name) { Force = force, Note = note };
            part.LoadState(reader);
            if (!reader.AtEnd)
                throw new SnapshotException($"snapshot section {name} is longer than this machine's");
        }
        LastLoad = $"checks {checkedMs:F0} ms, ram {ramMs:F0} ms, parts {watch.Elapsed.TotalMilliseconds - checkedMs - ramMs:F0} ms";
    }

    /// <summary>The sections after the header, each checked against its length and CRC.</summary>
    private static Dictionary<string, (int Version, ReadOnlyMemory<byte> Payload)> ReadSections(StateReader r)
    {
        uint count = r.U32();
        var sections = new Dictionary<string, (int Version, ReadOnlyMemory<byte> Payload)>();
        for (uint i = 0; i < count; i++)
        {
            r.Where = $"{i} of {count}";
            string name = r.String(256);
            int version = (int)r.U32();
            ulong length = r.U64();
            uint crc = r.U32();
            if (length > (ulong)r.Remaining)
                throw new SnapshotException($"snapshot is truncated (section {name})");
            var payload = r.Memory((int)length);
            if (Crc32.HashToUInt32(payload.Span) != crc)
                throw new SnapshotException($"snapshot section {name} is damaged (checksum mismatch)");
            if (!sections.TryAdd(name, (version, payload)))
                throw new SnapshotException($"snapshot has section {name} twice");
        }
        if (!r.AtEnd)
            throw new SnapshotException("snapshot has bytes after its last section");
        return sections;
    }

    /// <summary>
    /// Where <paramref name="machine"/>'s state differs from the state in <paramref name="file"/>, by the parts'
    /// descriptions: <c>section.field</c> for a part described field by field (<see cref="VmState{T}"/>, nested fields
    /// as <c>section.field.inner</c>), the section's name for other parts and for RAM. Empty when they are the same.
    /// The lockstep and resume tests' state diff: one description serves saving, loading and comparing.
    /// </summary>
    public static List<string> Differences(Machine machine, ReadOnlyMemory<byte> file)
    {
        var ours = new MemoryStream();
        Save(machine, ours);
        ReadHeader(ours.ToArray(), out var a);
        ReadHeader(file, out var b);
        var mine = ReadSections(a);
        var theirs = ReadSections(b);
        var differences = new List<string>();
        foreach (var (name, (_, payload)) in mine)
        {
            if (!theirs.TryGetValue(name, out var other))
                differences.Add(name);
            else
                FieldDifferences(name, payload, other.Payload, differences);
        }
        differences.AddRange(theirs.Keys.Where(n => !mine.ContainsKey(n)));
        return differences;
    }

    /// <summary>Compares two payloads; where both read as a field list (count, then name and value), field by field.</summary>
    private static void FieldDifferences(string where, ReadOnlyMemory<byte> a, ReadOnlyMemory<byte> b, List<string> differences)
    {
        if (a.Span.SequenceEqual(b.Span))
            return;
        var fa = Fields(a);
        var fb = Fields(b);
        if (fa == null || fb == null || !fa.Select(f => f.Name).SequenceEqual(fb.Select(f => f.Name)))
        {
            differences.Add(where);
            return;
        }
        for (int i = 0; i < fa.Count; i++)
            FieldDifferences($"{where}.{fa[i].Name}", fa[i].Value, fb[i].Value, differences);
    }

    /// <summary>A <see cref="VmState{T}"/> payload's fields, or null if the bytes are not one.</summary>
    private static List<(string Name, ReadOnlyMemory<byte> Value)>? Fields(ReadOnlyMemory<byte> payload)
    {
        try
        {
            var r = new StateReader(payload, "");
            uint count = r.U32();
            if (count == 0 || count > 4096)
                return null;
            var fields = new List<(string, ReadOnlyMemory<byte>)>();
            for (uint i = 0; i < count; i++)
            {
                var name = r.Blob(256);
                if (name.Length == 0 || name.Span.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) >= 0)
                    return null;
                fields.Add((Encoding.ASCII.GetString(name.Span), r.Blob()));
            }
            return r.AtEnd ? fields : null;
        }
        catch (SnapshotException)
        {
            return null;
        }
    }

    private static ulong RamBytes(PhysicalBus bus) => bus.RamRegions.Aggregate(0UL, (sum, r) => sum + r.Size);

    private static byte[] SaveRam(PhysicalBus bus)
    {
        var w = new StateWriter();
        w.U32((uint)bus.RamRegions.Count);
        var block = new byte[PagesPerBlock * PageSize];
        var packed = new byte[LZ4Codec.MaximumOutputSize(block.Length)];
        foreach (var region in bus.RamRegions)
        {
            int pages = PageCount(region);
            var bitmap = new byte[(pages + 7) / 8];
            for (int p = 0; p < pages; p++)
                if (Page(region, p).ContainsAnyExcept((byte)0))
                    bitmap[p >> 3] |= (byte)(1 << (p & 7));
            w.U64(region.BaseAddress);
            w.U64(region.Size);
            w.Blob(bitmap);
            int filled = 0;
            for (int p = 0; p <= pages; p++)
            {
                bool last = p == pages;
                if (!last && (bitmap[p >> 3] & (1 << (p & 7))) != 0)
                {
                    var page = Page(region, p);
                    page.CopyTo(block.AsSpan(filled));
                    filled += page.Length;
                }
                if (filled > 0 && (last || filled == block.Length))
                {
                    int n = LZ4Codec.Encode(block.AsSpan(0, filled), packed, LZ4Level.L00_FAST);
                    w.U32((uint)filled);
                    w.Blob(packed.AsSpan(0, n));
                    filled = 0;
                }
            }
        }
        return w.WrittenSpan.ToArray();
    }

    private static void LoadRam(PhysicalBus bus, ReadOnlyMemory<byte> payload, bool zeroed)
    {
        var r = new StateReader(payload, "ram");
        if (r.U32() != (uint)bus.RamRegions.Count)
            throw new SnapshotException("snapshot section ram has another number of RAM regions");
        var block = new byte[PagesPerBlock * PageSize];
        foreach (var region in bus.RamRegions)
        {
            if (r.U64() != region.BaseAddress | r.U64() != region.Size)
                throw new SnapshotException("snapshot section ram describes other RAM regions");
            int pages = PageCount(region);
            var bitmap = r.Blob((pages + 7) / 8).Span;
            if (bitmap.Length != (pages + 7) / 8)
                throw new SnapshotException("snapshot section ram is damaged (its page map has the wrong size)");
            int p = 0;
            while (HasSavedPage(bitmap, p, pages))
            {
                // The next block: the saved pages it holds, in order (pages not saved are zero).
                int raw = (int)r.U32();
                var packed = r.Blob();
                if (raw <= 0 || raw > block.Length || LZ4Codec.Decode(packed.Span, block.AsSpan(0, raw)) != raw)
                    throw new SnapshotException("snapshot section ram is damaged (a block does not decompress)");
                int used = 0;
                for (; p < pages && used < raw; p++)
                {
                    var page = Page(region, p);
                    if ((bitmap[p >> 3] & (1 << (p & 7))) == 0)
                    {
                        if (!zeroed)
                            ClearIfDirty(page);
                        continue;
                    }
                    if (used + page.Length > raw)
                        throw new SnapshotException("snapshot section ram is damaged (a block ends inside a page)");
                    block.AsSpan(used, page.Length).CopyTo(page);
                    used += page.Length;
                }
                if (used != raw)
                    throw new SnapshotException("snapshot section ram is damaged (a block holds more than its pages)");
            }
            for (; p < pages && !zeroed; p++)
                ClearIfDirty(Page(region, p));
        }
        if (!r.AtEnd)
            throw new SnapshotException("snapshot section ram is longer than this machine's RAM");
    }

    private static int PageCount(GuestRam region) => (int)((region.Size + PageSize - 1) / PageSize);

    private static Span<byte> Page(GuestRam region, int page)
    {
        ulong offset = (ulong)page * PageSize;
        return region.Slice(region.BaseAddress + offset, (int)Math.Min(PageSize, region.Size - offset));
    }

    /// <summary>Zeroes a page the machine wrote before loading (its images); reading a page never touched does not commit it.</summary>
    private static void ClearIfDirty(Span<byte> page)
    {
        if (page.ContainsAnyExcept((byte)0))
            page.Clear();
    }

    private static bool HasSavedPage(ReadOnlySpan<byte> bitmap, int from, int pages)
    {
        for (int p = from; p < pages; p++)
            if ((bitmap[p >> 3] & (1 << (p & 7))) != 0)
                return true;
        return false;
    }
}
