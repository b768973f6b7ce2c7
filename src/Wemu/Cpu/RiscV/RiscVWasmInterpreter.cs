using Wemu.Jit;
using Wemu.Jit.Wasm;
using Wemu.Memory;
using static Wemu.Jit.Wasm.WasmOp;

namespace Wemu.Cpu.RiscV;

/// <summary>
/// The page's interpreter for cold RISC-V code, written in WebAssembly: a module exporting
/// <c>f(ctx: i32, count: i32) -> i32</c> with the ABI of compiled regions (<see cref="ExitContext"/>; it starts at
/// <see cref="ExitContext.ExitPc"/> and fetches through <see cref="ExitContext.FetchTlb"/>). Under Mono's interpreter in
/// the browser, <see cref="RiscVInterpreter"/> runs ~50 M instructions/s however it is shaped (the jiterpreter keeps
/// C# locals in memory); V8 compiles this loop once and runs it several times faster, with no compile per region.
/// <para>
/// It runs RV64I, M, the C extension (through <see cref="RvcExpander"/>'s table), LR/SC (the reservation is in
/// the register block), the AMOs that are plain arithmetic and the common sstatus CSR instructions (mstatus, the privilege
/// level and the interrupt bits are in the register block too) and those on the trap-handling CSRs (sscratch..stval,
/// mscratch..mtval), with the soft TLB probed inline as compiled code does. Everything else leaves with an exit the
/// engine already handles for compiled code: <see cref="CodeExit.Slow"/> (a TLB miss, a device, a misaligned or
/// page-crossing access, CSRs, floating point; interpreted, then back here) or <see cref="CodeExit.Interpret"/> (system
/// instructions, fence.i; interpreted, then the machine loop). Every taken branch counts its target in the
/// <see cref="HotTable"/> exactly as <see cref="HotTable.Bump"/> does; at a hot target whose code the jump cache holds
/// it tail-calls that code (as compiled code chains), at any other hot target it leaves with <see cref="CodeExit.Chain"/>
/// so the engine can compile the code there. Compiled code chains to it in turn (<see cref="ExitContext.ColdCode"/>):
/// entered with a count of 0 or more, it counts its first pc as an arrival (with the engine's weight for a chained exit's
/// target, <see cref="Layout.ChainedArrivalWeight"/>); entered with a negative c, it starts counting at ~c and counts no
/// arrival: the engine enters it with -1, and a region that stops at an instruction it does not run (an AMO, a CSR
/// instruction, floating point) tail-calls it there with ~count, so that instruction and the cold code after it run here. Tables, the hot table and the
/// page of zeros it fetches from before its first page are linear-memory addresses fixed when the module is built.
/// </para>
/// </summary>
internal static class RiscVWasmInterpreter
{
    /// <summary>Linear-memory addresses and constants the module is built with.</summary>
    public readonly record struct Layout(int Primary, int Short, int Expand, int NoPage, int HotTable, int HotThreshold, int JumpCacheBits,
        int ChainedArrivalWeight = 1);

    // params
    private const int Ctx = 0, Count = 1;
    // i64 locals
    private const int Pc = 2, FBase = 3, Va = 4, Res = 5, Target = 6, A = 7, B = 8, Len = 9, T = 10;
    // i32 locals
    private const int Regs = 11, DTlb = 12, ITlb = 13, Budget = 14, Inst = 15, OpLocal = 16, RdOff = 17, FHost = 18,
        E = 19, Kind = 20, SetLocal = 21, Start = 22, Stamp = 23;
    private const int I64Locals = 9, I32Locals = 14;

    /// <summary>The ops handled here; any other op leaves (<see cref="ExitFor"/>).</summary>
    public static bool Handles(RvOp op) => op is >= RvOp.Lui and <= RvOp.Fence
        || op is RvOp.Mul or RvOp.Mulh or RvOp.Mulhsu or RvOp.Mulhu or RvOp.Div or RvOp.Divu or RvOp.Rem or RvOp.Remu or RvOp.Mulw or RvOp.Divw or RvOp.Divuw or RvOp.Remw or RvOp.Remuw
        || op is RvOp.ScW or RvOp.ScD || IsPlainAmo(op) || op is >= RvOp.Csrrw and <= RvOp.Csrrci;

    private static bool IsPlainAmo(RvOp op) => op is >= RvOp.AmoswapW and <= RvOp.AmoorW or >= RvOp.AmoswapD and <= RvOp.AmoorD;

    /// <summary>
    /// How an op this module does not run leaves: system instructions stop for the machine loop there; CSR instructions
    /// go on unless the write needs the machine loop (<see cref="RiscVJitFrontEnd.WentOn"/>), like the other slow paths.
    /// (Secondary is told apart by its major opcode: SYSTEM stops, floating point does not; LR runs here.)
    /// </summary>
    public static CodeExit ExitFor(RvOp op) =>
        op is RvOp.FenceI or RvOp.Ecall or RvOp.Ebreak or >= RvOp.Mret and <= RvOp.SfenceVma ? CodeExit.Interpret : CodeExit.Slow;

    /// <summary>
    /// The module for <paramref name="layout"/>: the prebuilt template's bytes with the layout's addresses written in when
    /// its settings are the template's (the page's defaults: building it took 30-55 ms of the page's start under Mono),
    /// else built here.
    /// </summary>
    public static byte[] Build(Layout layout)
    {
        TlbTagLayout.Check(RiscVHart.TlbLayout.PageBits, RiscVHart.TlbLayout.TagFlags);
        return Prebuilt.Template is { } t && t.Fits(layout) ? t.Patch(layout) : BuildFresh(layout);
    }

    /// <summary>The module made by the emitter (what <see cref="Build"/> returns when no template fits).</summary>
    internal static byte[] BuildFresh(Layout layout) =>
        WasmBackend.Module(table: true, (new Body(layout).Emit(), 0), (WasmBackend.MulHighUBody(), 1));

    /// <summary>
    /// The module with its settings (threshold, jump-cache bits, chained arrival weight) built in and its addresses left
    /// to patch: where each <see cref="Layout"/> address sits in the bytes. Made by building twice with different
    /// addresses and comparing (<see cref="Make"/>); the page's is prebuilt (<c>rv-wasm-interpreter.bin</c>, an embedded
    /// resource: <c>RiscVWasmInterpreterTests</c> checks it against <see cref="Make"/> and rewrites it with
    /// <c>WEMU_WRITE_WASM_INTERPRETER=1</c>).
    /// </summary>
    internal sealed class Template(int hotThreshold, int jumpCacheBits, int chainedArrivalWeight, (int Offset, int Field)[] relocations, byte[] module)
    {
        public const string ResourceName = "Wemu.Cpu.RiscV.rv-wasm-interpreter.bin";
        private static ReadOnlySpan<byte> Magic => "WRVI\u0001\0\0\0"u8;

        public bool Fits(Layout l) => l.HotThreshold == hotThreshold && l.JumpCacheBits == jumpCacheBits && l.ChainedArrivalWeight == chainedArrivalWeight;

        public byte[] Patch(Layout l)
        {
            var bytes = (byte[])module.Clone();
            foreach (var (offset, field) in relocations)
                WasmWriter.PatchS32Fixed(bytes.AsSpan(offset, 5), AddressOf(l, field));
            return bytes;
        }

        private static int AddressOf(Layout l, int field) => field switch
        {
            0 => l.Primary,
            1 => l.Short,
            2 => l.Expand,
            3 => l.NoPage,
            4 => l.HotTable,
            _ => throw new InvalidOperationException($"no address field {field}"),
        };

        private const int Fields = 5;

        /// <summary>The template for these settings, from two builds whose addresses differ in every field.</summary>
        public static Template Make(int hotThreshold, int jumpCacheBits, int chainedArrivalWeight)
        {
            static Layout With(int @base, int hot, int bits, int weight) =>
                new(@base + 0x100, @base + 0x200, @base + 0x300, @base + 0x400, @base + 0x500, hot, bits, weight);
            var a = BuildFresh(With(0x1234_5000, hotThreshold, jumpCacheBits, chainedArrivalWeight));
            var b = BuildFresh(With(0x2468_A000, hotThreshold, jumpCacheBits, chainedArrivalWeight));
            if (a.Length != b.Length)
                throw new InvalidOperationException("the interpreter's size depends on its addresses");
            var found = new List<(int, int)>();
            var masked = (byte[])a.Clone();
            Span<byte> la = stackalloc byte[5], lb = stackalloc byte[5];
            for (int field = 0; field < Fields; field++)
            {
                WasmWriter.PatchS32Fixed(la, AddressOf(With(0x1234_5000, 0, 0, 0), field));
                WasmWriter.PatchS32Fixed(lb, AddressOf(With(0x2468_A000, 0, 0, 0), field));
                for (int i = 0; i + 5 <= a.Length; i++)
                {
                    if (a.AsSpan(i, 5).SequenceEqual(la) && b.AsSpan(i, 5).SequenceEqual(lb))
                    {
                        found.Add((i, field));
                        WasmWriter.PatchS32Fixed(masked.AsSpan(i, 5), 0);
                        WasmWriter.PatchS32Fixed(b.AsSpan(i, 5), 0);
                    }
                }
            }
            if (!masked.AsSpan().SequenceEqual(b))
                throw new InvalidOperationException("the interpreter's two builds differ outside the addresses");
            return new Template(hotThreshold, jumpCacheBits, chainedArrivalWeight, [.. found], masked);
        }

        public byte[] ToFile()
        {
            var w = new List<byte>(module.Length + 64);
            w.AddRange(Magic.ToArray());
            void Int(int v) => w.AddRange(BitConverter.GetBytes(v));
            Int(hotThreshold); Int(jumpCacheBits); Int(chainedArrivalWeight);
            Int(relocations.Length);
            foreach (var (offset, field) in relocations) { Int(offset); Int(field); }
            Int(module.Length);
            w.AddRange(module);
            return [.. w];
        }

        public static Template FromFile(byte[] f)
        {
            if (f.Length < Magic.Length + 20 || !f.AsSpan(0, Magic.Length).SequenceEqual(Magic))
                throw new InvalidOperationException($"{ResourceName} is not in this build's format");
            int at = Magic.Length;
            int Int() { int v = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(f.AsSpan(at)); at += 4; return v; }
            int hot = Int(), bits = Int(), weight = Int(), n = Int();
            var relocations = new (int, int)[n];
            for (int i = 0; i < n; i++)
                relocations[i] = (Int(), Int());
            int length = Int();
            var module = f.AsSpan(at, length).ToArray();
            foreach (var (offset, field) in relocations)
                if (offset < 0 || offset + 5 > length || field is < 0 or >= Fields)
                    throw new InvalidOperationException($"{ResourceName}: a relocation outside the module");
            return new Template(hot, bits, weight, relocations, module);
        }
    }

    /// <summary>The template shipped with the build (the page's settings), or null if the resource is missing.</summary>
    internal static class Prebuilt
    {
        public static readonly Template? Template = Load();

        private static Template? Load()
        {
            using var stream = typeof(RiscVWasmInterpreter).Assembly.GetManifestResourceStream(RiscVWasmInterpreter.Template.ResourceName);
            if (stream == null || stream.Length == 0)
                return null;
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return RiscVWasmInterpreter.Template.FromFile(bytes);
        }
    }

    private sealed class Body(Layout layout)
    {
        private readonly WasmWriter _w = new(8192);
        private readonly List<string> _labels = [];

        public WasmWriter Emit()
        {
            _w.U32(2);
            _w.U32(I64Locals); _w.Byte(TypeI64);
            _w.U32(I32Locals); _w.Byte(TypeI32);

            LoadCtx32(ExitContext.Regs, Regs);
            LoadCtx32(ExitContext.Tlb, DTlb);
            LoadCtx32(ExitContext.FetchTlb, ITlb);
            LoadCtx32(ExitContext.Budget, Budget);
            Get(Ctx); Mem(I64Load, ExitContext.ExitPc); Set(Pc);
            // no fetch page yet: an odd base no page starts at, and the page of zeros (which decodes as illegal: Slow)
            I64(unchecked((long)0xFFFF_FFFF_FFFF_F001UL)); Set(FBase);
            Address(layout.NoPage); Set(FHost);

            Block("exit");
            // count < 0: ~count, with no arrival to count (entered by the engine with -1, which counted it; or by compiled code
            // at an instruction it does not run); else chained to from compiled code, and the target counts as an arrival
            // (the dispatcher counts a chained exit's target so)
            Get(Count); I32(0); Op(I32LtS);
            If();
            Get(Count); I32(-1); Op(I32Xor); Set(Count);
            Op(WasmOp.Else);
            Get(Count); Set(Start);
            EmitHotBump(chain: false, weight: layout.ChainedArrivalWeight);
            End();
            Get(Count); Set(Start);
            Loop("next");
            // budget
            Get(Count); Get(Budget); Op(I32GeS);
            If(); I32((int)CodeExit.Chain); Set(Kind); Br("exit"); End();
            EmitFetch();
            EmitDecode();

            Block("wb");
            Block("adv");
            Block("taken");
            Block("slow");
            Block("interp");
            EmitDispatch();
            End();   // interp
            I32((int)CodeExit.Interpret); Set(Kind); Br("exit");
            End();   // slow
            I32((int)CodeExit.Slow); Set(Kind); Br("exit");
            End();   // taken
            Get(Count); I32(1); Op(I32Add); Set(Count);
            Get(Target); Set(Pc);
            EmitHotBump(chain: true, weight: 1);
            Br("next");
            End();   // adv
            Advance();
            Br("next");
            End();   // wb
            WriteRd(() => Get(Res));
            Advance();
            Br("next");
            End();   // loop
            End();   // exit
            AddRetired();
            Get(Ctx); Get(Kind); Mem(I32Store, ExitContext.ExitKind);
            Get(Ctx); Get(Pc); Mem(I64Store, ExitContext.ExitPc);
            Get(Count);
            _w.Byte(WasmOp.End);
            return _w;
        }

        private void EmitFetch()
        {
            Block("fetched");
            // on the current page
            Get(Pc); Get(FBase); Op(I64Sub); Set(T);
            Get(T); I64(0xFFC); Op(I64LeU);
            If();
            Get(FHost); Get(T); Op(I32WrapI64); Op(I32Add); Mem(I32Load, 0); Set(Inst);
            Br("fetched");
            End();
            // another page the fetch TLB lets us execute from: a 4-byte read that stays inside it, or at its last two bytes a
            // compressed instruction (a 4-byte one there crosses the page)
            Entry(ITlb, Pc);
            Get(E); Mem(I64Load, TlbEntryLayout.TagExec); Get(Pc); I64(~0xFFFL); Op(I64And); Op(I64Eq);
            If();
            Get(Pc); I64(~0xFFFL); Op(I64And); Set(FBase);
            Get(E); Mem(I64Load, TlbEntryLayout.Addend); Get(FBase); Op(I64Add); Op(I32WrapI64); Set(FHost);
            Get(Pc); I64(0xFFF); Op(I64And); I64(0xFFC); Op(I64LeU);
            If();
            Get(FHost); Get(Pc); I64(0xFFF); Op(I64And); Op(I32WrapI64); Op(I32Add); Mem(I32Load, 0); Set(Inst);
            Br("fetched");
            End();
            Get(FHost); Get(Pc); I64(0xFFF); Op(I64And); Op(I32WrapI64); Op(I32Add); Mem(WasmOp.I32Load16U, 0); Set(Inst);
            Get(Inst); I32(3); Op(I32And); I32(3); Op(I32Ne);
            If(); Br("fetched"); End();
            // a 4-byte instruction that crosses into the next page (the kernel runs a few such thousands of times a boot): its
            // upper half from there when the fetch TLB lets us execute there too (the current page stays the fetch page)
            Get(Pc); I64(2); Op(I64Add); Set(T);
            Entry(ITlb, T);
            Get(E); Mem(I64Load, TlbEntryLayout.TagExec); Get(T); Op(I64Eq);
            If();
            Get(E); Mem(I64Load, TlbEntryLayout.Addend); Get(T); Op(I64Add); Op(I32WrapI64); Mem(WasmOp.I32Load16U, 0);
            I32(16); Op(I32Shl); Get(Inst); Op(I32Or); Set(Inst);
            Br("fetched");
            End();
            End();
            // a TLB miss, a fault, or an instruction that crosses into a page the fetch TLB does not hold: the host fetches it
            I32((int)CodeExit.Slow); Set(Kind); Br("exit");
            End();
        }

        private void EmitDecode()
        {
            I64(4); Set(Len);
            Get(Inst); I32(3); Op(I32And); I32(3); Op(I32Ne);
            If();
            Address(layout.Expand); Get(Inst); I32(0xFFFF); Op(I32And); I32(2); Op(I32Shl); Op(I32Add); Mem(I32Load, 0); Set(Inst);
            I64(2); Set(Len);
            End();
            // the primary key (RvKey.Of): bits 6:2, 14:12 and 31:25; its low byte first, in the 256-byte table
            // (RiscVInterpreter.ShortTable), then where funct7 matters the whole key in the primary table
            Get(Inst); I32(2); Op(I32ShrU); I32(0x1F); Op(I32And);
            Get(Inst); I32(7); Op(I32ShrU); I32(0xE0); Op(I32And); Op(I32Or);
            Set(Op_);
            Address(layout.Short); Get(Op_); Op(I32Add); Mem(WasmOp.I32Load8U, 0); Set(ShortOp);
            Get(ShortOp); I32(RiscVInterpreter.ShortNeedsFunct7); Op(I32Eq);
            If();
            Address(layout.Primary); Get(Op_); Op(I32Add);
            Get(Inst); I32(17); Op(I32ShrU); I32(0x7F00); Op(I32And); Op(I32Add);
            Mem(WasmOp.I32Load8U, 0); Set(ShortOp);
            End();
            Get(ShortOp); Set(Op_);
            Get(Inst); I32(7); Op(I32ShrU); I32(31); Op(I32And); I32(3); Op(I32Shl); Set(RdOff);
            LoadReg(15, A);
            LoadReg(20, B);
        }

        private const int Op_ = OpLocal;

        // (the short table's answer: free until a handler uses SetLocal)
        private const int ShortOp = SetLocal;

        private void LoadReg(int shift, int dst)
        {
            Get(Regs); Get(Inst); I32(shift); Op(I32ShrU); I32(31); Op(I32And); I32(3); Op(I32Shl); Op(I32Add);
            Mem(I64Load, 0); Set(dst);
        }

        private void EmitDispatch()
        {
            var handled = new List<RvOp> { RvOp.Secondary };
            for (int v = 0; v < (int)RvOp.Count; v++)
            {
                if (Handles((RvOp)v))
                    handled.Add((RvOp)v);
            }
            for (int k = handled.Count - 1; k >= 0; k--)
                Block("op" + k);
            Get(Op_);
            _w.Byte(BrTable);
            _w.U32((uint)RvOp.Count);
            for (int v = 0; v < (int)RvOp.Count; v++)
            {
                int k = handled.IndexOf((RvOp)v);
                _w.U32((uint)Depth(k >= 0 ? "op" + k : ExitFor((RvOp)v) == CodeExit.Interpret ? "interp" : "slow"));
            }
            _w.U32((uint)Depth("slow"));
            for (int k = 0; k < handled.Count; k++)
            {
                End();
                EmitHandler(handled[k]);
            }
        }

        private void EmitHandler(RvOp op)
        {
            switch (op)
            {
                case RvOp.Secondary:
                    // LR.W / LR.D (rs2 = 0 keeps them out of the primary key)
                    Get(Inst); I32(unchecked((int)0xF9F0707F)); Op(I32And); I32(0x1000202F); Op(I32Eq);
                    If(); LoadReserved(word: true); End();
                    Get(Inst); I32(unchecked((int)0xF9F0707F)); Op(I32And); I32(0x1000302F); Op(I32Eq);
                    If(); LoadReserved(word: false); End();
                    Get(Inst); I32(0x7F); Op(I32And); I32(0x73); Op(I32Eq);
                    If(); Br("interp"); End();
                    Br("slow");
                    return;
                case >= RvOp.Csrrw and <= RvOp.Csrrci: CsrInstruction(op); return;
                case RvOp.ScW: StoreConditional(word: true); return;
                case RvOp.ScD: StoreConditional(word: false); return;
                case RvOp.Lui: ImmU(); Set(Res); Br("wb"); return;
                case RvOp.Auipc: Get(Pc); ImmU(); Op(I64Add); Set(Res); Br("wb"); return;
                case RvOp.Jal:
                    Get(Pc); ImmJ(); Op(I64Add); Set(Target);
                    WriteRd(() => { Get(Pc); Get(Len); Op(I64Add); });
                    Br("taken");
                    return;
                case RvOp.Jalr:
                    Get(A); ImmI(); Op(I64Add); I64(~1L); Op(I64And); Set(Target);
                    WriteRd(() => { Get(Pc); Get(Len); Op(I64Add); });
                    Br("taken");
                    return;
                case RvOp.Beq: Branch(I64Eq); return;
                case RvOp.Bne: Branch(I64Ne); return;
                case RvOp.Blt: Branch(I64LtS); return;
                case RvOp.Bge: Branch(I64GeS); return;
                case RvOp.Bltu: Branch(I64LtU); return;
                case RvOp.Bgeu: Branch(I64GeU); return;
                case RvOp.Lb: Load(I64Load8S); return;
                case RvOp.Lh: Load(I64Load16S); return;
                case RvOp.Lw: Load(I64Load32S); return;
                case RvOp.Ld: Load(I64Load); return;
                case RvOp.Lbu: Load(I64Load8U); return;
                case RvOp.Lhu: Load(I64Load16U); return;
                case RvOp.Lwu: Load(I64Load32U); return;
                case RvOp.Sb: Store(I64Store8); return;
                case RvOp.Sh: Store(I64Store16); return;
                case RvOp.Sw: Store(I64Store32); return;
                case RvOp.Sd: Store(I64Store); return;
                case RvOp.Addi: Get(A); ImmI(); Op(I64Add); Result(); return;
                case RvOp.Slti: Get(A); ImmI(); Op(I64LtS); Op(I64ExtendI32U); Result(); return;
                case RvOp.Sltiu: Get(A); ImmI(); Op(I64LtU); Op(I64ExtendI32U); Result(); return;
                case RvOp.Xori: Get(A); ImmI(); Op(I64Xor); Result(); return;
                case RvOp.Ori: Get(A); ImmI(); Op(I64Or); Result(); return;
                case RvOp.Andi: Get(A); ImmI(); Op(I64And); Result(); return;
                case RvOp.Slli: Get(A); Shamt(63); Op(I64Shl); Result(); return;
                case RvOp.Srli: Get(A); Shamt(63); Op(I64ShrU); Result(); return;
                case RvOp.Srai: Get(A); Shamt(63); Op(I64ShrS); Result(); return;
                case RvOp.Addiw: Get(A); Op(I32WrapI64); ImmI(); Op(I32WrapI64); Op(I32Add); Op(I64ExtendI32S); Result(); return;
                case RvOp.Slliw: Word32Shift(I32Shl, imm: true); return;
                case RvOp.Srliw: Word32Shift(I32ShrU, imm: true); return;
                case RvOp.Sraiw: Word32Shift(I32ShrS, imm: true); return;
                case RvOp.Add: Binary(I64Add); return;
                case RvOp.Sub: Binary(I64Sub); return;
                case RvOp.Sll: Binary(I64Shl); return;   // (wasm masks 64-bit shift counts to 6 bits, as RISC-V does)
                case RvOp.Slt: Get(A); Get(B); Op(I64LtS); Op(I64ExtendI32U); Result(); return;
                case RvOp.Sltu: Get(A); Get(B); Op(I64LtU); Op(I64ExtendI32U); Result(); return;
                case RvOp.Xor: Binary(I64Xor); return;
                case RvOp.Srl: Binary(I64ShrU); return;
                case RvOp.Sra: Binary(I64ShrS); return;
                case RvOp.Or: Binary(I64Or); return;
                case RvOp.And: Binary(I64And); return;
                case RvOp.Addw: Word32(I32Add); return;
                case RvOp.Subw: Word32(I32Sub); return;
                case RvOp.Sllw: Word32Shift(I32Shl, imm: false); return;
                case RvOp.Srlw: Word32Shift(I32ShrU, imm: false); return;
                case RvOp.Sraw: Word32Shift(I32ShrS, imm: false); return;
                case RvOp.Fence: Br("adv"); return;
                case RvOp.Mul: Binary(I64Mul); return;
                case RvOp.Mulh: WasmBackend.MulHigh64(_w, A, B, signedA: true, signedB: true); Result(); return;
                case RvOp.Mulhsu: WasmBackend.MulHigh64(_w, A, B, signedA: true, signedB: false); Result(); return;
                case RvOp.Mulhu: WasmBackend.MulHigh64(_w, A, B, signedA: false, signedB: false); Result(); return;
                case RvOp.Mulw: Word32(I32Mul); return;
                case RvOp.Div: Divide(wide: true, signed: true, remainder: false); return;
                case RvOp.Divu: Divide(wide: true, signed: false, remainder: false); return;
                case RvOp.Rem: Divide(wide: true, signed: true, remainder: true); return;
                case RvOp.Remu: Divide(wide: true, signed: false, remainder: true); return;
                case RvOp.Divw: Divide(wide: false, signed: true, remainder: false); return;
                case RvOp.Divuw: Divide(wide: false, signed: false, remainder: false); return;
                case RvOp.Remw: Divide(wide: false, signed: true, remainder: true); return;
                case RvOp.Remuw: Divide(wide: false, signed: false, remainder: true); return;
                default:
                    if (IsPlainAmo(op))
                    {
                        Amo(op);
                        return;
                    }
                    throw new InvalidOperationException($"no handler for {op}");
            }
        }

        private void Result()
        {
            Set(Res);
            Br("wb");
        }

        private void Binary(byte op)
        {
            Get(A); Get(B); Op(op);
            Result();
        }

        private void Word32(byte op)
        {
            Get(A); Op(I32WrapI64); Get(B); Op(I32WrapI64); Op(op); Op(I64ExtendI32S);
            Result();
        }

        /// <summary>SLLW/SRLW/SRAW and their immediate forms: wasm masks 32-bit shift counts to 5 bits, as RISC-V does.</summary>
        private void Word32Shift(byte op, bool imm)
        {
            Get(A); Op(I32WrapI64);
            if (imm)
            {
                Get(Inst); I32(20); Op(I32ShrU);
            }
            else
            {
                Get(B); Op(I32WrapI64);
            }
            Op(op); Op(I64ExtendI32S);
            Result();
        }

        /// <summary>RISC-V's division never traps (M, 7.2): by zero, all ones (or the dividend for REM); the signed overflow, the dividend (REM: 0).</summary>
        private void Divide(bool wide, bool signed, bool remainder)
        {
            // b == 0
            Get(B); if (!wide) Op(I32WrapI64); Op(wide ? I64Eqz : I32Eqz);
            If();
            if (remainder)
            {
                Get(A);
                if (!wide) { Op(I32WrapI64); Op(I64ExtendI32S); }
            }
            else
            {
                I64(-1);
            }
            Set(Res); Br("wb");
            End();
            if (signed)
            {
                // b == -1: a / -1 = -a (the overflow case wraps to itself), a % -1 = 0
                Get(B); if (!wide) Op(I32WrapI64);
                if (wide) I64(-1); else I32(-1);
                Op(wide ? I64Eq : I32Eq);
                If();
                if (remainder)
                {
                    I64(0);
                }
                else if (wide)
                {
                    I64(0); Get(A); Op(I64Sub);
                }
                else
                {
                    I32(0); Get(A); Op(I32WrapI64); Op(I32Sub); Op(I64ExtendI32S);
                }
                Set(Res); Br("wb");
                End();
            }
            Get(A); if (!wide) Op(I32WrapI64);
            Get(B); if (!wide) Op(I32WrapI64);
            byte op = (wide, signed, remainder) switch
            {
                (true, true, false) => I64DivS,
                (true, false, false) => I64DivU,
                (true, true, true) => I64RemS,
                (true, false, true) => I64RemU,
                (false, true, false) => I32DivS,
                (false, false, false) => I32DivU,
                (false, true, true) => I32RemS,
                _ => I32RemU,
            };
            Op(op);
            if (!wide)
                Op(I64ExtendI32S);
            Result();
        }

        private void Branch(byte compare)
        {
            Get(A); Get(B); Op(compare);
            If();
            Get(Pc); ImmB(); Op(I64Add); Set(Target);
            Br("taken");
            End();
            Br("adv");
        }

        /// <summary>e = the TLB entry of the page of local <paramref name="address"/> in the TLB at local <paramref name="tlb"/>.</summary>
        private void Entry(int tlb, int address)
        {
            Get(tlb);
            Get(address); I64(12); Op(I64ShrU); Op(I32WrapI64); I32((int)RiscVHart.TlbMask); Op(I32And);
            I32(Memory.TlbEntry.SizeShift); Op(I32Shl); Op(I32Add); Set(E);
        }

        /// <summary>On a TLB hit for <paramref name="tag"/> with the access inside the page (as <see cref="RiscVInterpreter"/>
        /// checks: offset at most 0xFF8), runs <paramref name="hit"/> with the host address on the stack; otherwise Slow.</summary>
        private void Access(int tag, Action hit)
        {
            Entry(DTlb, Va);
            Get(E); Mem(I64Load, tag); Get(Va); I64(~0xFFFL); Op(I64And); Op(I64Eq);
            Get(Va); I64(0xFFF); Op(I64And); I64(0xFF8); Op(I64LeU);
            Op(I32And);
            If();
            Get(E); Mem(I64Load, TlbEntryLayout.Addend); Get(Va); Op(I64Add); Op(I32WrapI64);
            hit();
            End();
            Br("slow");
        }

        private void Load(byte load)
        {
            Get(A); ImmI(); Op(I64Add); Set(Va);
            Access(TlbEntryLayout.TagRead, () => { Mem(load, 0); Set(Res); Br("wb"); });
        }

        private void Store(byte store)
        {
            Get(A); ImmS(); Op(I64Add); Set(Va);
            Access(TlbEntryLayout.TagWrite, () => { Get(B); Mem(store, 0); Br("adv"); });
        }

        /// <summary>AMOSWAP/ADD/XOR/AND/OR .W/.D, naturally aligned on a page stores may reach directly (W implies R); else Slow.</summary>
        private void Amo(RvOp op)
        {
            bool word = op <= RvOp.AmomaxuW;
            AlignedProbe(word, TlbEntryLayout.TagWrite);
            Set(FHostTemp);
            Get(FHostTemp); Mem(word ? I64Load32S : I64Load, 0); Set(Res);
            Get(FHostTemp);
            RvOp plain = word ? op : op - (RvOp.AmoswapD - RvOp.AmoswapW);
            if (plain == RvOp.AmoswapW)
            {
                Get(B);
            }
            else
            {
                Get(Res); Get(B);
                Op(plain switch { RvOp.AmoaddW => I64Add, RvOp.AmoxorW => I64Xor, RvOp.AmoandW => I64And, _ => I64Or });
            }
            Mem(word ? I64Store32 : I64Store, 0);
            Br("wb");
            End();
            End();
            Br("slow");
        }

        /// <summary>
        /// A CSR instruction: on sscratch, sepc, scause or stval from S- or M-mode, or on mscratch, mepc, mcause or mtval from
        /// M-mode (what every trap handler reads and writes: Linux's entry and exit code, OpenSBI's), <see cref="TrapCsr"/>;
        /// else <see cref="Sstatus"/>, which leaves for the host at any other CSR.
        /// </summary>
        private void CsrInstruction(RvOp op)
        {
            Get(Inst); I32(20); Op(I32ShrU); I32(0xFFC); Op(I32And); Set(E);
            Get(E); I32(Csr.Sscratch); Op(I32Eq);
            Get(Regs); Mem(I32Load, RiscVHart.PrivSlot * 8); I32(RiscVHart.PrivSupervisor); Op(I32GeS);
            Op(I32And);
            If(); TrapCsr(op, RiscVHart.SscratchSlot); End();
            Get(E); I32(Csr.Mscratch); Op(I32Eq);
            Get(Regs); Mem(I32Load, RiscVHart.PrivSlot * 8); I32(RiscVHart.PrivMachine); Op(I32Eq);
            Op(I32And);
            If(); TrapCsr(op, RiscVHart.MscratchSlot); End();
            Sstatus(op);
        }

        /// <summary>
        /// CSR number & 3 picks the slot after <paramref name="slot"/> (scratch, epc, cause, tval), as
        /// <see cref="RiscVHart.ExecCsr"/> reads and writes them: csrrs/csrrc write only with rs1 (or the immediate) not zero,
        /// an epc's bit 0 is cleared (IALIGN 16), no write ends the run (<see cref="RiscVHart.CsrWriteEndsRun"/>).
        /// </summary>
        private void TrapCsr(RvOp op, int slot)
        {
            bool imm = op >= RvOp.Csrrwi, swap = op is RvOp.Csrrw or RvOp.Csrrwi;
            RvOp kind = imm ? op - (RvOp.Csrrwi - RvOp.Csrrw) : op;
            Get(Regs); I32(slot * 8); Op(I32Add);
            Get(Inst); I32(20); Op(I32ShrU); I32(3); Op(I32And); I32(3); Op(I32Shl); Op(I32Add); Set(E);
            Get(E); Mem(I64Load, 0); Set(Res);
            if (!swap)
            {
                Get(Inst); I32(15); Op(I32ShrU); I32(31); Op(I32And);
                If();
            }
            Get(E);
            NewCsrValue(kind, imm);
            // (an epc, CSR number & 3 == 1: bit 0 cleared)
            I64(-1); Get(Inst); I32(20); Op(I32ShrU); I32(3); Op(I32And); I32(1); Op(I32Eq); Op(I64ExtendI32U); Op(I64Xor); Op(I64And);
            Mem(I64Store, 0);
            if (!swap)
                End();
            WriteRd(() => Get(Res));
            Get(Pc); Get(Len); Op(I64Add); Set(Target);
            Br("taken");
        }

        /// <summary>
        /// A CSR instruction on sstatus from S- or M-mode (Linux's interrupt-flag saves and restores), as
        /// <see cref="RiscVHart.ExecCsr"/> does it, when the write changes only SIE, SPIE or SPP and does not enable an
        /// interrupt that is pending (<see cref="RiscVHart.CsrWriteEndsRun"/>); any other CSR, privilege or change (SUM,
        /// MXR, FS) leaves as Slow before touching anything. The next pc counts as an arrival, as the C# interpreter counts it
        /// (compiled code stops before CSR instructions).
        /// </summary>
        private void Sstatus(RvOp op)
        {
            bool imm = op >= RvOp.Csrrwi, swap = op is RvOp.Csrrw or RvOp.Csrrwi;
            RvOp kind = imm ? op - (RvOp.Csrrwi - RvOp.Csrrw) : op;
            Get(Inst); I32(20); Op(I32ShrU); I32(Csr.Sstatus); Op(I32Ne);
            Get(Regs); Mem(I32Load, RiscVHart.PrivSlot * 8); I32(RiscVHart.PrivSupervisor); Op(I32LtS);
            Op(I32Or);
            If(); Br("slow"); End();
            // old sstatus: mstatus (with SD when FS is dirty) under the sstatus mask
            Get(Regs); Mem(I64Load, RiscVHart.MstatusSlot * 8); Set(Va);
            Get(Va);
            Get(Va); I64((long)RvStatus.Fs); Op(I64And); I64((long)RvStatus.Fs); Op(I64Eq);
            If(); I64(unchecked((long)RvStatus.Sd)); Set(T); Op(WasmOp.Else); I64(0); Set(T); End();
            Get(T); Op(I64Or); I64(unchecked((long)RvStatus.SstatusMask)); Op(I64And); Set(Res);
            if (!swap)
            {
                // csrrs/csrrc write only with rs1 (or the immediate) not zero
                Get(Inst); I32(15); Op(I32ShrU); I32(31); Op(I32And);
                If();
            }
            // the new sstatus
            NewCsrValue(kind, imm);
            Set(T);
            // mstatus as WriteMstatus makes it: the sstatus bits from the value, the writable bits only, no SD
            Get(Va); I64(unchecked((long)~RvStatus.SstatusMask)); Op(I64And);
            Get(T); I64(unchecked((long)RvStatus.SstatusMask)); Op(I64And); Op(I64Or); Set(T);
            Get(Va); I64(unchecked((long)~RvStatus.MstatusWritable)); Op(I64And);
            Get(T); I64((long)RvStatus.MstatusWritable); Op(I64And); Op(I64Or);
            I64(unchecked((long)~RvStatus.Sd)); Op(I64And); Set(T);
            // anything but SIE, SPIE and SPP changing, or SIE rising with an interrupt pending and enabled: the host
            Get(T); Get(Va); Op(I64Xor); I64(unchecked((long)~(RvStatus.Sie | RvStatus.Spie | RvStatus.Spp))); Op(I64And); Op(I64Eqz); Op(I32Eqz);
            Get(T); Get(Va); I64(-1); Op(I64Xor); Op(I64And); I64((long)RvStatus.Sie); Op(I64And); Op(I64Eqz); Op(I32Eqz);
            Get(Regs); Mem(I64Load, RiscVHart.MipSoftSlot * 8); Get(Regs); Mem(I64Load, RiscVHart.MipPinsSlot * 8); Op(I64Or);
            Get(Regs); Mem(I64Load, RiscVHart.MieSlot * 8); Op(I64And); Op(I64Eqz); Op(I32Eqz);
            Op(I32And);
            Op(I32Or);
            If(); Br("slow"); End();
            Get(Regs); Get(T); Mem(I64Store, RiscVHart.MstatusSlot * 8);
            if (!swap)
                End();
            WriteRd(() => Get(Res));
            Get(Pc); Get(Len); Op(I64Add); Set(Target);
            Br("taken");
        }

        /// <summary>The value a CSR instruction of <paramref name="kind"/> (csrrw, csrrs or csrrc) writes, from the old value in Res.</summary>
        private void NewCsrValue(RvOp kind, bool imm)
        {
            if (kind == RvOp.Csrrw)
                Operand(imm);
            else if (kind == RvOp.Csrrs)
            {
                Get(Res); Operand(imm); Op(I64Or);
            }
            else
            {
                Get(Res); Operand(imm); I64(-1); Op(I64Xor); Op(I64And);
            }
        }

        /// <summary>A CSR instruction's operand: x[rs1] (loaded as A) or the 5-bit immediate in the rs1 field.</summary>
        private void Operand(bool imm)
        {
            if (imm)
            {
                Get(Inst); I32(15); Op(I32ShrU); I32(31); Op(I32And); Op(I64ExtendI32U);
            }
            else
            {
                Get(A);
            }
        }

        /// <summary>
        /// Va = x[rs1]; opens two ifs, naturally aligned (.W or .D) and a hit on <paramref name="tag"/>, with the host
        /// address on the stack inside both (the caller closes them, then leaves as Slow).
        /// </summary>
        private void AlignedProbe(bool word, int tag)
        {
            Get(A); Set(Va);
            Get(Va); I64(word ? 3 : 7); Op(I64And); Op(I64Eqz);
            If();
            Entry(DTlb, Va);
            Get(E); Mem(I64Load, tag); Get(Va); I64(~0xFFFL); Op(I64And); Op(I64Eq);
            If();
            Get(E); Mem(I64Load, TlbEntryLayout.Addend); Get(Va); Op(I64Add); Op(I32WrapI64);
        }

        /// <summary>LR: naturally aligned, on a page loads may reach directly; the reservation is its address. Else Slow.</summary>
        private void LoadReserved(bool word)
        {
            AlignedProbe(word, TlbEntryLayout.TagRead);
            Mem(word ? I64Load32S : I64Load, 0); Set(Res);
            Get(Regs); Get(Va); Mem(I64Store, RiscVHart.ReservationSlot * 8);
            Br("wb");
            End();
            End();
            Br("slow");
        }

        /// <summary>
        /// SC (as <see cref="RiscVHart.ExecAtomic"/>): naturally aligned (else Slow: the misaligned fault); without the
        /// reservation it fails (rd = 1) touching no memory; with it, on a page stores may reach directly, it stores
        /// (rd = 0), else Slow. Either way the reservation goes.
        /// </summary>
        private void StoreConditional(bool word)
        {
            Get(A); Set(Va);
            Get(Va); I64(word ? 3 : 7); Op(I64And); Op(I64Eqz);
            If();
            Get(Regs); Mem(I64Load, RiscVHart.ReservationSlot * 8); Get(Va); Op(I64Ne);
            If();
            Get(Regs); I64(-1); Mem(I64Store, RiscVHart.ReservationSlot * 8);
            I64(1); Set(Res); Br("wb");
            End();
            Entry(DTlb, Va);
            Get(E); Mem(I64Load, TlbEntryLayout.TagWrite); Get(Va); I64(~0xFFFL); Op(I64And); Op(I64Eq);
            If();
            Get(E); Mem(I64Load, TlbEntryLayout.Addend); Get(Va); Op(I64Add); Op(I32WrapI64);
            Get(B); Mem(word ? I64Store32 : I64Store, 0);
            Get(Regs); I64(-1); Mem(I64Store, RiscVHart.ReservationSlot * 8);
            I64(0); Set(Res); Br("wb");
            End();
            End();
            Br("slow");
        }

        // (the AMO's host address: Set is free there, the fetch page's host address is not)
        private const int FHostTemp = SetLocal;

        /// <summary>ColdRetired += what this run retired here (count - start).</summary>
        private void AddRetired()
        {
            Get(Ctx);
            Get(Ctx); Mem(I64Load, ExitContext.ColdRetired);
            Get(Count); Get(Start); Op(I32Sub); Op(I64ExtendI32U); Op(I64Add);
            Mem(I64Store, ExitContext.ColdRetired);
        }

        /// <summary>
        /// Counts an arrival at pc as <see cref="HotTable.Bump"/> does with <paramref name="weight"/> (a taken target: 1;
        /// where compiled code chained to: the engine's weight for a chained exit's target). Once it is hot: with <paramref name="chain"/>, tail-calls its code if the jump cache has it (as a
        /// chained exit of compiled code does) and the budget allows; else leaves with Chain.
        /// </summary>
        private void EmitHotBump(bool chain, int weight)
        {
            Address(layout.HotTable);
            Get(Pc); I64(1); Op(I64ShrU); Op(I32WrapI64); I32((int)HotTable.Mask); Op(I32And); I32(5); Op(I32Shl);
            Op(I32Add); Set(Set_);
            Get(Set_); Mem(I64Load, 0); Get(Pc); Op(I64Eq);
            If();
            Get(Set_); Mem(I64Load, 8); I64(weight); Op(I64Add); Set(T);
            Get(Set_); Get(T); Mem(I64Store, 8);
            _w.Byte(WasmOp.Else);
            // the second way's count (or a new entry's), then the way moves to the front
            Get(Set_); Mem(I64Load, 16); Get(Pc); Op(I64Eq);
            If();
            Get(Set_); Mem(I64Load, 24); I64(weight); Op(I64Add); Set(T);
            _w.Byte(WasmOp.Else);
            I64(weight); Set(T);
            End();
            Get(Set_); Get(Set_); Mem(I64Load, 0); Mem(I64Store, 16);
            Get(Set_); Get(Set_); Mem(I64Load, 8); Mem(I64Store, 24);
            Get(Set_); Get(Pc); Mem(I64Store, 0);
            Get(Set_); Get(T); Mem(I64Store, 8);
            End();
            Get(T); I64(layout.HotThreshold); Op(I64GeS);
            If();
            if (chain)
            {
                // the jump-cache slot (ExitContext.JumpCacheIndex with shift 1)
                Get(Ctx); Mem(I32Load, ExitContext.JumpCache);
                Get(Pc); I64(1); Op(I64ShrU);
                Get(Pc); I64(1 + layout.JumpCacheBits); Op(I64ShrU);
                Op(I64Xor); Op(I32WrapI64); I32((1 << layout.JumpCacheBits) - 1); Op(I32And);
                I32(ExitContext.JumpCacheEntryShift); Op(I32Shl); Op(I32Add); Set(E);
                Get(E); Mem(I64Load, ExitContext.EntryPc); Get(Pc); Op(I64Eq);
                Get(E); Mem(I32Load, ExitContext.EntryStamp); Set(Stamp);
                Get(Stamp); Get(Ctx); Mem(I32Load, ExitContext.Stamp); Op(I32Eq);
                Get(Stamp); Get(Ctx); Mem(I32Load, ExitContext.GlobalStamp); Op(I32Eq);
                Op(I32Or); Op(I32And);
                Get(Count); Get(Budget); Op(I32LtS); Op(I32And);
                If();
                AddRetired();
                Get(Ctx); Get(Count);
                Get(E); Mem(I32Load, ExitContext.EntryCode);
                _w.Byte(ReturnCallIndirect); _w.U32(0); _w.U32(0);
                End();
            }
            I32((int)CodeExit.Chain); Set(Kind); Br("exit");
            End();
        }

        private const int Set_ = SetLocal;

        private void Advance()
        {
            Get(Count); I32(1); Op(I32Add); Set(Count);
            Get(Pc); Get(Len); Op(I64Add); Set(Pc);
        }

        /// <summary>x[rd] = value, and x0 stays zero (written back to zero after).</summary>
        private void WriteRd(Action value)
        {
            Get(Regs); Get(RdOff); Op(I32Add); value(); Mem(I64Store, 0);
            Get(Regs); I64(0); Mem(I64Store, 0);
        }

        private void ImmI() { Get(Inst); I32(20); Op(I32ShrS); Op(I64ExtendI32S); }

        private void ImmU() { Get(Inst); I32(unchecked((int)0xFFFF_F000)); Op(I32And); Op(I64ExtendI32S); }

        private void Shamt(int mask) { Get(Inst); I32(20); Op(I32ShrU); I32(mask); Op(I32And); Op(I64ExtendI32U); }

        private void ImmS()
        {
            Get(Inst); I32(unchecked((int)0xFE00_0000)); Op(I32And); I32(20); Op(I32ShrS);
            Get(Inst); I32(7); Op(I32ShrU); I32(0x1F); Op(I32And); Op(I32Or);
            Op(I64ExtendI32S);
        }

        private void ImmB()
        {
            Get(Inst); I32(unchecked((int)0x8000_0000)); Op(I32And); I32(19); Op(I32ShrS);
            Get(Inst); I32(0x80); Op(I32And); I32(4); Op(I32Shl); Op(I32Or);
            Get(Inst); I32(20); Op(I32ShrU); I32(0x7E0); Op(I32And); Op(I32Or);
            Get(Inst); I32(7); Op(I32ShrU); I32(0x1E); Op(I32And); Op(I32Or);
            Op(I64ExtendI32S);
        }

        private void ImmJ()
        {
            Get(Inst); I32(unchecked((int)0x8000_0000)); Op(I32And); I32(11); Op(I32ShrS);
            Get(Inst); I32(0xFF000); Op(I32And); Op(I32Or);
            Get(Inst); I32(9); Op(I32ShrU); I32(0x800); Op(I32And); Op(I32Or);
            Get(Inst); I32(20); Op(I32ShrU); I32(0x7FE); Op(I32And); Op(I32Or);
            Op(I64ExtendI32S);
        }

        private void LoadCtx32(int offset, int local)
        {
            Get(Ctx); Mem(I32Load, offset); Set(local);
        }

        private void Get(int local) { _w.Byte(LocalGet); _w.U32((uint)local); }

        private void Set(int local) { _w.Byte(LocalSet); _w.U32((uint)local); }

        private void I32(int v) { _w.Byte(I32Const); _w.S64(v); }

        /// <summary>A <see cref="Layout"/> address: always five bytes (a padded LEB128), so a template's can be patched in place (<see cref="Prebuilt"/>).</summary>
        private void Address(int v)
        {
            _w.Byte(I32Const);
            _w.S32Fixed(v);
        }

        private void I64(long v) { _w.Byte(I64Const); _w.S64(v); }

        private void Op(byte op) => _w.Byte(op);

        /// <summary>A load or store with alignment hint 0 (any address) and a constant offset.</summary>
        private void Mem(byte op, int offset)
        {
            _w.Byte(op);
            _w.U32(0);
            _w.U32((uint)offset);
        }

        private void Block(string label) { _w.Byte(WasmOp.Block); _w.Byte(BlockVoid); _labels.Add(label); }

        private void Loop(string label) { _w.Byte(WasmOp.Loop); _w.Byte(BlockVoid); _labels.Add(label); }

        private void If() { _w.Byte(WasmOp.If); _w.Byte(BlockVoid); _labels.Add(""); }

        private void End() { _w.Byte(WasmOp.End); _labels.RemoveAt(_labels.Count - 1); }

        private int Depth(string label) => _labels.Count - 1 - _labels.LastIndexOf(label);

        private void Br(string label) { _w.Byte(WasmOp.Br); _w.U32((uint)Depth(label)); }
    }

    private static class TlbEntryLayout
    {
        public static readonly int TagRead = Memory.TlbEntry.TagReadOffset, TagWrite = Memory.TlbEntry.TagWriteOffset,
            TagExec = Memory.TlbEntry.TagExecOffset, Addend = Memory.TlbEntry.AddendOffset;
    }

}
