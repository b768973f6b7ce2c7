using System.Buffers.Binary;

namespace Wemu.Tests.Machines.X86;

/// <summary>Writes a minimal ELF64 little-endian executable (gABI chapter 4: header, PT_LOAD program headers, data).</summary>
internal static class ElfBuilder
{
    public static byte[] Build(ushort machine, ulong entry, (ulong Paddr, ulong Vaddr, byte[] Data, ulong MemSize)[] segments)
    {
        int phoff = 64, dataOff = phoff + 56 * segments.Length;
        int total = dataOff;
        foreach (var s in segments)
            total += s.Data.Length;
        var f = new byte[total];
        var b = f.AsSpan();
        f[0] = 0x7f;
        f[1] = (byte)'E';
        f[2] = (byte)'L';
        f[3] = (byte)'F';
        f[4] = 2;   // ELFCLASS64
        f[5] = 1;   // ELFDATA2LSB
        f[6] = 1;   // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(b[16..], 2);   // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(b[18..], machine);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], entry);
        BinaryPrimitives.WriteUInt64LittleEndian(b[32..], (ulong)phoff);
        BinaryPrimitives.WriteUInt16LittleEndian(b[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(b[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(b[56..], (ushort)segments.Length);
        int o = dataOff;
        for (int i = 0; i < segments.Length; i++)
        {
            var ph = b[(phoff + 56 * i)..];
            var s = segments[i];
            BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);          // PT_LOAD
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 7);     // RWX
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], (ulong)o);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], s.Vaddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], s.Paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], s.MemSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x200000);
            s.Data.CopyTo(f, o);
            o += s.Data.Length;
        }
        return f;
    }
}
