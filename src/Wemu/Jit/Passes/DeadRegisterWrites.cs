using Wemu.Jit.Ir;

namespace Wemu.Jit.Passes;

/// <summary>
/// Removes writes of guest registers that nothing can see: a <see cref="IrOp.SetReg"/> whose register is written again
/// before anything reads it (a <see cref="IrOp.GetReg"/>) or could leave the function with the register file as the
/// guest's state (a load's or store's slow path, a helper call, a page bulk op, an exiting division, an exit, the budget
/// check). Within a label-free stretch, and across a jump or branch when every block it flows into writes the register
/// first in the same way from its label. x86's lazy flags (the operation, result and operand of every flag-setting
/// instruction) are the most of these; what only fed them (a shift's last bit out) then goes with
/// <see cref="DeadCodeElimination"/>.
/// </summary>
public static class DeadRegisterWrites
{
    /// <summary>Scratch arrays kept between calls (compiles run on one thread per engine; tests run engines in parallel).</summary>
    [ThreadStatic]
    private static bool[]? t_kills, t_seen, t_clean;

    public static int Run(IrFunction f)
    {
        int regs = f.GuestRegisterCount;
        var code = f.Code;
        // kills[label * regs + r]: the block the label starts writes r before reading it or anything that could leave
        var kills = Scratch(ref t_kills, f.LabelCount * regs);
        var seen = Scratch(ref t_seen, regs);
        var clean = Scratch(ref t_clean, regs);
        FindLabelKills(code, regs, kills, seen);
        // clean[r]: from here on, r is written before anything reads it or could leave
        int removed = 0;
        for (int k = code.Length - 1; k >= 0; k--)
        {
            ref var i = ref code[k];
            switch (i.Op)
            {
                case IrOp.SetReg:
                    if (clean[(int)i.Imm])
                    {
                        i = IrInst.Nop;
                        removed++;
                    }
                    else
                        clean[(int)i.Imm] = true;
                    break;
                case IrOp.GetReg:
                    clean[(int)i.Imm] = false;
                    break;
                case IrOp.Label or IrOp.Jump:
                    Array.Copy(kills, (int)i.Imm * regs, clean, 0, regs);
                    break;
                case IrOp.Branch:
                    for (int r = 0; r < regs; r++)
                        clean[r] &= kills[(int)i.Imm * regs + r];
                    break;
                default:
                    if (!Transparent(in i))
                        Array.Clear(clean, 0, regs);
                    break;
            }
        }
        return removed;
    }

    /// <summary>
    /// Sets <paramref name="kills"/>[label * <paramref name="regs"/> + r] (cleared by the caller) where the block the label
    /// starts writes guest register r before it reads r or could leave; <paramref name="seen"/>: scratch of
    /// <paramref name="regs"/> or more. (The x86-64 backend drops writes it deferred at a branch by the same rule.)
    /// </summary>
    public static void FindLabelKills(ReadOnlySpan<IrInst> code, int regs, bool[] kills, bool[] seen)
    {
        for (int k = 0; k < code.Length; k++)
        {
            if (code[k].Op != IrOp.Label)
                continue;
            int at = (int)code[k].Imm * regs;
            Array.Clear(seen, 0, regs);
            for (int j = k + 1; j < code.Length; j++)
            {
                ref readonly var i = ref code[j];
                if (i.Op == IrOp.SetReg)
                {
                    if (!seen[(int)i.Imm])
                        kills[at + (int)i.Imm] = true;
                    seen[(int)i.Imm] = true;
                }
                else if (i.Op == IrOp.GetReg)
                    seen[(int)i.Imm] = true;
                else if (!Transparent(in i))
                    break;   // a label, jump, branch, exit, memory access, helper or exiting division
            }
        }
    }

    /// <summary>A cleared array of at least <paramref name="n"/> elements, kept in <paramref name="slot"/>.</summary>
    private static bool[] Scratch(ref bool[]? slot, int n)
    {
        var a = ScratchArray.Ensure(ref slot!, n);
        Array.Clear(a, 0, n);
        return a;
    }

    /// <summary>Neither reads nor leaves with the register file: pure ops (total divisions too), retire counts, nops.</summary>
    private static bool Transparent(in IrInst i) => i.IsPure || i.Op is IrOp.Retire or IrOp.Nop;
}
