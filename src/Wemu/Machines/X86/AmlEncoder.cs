using System.Text;

namespace Wemu.Machines.X86;

/// <summary>
/// The few ACPI Machine Language encodings the microvm DSDT needs (ACPI 6.4 section 20.2 "AML
/// Grammar Definition"; resource descriptors from section 6.4 "Resource Data Types for ACPI").
/// Each method returns the encoded bytes of one term; containers take their contents.
/// </summary>
public static class AmlEncoder
{
    // ACPI 6.4 section 20.2.x opcodes.
    private const byte ZeroOp = 0x00, OneOp = 0x01, NameOp = 0x08, BytePrefix = 0x0A, WordPrefix = 0x0B,
        DWordPrefix = 0x0C, StringPrefix = 0x0D, QWordPrefix = 0x0E, ScopeOp = 0x10, BufferOp = 0x11,
        PackageOp = 0x12, MethodOp = 0x14, ExtOpPrefix = 0x5B, RootChar = 0x5C, Local0Op = 0x60,
        StoreOp = 0x70, AndOp = 0x7B, NotifyOp = 0x86, LEqualOp = 0x93, IfOp = 0xA0, OnesOp = 0xFF;

    private const byte OpRegionOp = 0x80, FieldOp = 0x81, DeviceOp = 0x82;   // after ExtOpPrefix

    /// <summary>
    /// PkgLength (20.2.4): the length of the package including the PkgLength bytes themselves; one byte
    /// up to 63, else the top two bits of the lead byte count the following bytes, its low nibble holds
    /// bits 0-3 and each following byte 8 more bits.
    /// </summary>
    public static byte[] PkgLength(int contentLength)
    {
        if (contentLength < 0)
            throw new ArgumentOutOfRangeException(nameof(contentLength));
        for (int size = 1; size <= 4; size++)
            if (EncodedSize(contentLength + size) == size)
                return EncodeLengthValue(contentLength + size);
        throw new ArgumentOutOfRangeException(nameof(contentLength), "AML package longer than 2^28 bytes");
    }

    private static int EncodedSize(int value) => value <= 0x3F ? 1 : value < 1 << 12 ? 2 : value < 1 << 20 ? 3 : value < 1 << 28 ? 4 : 5;

    /// <summary>The PkgLength encoding of <paramref name="value"/> as it is (a NamedField's bit count).</summary>
    private static byte[] EncodeLengthValue(int value)
    {
        int size = EncodedSize(value);
        if (size == 1)
            return [(byte)value];
        if (size > 4)
            throw new ArgumentOutOfRangeException(nameof(value));
        var b = new byte[size];
        b[0] = (byte)(((size - 1) << 6) | (value & 0xF));
        for (int i = 1; i < size; i++)
            b[i] = (byte)(value >> (4 + 8 * (i - 1)));
        return b;
    }

    /// <summary>
    /// NameString (20.2.2): an optional root prefix "\" and dot-separated 4-character segments (short
    /// ones padded with '_'); "\" alone is the root (RootChar NullName).
    /// </summary>
    public static byte[] NameString(string name)
    {
        var b = new List<byte>();
        string rest = name;
        if (rest.StartsWith('\\'))
        {
            b.Add(RootChar);
            rest = rest[1..];
        }
        if (rest.Length == 0)
        {
            b.Add(ZeroOp);   // NullName
            return [.. b];
        }
        string[] segs = rest.Split('.');
        if (segs.Length == 2)
            b.Add(0x2E);   // DualNamePrefix
        else if (segs.Length > 2)
        {
            b.Add(0x2F);   // MultiNamePrefix SegCount
            b.Add((byte)segs.Length);
        }
        foreach (var s in segs)
            b.AddRange(NameSeg(s));
        return [.. b];
    }

    private static byte[] NameSeg(string s)
    {
        if (s.Length is 0 or > 4)
            throw new ArgumentException($"AML name segment \"{s}\" must have 1-4 characters");
        foreach (char c in s)
            if (!(c is >= 'A' and <= 'Z' || c == '_' || (c is >= '0' and <= '9')))
                throw new ArgumentException($"AML name segment \"{s}\" has a character outside A-Z, 0-9, _");
        if (s[0] is >= '0' and <= '9')
            throw new ArgumentException($"AML name segment \"{s}\" starts with a digit");
        return Encoding.ASCII.GetBytes(s.PadRight(4, '_'));
    }

    /// <summary>An integer constant in its shortest form (20.2.3 ComputationalData, ConstObj).</summary>
    public static byte[] Integer(ulong value) => value switch
    {
        0 => [ZeroOp],
        1 => [OneOp],
        ulong.MaxValue => [OnesOp],
        <= 0xFF => [BytePrefix, (byte)value],
        <= 0xFFFF => [WordPrefix, (byte)value, (byte)(value >> 8)],
        <= 0xFFFFFFFF => [DWordPrefix, .. BitConverter.GetBytes((uint)value)],
        _ => [QWordPrefix, .. BitConverter.GetBytes(value)],
    };

    /// <summary>A DWordConst even for small values (ASL's EisaId and addresses QEMU writes in full).</summary>
    public static byte[] DWord(uint value) => [DWordPrefix, .. BitConverter.GetBytes(value)];

    public static byte[] String(string s)
    {
        foreach (char c in s)
            if (c is < (char)1 or > (char)0x7F)
                throw new ArgumentException("AML strings are ASCII without NUL");
        return [StringPrefix, .. Encoding.ASCII.GetBytes(s), 0];
    }

    /// <summary>
    /// ASL EisaId("PNP0501") (ACPI 6.4 section 19.6.35): three letters in 5 bits each and four hex
    /// digits, stored big-endian in a DWORD.
    /// </summary>
    public static byte[] EisaId(string id)
    {
        if (id.Length != 7 || !id[..3].All(c => c is >= 'A' and <= 'Z') || !id[3..].All(Uri.IsHexDigit))
            throw new ArgumentException($"EISA ID \"{id}\" is not three capitals and four hex digits");
        uint v = ((uint)(id[0] - 0x40) << 26) | ((uint)(id[1] - 0x40) << 21) | ((uint)(id[2] - 0x40) << 16)
            | Convert.ToUInt32(id[3..], 16);
        return DWord(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v));
    }

    /// <summary>DefName := NameOp NameString DataRefObject.</summary>
    public static byte[] Name(string name, byte[] value) => [NameOp, .. NameString(name), .. value];

    /// <summary>DefScope := ScopeOp PkgLength NameString TermList.</summary>
    public static byte[] Scope(string name, params byte[][] terms) => Package([ScopeOp], [.. NameString(name), .. Concat(terms)]);

    /// <summary>DefDevice := DeviceOp PkgLength NameString TermList.</summary>
    public static byte[] Device(string name, params byte[][] terms) =>
        Package([ExtOpPrefix, DeviceOp], [.. NameString(name), .. Concat(terms)]);

    /// <summary>DefPackage := PackageOp PkgLength NumElements PackageElementList.</summary>
    public static byte[] PackageOf(params byte[][] elements)
    {
        if (elements.Length > 255)
            throw new ArgumentException("a Package has at most 255 elements");
        return Package([PackageOp], [(byte)elements.Length, .. Concat(elements)]);
    }

    /// <summary>DefBuffer := BufferOp PkgLength BufferSize ByteList.</summary>
    public static byte[] Buffer(byte[] bytes) => Package([BufferOp], [.. Integer((ulong)bytes.Length), .. bytes]);

    /// <summary>DefMethod := MethodOp PkgLength NameString MethodFlags TermList.</summary>
    public static byte[] Method(string name, int argCount, bool serialized, params byte[][] body)
    {
        if ((uint)argCount > 7)
            throw new ArgumentOutOfRangeException(nameof(argCount));
        return Package([MethodOp], [.. NameString(name), (byte)(argCount | (serialized ? 0x08 : 0)), .. Concat(body)]);
    }

    /// <summary>Region spaces (ACPI 6.4 section 19.6.100, Table 19.x RegionSpace).</summary>
    public const byte SystemMemory = 0x00, SystemIO = 0x01;

    /// <summary>DefOpRegion := OpRegionOp NameString RegionSpace RegionOffset RegionLen.</summary>
    public static byte[] OperationRegion(string name, byte space, ulong offset, ulong length) =>
        [ExtOpPrefix, OpRegionOp, .. NameString(name), space, .. Integer(offset), .. Integer(length)];

    /// <summary>Field access types and update rules (20.2.5.2 FieldFlags).</summary>
    public const byte DWordAcc = 3, WriteAsZeros = 2 << 5;

    /// <summary>DefField := FieldOp PkgLength NameString FieldFlags FieldList, with NamedFields of the given bit widths.</summary>
    public static byte[] Field(string region, byte flags, params (string Name, int Bits)[] fields)
    {
        var list = new List<byte>();
        foreach (var (name, bits) in fields)
        {
            list.AddRange(NameSeg(name));
            list.AddRange(EncodeLengthValue(bits));   // a NamedField's PkgLength is its bit count
        }
        return Package([ExtOpPrefix, FieldOp], [.. NameString(region), flags, .. list]);
    }

    public static byte[] Local0 => [Local0Op];

    /// <summary>DefStore := StoreOp TermArg SuperName.</summary>
    public static byte[] Store(byte[] source, byte[] target) => [StoreOp, .. source, .. target];

    /// <summary>DefAnd := AndOp Operand Operand Target (NullName: no target).</summary>
    public static byte[] And(byte[] a, byte[] b) => [AndOp, .. a, .. b, ZeroOp];

    public static byte[] LEqual(byte[] a, byte[] b) => [LEqualOp, .. a, .. b];

    /// <summary>DefIfElse := IfOp PkgLength Predicate TermList (no Else).</summary>
    public static byte[] If(byte[] predicate, params byte[][] body) => Package([IfOp], [.. predicate, .. Concat(body)]);

    /// <summary>DefNotify := NotifyOp NotifyObject NotifyValue.</summary>
    public static byte[] Notify(string obj, ulong value) => [NotifyOp, .. NameString(obj), .. Integer(value)];

    /// <summary>A reference to a named object (a NameString used as a term).</summary>
    public static byte[] Reference(string name) => NameString(name);

    // ---- Resource descriptors (ACPI 6.4 section 6.4) ----

    /// <summary>ResourceTemplate(): a Buffer of descriptors closed by the End Tag (6.4.2.9) with checksum 0.</summary>
    public static byte[] ResourceTemplate(params byte[][] descriptors) => Buffer([.. Concat(descriptors), 0x79, 0x00]);

    /// <summary>IO(Decode16, min, max, align, length) (6.4.2.5, small item 0x08, 7 bytes).</summary>
    public static byte[] Io(ushort min, ushort max, byte alignment, byte length) =>
        [0x47, 0x01, (byte)min, (byte)(min >> 8), (byte)max, (byte)(max >> 8), alignment, length];

    /// <summary>IRQNoFlags(){irq} (6.4.2.1, small item 0x04 with the 2-byte form: edge, active high).</summary>
    public static byte[] IrqNoFlags(int irq)
    {
        if ((uint)irq > 15)
            throw new ArgumentOutOfRangeException(nameof(irq));
        return [0x22, (byte)(1 << irq), (byte)((1 << irq) >> 8)];
    }

    /// <summary>Memory32Fixed(ReadWrite, base, length) (6.4.3.4, large item 0x86).</summary>
    public static byte[] Memory32Fixed(uint baseAddress, uint length, bool writable = true) =>
        [0x86, 9, 0, (byte)(writable ? 1 : 0), .. BitConverter.GetBytes(baseAddress), .. BitConverter.GetBytes(length)];

    /// <summary>
    /// Interrupt(ResourceConsumer, Level|Edge, ActiveHigh, Exclusive){gsi} (6.4.3.6 Extended Interrupt
    /// Descriptor, large item 0x89): flags bit 0 consumer, bit 1 edge, bit 2 active low, bit 3 shared.
    /// </summary>
    public static byte[] Interrupt(uint gsi, bool edge) =>
        [0x89, 6, 0, (byte)(0x01 | (edge ? 0x02 : 0)), 1, .. BitConverter.GetBytes(gsi)];

    private static byte[] Package(byte[] op, byte[] content) => [.. op, .. PkgLength(content.Length), .. content];

    private static byte[] Concat(byte[][] parts)
    {
        int n = 0;
        foreach (var p in parts)
            n += p.Length;
        var r = new byte[n];
        int o = 0;
        foreach (var p in parts)
        {
            p.CopyTo(r, o);
            o += p.Length;
        }
        return r;
    }
}
