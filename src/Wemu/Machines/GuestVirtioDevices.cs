using Wemu.Devices;
using Wemu.Devices.Virtio;

namespace Wemu.Machines;

/// <summary>
/// The virtio devices every board builds from a machine's images, in slot order: the disks first (the
/// first -drive is /dev/vda), then the entropy source, then the 9P shares, then the NIC (so adding one moves
/// nothing else). Boards put them on their transports, call <see cref="Poll"/> from their tick, and call
/// <see cref="Flush"/> and <see cref="Close"/>.
/// </summary>
public sealed class GuestVirtioDevices
{
    private readonly List<IBlockBackend> _drives = [];
    private readonly List<VirtioNinePDevice> _shares = [];

    public GuestVirtioDevices(MachineConfig config, MachineImages images)
    {
        var devices = new List<IVirtioDevice>();
        int n = 0;
        foreach (var d in images.Drives)
        {
            _drives.Add(d);
            devices.Add(new VirtioBlockDevice(d, $"wemu-disk{n++}"));
        }
        devices.Add(new VirtioRngDevice(images.Entropy ?? (span => Random.Shared.NextBytes(span))));
        foreach (var share in images.SharedFolders)
        {
            var ninep = new VirtioNinePDevice(share.FileSystem, share.MountTag);
            _shares.Add(ninep);
            devices.Add(ninep);
        }
        if (config.Network is { } network)
        {
            Net.IEthernetLink link;
            if (config.NetworkRelayUrl is { } relay)
                link = (images.NetworkRelay ?? throw new ConfigException($"-nic websocket: this host cannot reach a relay ({relay})"))();
            else
                link = new Net.UserNetwork(network, images.NetworkHost ?? throw new ConfigException("-nic user: this host has no network backend (not in the page yet)"));
            Nic = new VirtioNetDevice(link, network.MacAddress);
            devices.Add(Nic);
        }
        Devices = devices;
    }

    /// <summary>The virtio-net device, if the machine has a NIC.</summary>
    public VirtioNetDevice? Nic { get; }

    /// <summary>The board's tick: the network's host sockets and timers.</summary>
    public void Poll() => Nic?.Poll();

    public IReadOnlyList<IVirtioDevice> Devices { get; }

    /// <summary>Flushes every disk, each on its own (one failing disk does not leave the others unflushed), then reports the first failure.</summary>
    public void Flush()
    {
        Exception? first = null;
        foreach (var d in _drives)
        {
            try
            {
                d.Flush();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                first ??= e;
            }
        }
        if (first != null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
    }

    /// <summary>Ends the 9P sessions (host files the guest still had open are closed) and the network's host sockets.</summary>
    public void Close()
    {
        foreach (var s in _shares)
            s.Reset();
        Nic?.Dispose();
    }
}
