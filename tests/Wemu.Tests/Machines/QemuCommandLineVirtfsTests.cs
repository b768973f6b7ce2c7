using Wemu.Machines;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>QEMU's two spellings of a shared folder, and the errors for what Wemu does not support.</summary>
public class QemuCommandLineVirtfsTests
{
    [Fact]
    public void Virtfs_With_All_Options()
    {
        var c = QemuCommandLine.Parse(["-virtfs", "local,path=/srv/share,mount_tag=host,security_model=mapped-xattr,readonly=on,id=x"]);
        var f = Assert.Single(c.SharedFolders);
        Assert.Equal(new SharedFolderConfig("/srv/share", "host", "mapped-xattr", true), f);
    }

    [Fact]
    public void Virtfs_Defaults_To_Security_Model_None_Read_Write()
    {
        var f = Assert.Single(QemuCommandLine.Parse(["-virtfs", "local,path=.,mount_tag=t"]).SharedFolders);
        Assert.Equal(new SharedFolderConfig(".", "t", "none", false), f);
        Assert.Equal("mapped-xattr", QemuCommandLine.Parse(["-virtfs", "local,path=.,mount_tag=t,security_model=mapped"]).SharedFolders[0].SecurityModel);
    }

    [Fact]
    public void Virtfs_Opt_Ins_Are_Off_By_Default_And_Parse_As_On_Off()
    {
        var f = Assert.Single(QemuCommandLine.Parse(["-virtfs", "local,path=.,mount_tag=t"]).SharedFolders);
        Assert.False(f.AllowSetId || f.AllowRootOwner || f.AllowSpecialFiles);
        f = Assert.Single(QemuCommandLine.Parse(["-virtfs", "local,path=.,mount_tag=t,x-setid=on,x-chown-root=on,x-special-files=on"]).SharedFolders);
        Assert.Equal(new SharedFolderConfig(".", "t", "none", false, true, true, true), f);
        f = Assert.Single(QemuCommandLine.Parse(["-fsdev", "local,id=a,path=/d,x-special-files=on", "-device", "virtio-9p-device,fsdev=a,mount_tag=t"]).SharedFolders);
        Assert.Equal(new SharedFolderConfig("/d", "t", "none", false, false, false, true), f);
    }

    [Theory]
    [InlineData("virtio-9p-device")]
    [InlineData("virtio-9p-pci")]
    public void Fsdev_And_Device_Spelling(string driver)
    {
        var c = QemuCommandLine.Parse(["-fsdev", "local,id=fs0,path=/data,security_model=none,readonly=on",
            "-device", $"{driver},fsdev=fs0,mount_tag=share0"]);
        Assert.Equal(new SharedFolderConfig("/data", "share0", "none", true), Assert.Single(c.SharedFolders));
    }

    [Fact]
    public void Two_Shares_Keep_Their_Order()
    {
        var c = QemuCommandLine.Parse(["-virtfs", "local,path=/a,mount_tag=a", "-virtfs", "local,path=/b,mount_tag=b"]);
        Assert.Equal(["a", "b"], c.SharedFolders.Select(f => f.MountTag));
    }

    [Theory]
    [InlineData(new[] { "-virtfs", "local,mount_tag=t" }, "needs path=DIR")]
    [InlineData(new[] { "-virtfs", "local,path=/x" }, "needs mount_tag=TAG")]
    [InlineData(new[] { "-virtfs", "proxy,path=/x,mount_tag=t" }, "unsupported -virtfs driver 'proxy'")]
    [InlineData(new[] { "-virtfs", "local,path=/x,mount_tag=t,security_model=passthrough" }, "unsupported security_model 'passthrough'")]
    [InlineData(new[] { "-virtfs", "local,path=/x,mount_tag=t,security_model=mapped-file" }, "unsupported security_model 'mapped-file'")]
    [InlineData(new[] { "-virtfs", "local,path=/x,mount_tag=t,security_model=mapped-xattr,x-setid=on" }, "apply to security_model=none only")]
    [InlineData(new[] { "-virtfs", "local,path=/x,mount_tag=t,x-special-files=maybe" }, "invalid value 'maybe' for x-special-files")]
    [InlineData(new[] { "-virtfs", "local,path=/x,mount_tag=t,frob=1" }, "unknown -virtfs option 'frob'")]
    [InlineData(new[] { "-virtfs", "local,path=/x,mount_tag=t,readonly=maybe" }, "invalid value 'maybe' for readonly")]
    [InlineData(new[] { "-virtfs", "local,path=/x,mount_tag=t", "-virtfs", "local,path=/y,mount_tag=t" }, "duplicate mount_tag 't'")]
    [InlineData(new[] { "-device", "virtio-9p-device,fsdev=nope,mount_tag=t" }, "no -fsdev with id 'nope'")]
    [InlineData(new[] { "-fsdev", "local,id=a,path=/x", "-device", "virtio-9p-device,fsdev=a" }, "needs mount_tag=TAG")]
    [InlineData(new[] { "-fsdev", "local,path=/x" }, "-fsdev needs id=NAME")]
    [InlineData(new[] { "-device", "e1000" }, "unsupported device 'e1000'")]
    [InlineData(new[] { "-M", "spike", "-bios", "none", "-kernel", "k", "-virtfs", "local,path=/x,mount_tag=t" }, "no virtio slots")]
    public void Errors_Are_One_Line_ConfigExceptions(string[] args, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => QemuCommandLine.Parse(args));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
