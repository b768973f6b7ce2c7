using Wemu.Devices.NineP;

namespace Wemu.Tests.Devices.NineP;

/// <summary>The 9P protocol tests on the in-memory tree (the page's share).</summary>
public sealed class MemoryFileSystemProtocolTests : NinePProtocolTests
{
    private readonly MemoryFileSystem _fs = new();

    protected override IFileSystem FileSystem => _fs;

    protected override IFileSystem ReadOnlyView()
    {
        _fs.IsReadOnly = true;
        return _fs;
    }

    protected override void HostWrite(string path, byte[] contents) => _fs.WriteFile(path, contents);

    protected override byte[]? HostRead(string path) => _fs.Exists(path) && !HostIsDirectory(path) ? _fs.ReadFile(path) : null;

    protected override bool HostIsDirectory(string path)
    {
        try
        {
            _fs.ListFiles(path);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }
}
