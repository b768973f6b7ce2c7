using Xunit;

namespace Wemu.Tests.Cli;

/// <summary>
/// The CLI on a real (pseudo-)terminal, as a user runs it: raw mode, so keys reach the guest one
/// at a time, and QEMU's escape Ctrl-A x quits with status 0.
/// </summary>
[Collection("Boot")]
public class CliTerminalTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void Ctrl_A_X_Quits_From_A_Terminal()
    {
        using var wemu = new WemuProcess(terminal: true);
        wemu.WaitFor("/ # ", BootTimeout);
        // Raw mode: the guest (not the tty) echoes, and without a newline.
        wemu.Send("echo ra");
        wemu.WaitFor("echo ra", TimeSpan.FromSeconds(30));
        wemu.Send("w-ok\r");
        wemu.WaitFor("raw-ok", TimeSpan.FromSeconds(30));
        wemu.Send("\u0001x");
        Assert.Equal(0, wemu.WaitForExit(TimeSpan.FromSeconds(20)));
    }
}
