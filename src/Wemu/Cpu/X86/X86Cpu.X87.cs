namespace Wemu.Cpu.X86;

/// <summary>
/// The x87 FPU (SDM vol. 1, chapter 8; opcodes D8-DF). This step implements the control
/// instructions Linux runs at boot (FNINIT, FLDCW, FNSTCW, FNSTSW, FNCLEX, FWAIT); arithmetic
/// comes with the 80-bit soft-float (<c>Cpu/X86/Fpu</c>), and raises #UD until then.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    public X87Registers Fpu { get; }

    private void CheckX87()
    {
        if ((Cr0 & (Cr0Em | Cr0Ts)) != 0)
            FaultNoCode(VectorNm);
    }

    /// <summary>FWAIT: #NM when CR0.MP and CR0.TS; pending unmasked x87 exceptions would raise #MF here.</summary>
    private void X87Wait()
    {
        if ((Cr0 & (Cr0Mp | Cr0Ts)) == (Cr0Mp | Cr0Ts))
            FaultNoCode(VectorNm);
    }

    private void ExecuteX87(int b)
    {
        CheckX87();
        int modrm = FetchByte(_ip);
        if (b == 0xDB && modrm == 0xE3) { _ip++; Fpu.Reset(); return; }            // FNINIT
        if (b == 0xDB && modrm == 0xE2) { _ip++; Fpu.StatusWord &= 0x7F00; return; } // FNCLEX
        if (b == 0xDF && modrm == 0xE0) { _ip++; SetReg(Word, Rax, Fpu.StatusWithTop); return; } // FNSTSW AX
        DecodeModRm();
        if (_mod != 3)
        {
            int which = _reg & 7;
            if (b == 0xD9 && which == 5) { Fpu.ControlWord = (ushort)(Read16(_ea) | 0x40); return; } // FLDCW
            if (b == 0xD9 && which == 7) { Write16(_ea, Fpu.ControlWord); return; }                 // FNSTCW
            if (b == 0xDD && which == 7) { Write16(_ea, Fpu.StatusWithTop); return; }               // FNSTSW m16
        }
        FaultNoCode(VectorUd);
    }

    /// <summary>SSE floating-point arithmetic, compares and conversions: raise #UD until the x86 soft-float lands.</summary>
    private void ExecuteSseFloat(int op, int pfx)
    {
        _ = op;
        _ = pfx;
        FaultNoCode(VectorUd);
    }
}
