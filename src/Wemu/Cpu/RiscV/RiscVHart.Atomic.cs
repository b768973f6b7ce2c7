namespace Wemu.Cpu.RiscV;

public sealed unsafe partial class RiscVHart
{
    /// <summary>
    /// LR/SC and AMOs (Unpriv. chapter 8). Addresses must be naturally aligned (misaligned AMOs
    /// raise store/AMO address-misaligned, misaligned LR raises load address-misaligned).
    /// A single hart executes atomically by construction.
    /// </summary>
    internal bool ExecAtomic(uint inst, RvOp op)
    {
        int rd = (int)((inst >> 7) & 31);
        ulong va = X[(inst >> 15) & 31];
        ulong src = X[(inst >> 20) & 31];
        bool word = op <= RvOp.AmomaxuW;
        int size = word ? 4 : 8;

        if (op is RvOp.LrW or RvOp.LrD)
        {
            if ((va & (ulong)(size - 1)) != 0)
                return Fault(RvException.LoadMisaligned, va);
            if (!LoadSlow(va, size, out ulong v))
                return false;
            ReservationAddress = va;
            X[rd] = word ? (ulong)(long)(int)v : v;
            X[0] = 0;
            return true;
        }
        if (op is RvOp.ScW or RvOp.ScD)
        {
            if ((va & (ulong)(size - 1)) != 0)
                return Fault(RvException.StoreMisaligned, va);
            bool ok = ReservationAddress == va;
            ReservationAddress = ulong.MaxValue;
            if (ok && !StoreSlow(va, size, src))
                return false;
            X[rd] = ok ? 0UL : 1UL;
            X[0] = 0;
            return true;
        }

        if (!TranslateForAmo(va, size, out byte* p, out _))
            return false;
        ulong old = word ? (ulong)(long)*(int*)p : *(ulong*)p;
        ulong result;
        if (word)
        {
            int a = (int)old, b = (int)src;
            result = (uint)(op switch
            {
                RvOp.AmoswapW => b,
                RvOp.AmoaddW => a + b,
                RvOp.AmoxorW => a ^ b,
                RvOp.AmoandW => a & b,
                RvOp.AmoorW => a | b,
                RvOp.AmominW => Math.Min(a, b),
                RvOp.AmomaxW => Math.Max(a, b),
                RvOp.AmominuW => (int)Math.Min((uint)a, (uint)b),
                _ => (int)Math.Max((uint)a, (uint)b),
            });
            *(uint*)p = (uint)result;
        }
        else
        {
            result = op switch
            {
                RvOp.AmoswapD => src,
                RvOp.AmoaddD => old + src,
                RvOp.AmoxorD => old ^ src,
                RvOp.AmoandD => old & src,
                RvOp.AmoorD => old | src,
                RvOp.AmominD => (ulong)Math.Min((long)old, (long)src),
                RvOp.AmomaxD => (ulong)Math.Max((long)old, (long)src),
                RvOp.AmominuD => Math.Min(old, src),
                _ => Math.Max(old, src),
            };
            *(ulong*)p = result;
        }
        X[rd] = old;
        X[0] = 0;
        return true;
    }
}
