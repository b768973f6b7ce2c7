using System.Text;

namespace Wemu.Jit.Ir;

/// <summary>
/// One unit of translation (a region of guest code with one entry) as a list of IR instructions,
/// with the builder methods translators use. Temps are defined once inside a guest basic block
/// (translators never reuse a temp across labels), which keeps the passes simple.
/// </summary>
public sealed class IrFunction
{
    private IrInst[] _code = new IrInst[256];
    private readonly List<IrType> _temps = [];

    public IrFunction(ulong entryPc, int guestRegisterCount)
    {
        EntryPc = entryPc;
        GuestRegisterCount = guestRegisterCount;
    }

    /// <summary>Empties the function for a new entry, keeping its buffers (a translator that compiles in line reuses one).</summary>
    public void Reset(ulong entryPc)
    {
        EntryPc = entryPc;
        Count = 0;
        LabelCount = 0;
        GuestInstructions = 0;
        _temps.Clear();
    }

    /// <summary>Guest pc of the entry (where the function starts executing).</summary>
    public ulong EntryPc { get; private set; }

    /// <summary>Number of guest registers <see cref="IrOp.GetReg"/>/<see cref="IrOp.SetReg"/> may name.</summary>
    public int GuestRegisterCount { get; }

    public int Count { get; private set; }

    public int TempCount => _temps.Count;

    public int LabelCount { get; private set; }

    /// <summary>Guest instructions translated (for statistics).</summary>
    public int GuestInstructions { get; set; }

    public Span<IrInst> Code => _code.AsSpan(0, Count);

    public IrType TypeOf(int temp) => _temps[temp];

    /// <summary>Changes a temp's type (a backend narrowing an op whose result is masked to 32 bits); the caller updates its definition's too.</summary>
    public void SetType(int temp, IrType type) => _temps[temp] = type;

    public int NewLabel() => LabelCount++;

    public int NewTemp(IrType type)
    {
        _temps.Add(type);
        return _temps.Count - 1;
    }

    public ref IrInst Append(IrOp op)
    {
        if (Count == _code.Length)
            Array.Resize(ref _code, _code.Length * 2);
        ref var i = ref _code[Count++];
        i = new IrInst { Op = op, Dst = IrInst.NoTemp, A = IrInst.NoTemp, B = IrInst.NoTemp, C = IrInst.NoTemp };
        return ref i;
    }

    /// <summary>Removes instructions turned into <see cref="IrOp.Nop"/> by passes.</summary>
    public void Compact()
    {
        int n = 0;
        for (int i = 0; i < Count; i++)
            if (_code[i].Op != IrOp.Nop)
                _code[n++] = _code[i];
        Count = n;
    }

    // Builder helpers: each returns the temp holding the result.

    public int Const(IrType type, long value)
    {
        int t = NewTemp(type);
        ref var i = ref Append(IrOp.Const);
        i.Type = type;
        i.Dst = t;
        i.Imm = type == IrType.I32 ? (int)value : value;
        return t;
    }

    public int GetReg(int reg)
    {
        int t = NewTemp(IrType.I64);
        ref var i = ref Append(IrOp.GetReg);
        i.Type = IrType.I64;
        i.Dst = t;
        i.Imm = reg;
        return t;
    }

    public void SetReg(int reg, int value)
    {
        ref var i = ref Append(IrOp.SetReg);
        i.Type = IrType.I64;
        i.A = value;
        i.Imm = reg;
    }

    public int Binary(IrOp op, int a, int b)
    {
        ref var i = ref ValueOp(op, a, out int t);
        i.B = b;
        return t;
    }

    /// <summary>A one-operand op (<see cref="IrOp.Clz"/>, <see cref="IrOp.Ctz"/>, <see cref="IrOp.Popcnt"/>, <see cref="IrOp.ByteSwap"/>, <see cref="IrOp.Parity"/>) in A's type.</summary>
    public int Unary(IrOp op, int a)
    {
        ValueOp(op, a, out int t);
        return t;
    }

    /// <summary>Appends <paramref name="op"/> on A with a new temporary of A's type as its result.</summary>
    private ref IrInst ValueOp(IrOp op, int a, out int t)
    {
        var type = TypeOf(a);
        t = NewTemp(type);
        ref var i = ref Append(op);
        i.Type = type;
        i.Dst = t;
        i.A = a;
        return ref i;
    }

    /// <summary>A division or remainder with the guest's rule for /0 and overflow (an exiting one belongs to the guest instruction at <paramref name="guestPc"/>).</summary>
    public int Divide(IrOp op, int a, int b, IrDivision division, ulong guestPc = 0, int completed = 0)
    {
        int t = Binary(op, a, b);
        ref var i = ref _code[Count - 1];
        i.Division = division;
        i.GuestPc = guestPc;
        i.Completed = completed;
        return t;
    }

    public int Compare(IrCondition cond, int a, int b, IrType resultType = IrType.I64)
    {
        int t = NewTemp(resultType);
        ref var i = ref Append(IrOp.Compare);
        i.Type = resultType;
        i.Cond = cond;
        i.Dst = t;
        i.A = a;
        i.B = b;
        return t;
    }

    public int Select(int cond, int ifTrue, int ifFalse)
    {
        var type = TypeOf(ifTrue);
        int t = NewTemp(type);
        ref var i = ref Append(IrOp.Select);
        i.Type = type;
        i.Dst = t;
        i.A = cond;
        i.B = ifTrue;
        i.C = ifFalse;
        return t;
    }

    public int Convert(IrOp op, int a)
    {
        var type = op == IrOp.Wrap ? IrType.I32 : IrType.I64;
        int t = NewTemp(type);
        ref var i = ref Append(op);
        i.Type = type;
        i.Dst = t;
        i.A = a;
        return t;
    }

    /// <summary>An access of <paramref name="size"/> bytes at address + offset by the guest instruction at <paramref name="guestPc"/> (it may trap there).</summary>
    private ref IrInst MemoryOp(IrOp op, int address, long offset, int size, ulong guestPc, int completed)
    {
        ref var i = ref Append(op);
        i.Type = IrType.I64;
        i.A = address;
        i.Imm = offset;
        i.Size = (byte)size;
        i.GuestPc = guestPc;
        i.Completed = completed;
        return ref i;
    }

    public int Load(int address, long offset, int size, bool signed, ulong guestPc, int completed)
    {
        int t = NewTemp(IrType.I64);
        ref var i = ref MemoryOp(IrOp.Load, address, offset, size, guestPc, completed);
        i.Dst = t;
        i.Signed = signed;
        return t;
    }

    public void Store(int address, long offset, int value, int size, ulong guestPc, int completed) =>
        MemoryOp(IrOp.Store, address, offset, size, guestPc, completed).B = value;

    /// <summary>The old value of the <paramref name="size"/> bytes at address + offset; they become <paramref name="value"/> if it equals <paramref name="expected"/>.</summary>
    public int CompareAndSwap(int address, long offset, int expected, int value, int size, ulong guestPc, int completed)
    {
        int t = NewTemp(IrType.I64);
        ref var i = ref MemoryOp(IrOp.CompareAndSwap, address, offset, size, guestPc, completed);
        i.Dst = t;
        i.B = expected;
        i.C = value;
        return t;
    }

    /// <summary>Elements of <paramref name="size"/> bytes copied from <paramref name="source"/> to <paramref name="destination"/> (<see cref="IrOp.PageCopy"/>).</summary>
    public int PageCopy(int destination, int source, int count, int size) => Bulk(IrOp.PageCopy, destination, source, count, size);

    /// <summary>Elements of <paramref name="size"/> bytes of <paramref name="value"/> stored at <paramref name="destination"/> onwards (<see cref="IrOp.PageFill"/>).</summary>
    public int PageFill(int destination, int value, int count, int size) => Bulk(IrOp.PageFill, destination, value, count, size);

    private int Bulk(IrOp op, int destination, int b, int count, int size)
    {
        if (size is not (1 or 2 or 4 or 8))
            throw new ArgumentOutOfRangeException(nameof(size));
        int t = NewTemp(IrType.I64);
        ref var i = ref Append(op);
        i.Dst = t;
        i.A = destination;
        i.B = b;
        i.C = count;
        i.Size = (byte)size;
        return t;
    }

    public void Call(int helper, int a, int b, long imm, ulong guestPc, int completed)
    {
        ref var i = ref Append(IrOp.Call);
        i.Helper = (ushort)helper;
        i.A = a;
        i.B = b;
        i.Imm = imm;
        i.GuestPc = guestPc;
        i.Completed = completed;
    }

    public void Label(int label) => Append(IrOp.Label).Imm = label;

    public void Jump(int label) => Append(IrOp.Jump).Imm = label;

    public void Branch(IrCondition cond, int a, int b, int label)
    {
        ref var i = ref Append(IrOp.Branch);
        i.Cond = cond;
        i.A = a;
        i.B = b;
        i.Imm = label;
    }

    public void Retire(int count)
    {
        if (count > 0)
            Append(IrOp.Retire).Imm = count;
    }

    public void ExitIfBudget(ulong pc) => Append(IrOp.ExitIfBudget).Imm = (long)pc;

    public void Exit(CodeExit kind, ulong pc, int completed)
    {
        ref var i = ref Append(IrOp.Exit);
        i.Kind = kind;
        i.Imm = (long)pc;
        i.GuestPc = pc;
        i.Completed = completed;
    }

    public void ExitTo(CodeExit kind, int pcTemp, int completed)
    {
        ref var i = ref Append(IrOp.Exit);
        i.Kind = kind;
        i.A = pcTemp;
        i.Completed = completed;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("function @").Append(EntryPc.ToString("x")).AppendLine();
        foreach (ref var i in Code)
            sb.Append("  ").AppendLine(i.ToString());
        return sb.ToString();
    }
}
