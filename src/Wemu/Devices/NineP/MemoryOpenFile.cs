namespace Wemu.Devices.NineP;

/// <summary>An open regular file of a <see cref="MemoryFileSystem"/>; keeps the node alive after unlink.</summary>
internal sealed class MemoryOpenFile : IOpenFile
{
    private readonly MemoryFileSystem _fs;
    private readonly MemoryFileNode _node;
    private readonly bool _append;
    private bool _closed;

    public MemoryOpenFile(MemoryFileSystem fs, MemoryFileNode node, bool append)
    {
        _fs = fs;
        _node = node;
        _append = append;
        node.OpenCount++;
    }

    public int Read(long offset, Span<byte> destination, out int read)
    {
        read = 0;
        if (_closed)
            return LinuxErrno.EBADF;
        if (offset < 0)
            return LinuxErrno.EINVAL;
        read = _node.Read(offset, destination);
        _node.AtimeNs = _fs.Now();
        return 0;
    }

    public int Write(long offset, ReadOnlySpan<byte> source, out int written)
    {
        written = 0;
        if (_closed)
            return LinuxErrno.EBADF;
        return _fs.WriteNode(_node, _append ? _node.Size : offset, source, out written);
    }

    public int Stat(out FileStat stat)
    {
        stat = _node.ToStat();
        return _closed ? LinuxErrno.EBADF : 0;
    }

    public int Truncate(ulong length) => _closed ? LinuxErrno.EBADF : _fs.TruncateNode(_node, length);

    public int Sync() => _closed ? LinuxErrno.EBADF : 0;

    public void Dispose()
    {
        if (_closed)
            return;
        _closed = true;
        _node.OpenCount--;
        _fs.ReleaseIfUnused(_node);
    }
}
