using System.Runtime.InteropServices.JavaScript;
using System.Runtime.Versioning;
using Wemu.Devices;

namespace Wemu.Web;

/// <summary>
/// The page's disk storage, in the worker (wwwroot/worker.js, module "wemu-disk"): images read by synchronous HTTP
/// <c>Range</c> requests (<see cref="HttpRangeReader"/>), and files of the origin-private file system through their
/// synchronous access handles (<see cref="OpfsFile"/>), which a dedicated worker may use. Bytes move straight between
/// the request or file and the runtime's memory: C# passes the address of a pinned span. The JS side answers "" or a
/// one-line reason, which becomes an IOException (a guest I/O error).
/// </summary>
[SupportedOSPlatform("browser")]
internal static partial class BrowserDisks
{
    [JSImport("rangeRead", "wemu-disk")]
    internal static partial string RangeRead(string url, double offset, int length, int address);

    [JSImport("fileRead", "wemu-disk")]
    internal static partial string FileRead(int file, double offset, int length, int address);

    [JSImport("fileWrite", "wemu-disk")]
    internal static partial string FileWrite(int file, double offset, int length, int address);

    [JSImport("fileFlush", "wemu-disk")]
    internal static partial string FileFlush(int file);

    [JSImport("fileSize", "wemu-disk")]
    internal static partial double FileSize(int file);

    [JSImport("fileTruncate", "wemu-disk")]
    internal static partial string FileTruncate(int file, double length);

    [JSImport("fileClose", "wemu-disk")]
    internal static partial void FileClose(int file);

    internal static void Check(string error)
    {
        if (error.Length != 0)
            throw new IOException(error);
    }
}

/// <summary>An image on the page's server, read by <c>Range</c> requests.</summary>
[SupportedOSPlatform("browser")]
internal sealed unsafe class HttpRangeReader(string url) : IRangeReader
{
    public void Read(long offset, Span<byte> destination)
    {
        fixed (byte* p = destination)
            BrowserDisks.Check(BrowserDisks.RangeRead(url, offset, destination.Length, (int)p));
    }
}

/// <summary>A file of the origin-private file system, by the worker's handle number (closed on dispose).</summary>
[SupportedOSPlatform("browser")]
internal sealed unsafe class OpfsFile(int handle) : IStorageFile
{
    private bool _closed;

    public long Length => (long)BrowserDisks.FileSize(handle);

    public void Read(long offset, Span<byte> destination)
    {
        fixed (byte* p = destination)
            BrowserDisks.Check(BrowserDisks.FileRead(handle, offset, destination.Length, (int)p));
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        fixed (byte* p = source)
            BrowserDisks.Check(BrowserDisks.FileWrite(handle, offset, source.Length, (int)p));
    }

    public void SetLength(long length) => BrowserDisks.Check(BrowserDisks.FileTruncate(handle, length));

    public void Flush() => BrowserDisks.Check(BrowserDisks.FileFlush(handle));

    public void Dispose()
    {
        if (_closed)
            return;
        _closed = true;
        BrowserDisks.FileClose(handle);
    }
}
