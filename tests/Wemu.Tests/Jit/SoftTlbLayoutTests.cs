using System.Runtime.InteropServices;
using Wemu.Jit;
using Wemu.Jit.Il;
using Wemu.Jit.Ir;
using Wemu.Jit.Wasm;
using Wemu.Jit.X64;
using Wemu.Memory;
using Wemu.Tests.Jit.Wasm;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// The soft TLB is defined once (<see cref="TlbEntry"/>, read by <see cref="SoftTlbLayout.OfTlbEntries"/>):
/// every backend's inline probe must index and read exactly the struct's fields. A load and a store
/// run through the IL, x86-64 and WebAssembly probes against a table of real <see cref="TlbEntry"/>
/// structs whose neighbouring entries match the same page with another delta (a wrong entry size or
/// index lands there), with the read tag or the write tag alone made invalid while the execute tag
/// and the physical page still hold the page (a probe reading a wrong offset would hit).
/// </summary>
public sealed unsafe class SoftTlbLayoutTests
{
    private const int IndexBits = 10;
    private const ulong Page = 0x4321_5000, GuestPc = 0x8000;
    private const int LoadOffset = 0x10, StoreOffset = 0x18;
    private const byte Stored = 0x3C;

    private static readonly SoftTlbLayout Layout = SoftTlbLayout.OfTlbEntries(IndexBits);
    private static readonly GuestCodeAbi CodeAbi = new() { Tlb = Layout };

    public enum Poison { None, ReadTag, WriteTag }

    /// <summary>r2 = load1 [r1 + LoadOffset] (at GuestPc); store1 [r1 + StoreOffset] = r3 (at GuestPc + 4); stop.</summary>
    private static IrFunction Build()
    {
        var f = new IrFunction(GuestPc, 32);
        int page = f.GetReg(1);
        f.SetReg(2, f.Load(page, LoadOffset, 1, false, GuestPc, 0));
        f.Store(page, StoreOffset, f.GetReg(3), 1, GuestPc + 4, 1);
        f.Retire(2);
        f.Exit(CodeExit.Stop, GuestPc + 8, 0);
        return f;
    }

    /// <summary>The table: the page's entry (delta to <paramref name="ram"/>) between two decoys (delta to <paramref name="decoy"/>).</summary>
    private static void Fill(TlbEntry* tlb, Poison poison, long ram, long decoy)
    {
        for (int k = 0; k < 1 << IndexBits; k++)
            tlb[k] = new TlbEntry { TagRead = TlbEntry.Invalid, TagWrite = TlbEntry.Invalid, TagExec = TlbEntry.Invalid };
        int index = (int)((Page >> Layout.PageBits) & (ulong)Layout.IndexMask);
        foreach (int k in new[] { index - 1, index + 1 })
            tlb[k] = new TlbEntry { TagRead = Page, TagWrite = Page, TagExec = Page, PhysPage = Page, Addend = decoy - (long)Page };
        tlb[index] = new TlbEntry
        {
            TagRead = poison == Poison.ReadTag ? TlbEntry.Invalid : Page,
            TagWrite = poison == Poison.WriteTag ? TlbEntry.Invalid : Page,
            TagExec = Page,
            PhysPage = Page,
            Addend = ram - (long)Page,
        };
    }

    /// <summary>
    /// What every backend must do: hit where the entry allows, take the slow path exactly where its
    /// tag is invalid (IL calls it and goes on; the others leave there).
    /// </summary>
    private static void Verify(Poison poison, string backend, ulong r2, byte* ram, byte* decoy, ulong slowAt, bool goesOn = false)
    {
        Assert.True(new ReadOnlySpan<byte>(decoy, 0x1000).IndexOfAnyExcept((byte)0) < 0, $"{backend}: an access went through a neighbouring entry");
        ulong wantSlow = poison switch { Poison.ReadTag => GuestPc, Poison.WriteTag => GuestPc + 4, _ => 0 };
        Assert.Equal(wantSlow, slowAt);
        if (poison != Poison.ReadTag)
            Assert.Equal(0x5AUL, r2);
        bool stored = poison == Poison.None || (goesOn && poison == Poison.ReadTag);
        Assert.Equal(stored ? Stored : (byte)0, ram[StoreOffset]);
    }

    public static TheoryData<Poison> Cases() => new(Enum.GetValues<Poison>());

    [Fact]
    public void The_Layout_Is_The_Structs()
    {
        TlbEntry e = default;
        Assert.Equal(sizeof(TlbEntry), 1 << Layout.EntryShift);
        Assert.Equal((int)((byte*)&e.TagRead - (byte*)&e), Layout.ReadTagOffset);
        Assert.Equal((int)((byte*)&e.TagWrite - (byte*)&e), Layout.WriteTagOffset);
        Assert.Equal((int)((byte*)&e.Addend - (byte*)&e), Layout.AddendOffset);
        Assert.Equal(TlbEntry.FlagBits, Layout.TagFlags);
        Assert.Equal((1L << IndexBits) - 1, Layout.IndexMask);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_Il_Probe_Reads_The_Structs_Fields(Poison poison)
    {
        var tlb = (TlbEntry*)NativeMemory.AlignedAlloc((nuint)(sizeof(TlbEntry) << IndexBits), 64);
        byte* ram = (byte*)NativeMemory.AllocZeroed(0x1000), decoy = (byte*)NativeMemory.AllocZeroed(0x1000);
        ulong* regs = (ulong*)NativeMemory.AllocZeroed(32 * 8);
        try
        {
            Fill(tlb, poison, (long)ram, (long)decoy);
            ram[LoadOffset] = 0x5A;
            regs[1] = Page;
            regs[3] = Stored;
            var state = new SlowPathRecorder();
            var code = IlBackend.Compile<SlowPathRecorder>(Build(), SlowPathRecorder.Abi(Layout), out _);
            long result = code(state, regs, (byte*)tlb, 100);
            Assert.Equal(CodeExit.Stop, IlExit.KindOf(result));
            Verify(poison, "IL", regs[2], ram, decoy, state.SlowAt, goesOn: true);
        }
        finally
        {
            NativeMemory.AlignedFree(tlb);
            NativeMemory.Free(ram);
            NativeMemory.Free(decoy);
            NativeMemory.Free(regs);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_X64_Probe_Reads_The_Structs_Fields(Poison poison)
    {
        using var arena = X64CodeArena.TryCreate(1 << 20);
        if (arena == null)
        {
            Assert.False(X64CodeArena.Supported, "x64 host, but no code memory");
            return;
        }
        var tlb = (TlbEntry*)NativeMemory.AlignedAlloc((nuint)(sizeof(TlbEntry) << IndexBits), 64);
        byte* ram = (byte*)NativeMemory.AllocZeroed(0x1000), decoy = (byte*)NativeMemory.AllocZeroed(0x1000);
        ulong* regs = (ulong*)NativeMemory.AllocZeroed(32 * 8);
        byte* ctx = (byte*)NativeMemory.AllocZeroed(ExitContext.Size);
        try
        {
            Fill(tlb, poison, (long)ram, (long)decoy);
            ram[LoadOffset] = 0x5A;
            regs[1] = Page;
            regs[3] = Stored;
            *(ulong**)(ctx + ExitContext.Regs) = regs;
            *(TlbEntry**)(ctx + ExitContext.Tlb) = tlb;
            *(long*)(ctx + ExitContext.Budget) = 100;
            byte* entry = arena.Add(X64Backend.Compile(Build(), CodeAbi));
            arena.Run(ctx, entry);
            var kind = (CodeExit)(*(int*)(ctx + ExitContext.ExitKind));
            ulong pc = *(ulong*)(ctx + ExitContext.ExitPc);
            Verify(poison, "x86-64", regs[2], ram, decoy, kind == CodeExit.Slow ? pc : 0);
        }
        finally
        {
            NativeMemory.AlignedFree(tlb);
            NativeMemory.Free(ram);
            NativeMemory.Free(decoy);
            NativeMemory.Free(regs);
            NativeMemory.Free(ctx);
        }
    }

    [Fact]
    public void The_Wasm_Probe_Reads_The_Structs_Fields()
    {
        const int Ctx = 0x100, Regs = 0x1000, Tlb = 0x10000, Ram = 0x50000, Decoy = 0x51000, Size = 0x60000;   // (a TLB of up to 4,096 entries of 64 bytes)
        var poisons = Enum.GetValues<Poison>();
        var cases = new List<NodeWasmRunner.Case>();
        foreach (var poison in poisons)
        {
            var image = new byte[Size];
            fixed (byte* img = image)
            {
                Fill((TlbEntry*)(img + Tlb), poison, Ram, Decoy);
                img[Ram + LoadOffset] = 0x5A;
                *(ulong*)(img + Regs + 8) = Page;
                *(ulong*)(img + Regs + 24) = Stored;
                *(long*)(img + Ctx + ExitContext.Regs) = Regs;
                *(long*)(img + Ctx + ExitContext.Tlb) = Tlb;
                *(long*)(img + Ctx + ExitContext.Budget) = 100;
            }
            cases.Add(new([WasmBackend.Compile(Build(), CodeAbi, chain: false)], image, Ctx, 0));
        }
        var results = NodeWasmRunner.Run(cases);
        for (int c = 0; c < poisons.Length; c++)
        {
            var r = results[c];
            Assert.True(r.Error == null, r.Error);
            fixed (byte* m = r.Memory)
            {
                var kind = (CodeExit)(*(int*)(m + Ctx + ExitContext.ExitKind));
                ulong pc = *(ulong*)(m + Ctx + ExitContext.ExitPc);
                Verify(poisons[c], "wasm", *(ulong*)(m + Regs + 16), m + Ram, m + Decoy, kind == CodeExit.Slow ? pc : 0);
            }
        }
    }
}
