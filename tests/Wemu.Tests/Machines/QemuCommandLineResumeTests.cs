using Wemu.Machines;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary><c>-incoming</c>, <c>-loadvm</c> and <c>-force-resume</c>: what a resume is given.</summary>
public class QemuCommandLineResumeTests
{
    [Fact]
    public void Force_Resume_Goes_With_A_Resume()
    {
        var c = QemuCommandLine.Parse(["-incoming", "file:/tmp/vm.snap", "-force-resume"]);
        Assert.Equal(("/tmp/vm.snap", true), (c.Incoming, c.ForceResume));
        Assert.False(QemuCommandLine.Parse(["-incoming", "file:/tmp/vm.snap"]).ForceResume);
        var named = QemuCommandLine.Parse(["-snapshot-dir", "/tmp/snaps", "-loadvm", "booted", "-force-resume"]);
        Assert.True(named.ForceResume);
        var e = Assert.Throws<ConfigException>(() => QemuCommandLine.Parse(["-force-resume"]));
        Assert.Equal("-force-resume applies to a resume: add -incoming file:PATH or -loadvm NAME", e.Message);
    }
}
