using Wemu.Jit.Ir;

namespace Wemu.Jit.Passes;

/// <summary>Removes pure ops whose results are never used (in one backward sweep, chains included).</summary>
public static class DeadCodeElimination
{
    public static int Run(IrFunction f)
    {
        var uses = new int[f.TempCount];
        var code = f.Code;
        foreach (ref var i in code)
        {
            if (i.A >= 0) uses[i.A]++;
            if (i.B >= 0) uses[i.B]++;
            if (i.C >= 0) uses[i.C]++;
        }
        int removed = 0;
        for (int k = code.Length - 1; k >= 0; k--)
        {
            ref var i = ref code[k];
            if (!i.IsPure || !i.HasDst || uses[i.Dst] != 0)
                continue;
            if (i.A >= 0) uses[i.A]--;
            if (i.B >= 0) uses[i.B]--;
            if (i.C >= 0) uses[i.C]--;
            i = IrInst.Nop;
            removed++;
        }
        return removed;
    }
}
