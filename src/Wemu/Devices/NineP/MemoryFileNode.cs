namespace Wemu.Devices.NineP;

/// <summary>
/// One file of a <see cref="MemoryFileSystem"/> (an inode): its attributes, and its children (directory), target
/// (symbolic link) or data (regular file, kept in 64 KiB chunks, holes unallocated).
/// </summary>
internal sealed class MemoryFileNode
{
    public const int ChunkSize = 64 * 1024;

    public MemoryFileNode(ulong inode, uint mode, uint uid, uint gid, long now)
    {
        Inode = inode;
        Mode = mode;
        Uid = uid;
        Gid = gid;
        AtimeNs = MtimeNs = CtimeNs = now;
        if (LinuxFileMode.IsDirectory(mode))
            Children = new Dictionary<string, MemoryFileNode>(StringComparer.Ordinal);
        else if (LinuxFileMode.IsRegular(mode))
            Chunks = [];
    }

    public ulong Inode { get; }

    public uint Mode;
    public uint Uid;
    public uint Gid;
    public ulong RawDevice;
    public long AtimeNs, MtimeNs, CtimeNs;

    /// <summary>Names in directories that refer to this node (hard links); a directory counts once.</summary>
    public int Links;

    /// <summary>Open handles; the data of an unlinked file lives until the last one closes.</summary>
    public int OpenCount;

    public Dictionary<string, MemoryFileNode>? Children;

    /// <summary>A directory's parent (the root is its own parent).</summary>
    public MemoryFileNode? Parent;

    public int Subdirectories;

    public string? Target;

    public Dictionary<long, byte[]>? Chunks;

    public long Size;

    public bool IsDirectory => Children != null;

    public bool IsRegular => Chunks != null;

    public long AllocatedBytes => Chunks == null ? 0 : (long)Chunks.Count * ChunkSize;

    public FileStat ToStat()
    {
        var st = new FileStat
        {
            Mode = Mode,
            Uid = Uid,
            Gid = Gid,
            LinkCount = IsDirectory ? (ulong)(2 + Subdirectories) : (ulong)Links,
            RawDevice = RawDevice,
            Size = IsDirectory ? 4096UL : Target != null ? (ulong)System.Text.Encoding.UTF8.GetByteCount(Target) : (ulong)Size,
            BlockSize = 4096,
            Blocks = (ulong)(AllocatedBytes / 512),
            Inode = Inode,
        };
        (st.AtimeSeconds, st.AtimeNanoseconds) = Split(AtimeNs);
        (st.MtimeSeconds, st.MtimeNanoseconds) = Split(MtimeNs);
        (st.CtimeSeconds, st.CtimeNanoseconds) = Split(CtimeNs);
        return st;
    }

    /// <summary>Copies file bytes at <paramref name="offset"/>; holes read as zeros. Returns the bytes copied.</summary>
    public int Read(long offset, Span<byte> destination)
    {
        if (offset >= Size || destination.IsEmpty)
            return 0;
        int total = (int)Math.Min(destination.Length, Size - offset);
        int done = 0;
        while (done < total)
        {
            long position = offset + done;
            long index = position / ChunkSize;
            int within = (int)(position % ChunkSize);
            int n = Math.Min(ChunkSize - within, total - done);
            if (Chunks!.TryGetValue(index, out var chunk))
                chunk.AsSpan(within, n).CopyTo(destination.Slice(done, n));
            else
                destination.Slice(done, n).Clear();
            done += n;
        }
        return total;
    }

    /// <summary>
    /// Copies bytes in at <paramref name="offset"/>, allocating chunks while <paramref name="reserve"/> grants
    /// space. Returns the bytes written (fewer when space ran out).
    /// </summary>
    public int Write(long offset, ReadOnlySpan<byte> source, Func<long, bool> reserve)
    {
        int done = 0;
        while (done < source.Length)
        {
            long position = offset + done;
            long index = position / ChunkSize;
            int within = (int)(position % ChunkSize);
            int n = Math.Min(ChunkSize - within, source.Length - done);
            if (!Chunks!.TryGetValue(index, out var chunk))
            {
                if (!reserve(ChunkSize))
                    break;
                chunk = new byte[ChunkSize];
                Chunks[index] = chunk;
            }
            source.Slice(done, n).CopyTo(chunk.AsSpan(within, n));
            done += n;
        }
        if (done > 0 && offset + done > Size)
            Size = offset + done;
        return done;
    }

    /// <summary>Sets the size; returns the bytes of chunks freed. Bytes past the end are kept zero, so growing reads zeros.</summary>
    public long Truncate(long length)
    {
        long freed = 0;
        if (length < Size)
        {
            List<long>? drop = null;
            foreach (var index in Chunks!.Keys)
                if (index * ChunkSize >= length)
                    (drop ??= []).Add(index);
            if (drop != null)
            {
                foreach (var index in drop)
                    Chunks.Remove(index);
                freed = (long)drop.Count * ChunkSize;
            }
            if (Chunks.TryGetValue(length / ChunkSize, out var last))
                last.AsSpan((int)(length % ChunkSize)).Clear();
        }
        Size = length;
        return freed;
    }

    private static (long Seconds, long Nanoseconds) Split(long ns)
    {
        long seconds = Math.DivRem(ns, 1_000_000_000L, out long rest);
        return rest < 0 ? (seconds - 1, rest + 1_000_000_000L) : (seconds, rest);
    }
}
