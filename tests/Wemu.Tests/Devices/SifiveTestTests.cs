using Wemu.Devices;
using Xunit;

namespace Wemu.Tests.Devices;

public class SifiveTestTests
{
    private readonly SifiveTest _test = new();
    private readonly List<(PowerRequest Request, int Code)> _requests = [];

    public SifiveTestTests()
    {
        _test.PowerRequested += (request, code) => _requests.Add((request, code));
    }

    [Fact]
    public void PassPowersOffWithExitCodeZero()
    {
        _test.Write(0, 4, 0x5555);
        Assert.Equal([(PowerRequest.PowerOff, 0)], _requests);
    }

    [Fact]
    public void FailPowersOffWithCodeFromHighHalf()
    {
        _test.Write(0, 4, 0x3333 | (42u << 16));
        Assert.Equal([(PowerRequest.PowerOff, 42)], _requests);
    }

    [Fact]
    public void ResetRequestsReset()
    {
        _test.Write(0, 4, 0x7777);
        Assert.Equal([(PowerRequest.Reset, 0)], _requests);
    }

    [Fact]
    public void OtherValuesAndOffsetsAreIgnored()
    {
        _test.Write(0, 4, 0x1234);
        _test.Write(4, 4, 0x5555);
        _test.Write(0, 1, 0x55);
        Assert.Empty(_requests);
        Assert.Equal(0UL, _test.Read(0, 4));
    }
}
