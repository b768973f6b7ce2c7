using System.Buffers.Binary;

namespace Wemu.Tests.Cli;

/// <summary>
/// Hand-made RISC-V ELF64 executables for the CLI's image checks: one PT_LOAD segment holding <c>j .</c> and
/// a symbol table (tohost), with every field the tests attack settable.
/// </summary>
internal static class CraftedElf
{
    public static string Write(
        ulong paddr = 0x8000_0000, ulong? memsz = null, ulong? phoff = null, ushort phnum = 1,
        ulong symEntSize = 24, ulong symSize = 72)
    {
        var f = new byte[0x600];
        f[0] = 0x7F; f[1] = (byte)'E'; f[2] = (byte)'L'; f[3] = (byte)'F'; f[4] = 2; f[5] = 1; f[6] = 1;
        U16(f, 16, 2);                       // ET_EXEC
        U16(f, 18, 243);                     // EM_RISCV
        U32(f, 20, 1);
        U64(f, 24, paddr);                   // e_entry
        U64(f, 32, phoff ?? 64);
        U64(f, 40, 0x200);                   // e_shoff
        U16(f, 52, 64);
        U16(f, 54, 56);
        U16(f, 56, phnum);
        U16(f, 58, 64);
        U16(f, 60, 3);                       // null, .symtab, .strtab
        for (int i = 0; i < phnum && 64 + 56 * (i + 1) <= 0x100; i++)
        {
            int ph = 64 + 56 * i;
            U32(f, ph, 1);                   // PT_LOAD
            U32(f, ph + 4, 5);
            U64(f, ph + 8, 0x100);           // p_offset
            U64(f, ph + 16, paddr);
            U64(f, ph + 24, paddr);
            U64(f, ph + 32, 4);              // p_filesz
            U64(f, ph + 40, memsz ?? 4);
            U64(f, ph + 48, 4);
        }
        U32(f, 0x100, 0x0000006F);           // j .
        int symtab = 0x200 + 64, strtab = 0x200 + 128;
        U32(f, symtab + 4, 2);               // SHT_SYMTAB
        U64(f, symtab + 24, 0x400);
        U64(f, symtab + 32, symSize);
        U32(f, symtab + 40, 2);              // sh_link: .strtab
        U64(f, symtab + 56, symEntSize);
        U32(f, strtab + 4, 3);               // SHT_STRTAB
        U64(f, strtab + 24, 0x500);
        U64(f, strtab + 32, 16);
        for (int s = 0; s < 3; s++)
        {
            U32(f, 0x400 + 24 * s, 1);       // every symbol is "tohost"
            U64(f, 0x400 + 24 * s + 8, paddr + 0x1000);
        }
        "\0tohost\0"u8.CopyTo(f.AsSpan(0x500));
        string path = Path.Combine(Directory.CreateTempSubdirectory("wemu-elf-").FullName, "crafted.elf");
        File.WriteAllBytes(path, f);
        return path;
    }

    private static void U16(byte[] f, int o, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(o), v);

    private static void U32(byte[] f, int o, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(o), v);

    private static void U64(byte[] f, int o, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(o), v);
}
