using Wemu.Jit.Ir;

namespace Wemu.Jit.Passes;

/// <summary>The optimisation passes every function goes through before a backend sees it.</summary>
public static class IrPipeline
{
    public static void Run(IrFunction f)
    {
        ConstantFolding.Run(f);
        DemandedBits.Run(f);
        DeadRegisterWrites.Run(f);
        DeadCodeElimination.Run(f);
        f.Compact();
    }
}
