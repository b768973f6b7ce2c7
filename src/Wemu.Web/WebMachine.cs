using System.Diagnostics;
using System.Runtime.InteropServices.JavaScript;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Wemu.Devices;
using Wemu.Devices.NineP;
using Wemu.Machines;

namespace Wemu.Web;

/// <summary>
/// The machine inside the Web Worker, driven by wwwroot/worker.js through these exports:
/// <see cref="Configure"/> parses QEMU flags with the CLI's parser and says which images to download,
/// <see cref="SetImage"/> hands each downloaded image over, <see cref="Start"/> builds the machine,
/// then the worker calls <see cref="RunSlice"/> in a loop, posting <see cref="TakeSerialOutput"/> to the
/// page after each slice and sleeping <see cref="IdleMilliseconds"/> when the guest idles.
/// One machine per worker. Errors the user can fix come back as messages, never as hangs.
/// The page's files (<see cref="WriteFile"/>, <see cref="ReadFile"/>, <see cref="ListFiles"/>) live in one
/// in-memory tree shared with the guest as 9p mount tag <see cref="ShareTag"/> (the default guest mounts
/// it on /mnt/host); it outlives guest reboots. The worker calls these between slices (one thread).
/// </summary>
[SupportedOSPlatform("browser")]
public static partial class WebMachine
{
    /// <summary>
    /// The most guest RAM a tab can have: WebAssembly memory is 32-bit and .NET's is capped at 2 GiB in
    /// all (BROWSER.md), which also holds the runtime, the downloaded images and in-memory disks.
    /// </summary>
    public const ulong MaxMemorySize = 1536UL << 20;

    /// <summary>The 9p mount tag of the page's file tree; the default guest's init mounts it on /mnt/host.</summary>
    public const string ShareTag = "host";

    private static readonly WorkerSerial s_serial = new();
    private static readonly MemoryFileSystem s_files = new();
    private static string? s_fileError;
    private static MachineConfig? s_config;
    private static byte[]? s_firmware, s_kernel, s_initrd, s_incoming;
    private static PageDrive[] s_drives = [];
    private static readonly List<PageDrive> s_disks = [];   // the running machine's, for stats and commits
    private static MachineImages? s_images;
    private static Machine? s_machine;
    private static readonly Stopwatch s_running = new();

    /// <summary>Milliseconds building the last machine, and loading its snapshot (-incoming), for vm.stats().</summary>
    private static double s_buildMs, s_resumeMs;

    /// <summary>
    /// Parses the flags (<paramref name="args"/>, then the words of <paramref name="argsText"/>) and returns
    /// JSON: <c>{"downloads":[{"role":"firmware|kernel|initrd|drive","url":...}],"summary":...}</c> with URLs
    /// as written (the worker resolves them against the page), or <c>{"error":"..."}</c>.
    /// </summary>
    [JSExport]
    public static string Configure(string[] args, string argsText, string imagesBase)
    {
        try
        {
            var all = new List<string>(args);
            all.AddRange(ShellWords.Split(argsText));
            // In the page, -incoming takes a URL (Wemu.create({incoming}), ?args=-incoming URL); QEMU's file: prefix is optional.
            for (int i = 0; i + 1 < all.Count; i++)
                if (all[i] == "-incoming" && !all[i + 1].StartsWith("file:", StringComparison.Ordinal) && !all[i + 1].StartsWith("exec:", StringComparison.Ordinal))
                    all[i + 1] = "file:" + all[i + 1];
            var c = QemuCommandLine.Parse(all);
            // The JIT compiles to WebAssembly here (BrowserWasmLoader; the IL backend's DynamicMethods
            // would only be interpreted by Mono): -accel tcg, the default, is the wasm JIT.
            if (c.MemorySize > MaxMemorySize)
                throw new ConfigException($"-m {QemuCommandLine.FormatSize(c.MemorySize)} is more than a browser tab can give the guest (at most {QemuCommandLine.FormatSize(MaxMemorySize)}: WebAssembly memory is limited to 2 GiB in all)");
            if (c.SharedFolders.Count > 0)
                throw new ConfigException($"-virtfs/-fsdev share a host folder ('{c.SharedFolders[0].Path}'), and a page has no host folders");
            if (c.Serial == "stdio" || c.Serial == "mon:stdio")
                c.Serial = "stdio";   // in the page, "stdio" is the terminal
            var (firmware, kernel, initrd) = DefaultGuest.Images(c, path => imagesBase + path);
            s_config = c;
            s_firmware = s_kernel = s_initrd = s_incoming = null;
            s_drives = new PageDrive[c.Drives.Count];

            // By hand, not Utf8JsonWriter: this is the runtime's first JSON, and the writer's first use
            // (its encoder's tables, under the page's interpreter) took ~0.19 s of start-up, once, under load.
            var json = new StringBuilder("{\"downloads\":[");
            bool any = false;
            void Download(string role, string? url, string extra = "")
            {
                if (url == null)
                    return;
                json.Append(any ? ",{\"role\":" : "{\"role\":");
                AppendJsonString(json, role);
                json.Append(",\"url\":");
                AppendJsonString(json, url);
                json.Append(extra).Append('}');
                any = true;
            }
            if (c.Incoming == null)
            {
                // (a snapshot brings RAM and registers: the machine resuming it loads no firmware, kernel or initrd)
                Download("firmware", firmware);
                Download("kernel", kernel);
                Download("initrd", initrd);
            }
            // A drive is read by Range requests where the server allows them, else downloaded whole (the worker decides,
            // then hands each over with SetDrive); persist names the worker matches to drives by this index.
            for (int i = 0; i < c.Drives.Count; i++)
                Download("drive", c.Drives[i].File, $",\"index\":{i},\"readOnly\":{(c.Drives[i].ReadOnly ? "true" : "false")}");
            Download("incoming", c.Incoming);
            json.Append(']');
            // (-nic user terminates the guest's HTTPS with BouncyCastle, an assembly the page loads only then)
            if (c.Network != null && c.NetworkRelayUrl == null)
                json.Append(",\"lazyAssemblies\":[\"BouncyCastle.Cryptography.wasm\"]");
            if (c.NetworkRelayUrl != null)
            {
                // The worker opens the relay's WebSocket before Start (an unreachable relay is an error shown then).
                json.Append(",\"relay\":");
                AppendJsonString(json, c.NetworkRelayUrl);
            }
            json.Append(",\"summary\":");
            // (the page's header: which machine runs, and whether it was resumed rather than booted)
            string resumed = c.Incoming != null ? $", resumed from {c.Incoming[(c.Incoming.LastIndexOf('/') + 1)..]}" : "";
            AppendJsonString(json, $"{c.Arch} {c.MachineType}, {QemuCommandLine.FormatSize(c.MemorySize)} RAM{resumed}");
            json.Append('}');
            return json.ToString();
        }
        catch (ConfigException e)
        {
            return ErrorJson(e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // (a parser bug must still end in a visible one-line failure, not a dead worker)
            return ErrorJson($"could not read the flags: {e.Message}");
        }
    }

    /// <summary>Hands over one downloaded image; drives arrive in the order <see cref="Configure"/> listed them.</summary>
    [JSExport]
    public static void SetImage(string role, byte[] data)
    {
        switch (role)
        {
            case "firmware": s_firmware = data; break;
            case "kernel": s_kernel = data; break;
            case "initrd": s_initrd = data; break;
            case "incoming": s_incoming = data; break;
            default: throw new ArgumentException($"unknown image role '{role}'", nameof(role));
        }
    }

    /// <summary>
    /// One -drive as the worker found it: downloaded whole (<paramref name="image"/>), or read by Range requests from
    /// <paramref name="url"/> (<paramref name="image"/> null, <paramref name="size"/> bytes). <paramref name="identity"/>
    /// names the served image (size and HTTP validator): what a snapshot or a persistent overlay records of it.
    /// </summary>
    [JSExport]
    public static void SetDrive(int index, byte[]? image, string url, double size, string identity)
    {
        var d = s_drives[index] ??= new PageDrive();
        d.Image = image;
        d.Url = url;
        d.Size = image?.Length ?? (long)size;
        d.Identity = identity;
    }

    /// <summary>
    /// Keeps drive <paramref name="index"/>'s writes in the origin-private file system as persistent disk
    /// <paramref name="name"/>: its map and data files, opened by the worker (their handle numbers).
    /// </summary>
    [JSExport]
    public static void PersistDrive(int index, string name, int mapFile, int dataFile)
    {
        var d = s_drives[index] ??= new PageDrive();
        d.Persist = name;
        d.MapFile = mapFile;
        d.DataFile = dataFile;
    }

    /// <summary>
    /// Makes persistent disks' writes durable and puts new clusters on record (the worker calls it about once a second,
    /// as a write-back cache is written back; a guest's flush does it at once). Returns "" or the first failure, which the guest also sees as
    /// an I/O error on its next flush.
    /// </summary>
    [JSExport]
    public static string CommitDisks()
    {
        foreach (var d in s_disks)
        {
            // (new clusters a failed flush left waiting count too: they are retried)
            if (d.Overlay is not { IsPersistent: true } overlay || !(overlay.WrittenSinceFlush || overlay.UnrecordedClusterCount > 0))
                continue;
            try
            {
                overlay.Flush();
            }
            catch (IOException e)
            {
                return $"the persistent disk '{d.Persist}' could not keep the guest's writes: {e.Message}";
            }
        }
        return "";
    }

    /// <summary>
    /// The machine's buffers out and its disks flushed; a persistent disk that cannot keep its last writes (a full
    /// quota) was the guest's I/O error when it flushed, and the worker's commits say so on the page.
    /// </summary>
    private static void FlushMachine(Machine m)
    {
        CommitDisks();
        try
        {
            m.Flush();
        }
        catch (IOException)
        {
        }
    }

    private static IBlockBackend OpenDrive(PageDrive d, DriveConfig config)
    {
        if (d.Image == null && d.Url == null)
            throw new ConfigException($"the drive {config.File} was not handed over");
        // The served image is never written: writes go to an overlay over it (in memory, or in the browser for a
        // persistent disk), which is also what a snapshot of the machine carries.
        string identity = $"{d.Url} ({d.Identity})";
        IBlockBackend disk;
        if (d.Image != null)
        {
            disk = new MemoryBlockBackend(d.Image, readOnly: true) { Identity = identity };
            d.Image = null;
        }
        else
        {
            disk = d.Lazy = new RangeBlockBackend(new HttpRangeReader(d.Url!), d.Size, identity);
        }
        if (d.Persist != null)
        {
            try
            {
                return d.Overlay = OverlayBlockBackend.OpenPersistent(disk, new OpfsFile(d.MapFile), new OpfsFile(d.DataFile), d.Identity, d.Persist);
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                disk.Dispose();
                throw new ConfigException($"persist '{d.Persist}': {e.Message}; Wemu.resetDisk('{d.Persist}') discards its writes");
            }
        }
        // Writes stay in the tab, in memory (bounded by the disk's size).
        return config.ReadOnly ? disk : d.Overlay = new OverlayBlockBackend(disk);
    }

    private static byte[]? s_saved;
    private static readonly List<string> s_notes = [];

    /// <summary>What the user must see that did not stop the machine (e.g. a forced resume), one per line, once.</summary>
    [JSExport]
    public static string TakeNotes()
    {
        string notes = string.Join('\n', s_notes);
        s_notes.Clear();
        return notes;
    }

    /// <summary>
    /// vm.save(): the running machine as a snapshot file (between slices: the worker calls it from its loop's
    /// thread), kept for <see cref="TakeSaved"/>; returns "" or why it cannot be saved.
    /// </summary>
    [JSExport]
    public static string Save()
    {
        if (s_machine == null)
            return "no machine is running";
        try
        {
            string error = CommitDisks();
            if (error.Length != 0)
                return $"cannot save this machine: {error}";
            s_machine.Flush();
            var file = new MemoryStream();
            Wemu.Snapshot.MachineSnapshot.Save(s_machine, file);
            s_saved = file.ToArray();
            return "";
        }
        catch (Wemu.Snapshot.SnapshotException e)
        {
            return e.Message;
        }
    }

    /// <summary>The file <see cref="Save"/> made (handed over once).</summary>
    [JSExport]
    public static byte[] TakeSaved()
    {
        var saved = s_saved ?? [];
        s_saved = null;
        return saved;
    }

    /// <summary>
    /// With -incoming, whether the machine saved had the page's share: a snapshot made natively without one resumes
    /// into a machine without one (the layouts must match); otherwise the page adds it as usual.
    /// </summary>
    private static bool SnapshotHasShare()
    {
        if (s_incoming == null)
            return true;
        try
        {
            return Wemu.Snapshot.MachineSnapshot.ReadLayout(s_incoming).Contains($"virtio-mmio/{Wemu.Devices.Virtio.VirtioNinePDevice.Id}", StringComparison.Ordinal);
        }
        catch (Wemu.Snapshot.SnapshotException e)
        {
            throw new ConfigException($"-incoming {s_config?.Incoming}: {e.Message}");
        }
    }

    /// <summary>Builds the machine from the configuration and images; returns "" or a one-line error.</summary>
    [JSExport]
    public static string Start()
    {
        var c = s_config ?? throw new InvalidOperationException("Configure first");
        try
        {
            string? empty = s_firmware?.Length == 0 ? "firmware" : s_kernel?.Length == 0 ? "kernel" : s_initrd?.Length == 0 ? "initrd" : null;
            if (empty != null)
                throw new ConfigException($"the {empty} image is empty");
            var drives = new List<IBlockBackend>();
            s_disks.Clear();
            try
            {
                for (int i = 0; i < s_drives.Length; i++)
                {
                    drives.Add(OpenDrive(s_drives[i] ?? new PageDrive(), c.Drives[i]));
                    s_disks.Add(s_drives[i]);
                }
            }
            catch
            {
                foreach (var d in drives)
                    d.Dispose();
                s_disks.Clear();
                throw;
            }
            // Guest RAM from freshly grown WebAssembly memory needs no clearing (GuestRam.HeapEnd).
            Wemu.Memory.GuestRam.HeapEnd ??= () => (nuint)BrowserWasmLoader.HeapEnd();
            PageNetwork.Forget();
            s_images = new MachineImages
            {
                Firmware = s_firmware,
                Kernel = s_kernel,
                Initrd = s_initrd,
                Drives = drives,
                Serial = c.Serial == "none" ? null : s_serial,
                WasmLoader = BrowserWasmLoader.Instance,
                Entropy = c.Deterministic ? SeededEntropy() : RandomNumberGenerator.Fill,
                // -nic websocket: the relay's NAT, and vm.fetch's connections into the guest beside it.
                NetworkRelay = c.NetworkRelayUrl != null ? () => PageNetwork.WithInbound(BrowserRelayLink.Attach(), c.Network!.MacAddress) : null,
                RtcStartNanoseconds = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000),
                // The page's file tree, on the next free virtio slot (none left: no share, the disks win).
                SharedFolders = drives.Count + 2 <= (BoardCatalog.Find(c.Arch, c.MachineType)?.VirtioSlots ?? 0) && SnapshotHasShare()
                    ? [new SharedFolder(ShareTag, s_files)] : [],
                // -nic user: the stack runs here, its outside is the page's fetch() (PageNetwork).
                NetworkHost = c.Network != null && c.NetworkRelayUrl == null ? PageNetwork.Create(s_files) : null,
            };
            s_drives = [];
            var building = Stopwatch.StartNew();
            s_machine = MachineFactory.Create(c, s_images);
            s_buildMs = building.Elapsed.TotalMilliseconds;
            s_resumeMs = 0;
            if (s_incoming is { } snapshot)
            {
                // Resume instead of booting: the machine just built (same flags) takes the file's state.
                s_incoming = null;
                try
                {
                    building.Restart();
                    Wemu.Snapshot.MachineSnapshot.Load(s_machine, snapshot, c.ForceResume, note => s_notes.Add($"-incoming {c.Incoming}: {note}"));
                    s_resumeMs = building.Elapsed.TotalMilliseconds;
                }
                catch (Wemu.Snapshot.SnapshotException e)
                {
                    s_machine.Dispose();
                    s_machine = null;
                    throw new ConfigException($"-incoming {c.Incoming}: {e.Message}");
                }
            }
            s_running.Restart();
            return "";
        }
        catch (ConfigException e)
        {
            return e.Message;
        }
        catch (OutOfMemoryException)
        {
            return $"this tab has not enough memory for a {QemuCommandLine.FormatSize(c.MemorySize)} guest (try a smaller -m)";
        }
        catch (Exception e)
        {
            // (an image no loader expected, or a bug: the page shows it rather than a dead worker)
            return $"could not start the machine: {e.Message}";
        }
    }

    /// <summary>
    /// Runs up to <paramref name="budget"/> guest instructions, and for about <paramref name="maxMilliseconds"/> at
    /// most (the worker passes input and output only between slices). Returns the <see cref="MachineStatus"/>:
    /// a reset restarts the machine (Running) unless -no-reboot asked to stop; in -icount mode an idle guest
    /// skips virtual time instead of sleeping.
    /// </summary>
    [JSExport]
    public static int RunSlice(int budget, double maxMilliseconds)
    {
        var m = s_machine ?? throw new InvalidOperationException("the machine is not running");
        long end = maxMilliseconds > 0 ? Stopwatch.GetTimestamp() + (long)(maxMilliseconds * Stopwatch.Frequency / 1000) : long.MaxValue;
        var status = m.RunSlice(budget, end);
        if (status == MachineStatus.Idle && m.Clock.Deterministic)
        {
            m.SkipIdleTime();
            status = MachineStatus.Running;
        }
        if (status is MachineStatus.PoweredOff or MachineStatus.ResetRequested)
            FlushMachine(m);
        if (status == MachineStatus.ResetRequested && !s_config!.NoReboot)
        {
            m.Dispose();
            s_machine = MachineFactory.Create(s_config, s_images!);
            status = MachineStatus.Running;
        }
        return (int)status;
    }

    /// <summary>How long an idle guest can sleep before its next timer event (capped: input also wakes it).</summary>
    [JSExport]
    public static double IdleMilliseconds()
    {
        var m = s_machine;
        if (m == null)
            return 0;
        if (PageNetwork.WantsPolling)
            return 0;   // a download in flight: poll the network again at once, not at the guest's next timer
        ulong deadline = m.NextDeadline, now = m.Clock.Now;
        double ms = deadline <= now ? 0 : m.Clock.ToTimeSpan(deadline - now).TotalMilliseconds;
        return Math.Min(ms, 100);
    }

    /// <summary>The guest's exit status after it powered off (0 = success).</summary>
    [JSExport]
    public static int ExitCode() => s_machine?.ExitCode ?? 0;

    /// <summary>Guest output since the last call, or null.</summary>
    [JSExport]
    public static byte[]? TakeSerialOutput() => s_serial.TakeOutput();

    /// <summary>Bytes typed in the page, for the guest's serial line.</summary>
    [JSExport]
    public static void SendSerial(byte[] data) => s_serial.Enqueue(data);

    /// <summary>Counters for <c>vm.stats()</c>: JSON with instructions retired and seconds since start.</summary>
    [JSExport]
    public static string Stats()
    {
        var m = s_machine;
        ulong n = m?.InstructionsRetired ?? 0;
        double s = s_running.Elapsed.TotalSeconds;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("instructions", n);
            w.WriteNumber("seconds", s);
            w.WriteNumber("mips", s > 0 ? n / s / 1e6 : 0);
            // (the guest's time: the machine's clock, which the guest's timer and time stamp counter read)
            w.WriteNumber("guestClockSeconds", m == null ? 0 : m.Clock.Now / (double)m.Clock.Frequency);
            w.WriteNumber("slicesEndedByTime", m?.SlicesEndedByTime ?? 0);
            w.WriteString("engine", m?.EngineName ?? "");
            w.WriteNumber("buildMs", s_buildMs);
            w.WriteNumber("resumeMs", s_resumeMs);
            w.WriteString("resumeDetail", Wemu.Snapshot.MachineSnapshot.LastLoad);
            w.WriteStartArray("disks");
            foreach (var d in s_disks)
            {
                w.WriteStartObject();
                w.WriteString("url", d.Url);
                w.WriteNumber("size", d.Size);
                w.WriteBoolean("ranges", d.Lazy != null);
                if (d.Lazy != null)
                {
                    w.WriteNumber("fetchedBytes", d.Lazy.BytesFetched);
                    w.WriteNumber("requests", d.Lazy.Requests);
                    w.WriteNumber("cachedBytes", d.Lazy.CachedBytes);
                }
                if (d.Persist != null)
                    w.WriteString("persist", d.Persist);
                if (d.Overlay != null)
                {
                    // (what the guest wrote: kept in the browser for a persistent disk, else in the tab's memory)
                    w.WriteNumber("overlayBytes", (long)d.Overlay.DirtyClusterCount * 4096);
                    w.WriteNumber("keptBytes", d.Overlay.RecordedBytes);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (m?.JitStatistics is { } j)
            {
                w.WriteStartObject("jit");
                w.WriteString("backend", m.JitBackend ?? "");
                w.WriteBoolean("wasmInterpreter", m.JitInterpretsInWasm);
                w.WriteNumber("blocksCompiled", j.BlocksCompiled);
                w.WriteNumber("instructionsCompiled", j.InstructionsCompiled);
                w.WriteNumber("compileMs", j.CompileTime.TotalMilliseconds);
                w.WriteNumber("cacheBytes", j.CacheBytes);
                w.WriteNumber("compiledInstructions", j.CompiledInstructions);
                w.WriteNumber("coldInstructions", j.ColdInstructions);
                w.WriteNumber("fallbacks", j.Fallbacks);
                w.WriteNumber("invalidations", j.Invalidations);
                w.WriteNumber("flushes", j.Flushes);
                w.WriteNumber("entries", j.CompiledEntries);
                w.WriteNumber("loadMs", Stopwatch.GetElapsedTime(0, j.LoadTicks).TotalMilliseconds);
                w.WriteNumber("frontEndMs", Stopwatch.GetElapsedTime(0, j.FrontEndTicks).TotalMilliseconds);
                w.WriteNumber("passMs", Stopwatch.GetElapsedTime(0, j.PassTicks).TotalMilliseconds);
                w.WriteString("exits", string.Join(",", j.ExitsByKind));
                w.WriteString("chainReturns", string.Join(",", j.ChainReturns));
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Ends the machine: disk writes flushed, guest RAM freed.</summary>
    [JSExport]
    public static void Stop()
    {
        var m = s_machine;
        s_machine = null;
        s_running.Stop();
        if (m == null)
            return;
        FlushMachine(m);
        m.Dispose();
        if (s_images != null)
            foreach (var d in s_images.Drives)
                d.Dispose();
        s_disks.Clear();
        s_serial.Clear();
    }

    /// <summary>
    /// Creates or replaces the file at <paramref name="path"/> (share-relative: "/hello.txt" is
    /// /mnt/host/hello.txt in the guest), creating missing directories. Returns "" or a one-line error.
    /// </summary>
    [JSExport]
    public static string WriteFile(string path, byte[] data)
    {
        try
        {
            s_files.WriteFile(CheckPath(path), data);
            return "";
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            return $"writeFile('{path}'): {e.Message}";
        }
    }

    /// <summary>The contents of the file at <paramref name="path"/>, or null with the reason in <see cref="TakeFileError"/>.</summary>
    [JSExport]
    public static byte[]? ReadFile(string path)
    {
        try
        {
            s_fileError = null;
            return s_files.ReadFile(CheckPath(path));
        }
        catch (FileNotFoundException)
        {
            s_fileError = s_files.Exists(path) ? $"readFile('{path}'): not a regular file" : $"readFile('{path}'): no such file";
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            s_fileError = $"readFile('{path}'): {e.Message}";
        }
        return null;
    }

    /// <summary>Why the last <see cref="ReadFile"/> returned null.</summary>
    [JSExport]
    public static string TakeFileError()
    {
        string e = s_fileError ?? "no error";
        s_fileError = null;
        return e;
    }

    /// <summary>
    /// The entries of directory <paramref name="path"/> as JSON: <c>{"entries":[{"name","directory","size"}]}</c>
    /// sorted by name, or <c>{"error":"..."}</c>.
    /// </summary>
    [JSExport]
    public static string ListFiles(string path)
    {
        IReadOnlyList<MemoryFileInfo> list;
        try
        {
            list = s_files.ListFiles(CheckPath(path));
        }
        catch (DirectoryNotFoundException)
        {
            return ErrorJson($"listFiles('{path}'): no such directory");
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            return ErrorJson($"listFiles('{path}'): {e.Message}");
        }
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("entries");
            foreach (var f in list)
            {
                w.WriteStartObject();
                w.WriteString("name", f.Name);
                w.WriteBoolean("directory", f.IsDirectory);
                w.WriteNumber("size", f.Length);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Share-relative paths: non-empty, no "..", no NUL (the tree checks the rest).</summary>
    private static string CheckPath(string? path)
    {
        if (string.IsNullOrEmpty(path))
            throw new ArgumentException("empty path");
        if (path.Contains('\0'))
            throw new ArgumentException("the path contains a NUL character");
        foreach (var name in path.Split('/'))
            if (name == "..")
                throw new ArgumentException("'..' is not allowed (paths are inside the share)");
        return path;
    }

    /// <summary>A JSON string literal (RFC 8259 section 7): quote, backslash and control characters escaped.</summary>
    internal static void AppendJsonString(StringBuilder json, string value)
    {
        json.Append('"');
        foreach (char ch in value)
        {
            switch (ch)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                default:
                    if (ch < 0x20 || ch is '\u2028' or '\u2029')
                        json.Append("\\u").Append(((int)ch).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    else
                        json.Append(ch);
                    break;
            }
        }
        json.Append('"');
    }

    private static string ErrorJson(string message)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("error", message);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>A -drive in the page: how the worker handed it over, and what it became.</summary>
    private sealed class PageDrive
    {
        public byte[]? Image;
        public string? Url;
        public long Size;
        public string Identity = "";
        public string? Persist;
        public int MapFile = -1, DataFile = -1;
        public RangeBlockBackend? Lazy;
        public OverlayBlockBackend? Overlay;
    }

    private static Action<Span<byte>> SeededEntropy()
    {
        var rng = new Random(42);
        return span => rng.NextBytes(span);
    }
}
