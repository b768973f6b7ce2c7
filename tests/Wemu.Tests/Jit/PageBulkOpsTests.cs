using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Attacks <see cref="IrOp.PageCopy"/> and <see cref="IrOp.PageFill"/> (x86's REP MOVS/STOS in
/// compiled code) on the IL, x86-64 and WebAssembly backends against a model written here: one RAM
/// page mapped (writable or read-only), every element size, offsets at both ends of the page
/// (elements that would cross it), counts of 0, 1, many and more than the page holds, sources and
/// destinations outside the mapped page (TLB misses), forward overlaps that would repeat a pattern
/// and backward ones that may not, and fill patterns of zeros, equal bytes and mixed bytes. An
/// operation may only write whole elements inside the mapped page, and only when that page is
/// writable; its result says how many it did, and nothing else may change.
/// </summary>
public sealed class PageBulkOpsTests
{
    private const ulong Pc = 0x3000, Page = BackendRunner.PageVa;

    private readonly record struct Op(bool Copy, int Size, ulong Dst, ulong Src, ulong Count, ulong Value, bool Writable)
    {
        public override string ToString() =>
            $"{(Copy ? $"copy from 0x{Src:x}" : $"fill with 0x{Value:x}")} to 0x{Dst:x}, {Count} x {Size} bytes, page {(Writable ? "writable" : "read-only")}";
    }

    private static byte Pattern(int i) => (byte)(i * 13 + 5);

    /// <summary>The model: elements done, and the page after.</summary>
    private static (ulong Done, byte[] Page) Model(Op o)
    {
        var page = new byte[4096];
        for (int i = 0; i < 4096; i++)
            page[i] = Pattern(i);
        bool Mapped(ulong va) => va >= Page && va < Page + 4096;
        if (!o.Writable || !Mapped(o.Dst) || (o.Copy && !Mapped(o.Src)))
            return (0, page);
        ulong room = (Page + 4096 - o.Dst) / (ulong)o.Size;
        if (o.Copy)
            room = Math.Min(room, (Page + 4096 - o.Src) / (ulong)o.Size);
        ulong k = Math.Min(room, o.Count);
        ulong bytes = k * (ulong)o.Size;
        if (o.Copy && o.Dst > o.Src && o.Dst < o.Src + bytes)
            return (0, page);
        int d = (int)(o.Dst - Page);
        if (o.Copy)
        {
            var source = (byte[])page.Clone();
            Array.Copy(source, (int)(o.Src - Page), page, d, (int)bytes);
        }
        else
        {
            for (ulong e = 0; e < k; e++)
                for (int b = 0; b < o.Size; b++)
                    page[d + (int)e * o.Size + b] = (byte)(o.Value >> (8 * b));
        }
        return (k, page);
    }

    private static IEnumerable<Op> Ops()
    {
        ulong[] offsets = [0, 1, 3, 8, 0x7F8, 0xFF0, 0xFF7, 0xFF8, 0xFF9, 0xFFC, 0xFFF];
        ulong[] counts = [0, 1, 2, 7, 512, 4096, ulong.MaxValue];
        ulong[] values = [0, 0x4141_4141_4141_4141, 0x8877_6655_4433_2211];
        foreach (bool writable in new[] { true, false })
            foreach (int size in new[] { 1, 2, 4, 8 })
                foreach (ulong count in counts)
                {
                    foreach (ulong d in offsets)
                    {
                        foreach (ulong v in values)
                            yield return new Op(false, size, Page + d, 0, count, v, writable);
                        foreach (ulong s in new ulong[] { 0, 5, 0x800, 0xFFF })
                            if (s != d)
                                yield return new Op(true, size, Page + d, Page + s, count, 0, writable);
                    }
                    // forward overlap (dst just after src), backward overlap, and the pages on either side (TLB misses)
                    yield return new Op(true, size, Page + 0x108, Page + 0x100, count, 0, writable);
                    yield return new Op(true, size, Page + 0x100, Page + 0x108, count, 0, writable);
                    yield return new Op(true, size, Page + 0x100, Page + 0x100, count, 0, writable);
                    yield return new Op(true, size, Page - 8, Page, count, 0, writable);
                    yield return new Op(true, size, Page + 0x10, Page + 4096, count, 0, writable);
                    yield return new Op(true, size, Page + 0x10, Page - 0x1000, count, 0, writable);
                    yield return new Op(false, size, Page + 4096, 0, count, 0x11, writable);
                    yield return new Op(false, size, Page - 1, 0, count, 0x11, writable);
                }
    }

    [Fact]
    public void Page_Copy_And_Fill_Do_What_The_Model_Says_On_Every_Backend()
    {
        var ops = Ops().ToList();
        var cases = new List<BackendRunner.Case>();
        foreach (var o in ops)
        {
            var f = new IrFunction(Pc, 64);
            int dst = f.GetReg(1), b = f.GetReg(2), count = f.GetReg(3);
            f.SetReg(4, o.Copy ? f.PageCopy(dst, b, count, o.Size) : f.PageFill(dst, b, count, o.Size));
            f.Retire(1);
            f.Exit(CodeExit.Stop, Pc + 4, 0);
            IrPipeline.Run(f);
            var regs = new ulong[64];
            regs[1] = o.Dst;
            regs[2] = o.Copy ? o.Src : o.Value;
            regs[3] = o.Count;
            regs[4] = 0xDEAD;
            var page = new byte[4096];
            for (int i = 0; i < 4096; i++)
                page[i] = Pattern(i);
            cases.Add(new BackendRunner.Case(f, regs, page, o.Writable));
        }
        var outcomes = BackendRunner.Run(cases);
        int fast = 0;
        for (int c = 0; c < ops.Count; c++)
        {
            var (done, want) = Model(ops[c]);
            if (done > 0)
                fast++;
            foreach (var r in outcomes[c])
            {
                Assert.True(r.Kind == CodeExit.Stop && r.Pc == Pc + 4 && r.Count == 1, $"{r.Backend}, {ops[c]}: left with {r.Kind} at 0x{r.Pc:x}");
                Assert.True(r.Registers[4] == done, $"{r.Backend}, {ops[c]}: did {r.Registers[4]} elements, the model {done}");
                Assert.True(r.Registers[1] == ops[c].Dst && r.Registers[3] == ops[c].Count, $"{r.Backend}, {ops[c]}: an operand register changed");
                for (int i = 0; i < 4096; i++)
                    Assert.True(r.Page[i] == want[i], $"{r.Backend}, {ops[c]}: byte 0x{i:x} is 0x{r.Page[i]:x2}, the model's 0x{want[i]:x2}");
            }
            Assert.True(outcomes[c].Length == (Wemu.Jit.X64.X64CodeArena.Supported ? 3 : 2), "a backend did not run");
        }
        Assert.True(fast > ops.Count / 4, $"only {fast} of {ops.Count} operations did anything");
    }
}
