using System.Security.Cryptography;
using Wemu.Devices;
using Wemu.Machines;

namespace Wemu.Cli;

/// <summary>Turns the paths in a <see cref="MachineConfig"/> into bytes and backends, with one-line errors.</summary>
public static class HostImages
{
    private static readonly Lazy<BackgroundWorkQueue> s_background = new(() => new BackgroundWorkQueue());

    public static MachineImages Resolve(MachineConfig config, out StdioSerial? serial)
    {
        var (firmware, kernel, initrd) = DefaultGuest.Images(config, FindImage);
        var drives = new List<IBlockBackend>();
        foreach (var d in config.Drives)
        {
            IBlockBackend b;
            bool snapshot = d.Snapshot || config.SnapshotAll;
            try
            {
                b = new FileBlockBackend(d.File, d.ReadOnly || snapshot, snapshotBase: snapshot);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigException($"could not open disk image '{d.File}': {e.Message}");
            }
            if (snapshot)
            {
                try
                {
                    b = new OverlayBlockBackend(b, scratch: new TemporaryOverlayFile());
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    b.Dispose();
                    throw new ConfigException($"could not create the snapshot file for '{d.File}' in {Path.GetTempPath()}: {e.Message}");
                }
            }
            drives.Add(b);
        }
        var shares = new List<SharedFolder>();
        foreach (var f in config.SharedFolders)
        {
            if (!Directory.Exists(f.Path))
                throw new ConfigException($"could not share '{f.Path}': no such directory");
            try
            {
                shares.Add(new SharedFolder(f.MountTag, new HostDirectoryFileSystem(f.Path, new HostShareOptions
                {
                    ReadOnly = f.ReadOnly,
                    MappedXattr = f.SecurityModel == "mapped-xattr",
                    AllowSetId = f.AllowSetId,
                    AllowRootOwner = f.AllowRootOwner,
                    AllowSpecialFiles = f.AllowSpecialFiles,
                })));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                throw new ConfigException($"could not share '{f.Path}': {e.Message}");
            }
        }
        // Nothing larger than guest RAM can be loaded into it (nor into one .NET array).
        long limit = (long)Math.Min(config.MemorySize, (ulong)Array.MaxLength);
        serial = config.Monitor == "stdio" ? new StdioSerial(escapes: false, monitorOnly: true)
            : config.Serial == "none" ? null : new StdioSerial(escapes: true);
        return new MachineImages
        {
            Firmware = firmware == null ? null : ReadFile(firmware, "firmware", limit),
            Kernel = kernel == null ? null : ReadFile(kernel, "kernel", limit),
            Initrd = initrd == null ? null : ReadFile(initrd, "initrd", limit),
            Drives = drives,
            SharedFolders = shares,
            Serial = serial,
            NetworkHost = config.Network != null && config.NetworkRelayUrl == null ? new HostSocketNetwork() : null,
            NetworkRelay = config.NetworkRelayUrl is { } url ? () => Program.s_relayLink = WebSocketEthernetLink.Connect(url) : null,
            Entropy = config.Deterministic ? SeededEntropy() : RandomNumberGenerator.Fill,
            // New IL code is prepared on one background thread (BackgroundWorkQueue) while the interpreter goes on;
            // -icount runs keep everything on one thread so they repeat exactly.
            BackgroundWorker = config.Deterministic ? null : s_background.Value.Enqueue,
            RtcStartNanoseconds = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000),
        };
    }

    private static Action<Span<byte>> SeededEntropy()
    {
        var rng = new Random(42);
        return span => rng.NextBytes(span);
    }

    private static byte[] ReadFile(string path, string what, long limit)
    {
        try
        {
            var bytes = RegularFile.ReadAll(path, limit);
            if (bytes.Length == 0)
                throw new ConfigException($"{what} '{path}' is empty");
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"could not load {what} '{path}': {e.Message}");
        }
    }

    /// <summary>The bundled images: $WEMU_IMAGES, or images/ above the program's folder.</summary>
    public static string FindImage(string relative)
    {
        string? env = Environment.GetEnvironmentVariable("WEMU_IMAGES");
        if (!string.IsNullOrEmpty(env))
        {
            string p = Path.Combine(env, relative);
            if (File.Exists(p))
                return p;
            throw new ConfigException($"bundled image '{relative}' not found in WEMU_IMAGES={env}");
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string p = Path.Combine(dir.FullName, "images", relative);
            if (File.Exists(p))
                return p;
        }
        throw new ConfigException($"bundled image '{relative}' not found (set WEMU_IMAGES to the images/ folder)");
    }
}
