using Wemu.Cpu.X86.Fpu;

namespace Wemu.Cpu.X86;

/// <summary>
/// The x87 FPU instructions (SDM vol. 1, chapter 8; opcode map D8-DF, SDM vol. 2D, A.4) on the
/// bit-exact 80-bit arithmetic of <c>Cpu/X86/Fpu</c>. Stack faults follow SDM vol. 1, 8.5.1.1
/// (masked: the indefinite is loaded); with an unmasked IE, DE or ZE nothing is stored or popped; an
/// unmasked exception sets ES and B and is reported as #MF by the next waiting x87 instruction
/// (CR0.NE = 1, as Linux runs).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    public X87State Fpu { get; }

    private const ushort FswEs = 0x0080, FswBusy = 0x8000;

    // QEMU's fpu_helper.c constants: the nearest value, and the one rounding down/towards zero (or up) picks
    private static readonly Float80 s_l2t = new(0x4000, 0xD49A784BCD1B8AFE), s_l2tUp = new(0x4000, 0xD49A784BCD1B8AFF);
    private static readonly Float80 s_l2e = new(0x3FFF, 0xB8AA3B295C17F0BC), s_l2eDown = new(0x3FFF, 0xB8AA3B295C17F0BB);
    private static readonly Float80 s_pi = new(0x4000, 0xC90FDAA22168C235), s_piDown = new(0x4000, 0xC90FDAA22168C234);
    private static readonly Float80 s_lg2 = new(0x3FFD, 0x9A209A84FBCFF799), s_lg2Down = new(0x3FFD, 0x9A209A84FBCFF798);
    private static readonly Float80 s_ln2 = new(0x3FFE, 0xB17217F7D1CF79AC), s_ln2Down = new(0x3FFE, 0xB17217F7D1CF79AB);

    private void CheckX87()
    {
        if ((Cr0 & (Cr0Em | Cr0Ts)) != 0)
            FaultNoCode(VectorNm);
    }

    /// <summary>Waiting instructions report a pending unmasked exception first.</summary>
    private void CheckPendingX87Exception()
    {
        if ((Fpu.Status & FswEs) != 0)
            FaultNoCode(VectorMf);
    }

    /// <summary>FWAIT: #NM when CR0.MP and CR0.TS; a pending unmasked x87 exception raises #MF.</summary>
    private void X87Wait()
    {
        if ((Cr0 & (Cr0Mp | Cr0Ts)) == (Cr0Mp | Cr0Ts))
            FaultNoCode(VectorNm);
        CheckPendingX87Exception();
    }

    private X87Control FpuControl => new(Fpu.Control);

    /// <summary>Merges an operation's status into FSW; true when the result may be stored (no unmasked IE, DE or ZE).</summary>
    private bool CommitStatus(X87Status status)
    {
        ushort word = status.Word;
        int unmasked = status.Unmasked(FpuControl);
        if (unmasked != 0)
            word |= FswEs | FswBusy;
        Fpu.Status = (ushort)((word & ~0x3800) | (Fpu.Status & 0x3800));
        return (unmasked & (X87Status.Invalid | X87Status.Denormal | X87Status.ZeroDivide)) == 0;
    }

    private X87Status BeginStatus() => new((ushort)(Fpu.Status & ~0x3800));

    /// <summary>ST(i) as an operand: an empty register is a stack underflow (IE|SF, C1 = 0) and reads as the indefinite.</summary>
    private Float80 ReadSt(int i, ref X87Status status, ref bool underflow)
    {
        if (Fpu.IsEmpty(i))
        {
            status.Raise(X87Status.Invalid | X87Status.StackFault);
            status.SetConditions(X87Status.C1, 0);
            underflow = true;
            return Float80.Indefinite;
        }
        return Fpu.St(i);
    }

    /// <summary>Pushes a loaded value (stack overflow: IE|SF with C1 = 1, and the indefinite when IE is masked).</summary>
    private void PushValue(Float80 value, X87Status status)
    {
        if (!Fpu.IsEmpty(7))
        {
            status.Raise(X87Status.Invalid | X87Status.StackFault);
            status.SetConditions(X87Status.C1, X87Status.C1);
            if (CommitStatus(status))
            {
                // masked: TOP moves and the indefinite overwrites the full register (X87State.Push refuses)
                Fpu.Top = (Fpu.Top - 1) & 7;
                Fpu.SetSt(0, Float80.Indefinite);
            }
            return;
        }
        status.SetConditions(X87Status.C1, 0);
        if (CommitStatus(status))
            Fpu.Push(value);
    }

    private void ExecuteX87(int b)
    {
        CheckX87();
        int modrm = FetchByte(_ip);
        // the non-waiting control instructions: no #MF check, no FIP/FOP update
        if (b == 0xDB && (modrm == 0xE2 || modrm == 0xE3 || modrm == 0xE0 || modrm == 0xE1 || modrm == 0xE4))
        {
            _ip++;
            if (modrm == 0xE3) Fpu.Initialize(); // FNINIT
            else if (modrm == 0xE2) Fpu.Status = (ushort)(Fpu.Status & 0x7F00); // FNCLEX
            return; // FENI, FDISI, FSETPM: no-ops on a 387 and later
        }
        if (b == 0xDF && modrm == 0xE0) // FNSTSW AX
        {
            _ip++;
            SetReg(Word, Rax, Fpu.Status);
            return;
        }
        DecodeModRm();
        int op = _reg & 7;
        if (_mod != 3)
        {
            switch (b)
            {
                case 0xD9 when op == 4: LoadEnvironment(); return;           // FLDENV
                case 0xD9 when op == 5: Fpu.Control = ControlWordFrom(Read16(_ea)); return;  // FLDCW
                case 0xD9 when op == 6: StoreEnvironment(); return;         // FNSTENV
                case 0xD9 when op == 7: Write16(_ea, Fpu.Control); return;  // FNSTCW
                case 0xDD when op == 4: LoadEnvironment(); LoadRegisters(_ea + EnvironmentSize); return; // FRSTOR
                case 0xDD when op == 6: StoreEnvironment(); StoreRegisters(_ea + EnvironmentSize); Fpu.Initialize(); return; // FNSAVE
                case 0xDD when op == 7: Write16(_ea, Fpu.Status); return;   // FNSTSW m16
            }
            CheckPendingX87Exception();
            Fpu.LastInstructionPointer = InstructionStart;
            Fpu.LastOpcode = (ushort)(((b & 7) << 8) | modrm);
            Fpu.LastDataPointer = _ea;
            ExecuteX87Memory(b, op);
        }
        else
        {
            CheckPendingX87Exception();
            Fpu.LastInstructionPointer = InstructionStart;
            Fpu.LastOpcode = (ushort)(((b & 7) << 8) | modrm);
            ExecuteX87Register(b, op, _rm & 7, modrm);
        }
    }

    private enum X87Store { Single, Double, Int16, Int32, Int64, TruncatedInt16, TruncatedInt32, TruncatedInt64 }

    /// <summary>FST/FSTP m32/m64 and FIST/FISTP/FISTTP m16/m32/m64: ST(0) converted to memory, popped if asked.
    /// An empty ST(0) stores the indefinite of the format when IE is masked.</summary>
    private void StoreSt0(X87Store kind, bool pop, X87Status status)
    {
        bool underflow = false;
        var control = FpuControl;
        Float80 v = ReadSt(0, ref status, ref underflow);
        (int size, ulong value) = kind switch
        {
            X87Store.Single => (Dword, underflow ? 0xFFC00000UL : X87Convert.ToSingle(v, control, ref status)),
            X87Store.Double => (Qword, underflow ? 0xFFF8000000000000UL : X87Convert.ToDouble(v, control, ref status)),
            X87Store.Int16 => (Word, (ulong)(underflow ? short.MinValue : X87Convert.ToInt16(v, control, ref status))),
            X87Store.Int32 => (Dword, (ulong)(underflow ? int.MinValue : X87Convert.ToInt32(v, control, ref status))),
            X87Store.Int64 => (Qword, (ulong)(underflow ? long.MinValue : X87Convert.ToInt64(v, control, ref status))),
            X87Store.TruncatedInt16 => (Word, (ulong)(underflow ? short.MinValue : X87Convert.TruncateToInt16(v, ref status))),
            X87Store.TruncatedInt32 => (Dword, (ulong)(underflow ? int.MinValue : X87Convert.TruncateToInt32(v, ref status))),
            _ => (Qword, (ulong)(underflow ? long.MinValue : X87Convert.TruncateToInt64(v, ref status))),
        };
        if (CommitStatus(status))
        {
            Write(_ea, size, value);
            if (pop)
                Fpu.Pop();
        }
    }

    private static readonly X87ArithmeticOp[] s_arithmetic =
        [X87ArithmeticOp.Add, X87ArithmeticOp.Mul, X87ArithmeticOp.Add, X87ArithmeticOp.Add, X87ArithmeticOp.Sub, X87ArithmeticOp.SubReverse, X87ArithmeticOp.Div, X87ArithmeticOp.DivReverse];

    private void ExecuteX87Memory(int b, int op)
    {
        var status = BeginStatus();
        var control = FpuControl;
        bool underflow = false;
        switch (b)
        {
            case 0xD8: case 0xDC: case 0xDA: case 0xDE:
                {
                    // arithmetic and compares with m32fp (D8), m64fp (DC), m32int (DA), m16int (DE)
                    ulong raw = b == 0xD8 ? Read32(_ea) : b == 0xDC ? Read64(_ea) : 0;
                    Float80 st0 = ReadSt(0, ref status, ref underflow);
                    Float80 operand = default;
                    bool integer = b == 0xDA || b == 0xDE;
                    if (integer)
                        operand = b == 0xDA ? X87Convert.FromInt32((int)Read32(_ea)) : X87Convert.FromInt16((short)Read16(_ea));
                    if (op == 2 || op == 3) // FCOM/FCOMP, FICOM/FICOMP
                    {
                        if (underflow)
                            status.SetConditions(X87Status.C0 | X87Status.C2 | X87Status.C3, X87Status.C0 | X87Status.C2 | X87Status.C3);
                        else if (integer)
                            X87Compare.Compare(st0, operand, false, ref status);
                        else
                            X87Compare.CompareMemory(st0, raw, b == 0xDC, false, ref status);
                        if (CommitStatus(status) && op == 3)
                            Fpu.Pop();
                        return;
                    }
                    Float80 result = underflow ? Float80.Indefinite
                        : integer ? X87Arithmetic.Apply(s_arithmetic[op], st0, operand, control, ref status)
                        : X87Arithmetic.ApplyMemory(s_arithmetic[op], st0, raw, b == 0xDC, control, ref status);
                    if (CommitStatus(status))
                        Fpu.SetSt(0, result);
                    return;
                }
            case 0xD9:
                switch (op)
                {
                    case 0: PushValue(X87Convert.FromSingle(Read32(_ea), ref status), status); return; // FLD m32fp
                    case 2: case 3: StoreSt0(X87Store.Single, op == 3, status); return; // FST/FSTP m32fp
                }
                break;
            case 0xDB:
                switch (op)
                {
                    case 0: PushValue(X87Convert.FromInt32((int)Read32(_ea)), status); return; // FILD m32int
                    case 1: case 2: case 3: StoreSt0(op == 1 ? X87Store.TruncatedInt32 : X87Store.Int32, op != 2, status); return; // FISTTP, FIST, FISTP m32int
                    case 5: // FLD m80fp
                        {
                            ulong sig = Read64(_ea);
                            ushort se = Read16(_ea + 8);
                            PushValue(new Float80(se, sig), status);
                            return;
                        }
                    case 7: // FSTP m80fp
                        {
                            status.SetConditions(X87Status.C1, 0); // nothing is rounded (as the host)
                            Float80 v = ReadSt(0, ref status, ref underflow);
                            if (CommitStatus(status))
                            {
                                ProbeWrite(_ea, 10);
                                Write64(_ea, v.Significand);
                                Write16(_ea + 8, v.SignExponent);
                                Fpu.Pop();
                            }
                            return;
                        }
                }
                break;
            case 0xDD:
                switch (op)
                {
                    case 0: PushValue(X87Convert.FromDouble(Read64(_ea), ref status), status); return; // FLD m64fp
                    case 1: StoreSt0(X87Store.TruncatedInt64, true, status); return; // FISTTP m64int
                    case 2: case 3: StoreSt0(X87Store.Double, op == 3, status); return; // FST/FSTP m64fp
                }
                break;
            case 0xDF:
                switch (op)
                {
                    case 0: PushValue(X87Convert.FromInt16((short)Read16(_ea)), status); return; // FILD m16int
                    case 1: case 2: case 3: StoreSt0(op == 1 ? X87Store.TruncatedInt16 : X87Store.Int16, op != 2, status); return; // FISTTP, FIST, FISTP m16int
                    case 4: // FBLD m80bcd
                        {
                            long value = 0;
                            for (int i = 8; i >= 0; i--)
                            {
                                byte d = Read8(_ea + (ulong)i);
                                value = value * 100 + (d >> 4) * 10 + (d & 15);
                            }
                            if ((Read8(_ea + 9) & 0x80) != 0)
                                value = -value;
                            PushValue(X87Convert.FromInt64(value), status);
                            return;
                        }
                    case 5: PushValue(X87Convert.FromInt64((long)Read64(_ea)), status); return; // FILD m64int
                    case 6: // FBSTP m80bcd
                        {
                            Float80 v = ReadSt(0, ref status, ref underflow);
                            X87Status before = status;
                            long r = underflow ? long.MinValue : X87Convert.ToInt64(v, control, ref status);
                            bool invalid = r == long.MinValue || Math.Abs(r) > 999_999_999_999_999_999;
                            if (invalid && !underflow)
                            {
                                // out of range after rounding (999999999999999999.5): IE alone, as the host (no PE, C1 = 0)
                                status = before;
                                status.SetConditions(X87Status.C1, 0);
                                status.Raise(X87Status.Invalid);
                            }
                            if (CommitStatus(status))
                            {
                                ProbeWrite(_ea, 10);
                                if (invalid) // the packed BCD indefinite
                                {
                                    Write64(_ea, 0xC000000000000000);
                                    Write16(_ea + 8, 0xFFFF);
                                }
                                else
                                {
                                    ulong m = (ulong)Math.Abs(r);
                                    for (int i = 0; i < 9; i++)
                                    {
                                        Write8(_ea + (ulong)i, (byte)((m % 10) | (((m / 10) % 10) << 4)));
                                        m /= 100;
                                    }
                                    Write8(_ea + 9, (byte)(v.Sign ? 0x80 : 0)); // -0 and -0.1 keep their sign
                                }
                                Fpu.Pop();
                            }
                            return;
                        }
                    case 7: StoreSt0(X87Store.Int64, true, status); return; // FISTP m64int
                }
                break;
        }
        FaultNoCode(VectorUd);
    }

    private void ExecuteX87Register(int b, int op, int i, int modrm)
    {
        var status = BeginStatus();
        var control = FpuControl;
        bool underflow = false;
        switch (b)
        {
            case 0xD8: case 0xDC: case 0xDE:
                {
                    if (op == 2 || op == 3) // FCOM/FCOMP ST(i); DC D0/D8 (FCOM2/FCOMP3) and DE D0 (FCOMP5) are aliases; DE D9 is FCOMPP
                    {
                        if (b == 0xDE && op == 3 && modrm != 0xD9) break;
                        int pops = b == 0xDE ? op - 1 : op - 2;
                        Float80 a = ReadSt(0, ref status, ref underflow), c = ReadSt(i, ref status, ref underflow);
                        if (underflow)
                            status.SetConditions(X87Status.C0 | X87Status.C2 | X87Status.C3, X87Status.C0 | X87Status.C2 | X87Status.C3);
                        else
                            X87Compare.Compare(a, c, false, ref status);
                        if (CommitStatus(status))
                            for (int k = 0; k < pops; k++)
                                Fpu.Pop();
                        return;
                    }
                    // D8: ST(0) = ST(0) op ST(i); DC/DE: ST(i) = ST(i) op ST(0) (with the SUB/SUBR and DIV/DIVR encodings swapped)
                    Float80 st0 = ReadSt(0, ref status, ref underflow), sti = ReadSt(i, ref status, ref underflow);
                    // Apply(op, ST(0), ST(i)) gives ST(0) op ST(i) for D8; in the DC/DE forms the SUB/SUBR and
                    // DIV/DIVR encodings are swapped, which Apply's operand order absorbs (FSUB ST(i),ST(0) = ST(i) - ST(0))
                    Float80 result = underflow ? Float80.Indefinite : X87Arithmetic.Apply(s_arithmetic[op], st0, sti, control, ref status);
                    if (CommitStatus(status))
                    {
                        Fpu.SetSt(b == 0xD8 ? 0 : i, result);
                        if (b == 0xDE) Fpu.Pop();
                    }
                    return;
                }
            case 0xD9:
                ExecuteD9Register(op, i, modrm, ref status, control);
                return;
            case 0xDA:
                if (modrm == 0xE9) // FUCOMPP
                {
                    Float80 a = ReadSt(0, ref status, ref underflow), c = ReadSt(1, ref status, ref underflow);
                    if (underflow)
                        status.SetConditions(X87Status.C0 | X87Status.C2 | X87Status.C3, X87Status.C0 | X87Status.C2 | X87Status.C3);
                    else
                        X87Compare.Compare(a, c, true, ref status);
                    if (CommitStatus(status))
                    {
                        Fpu.Pop();
                        Fpu.Pop();
                    }
                    return;
                }
                if (op < 4) // FCMOVB, FCMOVE, FCMOVBE, FCMOVU
                {
                    FloatMove(op switch { 0 => Condition(2), 1 => Condition(4), 2 => Condition(6), _ => Condition(10) }, i, status);
                    return;
                }
                break;
            case 0xDB:
                if (op < 4) // FCMOVNB, FCMOVNE, FCMOVNBE, FCMOVNU
                {
                    FloatMove(op switch { 0 => Condition(3), 1 => Condition(5), 2 => Condition(7), _ => Condition(11) }, i, status);
                    return;
                }
                if (op == 5 || op == 6) // FUCOMI, FCOMI
                {
                    CompareToFlags(i, op == 5, pop: false, status);
                    return;
                }
                break;
            case 0xDD:
                switch (op)
                {
                    case 0: // FFREE: C0-C3 are undefined; the host (AMD) clears C1
                        Fpu.Free(i);
                        status.SetConditions(X87Status.C1, 0);
                        CommitStatus(status);
                        return;
                    case 1: Exchange(i, status); return; // FXCH4 (alias of D9 C8+i)
                    case 2: case 3: StoreToRegister(i, op == 3, status); return; // FST, FSTP ST(i)
                    case 4: case 5: // FUCOM, FUCOMP
                        {
                            Float80 a = ReadSt(0, ref status, ref underflow), c = ReadSt(i, ref status, ref underflow);
                            if (underflow)
                                status.SetConditions(X87Status.C0 | X87Status.C2 | X87Status.C3, X87Status.C0 | X87Status.C2 | X87Status.C3);
                            else
                                X87Compare.Compare(a, c, true, ref status);
                            if (CommitStatus(status) && op == 5)
                                Fpu.Pop();
                            return;
                        }
                }
                break;
            case 0xDF:
                if (op == 5 || op == 6) // FUCOMIP, FCOMIP
                {
                    CompareToFlags(i, op == 5, pop: true, status);
                    return;
                }
                if (op == 0) // FFREEP (undocumented; frees and pops)
                {
                    Fpu.Free(i);
                    Fpu.Pop();
                    return;
                }
                if (op == 1) // FXCH7 (alias)
                {
                    Exchange(i, status);
                    return;
                }
                if (op == 2 || op == 3) // FSTP8, FSTP9 (aliases of FSTP ST(i))
                {
                    StoreToRegister(i, true, status);
                    return;
                }
                break;
        }
        FaultNoCode(VectorUd);
    }

    private void Exchange(int i, X87Status status)
    {
        bool underflow = false;
        Float80 a = ReadSt(0, ref status, ref underflow), c = ReadSt(i, ref status, ref underflow);
        status.SetConditions(X87Status.C1, 0);
        if (CommitStatus(status))
        {
            Fpu.SetSt(0, c);
            Fpu.SetSt(i, a);
        }
    }

    private void StoreToRegister(int i, bool pop, X87Status status)
    {
        status.SetConditions(X87Status.C1, 0); // nothing is rounded: C1 = 0 (as the host)
        bool underflow = false;
        Float80 v = ReadSt(0, ref status, ref underflow);
        if (CommitStatus(status))
        {
            Fpu.SetSt(i, v);
            if (pop)
                Fpu.Pop();
        }
    }

    private void FloatMove(bool condition, int i, X87Status status)
    {
        bool underflow = false;
        Float80 v = ReadSt(i, ref status, ref underflow);
        ReadSt(0, ref status, ref underflow);
        if (CommitStatus(status) && (condition || underflow))
            Fpu.SetSt(0, underflow ? Float80.Indefinite : v); // an empty operand: the indefinite, whatever the condition
    }

    private void CompareToFlags(int i, bool quiet, bool pop, X87Status status)
    {
        bool underflow = false;
        Float80 a = ReadSt(0, ref status, ref underflow), c = ReadSt(i, ref status, ref underflow);
        uint flags = underflow ? X87Compare.ZeroFlag | X87Compare.ParityFlag | X87Compare.CarryFlag : X87Compare.CompareToEflags(a, c, quiet, ref status);
        if (CommitStatus(status))
        {
            MaterializeFlags();
            Rflags = (Rflags & ~(FlagZf | FlagPf | FlagCf | FlagOf | FlagSf | FlagAf)) | flags;
            if (pop)
                Fpu.Pop();
        }
    }

    private void ExecuteD9Register(int op, int i, int modrm, ref X87Status status, X87Control control)
    {
        bool underflow = false;
        switch (op)
        {
            case 0: // FLD ST(i)
                {
                    Float80 v = ReadSt(i, ref status, ref underflow);
                    PushValue(v, status);
                    return;
                }
            case 1: Exchange(i, status); return; // FXCH ST(i)
            case 3: StoreToRegister(i, true, status); return; // FSTP1 (alias of DD D8+i)
            case 2 when modrm == 0xD0: return; // FNOP
        }
        switch (modrm)
        {
            case 0xE0: case 0xE1: // FCHS, FABS
                {
                    Float80 v = ReadSt(0, ref status, ref underflow);
                    status.SetConditions(X87Status.C1, 0);
                    if (CommitStatus(status))
                        Fpu.SetSt(0, underflow ? v : modrm == 0xE0 ? v.Negate() : v.Abs());
                    return;
                }
            case 0xE4: // FTST
                {
                    Float80 v = ReadSt(0, ref status, ref underflow);
                    if (underflow)
                        status.SetConditions(X87Status.C0 | X87Status.C2 | X87Status.C3, X87Status.C0 | X87Status.C2 | X87Status.C3);
                    else
                        X87Compare.Test(v, ref status);
                    CommitStatus(status);
                    return;
                }
            case 0xE5: // FXAM
                X87Compare.Examine(Fpu.St(0), Fpu.IsEmpty(0), ref status);
                CommitStatus(status);
                return;
            case >= 0xE8 and <= 0xEE: // FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ
                {
                    int rc = (Fpu.Control >> 10) & 3; // 0 nearest, 1 down, 2 up, 3 toward zero
                    bool down = rc == 1 || rc == 3;
                    Float80 k = modrm switch
                    {
                        0xE8 => Float80.One,
                        0xE9 => rc == 2 ? s_l2tUp : s_l2t,
                        0xEA => down ? s_l2eDown : s_l2e,
                        0xEB => down ? s_piDown : s_pi,
                        0xEC => down ? s_lg2Down : s_lg2,
                        0xED => down ? s_ln2Down : s_ln2,
                        _ => Float80.Zero,
                    };
                    PushValue(k, status);
                    return;
                }
            case 0xF6: Fpu.Top = (Fpu.Top - 1) & 7; status.SetConditions(X87Status.C1, 0); CommitStatus(status); return; // FDECSTP
            case 0xF7: Fpu.Top = (Fpu.Top + 1) & 7; status.SetConditions(X87Status.C1, 0); CommitStatus(status); return; // FINCSTP
            case 0xFA: case 0xFC: case 0xF0: case 0xFE: case 0xFF: // FSQRT, FRNDINT, F2XM1, FSIN, FCOS: ST(0) = f(ST(0))
                {
                    Float80 v = ReadSt(0, ref status, ref underflow);
                    Float80 r = underflow ? v : modrm switch
                    {
                        0xFA => X87Arithmetic.Sqrt(v, control, ref status),
                        0xFC => X87Arithmetic.RoundToInteger(v, control, ref status),
                        0xF0 => X87Transcendental.TwoToXMinus1(v, control, ref status),
                        0xFE => X87Transcendental.Sin(v, control, ref status),
                        _ => X87Transcendental.Cos(v, control, ref status),
                    };
                    bool outOfRange = (modrm == 0xFE || modrm == 0xFF) && (status.Word & X87Status.C2) != 0;
                    if (CommitStatus(status) && !outOfRange)
                        Fpu.SetSt(0, r);
                    return;
                }
            case 0xF1: case 0xF3: case 0xF9: // FYL2X, FPATAN, FYL2XP1: ST(1) = f(ST(1), ST(0)), pop
                {
                    Float80 x = ReadSt(0, ref status, ref underflow), y = ReadSt(1, ref status, ref underflow);
                    Float80 r = underflow ? Float80.Indefinite : modrm switch
                    {
                        0xF1 => X87Transcendental.YLog2X(x, y, control, ref status),
                        0xF9 => X87Transcendental.YLog2XPlus1(x, y, control, ref status),
                        _ => X87Transcendental.ArcTangent(x, y, control, ref status),
                    };
                    if (CommitStatus(status))
                    {
                        Fpu.SetSt(1, r);
                        Fpu.Pop();
                    }
                    return;
                }
            case 0xF8: case 0xF5: case 0xFD: // FPREM, FPREM1, FSCALE: ST(0) = f(ST(0), ST(1))
                {
                    Float80 a = ReadSt(0, ref status, ref underflow), c = ReadSt(1, ref status, ref underflow);
                    ushort before = status.Word;
                    Float80 r = underflow ? Float80.Indefinite : modrm == 0xFD
                        ? X87Arithmetic.Scale(a, c, control, ref status)
                        : X87Arithmetic.PartialRemainder(a, c, modrm == 0xF5, ref status);
                    if (modrm != 0xFD && (underflow || r.IsNaN))
                    {
                        // no remainder (empty or NaN operands, invalid): the host clears C2 and keeps C0, C1 and C3
                        status.SetConditions(X87Status.C0 | X87Status.C3, (ushort)(before & (X87Status.C0 | X87Status.C3)));
                        status.SetConditions(X87Status.C2, 0);
                    }
                    if (CommitStatus(status))
                        Fpu.SetSt(0, r);
                    return;
                }
            case 0xF2: // FPTAN: ST(0) = tan, push 1.0
                {
                    Float80 v = ReadSt(0, ref status, ref underflow);
                    Float80 r = underflow ? v : X87Transcendental.Tan(v, control, ref status);
                    if ((status.Word & X87Status.C2) != 0 && !underflow)
                    {
                        CommitStatus(status);
                        return;
                    }
                    if (CommitStatus(status))
                    {
                        Fpu.SetSt(0, r);
                        PushValue(Float80.One, new X87Status(Fpu.Status));
                    }
                    return;
                }
            case 0xF4: case 0xFB: // FXTRACT, FSINCOS: ST(0) = first, then push second
                {
                    Float80 v = ReadSt(0, ref status, ref underflow);
                    Float80 first = v, second;
                    if (modrm == 0xF4)
                    {
                        second = underflow ? v : X87Arithmetic.Extract(v, out first, ref status); // first = exponent (stays below)
                    }
                    else
                    {
                        second = underflow ? v : X87Transcendental.SinCos(v, out first, control, ref status); // cos on top, sin below
                        if ((status.Word & X87Status.C2) != 0 && !underflow)
                        {
                            CommitStatus(status);
                            return;
                        }
                    }
                    if (underflow)
                        first = v;
                    if (CommitStatus(status))
                    {
                        Fpu.SetSt(0, first);
                        PushValue(second, new X87Status(Fpu.Status));
                    }
                    return;
                }
        }
        FaultNoCode(VectorUd);
    }

    /// <summary>FCW as the hardware keeps it: bits 0-5 and 8-12 writable, bit 6 reads as one (checked on the host).</summary>
    private static ushort ControlWordFrom(ushort value) => (ushort)((value & 0x1F3F) | 0x40);

    /// <summary>
    /// FSTENV/FLDENV image size: with a 16-bit operand size (66 prefix) the 14-byte 16-bit
    /// protected-mode layout (SDM vol. 1 fig. 8-10), else the 28-byte 32-bit one (REX.W changes nothing).
    /// </summary>
    private ulong EnvironmentSize => _opSize == Word ? 14UL : 28UL;

    /// <summary>FNSTENV in the layout of <see cref="EnvironmentSize"/> (SDM vol. 1, figures 8-9 and 8-10), then masks all exceptions.</summary>
    private void StoreEnvironment()
    {
        ushort full = FullTagWord();
        if (_opSize == Word)
        {
            // FCW, FSW, FTW, FIP offset, FCS, FDP offset, FDS: 16 bits each
            ProbeWrite(_ea, 14);
            Write16(_ea, Fpu.Control);
            Write16(_ea + 2, Fpu.Status);
            Write16(_ea + 4, full);
            Write16(_ea + 6, (ushort)Fpu.LastInstructionPointer);
            Write16(_ea + 8, 0);
            Write16(_ea + 10, (ushort)Fpu.LastDataPointer);
            Write16(_ea + 12, 0);
            Fpu.Control |= 0x3F;
            return;
        }
        ProbeWrite(_ea, 28);
        Write32(_ea, 0xFFFF0000u | Fpu.Control);
        Write32(_ea + 4, 0xFFFF0000u | Fpu.Status);
        Write32(_ea + 8, 0xFFFF0000u | full);
        Write32(_ea + 12, (uint)Fpu.LastInstructionPointer);
        Write32(_ea + 16, (uint)(Fpu.LastOpcode & 0x7FF) << 16);
        Write32(_ea + 20, (uint)Fpu.LastDataPointer);
        Write32(_ea + 24, 0xFFFF0000u);
        Fpu.Control |= 0x3F;
    }

    private void LoadEnvironment()
    {
        if (_opSize == Word)
        {
            ushort control16 = Read16(_ea), status16 = Read16(_ea + 2), tags16 = Read16(_ea + 4);
            Fpu.LastInstructionPointer = Read16(_ea + 6);
            Fpu.LastOpcode = 0;
            Fpu.LastDataPointer = Read16(_ea + 10);
            Fpu.Control = ControlWordFrom(control16);
            Fpu.Status = status16;
            Fpu.TagWord = tags16;
            return;
        }
        ushort control = (ushort)Read32(_ea);
        ushort status = (ushort)Read32(_ea + 4);
        ushort tags = (ushort)Read32(_ea + 8);
        Fpu.LastInstructionPointer = Read32(_ea + 12);
        Fpu.LastOpcode = (ushort)((Read32(_ea + 16) >> 16) & 0x7FF);
        Fpu.LastDataPointer = Read32(_ea + 20);
        Fpu.Control = ControlWordFrom(control);
        Fpu.Status = status;
        Fpu.TagWord = tags;
    }

    /// <summary>The tag word as FSTENV reports it: each register's tag from its contents unless empty.</summary>
    private ushort FullTagWord()
    {
        int tags = 0;
        for (int p = 0; p < 8; p++)
        {
            int t = Fpu.Tag(p);
            if (t != X87State.TagEmpty)
                t = X87State.TagFor(Fpu.St((p - Fpu.Top) & 7));
            tags |= t << (2 * p);
        }
        return (ushort)tags;
    }

    private void StoreRegisters(ulong address)
    {
        ProbeWrite(address, 80);
        for (int i = 0; i < 8; i++)
        {
            Float80 v = Fpu.St(i);
            Write64(address + (ulong)i * 10, v.Significand);
            Write16(address + (ulong)i * 10 + 8, v.SignExponent);
        }
    }

    private void LoadRegisters(ulong address)
    {
        ushort tags = Fpu.TagWord;
        for (int i = 0; i < 8; i++)
        {
            var v = new Float80(Read16(address + (ulong)i * 10 + 8), Read64(address + (ulong)i * 10));
            Fpu.SetSt(i, v);
        }
        Fpu.TagWord = tags;
    }
}
