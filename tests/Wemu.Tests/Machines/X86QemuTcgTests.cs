using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>
/// QEMU's x86 TCG tests (test-i386.c for x86_64, the x87 tests, multiarch) natively and in the bundled
/// x86_64 guest on Wemu: same exit status and, after <see cref="X86QemuTcgRun.Normalize"/>, the same
/// output; float_convs/float_convd also match QEMU's x86_64 reference files. See
/// <see cref="X86QemuTcgRun.Programs"/> for what is built and what is left out, and why.
/// </summary>
[Collection("Boot")]
public class X86QemuTcgTests(X86QemuTcgRun run) : IClassFixture<X86QemuTcgRun>
{
    public static TheoryData<string> Names => [.. X86QemuTcgRun.Programs.Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void Qemu_Tcg_Test_Matches_The_Host(string name)
    {
        Assert.True(run.Error == null, $"the run failed: {run.Error}\n{Tail(run.GuestLog)}");
        var r = run.Results[name];
        Assert.True(r.BuildError == null, $"gcc: {r.BuildError}");
        Assert.True(r.HostStatus == r.GuestStatus,
            $"exit status: host {r.HostStatus}, wemu {r.GuestStatus}\nwemu's output:\n{Tail(r.GuestOutput)}\nguest console:\n{Tail(run.GuestLog)}");
        string host = X86QemuTcgRun.Normalize(name, r.HostOutput), guest = X86QemuTcgRun.Normalize(name, r.GuestOutput);
        Assert.True(host == guest, $"{name}: output differs from the host's, {X86QemuTcgRun.FirstDifference(host, guest)}");
        if (r.Reference != null)
            Assert.True(r.Reference == guest, $"{name}: output differs from QEMU's reference, {X86QemuTcgRun.FirstDifference(r.Reference, guest)}");
    }

    private static string Tail(string s) => s.Length > 2000 ? s[^2000..] : s;
}
