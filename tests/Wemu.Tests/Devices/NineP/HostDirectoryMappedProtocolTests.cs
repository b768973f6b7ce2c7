using Wemu.Cli;

namespace Wemu.Tests.Devices.NineP;

/// <summary>
/// The 9P protocol tests on a host directory with <c>security_model=mapped-xattr</c>: the guest must see the same
/// files, owners, modes, links and FIFOs as on the other backends, though the host keeps them in attributes.
/// </summary>
public sealed class HostDirectoryMappedProtocolTests : HostDirectoryProtocolTests
{
    public HostDirectoryMappedProtocolTests()
        : base(new HostShareOptions { MappedXattr = true })
    {
    }
}
