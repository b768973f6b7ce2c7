using Wemu.Jit.Ir;

namespace Wemu.Jit;

/// <summary>
/// What every guest's translator shares: building a region. A region is the code of one 4 KiB
/// guest page with one entry: the blocks reachable from the entry by direct branches inside the
/// page (to targets the caller's filter accepts: the engine's "has run before") become labels, so
/// loops run without leaving compiled code, and every backward edge passes a budget check; other
/// targets leave through chained exits. The guest emits its blocks (<see cref="EmitBlock"/>) and
/// asks for labels here; out-of-line exits to the interpreter (<see cref="LeaveLabel"/>) come after
/// the blocks, so no label splits a block.
/// </summary>
public abstract unsafe class RegionTranslator : IGuestTranslator
{
    private readonly int _registers;
    private IrFunction? _reused;
    private Func<ulong, bool> _include = null!;
    private readonly Dictionary<ulong, int> _labels = [];
    private readonly HashSet<ulong> _emitted = [];
    private readonly Stack<ulong> _work = new();
    private readonly List<(int Label, ulong Target, bool BudgetCheck)> _stubs = [];
    private readonly List<(int Label, ulong Pc, int Completed)> _leaves = [];

    /// <param name="maxInstructions">Guest instructions a region may hold.</param>
    /// <param name="registers">Guest registers its functions may name (<see cref="IrFunction.GuestRegisterCount"/>).</param>
    protected RegionTranslator(int maxInstructions, int registers)
    {
        MaxInstructions = maxInstructions;
        _registers = registers;
    }

    protected int MaxInstructions { get; }

    /// <summary>The function being built.</summary>
    protected IrFunction F { get; private set; } = null!;

    /// <summary>The host copy of the region's page, and its guest address.</summary>
    protected byte* Page { get; private set; }

    protected ulong PageBase { get; private set; }

    /// <summary>Guest instructions translated so far (a block ends with a chained exit once it reaches <see cref="MaxInstructions"/>).</summary>
    protected int Total { get; set; }

    /// <summary>None by default: a region ends before an instruction that crosses the page's end.</summary>
    public virtual int CrossPageBytes => 0;

    public abstract IrFunction Translate(ulong entryPc, ulong mode, byte* page, Func<ulong, bool> include, bool reuse, int nextPageBytes = 0);

    public abstract bool IsInterpretedOnly(ulong pc, ulong mode, byte* page);

    /// <summary>Emits the block at <paramref name="pc"/> (its label is placed already) up to a transfer or exit.</summary>
    protected abstract void EmitBlock(ulong pc);

    /// <summary>An edge of the region enters <paramref name="target"/> (the guest may track state along edges).</summary>
    protected virtual void OnEdge(ulong target)
    {
    }

    /// <summary>Builds the region entered at <paramref name="entryPc"/>; with <paramref name="reuse"/>, into this translator's own function (valid until the next call).</summary>
    protected IrFunction BuildRegion(ulong entryPc, byte* page, Func<ulong, bool> include, bool reuse)
    {
        if (reuse)
        {
            F = _reused ??= new IrFunction(entryPc, _registers);
            F.Reset(entryPc);
        }
        else
        {
            F = new IrFunction(entryPc, _registers);
        }
        Page = page;
        PageBase = entryPc & ~0xFFFUL;
        _include = include;
        _labels.Clear();
        _emitted.Clear();
        _work.Clear();
        _stubs.Clear();
        _leaves.Clear();
        Total = 0;
        LabelFor(entryPc);
        while (_work.Count > 0)
        {
            ulong pc = _work.Pop();
            if (_emitted.Add(pc))
            {
                F.Label(_labels[pc]);
                EmitBlock(pc);
            }
        }
        foreach (var (label, target, budgetCheck) in _stubs)
        {
            F.Label(label);
            if (budgetCheck)
            {
                F.ExitIfBudget(target);
                F.Jump(_labels[target]);
            }
            else
            {
                F.Exit(CodeExit.Chain, target, 0);
            }
        }
        foreach (var (label, pc, completed) in _leaves)
        {
            F.Label(label);
            F.Exit(CodeExit.Interpret, pc, completed);
        }
        F.GuestInstructions = Total;
        return F;
    }

    /// <summary>True if <paramref name="pc"/> has (or will have) a block of its own in this region.</summary>
    protected bool HasLabel(ulong pc) => _labels.ContainsKey(pc);

    /// <summary>The label of the block at <paramref name="pc"/>, queued for emission if new.</summary>
    protected int LabelFor(ulong pc)
    {
        if (!_labels.TryGetValue(pc, out int label))
        {
            label = F.NewLabel();
            _labels[pc] = label;
            _work.Push(pc);
        }
        return label;
    }

    /// <summary>
    /// At each instruction of a block (<paramref name="k"/> emitted before it): ends the block and
    /// returns true when <paramref name="pc"/> has a block of its own (this one falls into it), or the
    /// region is full, or <paramref name="pc"/> left the page (a chained exit).
    /// </summary>
    protected bool BlockEndsAt(ulong pc, int k)
    {
        if (k > 0 && HasLabel(pc))
        {
            F.Retire(k);
            F.Jump(FallInto(pc));
            return true;
        }
        if (Total >= MaxInstructions || (pc & ~0xFFFUL) != PageBase)
        {
            F.Exit(CodeExit.Chain, pc, k);
            return true;
        }
        return false;
    }

    /// <summary>The label a block falling through into <paramref name="pc"/> (which has its own block) jumps to.</summary>
    protected int FallInto(ulong pc)
    {
        OnEdge(pc);
        return LabelFor(pc);
    }

    /// <summary>The label a taken branch from <paramref name="from"/> to <paramref name="target"/> goes to: the target's block, a budget check before it (backward edges), or a chained exit.</summary>
    protected int TargetLabel(ulong target, ulong from)
    {
        bool inRegion = (target & ~0xFFFUL) == PageBase && (_labels.ContainsKey(target) || (Total < MaxInstructions && _include(target)));
        int stub = F.NewLabel();
        if (!inRegion)
        {
            _stubs.Add((stub, target, false));
            return stub;
        }
        OnEdge(target);
        int label = LabelFor(target);
        if (target > from)
            return label;
        _stubs.Add((stub, target, true));
        return stub;
    }

    /// <summary>An out-of-line exit that has the interpreter run the instruction at <paramref name="pc"/> (<paramref name="completed"/> retired before it).</summary>
    protected int LeaveLabel(ulong pc, int completed)
    {
        int label = F.NewLabel();
        _leaves.Add((label, pc, completed));
        return label;
    }
}
