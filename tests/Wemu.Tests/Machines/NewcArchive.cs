using System.Text;

namespace Wemu.Tests.Machines;

/// <summary>
/// Writes an uncompressed cpio archive in the kernel's "newc" format (Documentation/driver-api/early-userspace/
/// buffer-format.rst), for appending to an initramfs: Linux unpacks concatenated archives in order.
/// </summary>
public sealed class NewcArchive
{
    private readonly MemoryStream _out = new();
    private int _inode = 1000;

    public void AddDirectory(string name) => Add(name, 0x41ED, []); // drwxr-xr-x

    public void AddFile(string name, byte[] data, bool executable = false) => Add(name, executable ? 0x81ED : 0x81A4, data);

    private void Add(string name, int mode, byte[] data)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        string header = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"070701{_inode++:X8}{mode:X8}{0:X8}{0:X8}{1:X8}{0:X8}{data.Length:X8}{0:X8}{0:X8}{0:X8}{0:X8}{nameBytes.Length:X8}{0:X8}");
        _out.Write(Encoding.ASCII.GetBytes(header));
        _out.Write(nameBytes);
        Pad();
        _out.Write(data);
        Pad();
    }

    private void Pad()
    {
        while (_out.Length % 4 != 0)
            _out.WriteByte(0);
    }

    /// <summary>The archive with its trailer.</summary>
    public byte[] ToArray()
    {
        Add("TRAILER!!!", 0, []);
        return _out.ToArray();
    }
}
