using Wemu.Machines;
using Wemu.Net;
using Xunit;

namespace Wemu.Tests.Machines;

/// <summary>QEMU's spellings of a user-mode NIC (-nic user, -netdev user + -device virtio-net-device) and their errors.</summary>
public class QemuCommandLineNetworkTests
{
    [Fact]
    public void No_Nic_Flag_Means_No_Nic() => Assert.Null(QemuCommandLine.Parse([]).Network);

    [Fact]
    public void Nic_User_With_Forwards_And_Restrict()
    {
        var c = QemuCommandLine.Parse(["-nic", "user,hostfwd=tcp::8080-:80,hostfwd=udp:0.0.0.0:5353-10.0.2.15:53,restrict=on,model=virtio-net-device"]);
        var n = Assert.IsType<UserNetworkOptions>(c.Network);
        Assert.True(n.Restrict);
        Assert.Equal(
            [
                new HostForward(false, UserNetwork.HostLoopback, 8080, UserNetwork.GuestAddress, 80),
                new HostForward(true, 0, 5353, UserNetwork.GuestAddress, 53),
            ], n.HostForwards);
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, n.MacAddress);
    }

    [Fact]
    public void Netdev_And_Device_Spelling_With_A_Mac()
    {
        var c = QemuCommandLine.Parse(["x86_64", "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22", "-device", "virtio-net-device,netdev=n0,mac=52:54:00:ab:cd:ef"]);
        var n = Assert.IsType<UserNetworkOptions>(c.Network);
        Assert.False(n.Restrict);
        Assert.Equal(new HostForward(false, UserNetwork.HostLoopback, 2222, UserNetwork.GuestAddress, 22), Assert.Single(n.HostForwards));
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF }, n.MacAddress);
    }

    [Fact]
    public void Nic_Websocket_Names_The_Relay_And_Keeps_The_Mac()
    {
        var c = QemuCommandLine.Parse(["-nic", "websocket,url=ws://127.0.0.1:8081/net,mac=52:54:00:ab:cd:ef"]);
        Assert.Equal("ws://127.0.0.1:8081/net", c.NetworkRelayUrl);
        var n = Assert.IsType<UserNetworkOptions>(c.Network);
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF }, n.MacAddress);
        Assert.Empty(n.HostForwards);
    }

    [Fact]
    public void Netdev_Websocket_And_Device_Spelling()
    {
        var c = QemuCommandLine.Parse(["x86_64", "-netdev", "websocket,id=n0,url=wss://relay.example/net", "-device", "virtio-net-device,netdev=n0"]);
        Assert.Equal("wss://relay.example/net", c.NetworkRelayUrl);
        Assert.NotNull(c.Network);
    }

    [Fact]
    public void Nic_User_Has_No_Relay() => Assert.Null(QemuCommandLine.Parse(["-nic", "user"]).NetworkRelayUrl);

    [Theory]
    [InlineData("websocket", "-nic websocket needs url=")]
    [InlineData("websocket,url=http://127.0.0.1/net", "invalid relay url")]
    [InlineData("websocket,url=/net", "invalid relay url")]
    [InlineData("websocket,url=ws://127.0.0.1/net,hostfwd=tcp::80-:80", "unknown -nic websocket option 'hostfwd'")]
    [InlineData("socket,url=ws://x/net", "unsupported -nic type 'socket' (supported: user, websocket, none)")]
    public void Bad_Websocket_Nic(string spec, string message) =>
        Assert.Contains(message, Assert.Throws<ConfigException>(() => QemuCommandLine.Parse(["-nic", spec])).Message);

    [Fact]
    public void Nic_None_Is_No_Nic() => Assert.Null(QemuCommandLine.Parse(["-nic", "none"]).Network);

    [Theory]
    [InlineData("unsupported -nic type 'tap'", "-nic", "tap,ifname=tap0")]
    [InlineData("unsupported -nic model 'e1000'", "-nic", "user,model=e1000")]
    [InlineData("invalid hostfwd rule 'tcp:8080'", "-nic", "user,hostfwd=tcp:8080")]
    [InlineData("invalid hostfwd protocol 'sctp'", "-nic", "user,hostfwd=sctp::1-:2")]
    [InlineData("invalid hostfwd port '99999'", "-nic", "user,hostfwd=tcp::99999-:80")]
    [InlineData("invalid hostfwd guest port", "-nic", "user,hostfwd=tcp::8080-:0")]
    [InlineData("invalid hostfwd address '1.2.3'", "-nic", "user,hostfwd=tcp:1.2.3:8080-:80")]
    [InlineData("two hostfwd rules for host port 8080", "-nic", "user,hostfwd=tcp::8080-:80,hostfwd=tcp::8080-:81")]
    [InlineData("invalid value 'maybe' for restrict", "-nic", "user,restrict=maybe")]
    [InlineData("unknown -nic option 'net'", "-nic", "user,net=10.0.3.0/24")]
    [InlineData("invalid mac '52:54:00:12:34'", "-nic", "user,mac=52:54:00:12:34")]
    [InlineData("a multicast address", "-nic", "user,mac=01:00:5e:00:00:01")]
    [InlineData("unsupported -netdev type 'socket'", "-netdev", "socket,id=n0")]
    [InlineData("-netdev needs id=NAME", "-netdev", "user")]
    [InlineData("-netdev 'n0' is not used by a device", "-netdev", "user,id=n0")]
    public void Bad_Network_Flags_Give_One_Line_Errors(string message, params string[] args)
    {
        var e = Assert.Throws<ConfigException>(() => QemuCommandLine.Parse(args));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Device_Errors()
    {
        Assert.Contains("no -netdev with id 'n1'", Assert.Throws<ConfigException>(() =>
            QemuCommandLine.Parse(["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n1"])).Message);
        Assert.Contains("needs netdev=ID", Assert.Throws<ConfigException>(() =>
            QemuCommandLine.Parse(["-device", "virtio-net-device"])).Message);
        Assert.Contains("only one NIC", Assert.Throws<ConfigException>(() =>
            QemuCommandLine.Parse(["-nic", "user", "-nic", "user"])).Message);
        Assert.Contains("-netdev 'n0' is used by two devices", Assert.Throws<ConfigException>(() =>
            QemuCommandLine.Parse(["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0", "-device", "virtio-net-device,netdev=n0"])).Message);
        Assert.Contains("only one NIC", Assert.Throws<ConfigException>(() =>
            QemuCommandLine.Parse(["-nic", "user", "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"])).Message);
        Assert.Contains("no virtio slots for a NIC", Assert.Throws<ConfigException>(() =>
            QemuCommandLine.Parse(["-M", "spike", "-bios", "none", "-kernel", "x", "-nic", "user"])).Message);
    }

    [Fact]
    public void The_Nic_Takes_A_Virtio_Slot()
    {
        var drives = Enumerable.Range(0, 6).SelectMany(i => new[] { "-drive", $"file=d{i}.img,if=virtio,format=raw" }).ToArray();
        Assert.NotNull(QemuCommandLine.Parse([.. drives, "-nic", "user"]).Network);   // 6 disks + rng + NIC = 8 slots
        Assert.Contains("1 NIC", Assert.Throws<ConfigException>(() =>
            QemuCommandLine.Parse([.. drives, "-drive", "file=d7.img,if=virtio,format=raw", "-nic", "user"])).Message);
    }
}
