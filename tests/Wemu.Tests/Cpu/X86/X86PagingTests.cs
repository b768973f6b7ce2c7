using Iced.Intel;
using Wemu.Cpu.X86;
using Wemu.Memory;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Wemu.Tests.Cpu.X86;

/// <summary>
/// Long-mode paging and the soft TLB against the SDM (vol. 3, 4.5-4.10): accessed and dirty bits,
/// page-fault error codes (P, W/R, U/S, RSVD, I/D) and CR2, CR0.WP, NX, global pages across CR3
/// writes, INVLPG, 2 MiB pages; and the TLB's fast path attacked with MMIO pages at every size,
/// misaligned and page-crossing, which must reach the device and never host memory.
/// </summary>
public sealed unsafe class X86PagingTests : IDisposable
{
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Pt = 0x4000, Gdt = 0x6000;
    private const ulong CodeVa = 0x40_0000, DataVa = 0x40_1000, MmioVa = 0x40_3000;
    private const ulong CodePa = 0x10_0000, DataPa = 0x20_0000;
    private const ulong MmioPa = 0xC000_0000;
    private const ulong P = 1, Rw = 2, Us = 4, A = 0x20, D = 0x40, Ps = 0x80, G = 0x100, Nx = 1UL << 63;
    private const ulong KernelCode = 0x00AF_9B00_0000_FFFF, KernelData = 0x00CF_9300_0000_FFFF;
    private const ulong UserCode = 0x00AF_FB00_0000_FFFF, UserData = 0x00CF_F300_0000_FFFF;

    private readonly PhysicalBus _bus = new();
    private readonly GuestRam _ram;
    private readonly RecordingDevice _mmio = new();
    private readonly X86Cpu _cpu;

    public X86PagingTests()
    {
        _ram = _bus.AddRam(0, 16 << 20);
        _bus.Map(MmioPa, 0x2000, _mmio);
        _cpu = new X86Cpu(_bus);
        W(Pml4, Pdpt | P | Rw | Us);
        W(Pdpt, Pd | P | Rw | Us);
        W(Pd + 0 * 8, 0 | P | Rw | Ps);  // 0-2 MiB identity (the page tables themselves), supervisor only
        W(Pd + 2 * 8, Pt | P | Rw | Us); // 0x400000-0x5fffff
        W(Pt + 0 * 8, CodePa | P | Rw | Us);
        W(Pt + 1 * 8, DataPa | P | Rw | Us);
        W(Pt + 2 * 8, (DataPa + 0x1000) | P | Rw | Us);
        W(Pt + 3 * 8, MmioPa | P | Rw | Us);
        W(Pt + 4 * 8, (MmioPa + 0x1000) | P | Rw | Us);
        W(Gdt + 0x10, KernelCode);
        W(Gdt + 0x18, KernelData);
        W(Gdt + 0x28, UserData);
        W(Gdt + 0x30, UserCode);
    }

    public void Dispose()
    {
        _cpu.Dispose();
        _ram.Dispose();
    }

    private void W(ulong pa, ulong v) => *(ulong*)(_ram.Pointer + pa) = v;

    private ulong R(ulong pa) => *(ulong*)(_ram.Pointer + pa);

    /// <summary>Assembles <paramref name="build"/>'s code at CodeVa into CodePa; the CPU keeps no decoded block of earlier code there (it was written behind its back).</summary>
    private byte[] Place(Action<Assembler> build)
    {
        var asm = new Assembler(64);
        build(asm);
        using var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), CodeVa);
        byte[] code = stream.ToArray();
        code.CopyTo(new Span<byte>(_ram.Pointer + CodePa, code.Length));
        _cpu.ClearBlocks();
        return code;
    }

    /// <summary>Runs <paramref name="build"/>'s code at CodeVa (CPL 0 or 3) until it passes its end or faults; returns the fault vector or -1.</summary>
    private int Run(Action<Assembler> build, bool user = false, ulong cr0Extra = 0)
    {
        byte[] code = Place(build);
        _cpu.Reset();
        _cpu.Efer |= X86Cpu.EferNxe;
        _cpu.Cr4 |= X86Cpu.Cr4Pge;
        if (user)
            _cpu.EnterLongMode(CodeVa, Pml4, Gdt, 0x3F, 0x33, UserCode, 0x2B, UserData);
        else
            _cpu.EnterLongMode(CodeVa, Pml4, Gdt, 0x3F, 0x10, KernelCode, 0x18, KernelData);
        _cpu.Cr0 = (_cpu.Cr0 & ~X86Cpu.Cr0Wp) | cr0Extra;
        _cpu.LastException = (-1, 0);
        ulong end = CodeVa + (ulong)code.Length;
        for (int i = 0; i < 1000 && _cpu.ProgramCounter != end; i++)
        {
            _cpu.Run(1);
            if (_cpu.LastException.Vector >= 0)
                return _cpu.LastException.Vector;
        }
        return -1;
    }

    /// <summary>
    /// A data page whose TLB index is the code page's (the index wraps every TlbSize pages) keeps its
    /// translation when the code page is translated for a fetch, as the dispatcher does after every
    /// exit from compiled code: fetches have their own array. (With one array the two evicted each
    /// other, and every store to such a page left compiled code for the slow path.)
    /// </summary>
    [Fact]
    public void A_Fetch_Does_Not_Evict_A_Colliding_Data_Page()
    {
        const ulong CollidingVa = CodeVa + ((ulong)X86Cpu.TlbSize << 12), ExtraPt = 0x7000;
        W(Pd + (CollidingVa >> 21) * 8, ExtraPt | P | Rw | Us);
        W(ExtraPt + ((CollidingVa >> 12) & 511) * 8, (DataPa + 0x2000) | P | Rw | Us);
        Assert.Equal(-1, Run(a => a.mov(__qword_ptr[CollidingVa], rax)));
        int index = (int)((CodeVa >> 12) & X86Cpu.TlbMask);
        Assert.True(index == (int)((CollidingVa >> 12) & X86Cpu.TlbMask), "the code page and the data page share a TLB index");
        Assert.True(_cpu.TryTranslateFetch(CodeVa, out _, out ulong codePhys));
        Assert.Equal(CodePa, codePhys);
        Assert.Equal(CollidingVa, _cpu.DataTlb[index].TagWrite & ~TlbEntry.FlagBits);
        Assert.Equal(CollidingVa, _cpu.DataTlb[index].TagRead & ~TlbEntry.FlagBits);
    }

    [Fact]
    public void A_Read_Sets_Accessed_Bits_And_A_Write_Sets_Dirty_On_The_Leaf_Only()
    {
        Assert.Equal(-1, Run(a => a.mov(rax, __qword_ptr[DataVa])));
        Assert.NotEqual(0UL, R(Pml4) & A);
        Assert.NotEqual(0UL, R(Pt + 8) & A);
        Assert.Equal(0UL, R(Pt + 8) & D);
        Assert.Equal(-1, Run(a => a.mov(__qword_ptr[DataVa + 8], rax)));
        Assert.NotEqual(0UL, R(Pt + 8) & D);
        Assert.Equal(0UL, R(Pd + 2 * 8) & D); // D is set in the leaf entry only
    }

    [Fact]
    public void Page_Fault_Error_Codes_And_Cr2_Follow_The_Sdm()
    {
        W(Pt + 1 * 8, 0); // not present
        Assert.Equal(14, Run(a => a.mov(rax, __qword_ptr[DataVa + 0x10])));
        Assert.Equal((14, 0u), _cpu.LastException);
        Assert.Equal(DataVa + 0x10, _cpu.ControlRegister2);

        Assert.Equal(14, Run(a => a.mov(__dword_ptr[DataVa + 0x20], eax), user: true));
        Assert.Equal(6u, _cpu.LastException.ErrorCode); // write | user, not present

        W(Pt + 1 * 8, DataPa | P | Us); // read-only
        Assert.Equal(14, Run(a => a.mov(__byte_ptr[DataVa], al), user: true));
        Assert.Equal(7u, _cpu.LastException.ErrorCode); // protection | write | user

        W(Pt + 1 * 8, DataPa | P | Rw); // supervisor-only
        Assert.Equal(14, Run(a => a.mov(eax, __dword_ptr[DataVa]), user: true));
        Assert.Equal(5u, _cpu.LastException.ErrorCode); // protection | user

        W(Pt + 1 * 8, DataPa | P | Rw | Us | (1UL << 45)); // a reserved address bit (MAXPHYADDR 40)
        Assert.Equal(14, Run(a => a.mov(eax, __dword_ptr[DataVa])));
        Assert.Equal(9u, _cpu.LastException.ErrorCode); // protection | reserved
    }

    [Fact]
    public void Cr0_Wp_Decides_Whether_The_Kernel_May_Write_A_Read_Only_Page()
    {
        W(Pt + 1 * 8, DataPa | P | Us);
        Assert.Equal(-1, Run(a => a.mov(__qword_ptr[DataVa], rax)));
        Assert.Equal(14, Run(a => a.mov(__qword_ptr[DataVa], rax), cr0Extra: X86Cpu.Cr0Wp));
        Assert.Equal(3u, _cpu.LastException.ErrorCode);
    }

    [Fact]
    public void Fetching_From_A_No_Execute_Page_Faults_With_The_Instruction_Bit()
    {
        W(Pt + 1 * 8, DataPa | P | Rw | Us | Nx);
        *(_ram.Pointer + DataPa) = 0x90; // nop
        Assert.Equal(14, Run(a => { a.mov(rax, DataVa); a.jmp(rax); }));
        Assert.Equal(0x11u, _cpu.LastException.ErrorCode); // protection | instruction fetch
        Assert.Equal(DataVa, _cpu.ControlRegister2);
    }

    /// <summary>
    /// What engines cached for code on a global page survives CR3 writes (the global TLB generation stays) and nothing
    /// else does; an INVLPG of that page, or a CR3 write without CR4.PGE, retires it too. An INVLPG of a non-global code
    /// page retires the non-global code alone.
    /// </summary>
    [Fact]
    public void Code_On_Global_Pages_Keeps_Its_Generation_Across_Cr3_Writes_Only()
    {
        W(Pt + 0 * 8, CodePa | P | Rw | G);
        Assert.Equal(-1, Run(a => a.nop()));
        Assert.True(_cpu.TryTranslateFetch(CodeVa, out _, out ulong phys));
        Assert.Equal(CodePa, phys);
        Assert.True(_cpu.IsGlobalFetch(CodeVa, CodePa + 0x10));
        Assert.False(_cpu.IsGlobalFetch(CodeVa, DataPa), "a global fetch translation to another page");
        Assert.True(_cpu.TryTranslateFetch(DataVa, out _, out _));
        Assert.False(_cpu.IsGlobalFetch(DataVa, DataPa), "a non-global page");
        _cpu.NoteCachedCodePage(CodeVa, global: true);
        _cpu.NoteCachedCodePage(DataVa);

        (ulong Local, ulong Global) Generations() => (_cpu.TlbGeneration, _cpu.GlobalTlbGeneration);
        var g0 = Generations();
        _cpu.FlushTlb(global: false);   // a CR3 write with CR4.PGE
        var g1 = Generations();
        Assert.True(g1.Local > g0.Local);
        Assert.Equal(g0.Global, g1.Global);
        Assert.True(_cpu.IsGlobalFetch(CodeVa, CodePa), "the CR3 write dropped the global translation");

        _cpu.NoteCachedCodePage(DataVa);
        _cpu.FlushTlbPage(DataVa);   // INVLPG of the non-global code page
        var g2 = Generations();
        Assert.True(g2.Local > g1.Local);
        Assert.Equal(g1.Global, g2.Global);

        _cpu.FlushTlbPage(CodeVa);   // INVLPG of the global code page
        var g3 = Generations();
        Assert.True(g3.Local > g2.Local && g3.Global > g2.Global, "INVLPG of a cached global code page kept its generation");
        Assert.False(_cpu.IsGlobalFetch(CodeVa, CodePa));

        Assert.True(_cpu.TryTranslateFetch(CodeVa, out _, out _));
        _cpu.NoteCachedCodePage(CodeVa, global: true);
        _cpu.Cr4 &= ~X86Cpu.Cr4Pge;
        Assert.False(_cpu.IsGlobalFetch(CodeVa, CodePa), "global without CR4.PGE");
        _cpu.FlushTlb(global: false);   // a CR3 write without CR4.PGE drops everything
        var g4 = Generations();
        Assert.True(g4.Local > g3.Local && g4.Global > g3.Global);
    }

    /// <summary>Runs <paramref name="build"/>'s code at CodeVa at CPL 0 one instruction at a time: the TLB generation after each (-1 for a fault).</summary>
    private List<ulong> Generations(Action<Assembler> build)
    {
        Assert.Equal(-1, Run(a => a.nop()));   // (sets up the CPU)
        byte[] code = Place(build);
        _cpu.UseBlockCache = false;   // one instruction a step
        _cpu.ProgramCounter = CodeVa;
        var seen = new List<ulong>();
        for (ulong end = CodeVa + (ulong)code.Length; _cpu.ProgramCounter != end && seen.Count < 100;)
        {
            _cpu.Run(1);
            seen.Add(_cpu.LastException.Vector >= 0 ? ulong.MaxValue : _cpu.TlbGeneration);
            if (_cpu.LastException.Vector >= 0)
                break;
        }
        return seen;
    }

    /// <summary>
    /// PCIDs (SDM 4.10.1, MOV CR3 with CR4.PCIDE): a CR3 write with bit 63 keeps the entered PCID's translations, so its
    /// TLB generation (and what engines cached for its code) comes back; without bit 63 it starts afresh. A PCID left
    /// keeps its translations through other PCIDs' flushes (INVLPG, CR3 writes); a full flush (CR4.PGE toggled)
    /// forgets them all. Bit 63 is not stored.
    /// </summary>
    [Fact]
    public void A_Cr3_Write_That_Keeps_A_Pcid_Brings_Back_Its_Generation()
    {
        const ulong Keep = 1UL << 63;
        var g = Generations(a =>
        {
            a.mov(rax, cr4); a.or(eax, (int)X86Cpu.Cr4Pcide); a.mov(cr4, rax);   // [0..2] PCIDE (CR3's PCID is 0)
            a.mov(rax, Pml4 | 1); a.mov(cr3, rax);                                 // [3,4] PCID 1, afresh
            a.mov(rax, Pml4 | 2 | Keep); a.mov(cr3, rax);                          // [5,6] PCID 2: never seen, afresh
            a.mov(rax, Pml4 | 1 | Keep); a.mov(cr3, rax);                          // [7,8] back to PCID 1, kept
            a.mov(rbx, cr3);                                                        // [9]   bit 63 not stored
            a.mov(rax, Pml4 | 2); a.mov(cr3, rax);                                 // [10,11] PCID 2 afresh
            a.invlpg(__[DataVa]);                                                     // [12] INVLPG in PCID 2
            a.mov(rax, Pml4 | 1 | Keep); a.mov(cr3, rax);                          // [13,14] PCID 1 kept through it
            a.mov(rax, cr4); a.xor(eax, (int)X86Cpu.Cr4Pge); a.mov(cr4, rax);    // [15..17] full flush
            a.xor(eax, (int)X86Cpu.Cr4Pge); a.mov(cr4, rax);                        // [18,19]
            a.mov(rax, Pml4 | 2 | Keep); a.mov(cr3, rax);                          // [20,21] PCID 2: forgotten
            a.mov(rax, Pml4 | 1 | Keep); a.mov(cr3, rax);                          // [22,23] PCID 1: forgotten
        });
        Assert.Equal(24, g.Count);
        Assert.DoesNotContain(ulong.MaxValue, g);
        ulong pcid0 = g[2], pcid1 = g[4], pcid2 = g[6];
        Assert.True(pcid1 != pcid0 && pcid2 != pcid1 && pcid2 != pcid0);
        Assert.Equal(pcid1, g[8]);
        Assert.Equal(Pml4 | 1, _cpu.GetRegister(3));
        Assert.True(g[11] != pcid2 && g[11] != pcid1, "a CR3 write without bit 63 kept PCID 2's translations");
        Assert.Equal(pcid1, g[14]);
        Assert.True(g[21] != g[11] && g[23] != pcid1 && g[21] != g[23], "a full flush left kept translations");
    }

    [Fact]
    public void Pcide_Is_Set_Only_In_Long_Mode_With_Pcid_0()
    {
        Assert.Equal(13, Run(a => { a.mov(rax, Pml4 | 5); a.mov(cr3, rax); a.mov(rax, cr4); a.or(eax, (int)X86Cpu.Cr4Pcide); a.mov(cr4, rax); }));
        Assert.Equal(0UL, _cpu.Cr4 & X86Cpu.Cr4Pcide);
        // without PCIDE, bit 63 of CR3 is reserved
        Assert.Equal(13, Run(a => { a.mov(rax, Pml4 | (1UL << 63)); a.mov(cr3, rax); }));
        Assert.Equal(-1, Run(a => { a.mov(rax, cr4); a.or(eax, (int)X86Cpu.Cr4Pcide); a.mov(cr4, rax); }));
    }

    /// <summary>
    /// INVLPG with 2 MiB pages cached (as Linux maps its own memory): an address outside every cached large page flushes
    /// that page alone (it once flushed everything: every INVLPG of a user page dropped all the kernel's translations
    /// and the chains of its compiled code), one inside such a page drops every 4 KiB granule of it, which the soft TLB
    /// holds apart.
    /// </summary>
    [Fact]
    public void Invlpg_Flushes_Everything_Only_For_An_Address_In_A_Cached_Large_Page()
    {
        const ulong LargeVa = 0x60_0000, OldPa = 0x40_0000, NewPa = 0x80_0000;
        W(Pd + 3 * 8, OldPa | P | Rw | Ps | G);
        W(OldPa + 0x1000, 0x0101);
        W(NewPa + 0x1000, 0x0202);
        Assert.Equal(-1, Run(a =>
        {
            a.mov(rax, __qword_ptr[LargeVa]); a.mov(rax, __qword_ptr[LargeVa + 0x1000]);   // two granules cached
            a.mov(rax, __qword_ptr[DataVa]);
        }));
        ulong global = _cpu.GlobalTlbGeneration;
        _cpu.NoteCachedCodePage(LargeVa, global: true);
        _cpu.FlushTlbPage(DataVa);   // a 4 KiB page elsewhere
        Assert.Equal(global, _cpu.GlobalTlbGeneration);
        // the guest remaps the large page and INVLPGs its first granule: the second reads the new page
        Assert.Equal(-1, Run(a =>
        {
            a.mov(rax, __qword_ptr[LargeVa + 0x1000]);
            a.mov(rbx, NewPa | P | Rw | Ps | G); a.mov(__qword_ptr[Pd + 3 * 8], rbx);
            a.invlpg(__[LargeVa]);
            a.mov(rcx, __qword_ptr[LargeVa + 0x1000]);
        }));
        Assert.Equal(0x0101UL, _cpu.GetRegister(0));
        Assert.Equal(0x0202UL, _cpu.GetRegister(1));
    }

    /// <summary>The filter of pages engines cached code for holds the two halves of the address space apart: hundreds of kernel code pages do not make a user page's INVLPG look like theirs.</summary>
    [Fact]
    public void Hundreds_Of_Kernel_Code_Pages_Do_Not_Make_A_User_Invlpg_Retire_Them()
    {
        Assert.Equal(-1, Run(a => a.nop()));
        for (ulong i = 0; i < 600; i++)
            _cpu.NoteCachedCodePage(0xFFFF_FFFF_8100_0000 + (i << 12), global: true);
        ulong local = _cpu.TlbGeneration, global = _cpu.GlobalTlbGeneration;
        for (ulong i = 0; i < 64; i++)
            _cpu.FlushTlbPage(0x7F00_0000_0000 + (i << 12));
        Assert.Equal((local, global), (_cpu.TlbGeneration, _cpu.GlobalTlbGeneration));
        _cpu.FlushTlbPage(0xFFFF_FFFF_8100_0000 + (7 << 12));
        Assert.True(_cpu.GlobalTlbGeneration > global, "an INVLPG of a cached kernel code page kept its generation");
    }

    /// <summary>
    /// A flush visits only the entries filled since the last one (as non-global or global): a TLB slot filled with a
    /// global page and then, for another page with the same index, with a non-global one must still go at the CR3 write,
    /// and after a full flush nothing of either may be left.
    /// </summary>
    [Fact]
    public void A_Slot_Refilled_As_Non_Global_Goes_At_The_Next_Cr3_Write()
    {
        const ulong AliasVa = DataVa + ((ulong)X86Cpu.TlbSize << 12), ExtraPt = 0x7000;
        W(Pd + (AliasVa >> 21) * 8, ExtraPt | P | Rw);
        W(ExtraPt + ((AliasVa >> 12) & 511) * 8, (DataPa + 0x2000) | P | Rw | G);
        W(DataPa, 0x1111);
        W(DataPa + 0x2000, 0x2222);
        W(DataPa + 0x3000, 0x3333);
        W(DataPa + 0x4000, 0x4444);
        Assert.Equal(-1, Run(a =>
        {
            a.mov(rax, __qword_ptr[AliasVa]);                  // the slot: global
            a.mov(rax, __qword_ptr[DataVa]);                   // the same slot: non-global
            a.mov(rbx, (DataPa + 0x3000) | P | Rw | Us); a.mov(__qword_ptr[Pt + 8], rbx);
            a.mov(rax, cr3); a.mov(cr3, rax);
            a.mov(r8, __qword_ptr[DataVa]);                    // the new page
            a.mov(r9, __qword_ptr[AliasVa]);                   // the slot: global again
            a.mov(rbx, (DataPa + 0x4000) | P | Rw | G); a.mov(__qword_ptr[ExtraPt + ((AliasVa >> 12) & 511) * 8], rbx);
            a.mov(rax, cr3); a.mov(cr3, rax);
            a.mov(r11, __qword_ptr[AliasVa]);                  // kept across the CR3 write: the old page yet
            a.mov(rax, cr4); a.xor(eax, (int)X86Cpu.Cr4Pge); a.mov(cr4, rax); a.xor(eax, (int)X86Cpu.Cr4Pge); a.mov(cr4, rax);
            a.mov(r10, __qword_ptr[AliasVa]);                  // after a full flush: the new page
        }));
        Assert.Equal(0x3333UL, _cpu.GetRegister(8));
        Assert.Equal(0x2222UL, _cpu.GetRegister(9));
        Assert.Equal(0x2222UL, _cpu.GetRegister(11));
        Assert.Equal(0x4444UL, _cpu.GetRegister(10));
    }

    [Fact]
    public void Global_Translations_Survive_A_Cr3_Write_And_Invlpg_Drops_Them()
    {
        W(Pt + 1 * 8, DataPa | P | Rw | G);
        *(ulong*)(_ram.Pointer + DataPa) = 0x1111;
        *(ulong*)(_ram.Pointer + DataPa + 0x1000) = 0x2222;
        // cache the global translation, retarget the PTE, reload CR3: the stale global entry still maps the old page
        Assert.Equal(-1, Run(a =>
        {
            a.mov(rax, __qword_ptr[DataVa]);
            a.mov(rbx, Pt + 8);
            a.mov(rcx, (DataPa + 0x1000) | P | Rw | G);
            a.mov(__qword_ptr[rbx], rcx);
            a.mov(rdx, cr3);
            a.mov(cr3, rdx);
            a.mov(rsi, __qword_ptr[DataVa]);
            a.invlpg(__byte_ptr[DataVa]);
            a.mov(rdi, __qword_ptr[DataVa]);
        }));
        Assert.Equal(0x1111UL, _cpu.GetRegister(X86Cpu.Rsi));
        Assert.Equal(0x2222UL, _cpu.GetRegister(X86Cpu.Rdi));
    }

    [Fact]
    public void Two_Mib_Pages_Map_Their_Whole_Range()
    {
        W(Pd + 3 * 8, 0x0060_0000 | P | Rw | Ps); // 0x600000 -> physical 0x600000, a 2 MiB page
        *(ulong*)(_ram.Pointer + 0x7F_F000) = 0x4242;
        Assert.Equal(-1, Run(a => a.mov(rax, __qword_ptr[0x7F_F000])));
        Assert.Equal(0x4242UL, _cpu.GetRegister(X86Cpu.Rax));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Mmio_Pages_Reach_The_Device_At_Every_Size_Aligned_Misaligned_And_Page_Crossing(int size)
    {
        foreach (ulong offset in new ulong[] { 0x10, 0x11, 0x13, 0xFFF - (ulong)size + 2, 0xFF8 })
        {
            _mmio.Log.Clear();
            ulong va = MmioVa + offset;
            Assert.Equal(-1, Run(a =>
            {
                a.mov(rbx, va);
                a.mov(rax, 0x1122334455667788);
                switch (size)
                {
                    case 1: a.mov(__byte_ptr[rbx], al); a.mov(cl, __byte_ptr[rbx]); break;
                    case 2: a.mov(__word_ptr[rbx], ax); a.mov(cx, __word_ptr[rbx]); break;
                    case 4: a.mov(__dword_ptr[rbx], eax); a.mov(ecx, __dword_ptr[rbx]); break;
                    default: a.mov(__qword_ptr[rbx], rax); a.mov(rcx, __qword_ptr[rbx]); break;
                }
            }));
            // every byte went to the device (crossing accesses are split, the first part on the first page)
            ulong written = 0;
            foreach (var (off, sz, value, isWrite) in _mmio.Log)
                if (isWrite)
                    written += (ulong)sz;
            Assert.Equal((ulong)size, written);
            Assert.All(_mmio.Log, e => Assert.True(e.Offset < 0x2000));
            Assert.Equal(0x1122334455667788UL & X86CpuMask(size), _cpu.GetRegister(X86Cpu.Rcx) & X86CpuMask(size));
        }
    }

    private static ulong X86CpuMask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    /// <summary>A device that stores what is written (so reads return it) and logs every access.</summary>
    private sealed class RecordingDevice : IMmioDevice
    {
        private readonly byte[] _bytes = new byte[0x2000];

        public List<(ulong Offset, int Size, ulong Value, bool Write)> Log { get; } = [];

        public ulong Read(ulong offset, int size)
        {
            ulong v = 0;
            for (int i = 0; i < size; i++)
                v |= (ulong)_bytes[(offset + (ulong)i) & 0x1FFF] << (8 * i);
            Log.Add((offset, size, v, false));
            return v;
        }

        public void Write(ulong offset, int size, ulong value)
        {
            for (int i = 0; i < size; i++)
                _bytes[(offset + (ulong)i) & 0x1FFF] = (byte)(value >> (8 * i));
            Log.Add((offset, size, value, true));
        }
    }
}
