using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using Wemu.Cpu.Float;

namespace Wemu.Tests.Cpu.Float;

/// <summary>
/// Loads the reference vectors produced by vectors/gen.sh (real RISC-V
/// instructions under qemu-riscv64) and runs them through <see cref="SoftFloat"/>.
/// </summary>
internal static class SoftFloatVectorFile
{
    private const string FileName = "softfloat-vectors.txt.gz";
    private const ulong Sign64 = 0x8000_0000_0000_0000;
    private const uint Sign32 = 0x8000_0000;

    private static readonly Lazy<Dictionary<string, List<SoftFloatVector>>> s_byOp = new(Load);

    public static IReadOnlyDictionary<string, List<SoftFloatVector>> ByOp => s_byOp.Value;

    private static string FindFile([CallerFilePath] string sourcePath = "")
    {
        string besideSource = Path.Combine(Path.GetDirectoryName(sourcePath) ?? ".", "vectors", FileName);
        if (File.Exists(besideSource))
            return besideSource;
        // Source paths may be mapped (deterministic CI builds): walk up from the test binaries.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Wemu.Tests", "Cpu", "Float", "vectors", FileName);
            if (File.Exists(candidate))
                return candidate;
        }

        throw new FileNotFoundException("SoftFloat reference vectors not found", FileName);
    }

    private static Dictionary<string, List<SoftFloatVector>> Load()
    {
        var result = new Dictionary<string, List<SoftFloatVector>>();
        using var file = File.OpenRead(FindFile());
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.ASCII);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
                continue;
            var vector = Parse(line);
            if (!result.TryGetValue(vector.Op, out var list))
                result[vector.Op] = list = [];
            list.Add(vector);
        }

        return result;
    }

    public static SoftFloatVector Parse(string line)
    {
        string[] f = line.Split(' ');
        if (f.Length != 8 || f[5] != "->")
            throw new FormatException($"bad vector line: {line}");
        return new SoftFloatVector(
            f[0],
            (RoundingMode)byte.Parse(f[1]),
            Convert.ToUInt64(f[2], 16),
            Convert.ToUInt64(f[3], 16),
            Convert.ToUInt64(f[4], 16),
            Convert.ToUInt64(f[6], 16),
            (FloatFlags)Convert.ToByte(f[7], 16));
    }

    /// <summary>Runs one vector; returns the result (as printed by the generator) and the flags.</summary>
    public static (ulong Result, FloatFlags Flags) Run(in SoftFloatVector v)
    {
        FloatFlags fl = FloatFlags.None;
        RoundingMode rm = v.Rm;
        uint a32 = (uint)v.A, b32 = (uint)v.B, c32 = (uint)v.C;
        ulong a = v.A, b = v.B, c = v.C;
        ulong r = v.Op switch
        {
            "fadd.d" => SoftFloat.Add64(a, b, rm, ref fl),
            "fsub.d" => SoftFloat.Sub64(a, b, rm, ref fl),
            "fmul.d" => SoftFloat.Mul64(a, b, rm, ref fl),
            "fdiv.d" => SoftFloat.Div64(a, b, rm, ref fl),
            "fsqrt.d" => SoftFloat.Sqrt64(a, rm, ref fl),
            // fmsub = a*b - c, fnmsub = -(a*b) + c, fnmadd = -(a*b) - c (spec 11.6)
            "fmadd.d" => SoftFloat.MulAdd64(a, b, c, rm, ref fl),
            "fmsub.d" => SoftFloat.MulAdd64(a, b, c ^ Sign64, rm, ref fl),
            "fnmsub.d" => SoftFloat.MulAdd64(a ^ Sign64, b, c, rm, ref fl),
            "fnmadd.d" => SoftFloat.MulAdd64(a ^ Sign64, b, c ^ Sign64, rm, ref fl),
            "fmin.d" => SoftFloat.Min64(a, b, ref fl),
            "fmax.d" => SoftFloat.Max64(a, b, ref fl),
            "feq.d" => SoftFloat.Eq64(a, b, ref fl) ? 1UL : 0,
            "flt.d" => SoftFloat.Lt64(a, b, ref fl) ? 1UL : 0,
            "fle.d" => SoftFloat.Le64(a, b, ref fl) ? 1UL : 0,
            "fclass.d" => SoftFloat.Classify64(a),
            "fcvt.s.d" => SoftFloat.F64ToF32(a, rm, ref fl),
            "fcvt.w.d" => (uint)SoftFloat.F64ToInt32(a, rm, ref fl),
            "fcvt.wu.d" => SoftFloat.F64ToUInt32(a, rm, ref fl),
            "fcvt.l.d" => (ulong)SoftFloat.F64ToInt64(a, rm, ref fl),
            "fcvt.lu.d" => SoftFloat.F64ToUInt64(a, rm, ref fl),

            "fadd.s" => SoftFloat.Add32(a32, b32, rm, ref fl),
            "fsub.s" => SoftFloat.Sub32(a32, b32, rm, ref fl),
            "fmul.s" => SoftFloat.Mul32(a32, b32, rm, ref fl),
            "fdiv.s" => SoftFloat.Div32(a32, b32, rm, ref fl),
            "fsqrt.s" => SoftFloat.Sqrt32(a32, rm, ref fl),
            "fmadd.s" => SoftFloat.MulAdd32(a32, b32, c32, rm, ref fl),
            "fmsub.s" => SoftFloat.MulAdd32(a32, b32, c32 ^ Sign32, rm, ref fl),
            "fnmsub.s" => SoftFloat.MulAdd32(a32 ^ Sign32, b32, c32, rm, ref fl),
            "fnmadd.s" => SoftFloat.MulAdd32(a32 ^ Sign32, b32, c32 ^ Sign32, rm, ref fl),
            "fmin.s" => SoftFloat.Min32(a32, b32, ref fl),
            "fmax.s" => SoftFloat.Max32(a32, b32, ref fl),
            "feq.s" => SoftFloat.Eq32(a32, b32, ref fl) ? 1UL : 0,
            "flt.s" => SoftFloat.Lt32(a32, b32, ref fl) ? 1UL : 0,
            "fle.s" => SoftFloat.Le32(a32, b32, ref fl) ? 1UL : 0,
            "fclass.s" => SoftFloat.Classify32(a32),
            "fcvt.d.s" => SoftFloat.F32ToF64(a32, ref fl),
            "fcvt.w.s" => (uint)SoftFloat.F32ToInt32(a32, rm, ref fl),
            "fcvt.wu.s" => SoftFloat.F32ToUInt32(a32, rm, ref fl),
            "fcvt.l.s" => (ulong)SoftFloat.F32ToInt64(a32, rm, ref fl),
            "fcvt.lu.s" => SoftFloat.F32ToUInt64(a32, rm, ref fl),

            "fcvt.d.w" => SoftFloat.F64FromInt32((int)a32),
            "fcvt.d.wu" => SoftFloat.F64FromUInt32(a32),
            "fcvt.d.l" => SoftFloat.F64FromInt64((long)a, rm, ref fl),
            "fcvt.d.lu" => SoftFloat.F64FromUInt64(a, rm, ref fl),
            "fcvt.s.w" => SoftFloat.F32FromInt32((int)a32, rm, ref fl),
            "fcvt.s.wu" => SoftFloat.F32FromUInt32(a32, rm, ref fl),
            "fcvt.s.l" => SoftFloat.F32FromInt64((long)a, rm, ref fl),
            "fcvt.s.lu" => SoftFloat.F32FromUInt64(a, rm, ref fl),
            // fmv.s moves the (un)boxed binary32 operand and boxes the result (D spec 12.2).
            "fmv.s.box" => SoftFloat.Box32(SoftFloat.Unbox32(a)),
            _ => throw new InvalidOperationException($"unknown op {v.Op}"),
        };
        return (r, fl);
    }

    /// <summary>Checks vectors; returns how many failed and a report of the first <paramref name="maxReported"/>.</summary>
    public static (int Failed, string Report) Check(IEnumerable<SoftFloatVector> vectors, int maxReported = 20)
    {
        int failed = 0;
        var report = new StringBuilder();
        foreach (var v in vectors)
        {
            var (result, flags) = Run(v);
            if (result == v.Result && flags == v.Flags)
                continue;
            if (failed++ < maxReported)
                report.AppendLine($"{v}  but got {result:x} {(int)flags:x}");
        }

        return (failed, report.ToString());
    }
}
