namespace Wemu.Devices;

/// <summary>
/// The interrupt inputs of a RISC-V hart as seen by CLINT/ACLINT and PLIC: bits of the mip CSR
/// (Priv. spec 3.1.9): 1 SSIP, 3 MSIP, 5 STIP, 7 MTIP, 9 SEIP, 11 MEIP.
/// </summary>
public interface IHartInterruptPins
{
    void SetInterruptPending(int mipBit, bool level);
}
