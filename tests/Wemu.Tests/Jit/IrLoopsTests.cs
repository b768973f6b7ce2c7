using Wemu.Jit;
using Wemu.Jit.Ir;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// <see cref="IrLoops"/> (the x86-64 backend weighs guest-register references inside loops more): the loop depth of
/// each instruction in a region laid out as the translators lay them out, with the budget checks of back edges
/// out of line after the blocks.
/// </summary>
public sealed class IrLoopsTests
{
    [Fact]
    public void Nested_Loops_And_Out_Of_Line_Back_Edges_Get_Their_Depths()
    {
        var f = new IrFunction(0x1000, 8);
        int outer = f.NewLabel(), inner = f.NewLabel(), innerBack = f.NewLabel(), after = f.NewLabel(), outerBack = f.NewLabel();
        var marks = new Dictionary<string, int>();
        void Mark(string name) => marks[name] = f.Count;

        Mark("entry");
        int zero = f.Const(IrType.I64, 0);
        f.Jump(outer);
        f.Label(outer);
        Mark("outer");
        int x = f.GetReg(1);
        f.Label(inner);
        Mark("inner");
        int y = f.GetReg(2);
        f.Branch(IrCondition.Ne, y, zero, innerBack);   // the inner loop's back edge, through a budget stub
        Mark("between");
        f.SetReg(3, x);
        f.Branch(IrCondition.Ne, x, zero, outerBack);   // the outer loop's
        f.Jump(after);
        f.Label(after);
        Mark("after");
        f.Exit(CodeExit.Chain, 0x2000, 0);
        f.Label(innerBack);
        Mark("innerStub");
        f.ExitIfBudget(0x1008);
        f.Jump(inner);
        f.Label(outerBack);
        Mark("outerStub");
        f.ExitIfBudget(0x1004);
        f.Jump(outer);

        var depth = new int[f.Count];
        new IrLoops().Depths(f.Code, f.LabelCount, depth);
        Assert.Equal(0, depth[marks["entry"]]);
        Assert.Equal(1, depth[marks["outer"]]);
        Assert.Equal(2, depth[marks["inner"]]);
        Assert.Equal(2, depth[marks["innerStub"]]);
        Assert.Equal(1, depth[marks["between"]]);
        Assert.Equal(1, depth[marks["outerStub"]]);
        Assert.Equal(0, depth[marks["after"]]);
    }

    [Fact]
    public void A_Function_Without_Back_Edges_Has_No_Loops()
    {
        var f = new IrFunction(0x1000, 8);
        int skip = f.NewLabel();
        int a = f.GetReg(1), b = f.Const(IrType.I64, 3);
        f.Branch(IrCondition.LtU, a, b, skip);
        f.SetReg(2, a);
        f.Label(skip);
        f.Exit(CodeExit.Chain, 0x2000, 0);
        var depth = Enumerable.Repeat(-1, f.Count).ToArray();
        new IrLoops().Depths(f.Code, f.LabelCount, depth);
        Assert.All(depth, d => Assert.Equal(0, d));
    }
}
