using Wemu.Cli;
using Wemu.Devices.NineP;

namespace Wemu.Tests.Devices.NineP;

/// <summary>The 9P protocol tests on a host directory (<c>-virtfs local</c>), a fresh temporary directory per test.</summary>
public class HostDirectoryProtocolTests : NinePProtocolTests, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("wemu-9p-").FullName;
    private readonly HostDirectoryFileSystem _fs;
    private readonly HostShareOptions _options;
    private HostDirectoryFileSystem? _readOnly;

    public HostDirectoryProtocolTests()
        : this(new HostShareOptions())
    {
    }

    protected HostDirectoryProtocolTests(HostShareOptions options)
    {
        _options = options;
        _fs = new HostDirectoryFileSystem(_root, options);
    }

    protected override IFileSystem FileSystem => _fs;

    protected override bool CreatesFifos => _options.MappedXattr || _options.AllowSpecialFiles;

    protected override IFileSystem ReadOnlyView() => _readOnly = new HostDirectoryFileSystem(_root, _options with { ReadOnly = true });

    protected override void HostWrite(string path, byte[] contents)
    {
        string full = Path.Combine(_root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, contents);
    }

    protected override byte[]? HostRead(string path)
    {
        string full = Path.Combine(_root, path);
        return File.Exists(full) ? File.ReadAllBytes(full) : null;
    }

    protected override bool HostIsDirectory(string path) => Directory.Exists(Path.Combine(_root, path));

    public void Dispose()
    {
        GC.SuppressFinalize(this);
        _fs.Dispose();
        _readOnly?.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
