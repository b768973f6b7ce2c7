namespace Wemu.Machines;

/// <summary>A machine description in QEMU's terms, produced by <see cref="QemuCommandLine"/> or the JS API.</summary>
public sealed class MachineConfig
{
    public string Arch { get; set; } = "riscv64";

    public string MachineType { get; set; } = "virt";

    public ulong MemorySize { get; set; } = 256UL << 20;

    /// <summary>-machine ...,acpi=on|off (microvm); null: the board's default.</summary>
    public bool? Acpi { get; set; }

    /// <summary>-cpu MODEL; null: the board's default (qemu64 on x86).</summary>
    public string? CpuModel { get; set; }

    public int Cpus { get; set; } = 1;

    /// <summary>Firmware path, or null for the board default (<see cref="NoFirmware"/> for <c>-bios none</c>).</summary>
    public string? Bios { get; set; }

    public bool NoFirmware { get; set; }

    public string? Kernel { get; set; }

    public string? Initrd { get; set; }

    public string? Append { get; set; }

    public List<DriveConfig> Drives { get; } = [];

    /// <summary>-snapshot: every drive keeps its writes in memory.</summary>
    public bool SnapshotAll { get; set; }

    /// <summary>-virtfs / -fsdev + -device virtio-9p-device: host folders shared with the guest.</summary>
    public List<SharedFolderConfig> SharedFolders { get; } = [];

    /// <summary>-netdev user + -device virtio-net-device, or -nic user: the one NIC's user-mode network; null: no NIC.</summary>
    public Net.UserNetworkOptions? Network { get; set; }

    /// <summary>
    /// -nic websocket,url=... / -netdev websocket: the NIC's frames go over a WebSocket to a relay that runs the NAT
    /// (<c>wemu relay</c>), not to a local one; <see cref="Network"/> then holds only the NIC's MAC address.
    /// </summary>
    public string? NetworkRelayUrl { get; set; }

    public bool NoReboot { get; set; }

    public bool NoGraphic { get; set; }

    public string Serial { get; set; } = "stdio";

    /// <summary>-icount: time follows retired instructions (deterministic runs).</summary>
    public bool Deterministic { get; set; }

    /// <summary><c>-incoming file:PATH</c>: the snapshot to resume instead of booting.</summary>
    public string? Incoming { get; set; }

    /// <summary>
    /// <c>-force-resume</c> (Wemu's): resume <see cref="Incoming"/> even where a disk image changed since the save
    /// (a note says so); by default that is refused, since the guest's page cache and filesystem state belong to the
    /// image as it was.
    /// </summary>
    public bool ForceResume { get; set; }

    /// <summary>
    /// <c>-snapshot-dir DIR</c>: where the monitor's <c>savevm NAME</c> writes and <c>-loadvm NAME</c>
    /// reads (<c>DIR/NAME.snap</c>, the same file as <c>migrate file:</c>). QEMU keeps these inside
    /// qcow2 images; Wemu's raw disks cannot hold them.
    /// </summary>
    public string? SnapshotDir { get; set; }

    /// <summary><c>-monitor stdio</c> (QEMU's monitor alone on stdin/stdout, with <c>-serial none</c>) or null: the monitor is on the console's multiplexer (Ctrl-A c).</summary>
    public string? Monitor { get; set; }

    /// <summary>The file of the named snapshot <paramref name="name"/> in <see cref="SnapshotDir"/>; a name is letters, digits, '.', '_' and '-', not starting with '.'.</summary>
    public string SnapshotFile(string name)
    {
        if (SnapshotDir == null)
            throw new ConfigException("named snapshots need -snapshot-dir DIR");
        if (name.Length == 0 || name.Length > 64 || name[0] == '.' || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '-'))
            throw new ConfigException($"bad snapshot name '{name}' (letters, digits, '.', '_' and '-', at most 64)");
        return Path.Combine(SnapshotDir, name + ".snap");
    }

    public int IcountShift { get; set; } = 4;

    /// <summary>-accel: "tcg" (the JIT: interpreter for cold code, compiled blocks when hot) or "interp" (interpreter only).</summary>
    public string Accelerator { get; set; } = "tcg";

    /// <summary>-accel tcg,thresh=N: runs before a block is compiled (null: the backend's default).</summary>
    public int? JitThreshold { get; set; }

    /// <summary>-accel tcg,backend=native|il: what compiled regions become (native: x86-64 machine code where the host can run it; il: IL for the runtime's JIT).</summary>
    public string JitBackend { get; set; } = "native";

    /// <summary>-accel tcg,wasm-interp=on|off: in the page, cold code in the guest's WebAssembly interpreter (where it has one).</summary>
    public bool JitWasmInterpreter { get; set; } = true;

    /// <summary>-accel tcg,tb-size=MB: translation cache cap.</summary>
    public int JitCacheMegabytes { get; set; } = Jit.JitOptions.DefaultCacheMegabytes;

    /// <summary>-perfmap (as QEMU's): write /tmp/perf-PID.map naming each region of generated x86-64 code, for Linux perf.</summary>
    public bool PerfMap { get; set; }

    /// <summary>-d items (QEMU's log switches); Wemu knows "stats" (instruction counts and speed at exit) and "jit" (translation counters at exit).</summary>
    public HashSet<string> DebugItems { get; } = new(StringComparer.Ordinal);

    /// <summary>True when no kernel was given and firmware is not "none": boot the bundled default guest.</summary>
    public bool UsesDefaultGuest => Kernel == null && !NoFirmware;
}
