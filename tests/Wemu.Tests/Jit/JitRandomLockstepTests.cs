using Wemu.Jit;
using Xunit;
using Xunit.Abstractions;

namespace Wemu.Tests.Jit;

/// <summary>
/// Random differential tests: seeded random RV64GC programs (<see cref="RandomProgramGenerator"/>)
/// run on the JIT and, in lockstep, on the interpreter (the reference); after every JIT slice the
/// whole architectural state and RAM must match. Each program runs with threshold 1 (everything
/// compiled on first sight) and threshold 2 (blocks turn hot in the middle of the program, so
/// cold interpreted code, compiled code and the switch between them all meet). Seeds are fixed:
/// a failure names its seed and reproduces.
/// </summary>
public sealed class JitRandomLockstepTests(ITestOutputHelper output)
{
    private const int Batches = 10;
    private const int ProgramsPerBatch = 10;

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

    [Theory]
    [MemberData(nameof(Cases))]
    public void Random_Programs_Match_The_Interpreter(int batch, bool compressed)
    {
        var programs = RandomProgramBatch.Assemble(1000 + batch * ProgramsPerBatch, ProgramsPerBatch, compressed);
        long compiled = 0, traps = 0, instructions = 0;
        foreach (var p in programs)
        {
            foreach (int threshold in (int[])[1, 2])
            {
                var jit = JitLockstep.Run(p.CreateMachine, new JitOptions { Threshold = threshold }, p.Seed, $"{p.Name}, threshold {threshold}",
                    atEnd: m =>
                    {
                        if (m.Hart.Mcause != 0)
                            traps++;
                    });
                compiled += jit.Statistics.BlocksCompiled;
                output.WriteLine($"{p.Name} t{threshold}: {jit.Statistics}");
                instructions += jit.Statistics.CompiledInstructions + jit.Statistics.ColdInstructions;
                Assert.True(jit.Statistics.CompiledInstructions > 0, $"{p.Name}: nothing ran compiled");
            }
        }
        output.WriteLine($"{programs.Count} programs x 2 thresholds: {compiled} blocks compiled, {instructions} instructions, {traps} runs took traps");
        // The generator's coverage: trapping instructions do occur in a batch.
        Assert.True(traps > 0, "no program of the batch took a trap");
    }
}
