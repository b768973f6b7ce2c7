namespace Wemu.Machines.X86;

/// <summary>
/// One entry of the BIOS memory map (ACPI 6.4 section 15 "System Address Map Interfaces", Table 15.1;
/// <c>struct boot_e820_entry</c> in bootparam.h: 8-byte address, 8-byte size, 4-byte type).
/// </summary>
public readonly record struct E820Entry(ulong Address, ulong Size, uint Type)
{
    public const uint Usable = 1, Reserved = 2, AcpiReclaimable = 3, AcpiNvs = 4;

    public ulong End => Address + Size;

    public override string ToString()
    {
        string type = Type switch
        {
            Usable => "usable",
            Reserved => "reserved",
            AcpiReclaimable => "ACPI data",
            AcpiNvs => "ACPI NVS",
            _ => $"type {Type}",
        };
        return $"[mem 0x{Address:x16}-0x{End - 1:x16}] {type}";
    }
}
