using System.Globalization;

namespace Wemu.Machines;

/// <summary>
/// Parses QEMU's command-line spelling into a <see cref="MachineConfig"/>. Shared by the CLI and
/// the page (<c>?args=</c>), so both accept exactly the same flags. Errors are
/// <see cref="ConfigException"/>s with one-line messages.
/// </summary>
public static class QemuCommandLine
{
    public static readonly string[] Architectures = [.. BoardCatalog.Architectures];

    /// <summary>virtio-9p's mount tag limit (QEMU MAX_TAG_LEN), in UTF-8 bytes.</summary>
    public const int MaxMountTagBytes = 255;

    public static MachineConfig Parse(IReadOnlyList<string> args)
    {
        var c = new MachineConfig();
        var fsdevs = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var ninePDevices = new List<Dictionary<string, string>>();
        var netdevs = new Dictionary<string, List<(string Key, string Value)>>(StringComparer.Ordinal);
        var netDevices = new List<Dictionary<string, string>>();
        int i = 0;
        if (args.Count > 0 && !args[0].StartsWith('-'))
        {
            if (Array.IndexOf(Architectures, args[0]) < 0)
                throw new ConfigException($"unknown architecture '{args[0]}' (supported: {string.Join(", ", Architectures)})");
            c.Arch = args[0];
            c.MachineType = BoardCatalog.Default(c.Arch).Name;
            i = 1;
        }
        var driveIds = new Dictionary<string, DriveConfig>(StringComparer.Ordinal);
        string? loadvm = null;
        for (; i < args.Count; i++)
        {
            string flag = args[i];
            if (!flag.StartsWith('-'))
                throw new ConfigException($"unexpected argument '{flag}'");
            string name = flag.StartsWith("--") ? flag[1..] : flag;
            string Value()
            {
                if (i + 1 >= args.Count)
                    throw new ConfigException($"option '{flag}' needs a value");
                return args[++i];
            }
            switch (name)
            {
                case "-M":
                case "-machine":
                {
                    var opts = Options(Value(), "type");
                    string type = opts.GetValueOrDefault("type") ?? throw new ConfigException("-machine needs a type");
                    if (BoardCatalog.Find(c.Arch, type) == null)
                        throw new ConfigException($"unknown machine '{type}' for {c.Arch} (supported: {string.Join(", ", BoardCatalog.Names(c.Arch))})");
                    c.MachineType = type;
                    foreach (var (k, v) in opts)
                    {
                        if (k == "type")
                            continue;
                        if (k == "acpi" && type == "microvm")
                            c.Acpi = v switch { "on" => true, "off" => false, "auto" => null, _ => throw new ConfigException($"invalid -machine acpi value '{v}' (on, off)") };
                        else
                            throw new ConfigException($"unknown -machine {type} option '{k}'");
                    }
                    break;
                }
                case "-cpu":
                {
                    var opts = Options(Value(), "model");
                    string model = opts.GetValueOrDefault("model") ?? "";
                    if (opts.Count > 1)
                        throw new ConfigException("-cpu takes no feature options");
                    var models = BoardCatalog.Default(c.Arch).CpuModels;
                    if (Array.IndexOf(models, model) < 0)
                        throw new ConfigException($"unknown CPU model '{model}' for {c.Arch} (supported: {string.Join(", ", models)})");
                    c.CpuModel = model;
                    break;
                }
                case "-m":
                {
                    var opts = Options(Value(), "size");
                    c.MemorySize = ParseSize(opts.GetValueOrDefault("size") ?? "", flag);
                    if (c.MemorySize < (16UL << 20) || c.MemorySize > (16UL << 30))
                        throw new ConfigException($"memory size must be between 16M and 16G (got {FormatSize(c.MemorySize)})");
                    if ((c.MemorySize & 0xFFFFF) != 0)
                        throw new ConfigException("memory size must be a multiple of 1M");
                    break;
                }
                case "-smp":
                {
                    var opts = Options(Value(), "cpus");
                    if (!int.TryParse(opts.GetValueOrDefault("cpus"), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                        throw new ConfigException($"invalid -smp value '{args[i]}'");
                    if (n != 1)
                        throw new ConfigException("only -smp 1 is supported so far");
                    c.Cpus = n;
                    break;
                }
                case "-bios":
                {
                    string v = Value();
                    c.NoFirmware = v == "none";
                    c.Bios = v is "none" or "default" ? null : v;
                    break;
                }
                case "-kernel": c.Kernel = Value(); break;
                case "-initrd": c.Initrd = Value(); break;
                case "-append": c.Append = Value(); break;
                case "-drive":
                {
                    var drive = ParseDrive(Value(), out string? id);
                    if (id != null && !driveIds.TryAdd(id, drive))
                        throw new ConfigException($"duplicate -drive id '{id}'");
                    c.Drives.Add(drive);
                    break;
                }
                case "-hda": c.Drives.Add(new DriveConfig(Value())); break;
                case "-virtfs": c.SharedFolders.Add(ParseSharedFolder(Options(Value(), "fsdriver"), "-virtfs", null)); break;
                case "-fsdev":
                {
                    var o = Options(Value(), "fsdriver");
                    string id = o.GetValueOrDefault("id") ?? throw new ConfigException("-fsdev needs id=NAME");
                    if (!fsdevs.TryAdd(id, o))
                        throw new ConfigException($"duplicate -fsdev id '{id}'");
                    break;
                }
                case "-device":
                {
                    var o = Options(Value(), "driver");
                    string driver = o.GetValueOrDefault("driver") ?? "";
                    if (driver == "virtio-blk-device")
                    {
                        // the drive (-drive if=none,id=ID) is on a virtio-mmio transport either way
                        foreach (var k in o.Keys)
                            if (k is not ("driver" or "drive" or "id"))
                                throw new ConfigException($"unknown -device virtio-blk-device option '{k}'");
                        string drive = o.GetValueOrDefault("drive") ?? throw new ConfigException("-device virtio-blk-device needs drive=ID");
                        if (!driveIds.ContainsKey(drive))
                            throw new ConfigException($"-device virtio-blk-device: no -drive with id '{drive}'");
                        break;
                    }
                    if (driver == "virtio-net-device")
                    {
                        netDevices.Add(o);
                        break;
                    }
                    if (driver is not ("virtio-9p-device" or "virtio-9p-pci"))
                        throw new ConfigException($"unsupported device '{driver}' (supported: virtio-blk-device, virtio-9p-device, virtio-net-device)");
                    ninePDevices.Add(o);
                    break;
                }
                case "-netdev":
                {
                    var pairs = OptionPairs(Value(), "type");
                    string type = Find(pairs, "type") ?? "";
                    if (type is not ("user" or "websocket"))
                        throw new ConfigException($"unsupported -netdev type '{type}' (supported: user, websocket)");
                    string id = Find(pairs, "id") ?? throw new ConfigException("-netdev needs id=NAME");
                    if (!netdevs.TryAdd(id, pairs))
                        throw new ConfigException($"duplicate -netdev id '{id}'");
                    break;
                }
                case "-nic":
                {
                    var pairs = OptionPairs(Value(), "type");
                    string type = Find(pairs, "type") ?? "";
                    if (type == "none")
                        break;
                    if (type is not ("user" or "websocket"))
                        throw new ConfigException($"unsupported -nic type '{type}' (supported: user, websocket, none)");
                    if (c.Network != null)
                        throw new ConfigException("only one NIC is supported (one -nic or -device virtio-net-device)");
                    string model = Find(pairs, "model") ?? "virtio-net-device";
                    if (model is not ("virtio-net-device" or "virtio"))
                        throw new ConfigException($"unsupported -nic model '{model}' (supported: virtio-net-device)");
                    c.Network = type == "websocket" ? ParseRelayNetwork(c, pairs, "-nic websocket", ["model", "mac"]) : ParseUserNetwork(pairs, "-nic", ["model", "mac"]);
                    if (Find(pairs, "mac") is { } mac)
                        c.Network.MacAddress = ParseMac(mac);
                    break;
                }
                case "-snapshot": c.SnapshotAll = true; break;
                case "-incoming":
                {
                    // QEMU 8.2's file:PATH, and the older exec:cat PATH that QEMU Wasm's users write.
                    string v = Value();
                    c.Incoming = v.StartsWith("file:", StringComparison.Ordinal) && v.Length > 5 ? v[5..]
                        : v.StartsWith("exec:cat ", StringComparison.Ordinal) && v.Length > 9 && !v[9..].Any(ch => ch is ' ' or '|' or ';' or '&' or '<' or '>' or '$' or '`') ? v[9..]
                        : throw new ConfigException($"unsupported -incoming '{v}' (supported: file:PATH, exec:cat PATH)");
                    break;
                }
                case "-snapshot-dir": c.SnapshotDir = Value(); break;
                case "-monitor":
                {
                    string v = Value();
                    if (v is not ("stdio" or "none" or "null"))
                        throw new ConfigException($"unsupported -monitor '{v}' (supported: stdio, none; the console's Ctrl-A c opens it too)");
                    c.Monitor = v == "stdio" ? v : null;
                    break;
                }
                case "-loadvm": loadvm = Value(); break;
                case "-nographic": c.NoGraphic = true; break;
                case "-perfmap": c.PerfMap = true; break;
                case "-no-reboot": c.NoReboot = true; break;
                case "-force-resume": c.ForceResume = true; break;
                case "-serial":
                {
                    string v = Value();
                    if (v is not ("stdio" or "mon:stdio" or "none" or "null"))
                        throw new ConfigException($"unsupported -serial '{v}' (supported: stdio, mon:stdio, none)");
                    c.Serial = v == "null" ? "none" : v;
                    break;
                }
                case "-display":
                {
                    string v = Value();
                    if (v != "none")
                        throw new ConfigException($"unsupported -display '{v}' (only none: Wemu has no graphical display yet)");
                    break;
                }
                case "-icount":
                {
                    var opts = Options(Value(), "shift");
                    string shift = opts.GetValueOrDefault("shift") ?? "4";
                    if (shift == "auto")
                        shift = "4";
                    if (!int.TryParse(shift, NumberStyles.None, CultureInfo.InvariantCulture, out int s) || s > 10)
                        throw new ConfigException($"invalid -icount shift '{shift}'");
                    c.Deterministic = true;
                    c.IcountShift = s;
                    break;
                }
                case "-accel":
                    ParseAccel(c, Value());
                    break;
                case "-d":
                    foreach (var item in Value().Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        if (item is not ("stats" or "jit"))
                            throw new ConfigException($"unknown -d item '{item}' (supported: stats, jit)");
                        c.DebugItems.Add(item);
                    }
                    break;
                default:
                    throw new ConfigException($"unknown option '{flag}'");
            }
        }
        foreach (var d in ninePDevices)
        {
            foreach (var k in d.Keys)
                if (k is not ("driver" or "fsdev" or "mount_tag" or "id"))
                    throw new ConfigException($"unknown -device {d["driver"]} option '{k}'");
            string id = d.GetValueOrDefault("fsdev") ?? throw new ConfigException($"-device {d["driver"]} needs fsdev=ID");
            var fsdev = fsdevs.GetValueOrDefault(id) ?? throw new ConfigException($"-device {d["driver"]}: no -fsdev with id '{id}'");
            c.SharedFolders.Add(ParseSharedFolder(fsdev, "-fsdev", d.GetValueOrDefault("mount_tag")));
        }
        var usedNetdevs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in netDevices)
        {
            foreach (var k in d.Keys)
                if (k is not ("driver" or "netdev" or "mac" or "id"))
                    throw new ConfigException($"unknown -device virtio-net-device option '{k}'");
            string id = d.GetValueOrDefault("netdev") ?? throw new ConfigException("-device virtio-net-device needs netdev=ID");
            if (!usedNetdevs.Add(id))
                throw new ConfigException($"-netdev '{id}' is used by two devices");
            var netdev = netdevs.GetValueOrDefault(id) ?? throw new ConfigException($"-device virtio-net-device: no -netdev with id '{id}'");
            netdevs.Remove(id);
            if (c.Network != null)
                throw new ConfigException("only one NIC is supported (one -nic or -device virtio-net-device)");
            c.Network = Find(netdev, "type") == "websocket" ? ParseRelayNetwork(c, netdev, "-netdev websocket", []) : ParseUserNetwork(netdev, "-netdev user", []);
            if (d.GetValueOrDefault("mac") is { } mac)
                c.Network.MacAddress = ParseMac(mac);
        }
        foreach (var id in netdevs.Keys)
            throw new ConfigException($"-netdev '{id}' is not used by a device (add -device virtio-net-device,netdev={id})");
        var tags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in c.SharedFolders)
        {
            if (!tags.Add(f.MountTag))
                throw new ConfigException($"duplicate mount_tag '{f.MountTag}'");
            // The device's limit is in bytes (the tag travels as UTF-8 in the config space), not characters.
            if (System.Text.Encoding.UTF8.GetByteCount(f.MountTag) > MaxMountTagBytes)
                throw new ConfigException($"mount_tag is longer than {MaxMountTagBytes} bytes");
        }
        // every disk and share is one virtio-mmio slot, and the entropy source takes one more.
        int slots = BoardCatalog.Find(c.Arch, c.MachineType)!.VirtioSlots;
        if (c.MachineType == "microvm" && c.Acpi == false)
            slots = 8; // QEMU's microvm without ACPI
        if (slots == 0 && c.SharedFolders.Count > 0)
            throw new ConfigException($"machine {c.MachineType} has no virtio slots for -virtfs");
        if (slots == 0 && c.Network != null)
            throw new ConfigException($"machine {c.MachineType} has no virtio slots for a NIC");
        int nics = c.Network != null ? 1 : 0;
        if (slots > 0 && c.Drives.Count + c.SharedFolders.Count + nics + 1 > slots)
            throw new ConfigException($"too many disks, shares and NICs ({c.Drives.Count} -drive, {c.SharedFolders.Count} -virtfs, {nics} NIC): "
                + $"machine {c.MachineType} has {slots} virtio slots, one of them for the entropy source");
        if (c.MachineType == "spike" && c.UsesDefaultGuest)
            throw new ConfigException("machine spike needs -kernel (a bare-metal ELF, with -bios none)");
        if (c.Monitor == "stdio" && c.Serial != "none")
            throw new ConfigException("-monitor stdio needs the serial console off stdio: add -serial none (or use Ctrl-A c on the console)");
        if (loadvm != null)
        {
            if (c.Incoming != null)
                throw new ConfigException("-loadvm and -incoming both name a state to start from");
            c.Incoming = c.SnapshotFile(loadvm);
        }
        if (c.ForceResume && c.Incoming == null)
            throw new ConfigException("-force-resume applies to a resume: add -incoming file:PATH or -loadvm NAME");
        return c;
    }

    /// <summary><c>-accel tcg[,thresh=N][,tb-size=MB][,backend=native|il][,wasm-interp=on|off]</c> or <c>-accel interp</c>.</summary>
    private static void ParseAccel(MachineConfig c, string spec)
    {
        var o = Options(spec, "accel");
        string accel = o.GetValueOrDefault("accel") ?? "";
        if (accel is not ("tcg" or "interp"))
            throw new ConfigException($"unsupported accelerator '{accel}' (supported: tcg, interp)");
        c.Accelerator = accel;
        foreach (var (k, v) in o)
        {
            switch (k)
            {
                case "accel":
                    break;
                case "thresh" when accel == "tcg":
                    if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int t) || t < 1)
                        throw new ConfigException($"invalid -accel thresh '{v}' (a count of 1 or more)");
                    c.JitThreshold = t;
                    break;
                case "tb-size" when accel == "tcg":
                    if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int mb) || mb < 1 || mb > 4096)
                        throw new ConfigException($"invalid -accel tb-size '{v}' (MiB, 1 to 4096)");
                    c.JitCacheMegabytes = mb;
                    break;
                case "backend" when accel == "tcg":
                    if (v is not ("native" or "il"))
                        throw new ConfigException($"invalid -accel backend '{v}' (native or il)");
                    c.JitBackend = v;
                    break;
                case "wasm-interp" when accel == "tcg":
                    if (v is not ("on" or "off"))
                        throw new ConfigException($"invalid -accel wasm-interp '{v}' (on or off)");
                    c.JitWasmInterpreter = v == "on";
                    break;
                case "thread":
                    break;   // QEMU's MTTCG switch: one hart, nothing to choose
                default:
                    throw new ConfigException($"unknown -accel option '{k}'");
            }
        }
    }

    private static DriveConfig ParseDrive(string spec, out string? id)
    {
        var o = Options(spec, "file");
        id = o.GetValueOrDefault("id");
        string file = o.GetValueOrDefault("file") ?? throw new ConfigException("-drive needs file=PATH");
        string iface = o.GetValueOrDefault("if") ?? "virtio";
        if (iface is not ("virtio" or "none"))
            throw new ConfigException($"unsupported drive interface '{iface}' (supported: virtio)");
        string format = o.GetValueOrDefault("format") ?? "raw";
        if (format != "raw")
            throw new ConfigException($"unsupported drive format '{format}' (supported: raw)");
        bool snapshot = Bool(o, "snapshot");
        bool ro = Bool(o, "readonly");
        foreach (var k in o.Keys)
            if (k is not ("file" or "if" or "format" or "snapshot" or "readonly" or "media" or "cache" or "id"))
                throw new ConfigException($"unknown -drive option '{k}'");
        return new DriveConfig(file, "virtio", format, snapshot, ro);
    }

    /// <summary>
    /// The options of -virtfs, or of -fsdev with the mount tag from its -device: the "local" driver only,
    /// security_model none or mapped-xattr (mapped is QEMU's old name for it); passthrough and mapped-file are
    /// refused rather than served as something else. Wemu's own opt-ins carry QEMU's "x-" prefix for
    /// non-standard properties: x-setid, x-chown-root and x-special-files (see README).
    /// </summary>
    private static SharedFolderConfig ParseSharedFolder(Dictionary<string, string> o, string flag, string? deviceTag)
    {
        string driver = o.GetValueOrDefault("fsdriver") ?? "";
        if (driver != "local")
            throw new ConfigException($"unsupported {flag} driver '{driver}' (supported: local)");
        foreach (var k in o.Keys)
            if (k is not ("fsdriver" or "id" or "path" or "mount_tag" or "security_model" or "readonly"
                or "x-setid" or "x-chown-root" or "x-special-files"))
                throw new ConfigException($"unknown {flag} option '{k}'");
        string path = o.GetValueOrDefault("path") is { Length: > 0 } p ? p : throw new ConfigException($"{flag} needs path=DIR");
        string tag = (flag == "-virtfs" ? o.GetValueOrDefault("mount_tag") : deviceTag)
            ?? throw new ConfigException($"{(flag == "-virtfs" ? "-virtfs" : "-device virtio-9p-device")} needs mount_tag=TAG");
        if (tag.Length == 0 || tag.Length > 255 || tag.Contains('\0'))
            throw new ConfigException($"invalid mount_tag '{tag}'");
        string model = o.GetValueOrDefault("security_model") ?? "none";
        if (model == "mapped")
            model = "mapped-xattr";
        if (model is not ("none" or "mapped-xattr"))
            throw new ConfigException($"unsupported security_model '{model}' (supported: none, mapped-xattr)");
        bool setId = Bool(o, "x-setid"), chownRoot = Bool(o, "x-chown-root"), special = Bool(o, "x-special-files");
        if (model != "none" && (setId || chownRoot || special))
            throw new ConfigException($"{flag}: x-setid, x-chown-root and x-special-files apply to security_model=none only");
        return new SharedFolderConfig(path, tag, model, Bool(o, "readonly"), setId, chownRoot, special);
    }

    /// <summary>
    /// The options of <c>-netdev user</c> or <c>-nic user</c>: <c>hostfwd=</c> (repeatable) and <c>restrict=</c>;
    /// the addresses are slirp's defaults and cannot be changed yet.
    /// </summary>
    private static Net.UserNetworkOptions ParseUserNetwork(List<(string Key, string Value)> pairs, string flag, string[] extraKeys)
    {
        var n = new Net.UserNetworkOptions();
        foreach (var (k, v) in pairs)
        {
            switch (k)
            {
                case "type" or "id":
                    break;
                case "restrict":
                    n.Restrict = v switch
                    {
                        "on" or "yes" or "true" => true,
                        "off" or "no" or "false" => false,
                        _ => throw new ConfigException($"invalid value '{v}' for restrict (use on or off)"),
                    };
                    break;
                case "hostfwd":
                    Net.HostForward rule;
                    try
                    {
                        rule = Net.HostForward.Parse(v);
                    }
                    catch (FormatException e)
                    {
                        throw new ConfigException(e.Message);
                    }
                    foreach (var other in n.HostForwards)
                        if (other.Udp == rule.Udp && other.HostPort == rule.HostPort && other.HostPort != 0 && other.HostAddress == rule.HostAddress)
                            throw new ConfigException($"two hostfwd rules for host port {rule.HostPort}");
                    n.HostForwards.Add(rule);
                    break;
                default:
                    if (Array.IndexOf(extraKeys, k) < 0)
                        throw new ConfigException($"unknown {flag} option '{k}' (supported: id, hostfwd, restrict{string.Concat(extraKeys.Select(e => ", " + e))})");
                    break;
            }
        }
        return n;
    }

    /// <summary>
    /// <c>-netdev websocket,id=N,url=ws://HOST:PORT/net</c> or <c>-nic websocket,url=...</c> (Wemu's own): the NIC's
    /// frames go to a relay (<c>wemu relay</c>, <c>wemu serve --net</c>) that runs the NAT; sets
    /// <see cref="MachineConfig.NetworkRelayUrl"/> and returns options that carry only the MAC.
    /// </summary>
    private static Net.UserNetworkOptions ParseRelayNetwork(MachineConfig c, List<(string Key, string Value)> pairs, string flag, string[] extraKeys)
    {
        string? url = null;
        foreach (var (k, v) in pairs)
        {
            if (k == "url")
                url = v;
            else if (k is not ("type" or "id") && Array.IndexOf(extraKeys, k) < 0)
                throw new ConfigException($"unknown {flag} option '{k}' (supported: id, url{string.Concat(extraKeys.Select(e => ", " + e))})");
        }
        if (url == null)
            throw new ConfigException($"{flag} needs url=ws://HOST:PORT/net (a relay: wemu relay --port PORT)");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("ws" or "wss") || uri.Host.Length == 0)
            throw new ConfigException($"invalid relay url '{url}' (ws://HOST:PORT/net or wss://...)");
        c.NetworkRelayUrl = uri.AbsoluteUri;
        return new Net.UserNetworkOptions();
    }

    /// <summary>A MAC address as QEMU spells it (52:54:00:12:34:56); a multicast one is refused.</summary>
    private static byte[] ParseMac(string text)
    {
        var parts = text.Split(':');
        var mac = new byte[6];
        if (parts.Length != 6)
            throw new ConfigException($"invalid mac '{text}' (six hex bytes: 52:54:00:12:34:56)");
        for (int i = 0; i < 6; i++)
            if (parts[i].Length != 2 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mac[i]))
                throw new ConfigException($"invalid mac '{text}' (six hex bytes: 52:54:00:12:34:56)");
        if ((mac[0] & 1) != 0)
            throw new ConfigException($"invalid mac '{text}': a multicast address");
        return mac;
    }

    private static string? Find(List<(string Key, string Value)> pairs, string key)
    {
        foreach (var (k, v) in pairs)
            if (k == key)
                return v;
        return null;
    }

    private static bool Bool(Dictionary<string, string> o, string key) =>
        o.GetValueOrDefault(key) switch
        {
            null or "off" or "false" or "no" => false,
            "on" or "true" or "yes" => true,
            var v => throw new ConfigException($"invalid value '{v}' for {key} (use on or off)"),
        };

    /// <summary>QEMU option strings: <c>a=1,b=2</c>, the first bare value naming <paramref name="implicitKey"/>; ",," escapes a comma.</summary>
    public static Dictionary<string, string> Options(string spec, string implicitKey)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in OptionPairs(spec, implicitKey))
            result[k] = v;
        return result;
    }

    /// <summary>Like <see cref="Options"/>, in order and keeping repeated keys (<c>hostfwd=</c> may appear many times).</summary>
    public static List<(string Key, string Value)> OptionPairs(string spec, string implicitKey)
    {
        var result = new List<(string Key, string Value)>();
        var parts = new List<string>();
        var cur = new System.Text.StringBuilder();
        for (int i = 0; i < spec.Length; i++)
        {
            if (spec[i] == ',')
            {
                if (i + 1 < spec.Length && spec[i + 1] == ',')
                {
                    cur.Append(',');
                    i++;
                    continue;
                }
                parts.Add(cur.ToString());
                cur.Clear();
                continue;
            }
            cur.Append(spec[i]);
        }
        parts.Add(cur.ToString());
        for (int p = 0; p < parts.Count; p++)
        {
            string part = parts[p];
            int eq = part.IndexOf('=');
            if (eq < 0)
            {
                if (p == 0 && part.Length > 0)
                    result.Add((implicitKey, part));
                else if (part.Length > 0)
                    result.Add((part, "on"));
                continue;
            }
            result.Add((part[..eq], part[(eq + 1)..]));
        }
        return result;
    }

    /// <summary>Sizes as QEMU reads them: a bare number is MiB for -m; suffixes K, M, G, T (binary).</summary>
    public static ulong ParseSize(string text, string flag)
    {
        string t = text.Trim();
        if (t.Length == 0)
            throw new ConfigException($"option '{flag}' needs a size");
        ulong mult = 1UL << 20;
        char last = char.ToUpperInvariant(t[^1]);
        if (last == 'B' && t.Length > 1)
        {
            t = t[..^1];
            last = char.ToUpperInvariant(t[^1]);
        }
        switch (last)
        {
            case 'K': mult = 1UL << 10; t = t[..^1]; break;
            case 'M': mult = 1UL << 20; t = t[..^1]; break;
            case 'G': mult = 1UL << 30; t = t[..^1]; break;
            case 'T': mult = 1UL << 40; t = t[..^1]; break;
        }
        // v <= 2^44 and mult <= 2^40, so the product (at most 2^84) fits a decimal; it must also fit 64 bits.
        if (!decimal.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal v) || v <= 0 || v > 1UL << 44
            || v * mult > ulong.MaxValue)
            throw new ConfigException($"invalid size '{text}' for {flag}");
        return (ulong)(v * mult);
    }

    public static string FormatSize(ulong bytes) =>
        bytes % (1UL << 30) == 0 ? $"{bytes >> 30}G" : bytes % (1UL << 20) == 0 ? $"{bytes >> 20}M" : $"{bytes}";
}
