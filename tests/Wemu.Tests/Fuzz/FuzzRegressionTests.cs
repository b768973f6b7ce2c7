using Wemu.Fuzz;
using Xunit;

namespace Wemu.Tests.Fuzz;

/// <summary>
/// Replays the fuzz targets' inputs (tests/Wemu.Fuzz, whose FuzzTargets.cs is compiled in here) without
/// the fuzzer: every seed in corpus/TARGET and every input that once crashed a target, in
/// crashes/TARGET (found by tests/Wemu.Fuzz/run.sh, or predicted by the security review), must now
/// be handled: no exception beyond the target's documented error type.
/// </summary>
public class FuzzRegressionTests
{
    private static string FuzzDir => Path.Combine(WemuProcess.RepoRoot, "tests", "Wemu.Fuzz");

    public static TheoryData<string, string> Inputs(string kind)
    {
        var data = new TheoryData<string, string>();
        foreach (string target in FuzzTargets.Names)
        {
            string dir = Path.Combine(FuzzDir, kind, target);
            if (!Directory.Exists(dir))
                continue;
            foreach (string file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                data.Add(target, Path.GetFileName(file));
        }
        return data;
    }

    public static TheoryData<string, string> Seeds() => Inputs("corpus");

    public static TheoryData<string, string> Crashes() => Inputs("crashes");

    [Theory]
    [MemberData(nameof(Seeds))]
    public void SeedIsHandled(string target, string file) =>
        FuzzTargets.Get(target)(File.ReadAllBytes(Path.Combine(FuzzDir, "corpus", target, file)));

    [Theory]
    [MemberData(nameof(Crashes))]
    public void CrashInputIsHandled(string target, string file) =>
        FuzzTargets.Get(target)(File.ReadAllBytes(Path.Combine(FuzzDir, "crashes", target, file)));

    [Fact]
    public void EveryTargetHasSeeds()
    {
        foreach (string target in FuzzTargets.Names)
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(FuzzDir, "corpus", target)));
    }

    [Fact]
    public void CommittedSeedsAreTheGeneratedOnes()
    {
        // corpus/ is what SeedCorpus writes (`Wemu.Fuzz --seeds DIR`): a seed changed by hand would be lost.
        foreach (var (target, name, bytes) in SeedCorpus.All())
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(FuzzDir, "corpus", target, name)));
    }
}
