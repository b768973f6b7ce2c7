using Wemu.Cpu.RiscV;
using Wemu.Jit;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Jit;

/// <summary>
/// Random differential tests: seeded random RV64GC programs (<see cref="RandomProgramGenerator"/>)
/// run on the JIT and, in lockstep, on the interpreter (the reference); after every JIT slice the
/// whole architectural state, RAM and device state must match. The batches run in M-mode on
/// physical addresses, in S-mode under Sv39 and in U-mode under Sv39 (trapping to S and back);
/// each program is built without and with RVC. Each runs
/// with three JIT configurations: threshold 1 (everything compiled on first sight), threshold 2
/// (blocks turn hot in the middle of the program, so cold interpreted code, compiled code and
/// the switch between them all meet), and threshold 1 with a tiny translation cache (flushed
/// over and over), regions of at most 12 instructions and compiled code prepared through the
/// background-worker path. Seeds are fixed: a failure names its seed and reproduces.
/// </summary>
public sealed class JitRandomLockstepTests(ITestOutputHelper output)
{
    private const int Batches = 10;
    private const int ProgramsPerBatch = 10;

    private static readonly (string Name, JitOptions Options)[] Configurations =
    [
        ("threshold 1", new JitOptions { Threshold = 1 }),
        ("threshold 2", new JitOptions { Threshold = 2 }),
        ("threshold 1, 8 KiB cache, 12-instruction regions", new JitOptions
        {
            Threshold = 1,
            CacheBytes = 8 << 10,
            MaxRegionInstructions = 12,
        }),
        ("IL backend, threshold 1", new JitOptions { Threshold = 1, NativeCode = false }),
        ("IL backend, threshold 1, 8 KiB cache, 12-instruction regions, prepared", new JitOptions
        {
            Threshold = 1,
            CacheBytes = 8 << 10,
            MaxRegionInstructions = 12,
            Background = work => work(),
            NativeCode = false,
        }),
    ];

    public static TheoryData<int, bool> Cases()
    {
        var data = new TheoryData<int, bool>();
        for (int b = 0; b < Batches; b++)
        {
            data.Add(b, false);
            data.Add(b, true);
        }
        return data;
    }

    /// <summary>Batch <paramref name="batch"/> of ten programs, in M-, S- or U-mode by turns.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Random_Programs_Match_The_Interpreter(int batch, bool compressed)
    {
        int mode = (batch % 3) switch { 0 => RiscVHart.PrivMachine, 1 => RiscVHart.PrivSupervisor, _ => RiscVHart.PrivUser };
        var programs = RandomProgramBatch.Assemble(1000 + batch * ProgramsPerBatch, ProgramsPerBatch, compressed, mode);
        long compiled = 0, instructions = 0, flushes = 0;
        int trapped = 0;
        foreach (var p in programs)
        {
            foreach (var (name, options) in Configurations)
            {
                var jit = JitLockstep.Run(p.CreateMachine, options, p.Seed, $"{p.Name}, {name}",
                    atEnd: m =>
                    {
                        if ((mode == RiscVHart.PrivMachine ? m.Hart.Mcause : m.Hart.Scause) != 0)
                            trapped++;
                    });
                compiled += jit.Statistics.BlocksCompiled;
                flushes += jit.Statistics.Flushes;
                instructions += jit.Statistics.CompiledInstructions + jit.Statistics.ColdInstructions;
                Assert.True(jit.Statistics.CompiledInstructions > 0, $"{p.Name}, {name}: nothing ran compiled");
            }
        }
        output.WriteLine($"{programs.Count} programs x {Configurations.Length} configurations: {compiled} blocks compiled, " +
            $"{instructions} instructions, {flushes} cache flushes, {trapped} runs took traps");
        // The generator's coverage: traps do happen, and the small cache does get flushed.
        Assert.True(trapped > 0, "no program of the batch took a trap");
        Assert.True(flushes > 0, "the small translation cache was never flushed");
    }
}
