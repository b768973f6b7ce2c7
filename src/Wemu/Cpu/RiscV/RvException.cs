namespace Wemu.Cpu.RiscV;

/// <summary>Synchronous exception causes (Priv. spec 3.1.15, table 3.6).</summary>
public static class RvException
{
    public const int InstructionMisaligned = 0, InstructionAccessFault = 1, IllegalInstruction = 2, Breakpoint = 3;
    public const int LoadMisaligned = 4, LoadAccessFault = 5, StoreMisaligned = 6, StoreAccessFault = 7;
    public const int EcallFromU = 8, EcallFromS = 9, EcallFromM = 11;
    public const int InstructionPageFault = 12, LoadPageFault = 13, StorePageFault = 15;
}
