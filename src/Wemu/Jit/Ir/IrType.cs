namespace Wemu.Jit.Ir;

/// <summary>Value types of the IR: the four WebAssembly number types, which IL also has.</summary>
public enum IrType : byte
{
    I32,
    I64,
    F32,
    F64,
}
