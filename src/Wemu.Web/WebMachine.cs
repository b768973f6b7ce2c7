using System.Diagnostics;
using System.Runtime.InteropServices.JavaScript;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Wemu.Devices;
using Wemu.Machines;

namespace Wemu.Web;

/// <summary>
/// The machine inside the Web Worker, driven by wwwroot/worker.js through these exports:
/// <see cref="Configure"/> parses QEMU flags with the CLI's parser and says which images to download,
/// <see cref="SetImage"/> hands each downloaded image over, <see cref="Start"/> builds the machine,
/// then the worker calls <see cref="RunSlice"/> in a loop, posting <see cref="TakeSerialOutput"/> to the
/// page after each slice and sleeping <see cref="IdleMilliseconds"/> when the guest idles.
/// One machine per worker. Errors the user can fix come back as messages, never as hangs.
/// </summary>
[SupportedOSPlatform("browser")]
public static partial class WebMachine
{
    /// <summary>The bundled guest, relative to the site's images/ folder (the CLI's defaults, HostImages.cs).</summary>
    public const string DefaultFirmware = "riscv64/fw_dynamic.bin";
    public const string DefaultKernel = "riscv64/Image";
    public const string DefaultInitrd = "riscv64/initramfs.cpio.gz";
    public const string DefaultAppend = "console=ttyS0";

    /// <summary>
    /// The most guest RAM a tab can have: WebAssembly memory is 32-bit and .NET's is capped at 2 GiB in
    /// all (BROWSER.md), which also holds the runtime, the downloaded images and in-memory disks.
    /// </summary>
    public const ulong MaxMemorySize = 1536UL << 20;

    private static readonly WorkerSerial s_serial = new();
    private static MachineConfig? s_config;
    private static byte[]? s_firmware, s_kernel, s_initrd;
    private static readonly List<byte[]> s_drives = [];
    private static MachineImages? s_images;
    private static Machine? s_machine;
    private static readonly Stopwatch s_running = new();

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
            var c = QemuCommandLine.Parse(all);
            // The IL JIT runs ~6x slower than the interpreter here (DynamicMethods are interpreted by
            // Mono, not compiled: docs/PERFORMANCE.md), so the page uses the interpreter unless the
            // flags ask for an accelerator (-accel tcg) until a WebAssembly backend exists.
            if (!all.Exists(a => a is "-accel" or "--accel"))
                c.Accelerator = "interp";
            if (c.MemorySize > MaxMemorySize)
                throw new ConfigException($"-m {QemuCommandLine.FormatSize(c.MemorySize)} is more than a browser tab can give the guest (at most {QemuCommandLine.FormatSize(MaxMemorySize)}: WebAssembly memory is limited to 2 GiB in all)");
            if (c.SharedFolders.Count > 0)
                throw new ConfigException($"-virtfs/-fsdev share a host folder ('{c.SharedFolders[0].Path}'), and a page has no host folders");
            if (c.Serial == "stdio" || c.Serial == "mon:stdio")
                c.Serial = "stdio";   // in the page, "stdio" is the terminal
            string? firmware = c.Bios, kernel = c.Kernel, initrd = c.Initrd;
            if (c.Arch == "riscv64" && c.MachineType == "virt" && !c.NoFirmware && firmware == null)
                firmware = imagesBase + DefaultFirmware;
            if (c.UsesDefaultGuest)
            {
                kernel = imagesBase + DefaultKernel;
                initrd ??= imagesBase + DefaultInitrd;
                c.Append ??= DefaultAppend;
            }
            s_config = c;
            s_firmware = s_kernel = s_initrd = null;
            s_drives.Clear();

            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteStartArray("downloads");
                void Download(string role, string? url)
                {
                    if (url == null)
                        return;
                    w.WriteStartObject();
                    w.WriteString("role", role);
                    w.WriteString("url", url);
                    w.WriteEndObject();
                }
                Download("firmware", firmware);
                Download("kernel", kernel);
                Download("initrd", initrd);
                foreach (var d in c.Drives)
                    Download("drive", d.File);
                w.WriteEndArray();
                w.WriteString("summary", $"{c.Arch} {c.MachineType}, {QemuCommandLine.FormatSize(c.MemorySize)} RAM");
                w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (ConfigException e)
        {
            return ErrorJson(e.Message);
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
            case "drive": s_drives.Add(data); break;
            default: throw new ArgumentException($"unknown image role '{role}'", nameof(role));
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
            for (int i = 0; i < s_drives.Count; i++)
            {
                var d = c.Drives[i];
                // A downloaded disk lives in memory: writes stay in the tab (as -snapshot) unless read-only.
                drives.Add(new MemoryBlockBackend(s_drives[i], d.ReadOnly));
            }
            s_images = new MachineImages
            {
                Firmware = s_firmware,
                Kernel = s_kernel,
                Initrd = s_initrd,
                Drives = drives,
                Serial = c.Serial == "none" ? null : s_serial,
                Entropy = c.Deterministic ? SeededEntropy() : RandomNumberGenerator.Fill,
                RtcStartNanoseconds = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000),
            };
            s_drives.Clear();
            s_machine = MachineFactory.Create(c, s_images);
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
    }

    /// <summary>
    /// Runs up to <paramref name="budget"/> guest instructions. Returns the <see cref="MachineStatus"/>:
    /// a reset restarts the machine (Running) unless -no-reboot asked to stop; in -icount mode an idle guest
    /// skips virtual time instead of sleeping.
    /// </summary>
    [JSExport]
    public static int RunSlice(int budget)
    {
        var m = s_machine ?? throw new InvalidOperationException("the machine is not running");
        var status = m.RunSlice(budget);
        if (status == MachineStatus.Idle && m.Clock.Deterministic && m is RiscVMachine rv)
        {
            rv.SkipIdleTime();
            status = MachineStatus.Running;
        }
        if (status is MachineStatus.PoweredOff or MachineStatus.ResetRequested)
            m.Flush();
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
            w.WriteString("engine", (m as RiscVMachine)?.Engine.Name ?? "");
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
        m.Flush();
        m.Dispose();
        if (s_images != null)
            foreach (var d in s_images.Drives)
                d.Dispose();
        s_serial.Clear();
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

    private static Action<Span<byte>> SeededEntropy()
    {
        var rng = new Random(42);
        return span => rng.NextBytes(span);
    }
}
