using Wemu.Devices;

namespace Wemu.Machines;

/// <summary>
/// The bytes and backends a host resolved from a <see cref="MachineConfig"/> (files natively,
/// downloads in the page): the core never opens files itself.
/// </summary>
public sealed class MachineImages
{
    public byte[]? Firmware { get; init; }

    public byte[]? Kernel { get; init; }

    public byte[]? Initrd { get; init; }

    public IReadOnlyList<IBlockBackend> Drives { get; init; } = [];

    public ICharBackend? Serial { get; init; }

    /// <summary>virtio-9p shares, each on the next free virtio-mmio slot.</summary>
    public IReadOnlyList<SharedFolder> SharedFolders { get; init; } = [];

    /// <summary>
    /// The host side of <c>-netdev user</c> / <c>-nic user</c> (sockets and name resolution); null where the host
    /// has none, and then a configuration with a NIC is refused.
    /// </summary>
    public Net.INetworkHost? NetworkHost { get; init; }

    /// <summary>
    /// Connects to the relay of <see cref="MachineConfig.NetworkRelayUrl"/> (called once per machine built, so again
    /// after a guest reboot); throws <see cref="ConfigException"/> when it cannot. Null where the host has no way.
    /// </summary>
    public Func<Net.IEthernetLink>? NetworkRelay { get; init; }

    /// <summary>Entropy for virtio-rng; hosts pass a CSPRNG, deterministic runs a seeded generator.</summary>
    public Action<Span<byte>>? Entropy { get; init; }

    /// <summary>
    /// Runs work off the machine's thread, where the host has threads (natively: one background thread).
    /// The JIT's IL backend uses it to have the runtime compile new code while the interpreter goes on; null
    /// (the browser, tests) compiles on the machine's thread.
    /// </summary>
    public Action<Action>? BackgroundWorker { get; init; }

    /// <summary>
    /// The browser host's loader of generated WebAssembly: with one, the JIT compiles to wasm
    /// (<see cref="Jit.Wasm.WasmBackend"/>) instead of IL.
    /// </summary>
    public Jit.Wasm.IWasmCodeLoader? WasmLoader { get; init; }

    /// <summary>Unix time the RTC starts at (nanoseconds).</summary>
    public ulong RtcStartNanoseconds { get; init; }
}
