using Wemu.Memory;
using System.Runtime.InteropServices;
using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Wemu.Jit.Ir;
using Wemu.Jit.Passes;
using Wemu.Jit.Wasm;
using Wemu.Jit.X64;
using Wemu.Tests.Jit.Wasm;
using Xunit;

namespace Wemu.Tests.Jit;

/// <summary>
/// Attacks the inline soft-TLB probe of the x86-64 and WebAssembly backends directly (the IL
/// backend's is attacked through whole programs in <see cref="JitAccessSweepTests"/>): one load or
/// store of every size at every page offset near both ends of a page, against a RAM entry, an I/O
/// entry (MMIO or unmapped space), and a RAM page holding compiled code (its write tag carries
/// <see cref="TlbEntry.CodeFlag"/>). The I/O entry's delta points at a canary area, as a wrong
/// delta would: the fast path may only ever be taken for a RAM entry (code entry: loads only) and a
/// naturally aligned access (with <see cref="SoftTlbLayout.Misaligned"/>, x86's probe: any access within the page); every other access must leave through the slow path with nothing read
/// from or written to host memory. On the code before the fix, a halfword at an odd address (and a
/// word at 1 mod 4, a doubleword at 1 mod 8) matched the I/O tag, and a word or doubleword at
/// 2 mod 4/8 matched the code tag.
/// </summary>
public sealed unsafe class TlbProbeAttackTests
{
    private const ulong Vpage = 0x7055_5000;   // TLB index 0x555: a probe that indexes wrongly misses (alternate bits)
    private const ulong GuestPc = 0x4444;
    private const byte Canary = 0xA5;

    private enum Kind { Ram, Io, Code }

    private readonly record struct Access(Kind Kind, bool Store, int Size, bool Signed, int Offset)
    {
        /// <summary>Whether generated code may do this access itself: a RAM page (a code page only for loads), naturally aligned
        /// or, for a guest whose misaligned accesses are fast (x86, <see cref="SoftTlbLayout.Misaligned"/>), within the page.</summary>
        public bool FastPath(bool misaligned) => (Kind == Kind.Ram || (Kind == Kind.Code && !Store)) && (misaligned ? Offset + Size <= 0x1000 : Offset % Size == 0);

        public override string ToString() => $"{(Store ? "store" : Signed ? "signed load" : "load")} of {Size} at page offset 0x{Offset:x} of a {Kind} page";
    }

    private static IEnumerable<Access> Accesses()
    {
        int[] offsets = [.. Enumerable.Range(0, 24), .. Enumerable.Range(0x1000 - 24, 24)];
        foreach (Kind kind in Enum.GetValues<Kind>())
            foreach (int size in new[] { 1, 2, 4, 8 })
                foreach (int offset in offsets)
                {
                    yield return new Access(kind, true, size, false, offset);
                    yield return new Access(kind, false, size, false, offset);
                    if (size < 8)
                        yield return new Access(kind, false, size, true, offset);
                }
    }

    /// <summary>r1 = the page, the access at r1 + offset; a load's value to r2; then a Stop exit.</summary>
    private static IrFunction Build(Access a)
    {
        var f = new IrFunction(GuestPc, 32);
        int page = f.GetReg(1);
        if (a.Store)
            f.Store(page, a.Offset, f.GetReg(3), a.Size, GuestPc, 0);
        else
            f.SetReg(2, f.Load(page, a.Offset, a.Size, a.Signed, GuestPc, 0));
        f.Retire(1);
        f.Exit(CodeExit.Stop, GuestPc + 4, 0);
        IrPipeline.Run(f);
        return f;
    }

    private static void FillEntry(TlbEntry* tlb, Kind kind, long ramDelta, long canaryDelta)
    {
        for (int k = 0; k < RiscVHart.TlbSize; k++)
            tlb[k].TagRead = tlb[k].TagWrite = tlb[k].TagExec = TlbEntry.Invalid;
        ref var e = ref tlb[(Vpage >> 12) & RiscVHart.TlbMask];
        e.PhysPage = 0x1000_0000;
        switch (kind)
        {
            case Kind.Ram:
                e.TagRead = e.TagWrite = Vpage;
                e.Addend = ramDelta;
                break;
            case Kind.Io:
                e.TagRead = e.TagWrite = Vpage | TlbEntry.IoFlag;
                e.Addend = canaryDelta;
                break;
            default:
                e.TagRead = Vpage;
                e.TagWrite = Vpage | TlbEntry.CodeFlag;
                e.Addend = ramDelta;
                break;
        }
    }

    private const ulong StoreValue = 0x8877_6655_4433_2211;

    /// <summary>What r2 must hold after a fast-path load from the RAM pattern (byte i = i * 7 + 1).</summary>
    private static ulong Expected(Access a)
    {
        ulong v = 0;
        for (int i = 0; i < a.Size; i++)
            v |= (ulong)Pattern(a.Offset + i) << (8 * i);
        if (a.Signed && a.Size < 8)
        {
            int shift = 64 - 8 * a.Size;
            v = (ulong)((long)(v << shift) >> shift);
        }
        return v;
    }

    private static byte Pattern(int i) => (byte)(i * 7 + 1);

    /// <summary>Checks one access's outcome: exit, register and both memory areas.</summary>
    private static void Verify(Access a, bool misaligned, CodeExit kind, ulong pc, long count, ulong r2, ReadOnlySpan<byte> ram, ReadOnlySpan<byte> canary)
    {
        for (int i = 0; i < canary.Length; i++)
            Assert.True(canary[i] == Canary, $"{a}: host memory behind the I/O entry changed at +0x{i:x}");
        bool fast = a.FastPath(misaligned);
        if (fast)
        {
            Assert.True(kind == CodeExit.Stop && pc == GuestPc + 4 && count == 1, $"{a}: expected the fast path, got a {kind} exit at 0x{pc:x}");
            if (!a.Store)
                Assert.True(r2 == Expected(a), $"{a}: read 0x{r2:x}, RAM holds 0x{Expected(a):x}");
        }
        else
        {
            Assert.True(kind == CodeExit.Slow && pc == GuestPc && count == 0, $"{a}: the fast path was taken ({kind} exit at 0x{pc:x}, count {count}); it must leave through the slow path");
            Assert.True(r2 == 0x5151, $"{a}: a slow-path load wrote r2 = 0x{r2:x}");
        }
        for (int i = 0; i < 0x1000; i++)
        {
            bool written = fast && a.Store && i >= a.Offset && i < a.Offset + a.Size;
            byte want = written ? (byte)(StoreValue >> (8 * (i - a.Offset))) : Pattern(i);
            Assert.True(ram[i] == want, $"{a}: RAM byte 0x{i:x} is 0x{ram[i]:x2}, expected 0x{want:x2}");
        }
    }

    /// <summary>RISC-V's code ABI, or the same with misaligned accesses fast (x86's probe).</summary>
    private static GuestCodeAbi Abi(bool misaligned) =>
        misaligned ? new GuestCodeAbi { Tlb = RiscVJitHelpers.CodeAbi.Tlb with { Misaligned = true }, PcAlignShift = 1 } : RiscVJitHelpers.CodeAbi;

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void X64_Probe_Takes_The_Fast_Path_Only_For_Ram_Accesses_That_It_Allows(bool misaligned, bool bmi2)
    {
        using var arena = X64CodeArena.TryCreate(16 << 20);
        if (arena == null)
        {
            Assert.False(X64CodeArena.Supported, "x64 host, but no code memory");
            return;
        }
        byte* ctx = (byte*)NativeMemory.AllocZeroed(ExitContext.Size);
        byte* jumpCache = (byte*)NativeMemory.AllocZeroed((nuint)ExitContext.JumpCacheBytes(RiscVJitHelpers.CodeAbi.JumpCacheBits));
        ulong* regs = (ulong*)NativeMemory.AllocZeroed(64 * 8);
        var tlb = (TlbEntry*)NativeMemory.AlignedAlloc((nuint)(RiscVHart.TlbSize * sizeof(TlbEntry)), 64);
        // RAM page (plus a page after it, so a wrong page-crossing access would land in it) and the canary area.
        byte* ram = (byte*)NativeMemory.AlignedAlloc(0x2000, 4096);
        byte* canary = (byte*)NativeMemory.AlignedAlloc(0x2000, 4096);
        var compiler = new X64Backend.Compiler(Abi(misaligned), bmi2);   // (the TLB index by rorx, or by mov and shr)
        try
        {
            int n = 0;
            foreach (var a in Accesses())
            {
                for (int i = 0; i < 0x2000; i++)
                {
                    ram[i] = Pattern(i);
                    canary[i] = Canary;
                }
                FillEntry(tlb, a.Kind, (long)ram - (long)Vpage, (long)canary - (long)Vpage);
                regs[1] = Vpage;
                regs[2] = 0x5151;
                regs[3] = StoreValue;
                byte* entry = arena.Add(compiler.Compile(Build(a)));
                if (entry == null)
                {
                    arena.Reset();
                    entry = arena.Add(compiler.Compile(Build(a)));
                }
                *(ulong**)(ctx + ExitContext.Regs) = regs;
                *(TlbEntry**)(ctx + ExitContext.Tlb) = tlb;
                *(long*)(ctx + ExitContext.Budget) = 1000;
                *(int*)(ctx + ExitContext.ExitKind) = -1;
                *(byte**)(ctx + ExitContext.JumpCache) = jumpCache;
                long count = arena.Run(ctx, entry);
                Verify(a, misaligned, (CodeExit)(*(int*)(ctx + ExitContext.ExitKind)), *(ulong*)(ctx + ExitContext.ExitPc), count, regs[2],
                    new ReadOnlySpan<byte>(ram, 0x1000), new ReadOnlySpan<byte>(canary, 0x2000));
                for (int i = 0x1000; i < 0x2000; i++)
                    Assert.True(ram[i] == Pattern(i), $"{a}: the page after the RAM page changed at +0x{i - 0x1000:x}");
                n++;
            }
            Assert.True(n > 1000);
        }
        finally
        {
            NativeMemory.Free(ctx);
            NativeMemory.Free(jumpCache);
            NativeMemory.Free(regs);
            NativeMemory.AlignedFree(tlb);
            NativeMemory.AlignedFree(ram);
            NativeMemory.AlignedFree(canary);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Wasm_Probe_Takes_The_Fast_Path_Only_For_Ram_Accesses_That_It_Allows(bool misaligned)
    {
        // (the TLB: RiscVHart.TlbSize entries of 64 bytes, 256 KiB)
        const int Ctx = 0x100, Regs = 0x1000, JumpCache = 0x2000, Tlb = 0x4000, Ram = 0x44000, CanaryArea = 0x48000, MemorySize = 0x54000;
        var accesses = Accesses().ToList();
        var cases = new List<NodeWasmRunner.Case>();
        foreach (var a in accesses)
        {
            var image = new byte[MemorySize];
            for (int i = 0; i < 0x2000; i++)
            {
                image[Ram + i] = Pattern(i);
                image[CanaryArea + i] = Canary;
            }
            fixed (byte* img = image)
            {
                *(int*)(img + Ctx + ExitContext.Regs) = Regs;
                *(int*)(img + Ctx + ExitContext.Tlb) = Tlb;
                *(int*)(img + Ctx + ExitContext.Budget) = 1000;
                *(int*)(img + Ctx + ExitContext.ExitKind) = -1;
                *(int*)(img + Ctx + ExitContext.JumpCache) = JumpCache;
                FillEntry((TlbEntry*)(img + Tlb), a.Kind, Ram - (long)Vpage, CanaryArea - (long)Vpage);
                *(ulong*)(img + Regs + 8) = Vpage;
                *(ulong*)(img + Regs + 16) = 0x5151;
                *(ulong*)(img + Regs + 24) = StoreValue;
            }
            cases.Add(new([WasmBackend.Compile(Build(a), Abi(misaligned), chain: false)], image, Ctx, 0));
        }
        var results = NodeWasmRunner.Run(cases);
        for (int c = 0; c < cases.Count; c++)
        {
            var a = accesses[c];
            var r = results[c];
            Assert.True(r.Error == null, $"{a}: {r.Error}");
            var m = r.Memory.AsSpan();
            Verify(a, misaligned, (CodeExit)BitConverter.ToInt32(m[(Ctx + ExitContext.ExitKind)..]), BitConverter.ToUInt64(m[(Ctx + ExitContext.ExitPc)..]),
                r.Count, BitConverter.ToUInt64(m[(Regs + 16)..]), m.Slice(Ram, 0x1000), m.Slice(CanaryArea, 0x2000));
            for (int i = 0x1000; i < 0x2000; i++)
                Assert.True(m[Ram + i] == Pattern(i), $"{a}: the page after the RAM page changed at +0x{i - 0x1000:x}");
        }
    }

    /// <summary>The static side of the same contract: the RISC-V tags' flags against every backend's probe, and a layout that breaks it is refused.</summary>
    [Fact]
    public void Tag_Flags_Stay_Clear_Of_The_Alignment_Bits_Every_Backend_Compares()
    {
        // The layout the probes index and read is the struct's own, on every ABI.
        TlbEntry e = default;
        Assert.Equal(sizeof(TlbEntry), 1 << TlbEntry.SizeShift);
        Assert.Equal((int)((byte*)&e.TagWrite - (byte*)&e), TlbEntry.TagWriteOffset);
        Assert.Equal((int)((byte*)&e.Addend - (byte*)&e), TlbEntry.AddendOffset);
        var expected = new SoftTlbLayout(TlbEntry.SizeShift, (long)RiscVHart.TlbMask, TlbEntry.TagReadOffset, TlbEntry.TagWriteOffset,
            TlbEntry.AddendOffset, TlbEntry.IoFlag | TlbEntry.CodeFlag);
        Assert.Equal(expected, RiscVJitHelpers.CodeAbi.Tlb);
        Assert.Equal(expected, RiscVJitHelpers.IlAbi.Tlb);
        TlbTagLayout.Check(12, TlbEntry.FlagBits);
        foreach (ulong bad in new ulong[] { 1, 2, 4, 8, 1UL << 12, 3 })
            Assert.Throws<InvalidOperationException>(() => TlbTagLayout.Check(12, bad));
        var f = new IrFunction(0x1000, 32);
        f.Exit(CodeExit.Stop, 0x1000, 0);
        var broken = new GuestCodeAbi
        {
            Tlb = new SoftTlbLayout(6, 255, 0, 8, 24, TagFlags: 2),
        };
        Assert.Throws<InvalidOperationException>(() => WasmBackend.Compile(f, broken));
        Assert.Throws<InvalidOperationException>(() => new X64Backend.Compiler(broken));
    }
}
