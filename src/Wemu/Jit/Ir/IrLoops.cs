namespace Wemu.Jit.Ir;

/// <summary>
/// The loops of a function's control flow (a region's loops run without leaving compiled code): for each
/// instruction, how many natural loops hold it. Blocks start at labels and after jumps, branches and exits;
/// a back edge is an edge to a block still on the depth-first path from the entry, and its loop is the
/// target with every block that reaches the edge's source without passing the target. A backend weighs what
/// happens inside loops more (which guest registers to hold in host registers).
/// </summary>
public sealed class IrLoops
{
    private int[] _blockStart = [], _blockOf = [], _labelBlock = [], _depth = [], _succ = [], _succCount = [];
    private int[] _state = [], _stack = [], _edge = [], _work = [];
    private bool[] _inLoop = [];
    private readonly List<(int From, int To)> _backEdges = [];
    private readonly List<int> _preds = [];
    private int[] _predStart = [], _predCount = [];

    /// <summary>Fills <paramref name="depth"/>[k] with the loop depth of instruction k of <paramref name="code"/>.</summary>
    public void Depths(ReadOnlySpan<IrInst> code, int labelCount, Span<int> depth)
    {
        depth.Clear();
        int n = code.Length;
        if (n == 0)
            return;
        Ensure(ref _blockOf, n);
        Ensure(ref _blockStart, n + 1);
        Ensure(ref _labelBlock, labelCount);
        // blocks
        int blocks = 0;
        bool startNext = true;
        for (int k = 0; k < n; k++)
        {
            ref readonly var i = ref code[k];
            if (k == 0 || startNext || (i.Op == IrOp.Label && _blockStart[blocks - 1] != k))
                _blockStart[blocks++] = k;
            _blockOf[k] = blocks - 1;
            if (i.Op == IrOp.Label)
                _labelBlock[i.Imm] = blocks - 1;
            startNext = i.Op is IrOp.Jump or IrOp.Branch or IrOp.Exit;
        }
        _blockStart[blocks] = n;
        // successors (at most two: a branch's target and what follows it)
        Ensure(ref _succ, 2 * blocks);
        Ensure(ref _succCount, blocks);
        for (int b = 0; b < blocks; b++)
        {
            ref readonly var last = ref code[_blockStart[b + 1] - 1];
            int c = 0;
            if (last.Op is IrOp.Jump or IrOp.Branch)
                _succ[2 * b + c++] = _labelBlock[last.Imm];
            if (last.Op is not (IrOp.Jump or IrOp.Exit) && b + 1 < blocks)
                _succ[2 * b + c++] = b + 1;
            _succCount[b] = c;
        }
        // back edges, by an iterative depth-first search (state: 0 unseen, 1 on the path, 2 done)
        Ensure(ref _state, blocks);
        Ensure(ref _stack, blocks);
        Ensure(ref _edge, blocks);
        Array.Clear(_state, 0, blocks);
        _backEdges.Clear();
        int sp = 0;
        _stack[sp] = 0;
        _edge[sp++] = 0;
        _state[0] = 1;
        while (sp > 0)
        {
            int b = _stack[sp - 1];
            if (_edge[sp - 1] < _succCount[b])
            {
                int s = _succ[2 * b + _edge[sp - 1]++];
                if (_state[s] == 1)
                    _backEdges.Add((b, s));
                else if (_state[s] == 0)
                {
                    _state[s] = 1;
                    _stack[sp] = s;
                    _edge[sp++] = 0;
                }
            }
            else
            {
                _state[b] = 2;
                sp--;
            }
        }
        if (_backEdges.Count == 0)
            return;
        // predecessors, then each back edge's loop body
        Ensure(ref _predStart, blocks + 1);
        Ensure(ref _predCount, blocks);
        Array.Clear(_predCount, 0, blocks);
        for (int b = 0; b < blocks; b++)
            for (int e = 0; e < _succCount[b]; e++)
                _predCount[_succ[2 * b + e]]++;
        _predStart[0] = 0;
        for (int b = 0; b < blocks; b++)
            _predStart[b + 1] = _predStart[b] + _predCount[b];
        _preds.Clear();
        for (int p = 0; p < _predStart[blocks]; p++)
            _preds.Add(0);
        Array.Clear(_predCount, 0, blocks);
        for (int b = 0; b < blocks; b++)
            for (int e = 0; e < _succCount[b]; e++)
            {
                int s = _succ[2 * b + e];
                _preds[_predStart[s] + _predCount[s]++] = b;
            }
        Ensure(ref _depth, blocks);
        Ensure(ref _inLoop, blocks);
        Ensure(ref _work, blocks);
        Array.Clear(_depth, 0, blocks);
        // one loop per head: the back edges to it (a loop's budget checks are several) share its body
        _backEdges.Sort((x, y) => x.To.CompareTo(y.To));
        for (int e = 0; e < _backEdges.Count;)
        {
            int head = _backEdges[e].To;
            Array.Clear(_inLoop, 0, blocks);
            _inLoop[head] = true;
            int w = 0;
            for (; e < _backEdges.Count && _backEdges[e].To == head; e++)
            {
                int from = _backEdges[e].From;
                if (!_inLoop[from])
                {
                    _inLoop[from] = true;
                    _work[w++] = from;
                }
            }
            while (w > 0)
            {
                int b = _work[--w];
                for (int p = _predStart[b]; p < _predStart[b + 1]; p++)
                {
                    int q = _preds[p];
                    if (!_inLoop[q] && _state[q] != 0)   // (blocks the entry cannot reach are in no loop)
                    {
                        _inLoop[q] = true;
                        _work[w++] = q;
                    }
                }
            }
            for (int b = 0; b < blocks; b++)
                if (_inLoop[b])
                    _depth[b]++;
        }
        for (int k = 0; k < n; k++)
            depth[k] = _depth[_blockOf[k]];
    }

    private static void Ensure<T>(ref T[] array, int n)
    {
        if (array.Length < n)
            array = new T[Math.Max(n, array.Length * 2)];
    }
}
