using Wemu.Cpu.RiscV;
using Wemu.Memory;
using Xunit;

namespace Wemu.Tests.Cpu.RiscV;

/// <summary>
/// The hart's soft TLB keeps a list of the entries it filled, so a full flush and <see cref="RiscVHart.ProtectCodePage"/>
/// visit those instead of all of them: checked here against a scan of every entry, with entries filled in every MMU
/// context, indices shared by several pages, entries dropped by sfence.vma of one page and filled again, and flushes
/// in a row.
/// </summary>
public unsafe class RiscVTlbTests
{
    private const ulong RamBase = 0x8000_0000, RamSize = 4 << 20;
    private const int Entries = RiscVHart.MmuContexts * RiscVHart.TlbSize;

    private sealed class Machine : IDisposable
    {
        public readonly PhysicalBus Bus = new();
        public readonly RiscVHart Hart;

        public Machine()
        {
            Bus.AddRam(RamBase, RamSize);
            Hart = new RiscVHart(Bus);
            Hart.Reset(RamBase);
            // Sv39: the root table at RamBase maps gigapage 2 (0x80000000) to itself for S (RWX, A, D) and gigapage 1
            // (0x40000000) to the same RAM for U (RWX, A, D, U)
            const ulong v = 1, r = 2, w = 4, x = 8, u = 16, a = 64, d = 128;
            ulong leaf = ((RamBase >> 12) << 10) | v | r | w | x | a | d;
            Bus.Load(RamBase + 2 * 8, BitConverter.GetBytes(leaf));
            Bus.Load(RamBase + 1 * 8, BitConverter.GetBytes(leaf | u));
            Assert.True(Hart.TryWriteCsr(Csr.Satp, (8UL << 60) | (RamBase >> 12)));
        }

        public void Dispose()
        {
            Hart.Dispose();
        }
    }

    /// <summary>Fills entries in all four contexts (RAM's pages, some sharing a TLB index); returns the last one's physical page.</summary>
    private static ulong Fill(RiscVHart hart, Random rng, int count)
    {
        ulong last = 0;
        for (int i = 0; i < count; i++)
        {
            ulong page = RamBase + (ulong)rng.Next((int)(RamSize >> 12)) * 4096;
            ulong offset = (ulong)rng.Next(4096);
            int context = rng.Next(RiscVHart.MmuContexts);
            ulong va = context == RiscVHart.MmuUser ? page - RamBase + 0x4000_0000 : page;
            var access = (RiscVHart.Access)rng.Next(3);
            Assert.True(hart.Translate(va + offset, access, context, out ulong pa), $"context {context} va {va:x}");
            Assert.Equal(page + offset, pa);
            last = page;
        }
        return last;
    }

    private static int Valid(TlbEntry* t)
    {
        int n = 0;
        for (int i = 0; i < Entries; i++)
            n += t[i].TagRead != TlbEntry.Invalid || t[i].TagWrite != TlbEntry.Invalid || t[i].TagExec != TlbEntry.Invalid ? 1 : 0;
        return n;
    }

    [Fact]
    public void A_Full_Flush_Drops_Every_Entry_Filled_In_Any_Context()
    {
        using var m = new Machine();
        var rng = new Random(5);
        TlbEntry* t = m.Hart.Tlb;
        Assert.Equal(0, Valid(t));   // a new hart's block held garbage: every entry starts invalid
        for (int round = 0; round < 4; round++)
        {
            Fill(m.Hart, rng, 3000);
            // sfence.vma of some pages, some of them filled again
            for (int i = 0; i < 50; i++)
                m.Hart.FlushTlbPage(RamBase + (ulong)rng.Next((int)(RamSize >> 12)) * 4096);
            Fill(m.Hart, rng, 200);
            Assert.True(Valid(t) > 1000, "the fills should have left many valid entries");
            m.Hart.FlushTlb();
            Assert.Equal(0, Valid(t));
        }
    }

    [Fact]
    public void Protect_Code_Page_Marks_What_A_Scan_Of_Every_Entry_Marks()
    {
        using var m = new Machine();
        var rng = new Random(9);
        TlbEntry* t = m.Hart.Tlb;
        var copy = new TlbEntry[Entries];
        int totalMarked = 0;
        for (int round = 0; round < 20; round++)
        {
            if (round % 5 == 0)
                m.Hart.FlushTlb();
            // (the page of the last fill: the newest entry in the list maps it)
            ulong page = Fill(m.Hart, rng, 400);
            new Span<TlbEntry>(t, Entries).CopyTo(copy);
            fixed (TlbEntry* c = copy)
                TlbEntry.ProtectCodePage(c, Entries, page);
            m.Hart.ProtectCodePage(page);
            int marked = 0;
            for (int i = 0; i < Entries; i++)
            {
                Assert.True(copy[i].TagWrite == t[i].TagWrite, $"round {round} entry {i}: 0x{t[i].TagWrite:x}, a scan gives 0x{copy[i].TagWrite:x}");
                marked += (t[i].TagWrite & TlbEntry.CodeFlag) != 0 && t[i].PhysPage == page ? 1 : 0;
            }
            totalMarked += marked;
        }
        Assert.True(totalMarked > 20, $"only {totalMarked} entries were marked: the test should cover pages that are mapped");
    }
}
