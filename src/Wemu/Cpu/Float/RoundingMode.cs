namespace Wemu.Cpu.Float;

/// <summary>
/// IEEE 754 rounding-direction attributes, numbered as the RISC-V <c>frm</c>
/// field (unprivileged spec 11.2, table "Rounding mode encoding"). The
/// reserved encodings 5 and 6 and the dynamic encoding 7 are resolved by the
/// caller; <see cref="SoftFloat"/> treats any other value as
/// <see cref="NearestEven"/>.
/// </summary>
public enum RoundingMode : byte
{
    /// <summary>RNE: round to nearest, ties to even.</summary>
    NearestEven = 0,

    /// <summary>RTZ: round towards zero.</summary>
    TowardZero = 1,

    /// <summary>RDN: round down (towards -infinity).</summary>
    Down = 2,

    /// <summary>RUP: round up (towards +infinity).</summary>
    Up = 3,

    /// <summary>RMM: round to nearest, ties to max magnitude.</summary>
    NearestMaxMagnitude = 4,
}
