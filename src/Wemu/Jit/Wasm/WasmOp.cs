namespace Wemu.Jit.Wasm;

/// <summary>The WebAssembly opcodes the backend emits (core spec 5.4; tail calls from the tail-call extension).</summary>
internal static class WasmOp
{
    public const byte Unreachable = 0x00, Block = 0x02, Loop = 0x03, If = 0x04, Else = 0x05, End = 0x0B,
        Br = 0x0C, BrIf = 0x0D, BrTable = 0x0E, Return = 0x0F, Call = 0x10, CallIndirect = 0x11,
        ReturnCallIndirect = 0x13, Drop = 0x1A, Select = 0x1B,
        LocalGet = 0x20, LocalSet = 0x21, LocalTee = 0x22;

    public const byte I32Load = 0x28, I64Load = 0x29, I32Load8U = 0x2D, I32Load16U = 0x2F,
        I64Load8S = 0x30, I64Load8U = 0x31, I64Load16S = 0x32, I64Load16U = 0x33, I64Load32S = 0x34, I64Load32U = 0x35,
        I32Store = 0x36, I64Store = 0x37, I64Store8 = 0x3C, I64Store16 = 0x3D, I64Store32 = 0x3E;

    public const byte I32Const = 0x41, I64Const = 0x42;

    public const byte I32Eqz = 0x45, I32Eq = 0x46, I32Ne = 0x47, I32LtS = 0x48, I32LtU = 0x49, I32GtS = 0x4A,
        I32GtU = 0x4B, I32LeS = 0x4C, I32LeU = 0x4D, I32GeS = 0x4E, I32GeU = 0x4F;

    public const byte I64Eqz = 0x50, I64Eq = 0x51, I64Ne = 0x52, I64LtS = 0x53, I64LtU = 0x54, I64GtS = 0x55,
        I64GtU = 0x56, I64LeS = 0x57, I64LeU = 0x58, I64GeS = 0x59, I64GeU = 0x5A;

    public const byte I32Add = 0x6A, I32Sub = 0x6B, I32Mul = 0x6C, I32DivS = 0x6D, I32DivU = 0x6E, I32RemS = 0x6F,
        I32RemU = 0x70, I32And = 0x71, I32Or = 0x72, I32Xor = 0x73, I32Shl = 0x74, I32ShrS = 0x75, I32ShrU = 0x76;

    public const byte I64Add = 0x7C, I64Sub = 0x7D, I64Mul = 0x7E, I64DivS = 0x7F, I64DivU = 0x80, I64RemS = 0x81,
        I64RemU = 0x82, I64And = 0x83, I64Or = 0x84, I64Xor = 0x85, I64Shl = 0x86, I64ShrS = 0x87, I64ShrU = 0x88,
        I64Rotl = 0x89, I64Rotr = 0x8A;

    /// <summary>Unary bit counts (i64; the i32 ones are <see cref="ArithFor"/> of them too).</summary>
    public const byte I64Clz = 0x79, I64Ctz = 0x7A, I64Popcnt = 0x7B;

    public const byte I32WrapI64 = 0xA7, I64ExtendI32S = 0xAC, I64ExtendI32U = 0xAD;

    public const byte TypeI32 = 0x7F, TypeI64 = 0x7E, TypeFuncRef = 0x70, BlockVoid = 0x40, FuncType = 0x60;

    /// <summary>The i32 form of an i64 arithmetic or compare opcode (the i64 ones are the i32 ones shifted).</summary>
    public static byte ArithFor(IrTypeWidth w, byte op64) => w == IrTypeWidth.W32 ? (byte)(op64 - (I64Add - I32Add)) : op64;

    public static byte CompareFor(IrTypeWidth w, byte op64) => w == IrTypeWidth.W32 ? (byte)(op64 - (I64Eqz - I32Eqz)) : op64;
}

internal enum IrTypeWidth { W32, W64 }
