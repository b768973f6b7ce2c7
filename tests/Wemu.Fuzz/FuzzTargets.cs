using System.Buffers.Binary;
using System.Text;
using Wemu.Devices;
using Wemu.Devices.NineP;
using Wemu.Devices.Virtio;
using Wemu.Machines;
using Wemu.Memory;

namespace Wemu.Fuzz;

/// <summary>
/// The fuzz targets: each takes one input's bytes and feeds them to guest- or user-facing code. A
/// target returns normally for every input the code handles as it should; anything else escapes as an
/// exception, which the fuzzer records as a crash. What "handles" means is the code's contract:
/// * the 9P server and the virtio devices turn every bad input into a guest-visible error, so no
///   exception may escape them at all;
/// * the ELF parser reports a malformed file as <see cref="FormatException"/>, and the machine's
///   loaders and the command-line parser report bad images and flags as <see cref="ConfigException"/>.
/// Compiled into Wemu.Fuzz (afl++ driver) and into Wemu.Tests (which replays the corpus and crash inputs).
/// </summary>
public static class FuzzTargets
{
    public static readonly string[] Names = ["ninep", "virtio-blk", "virtio-9p", "virtio-rng", "virtio-net", "elf", "loader", "cmdline", "net", "http"];

    /// <summary>FUZZ_TRACE=1: say what each input did (for checking that seeds reach past the first error).</summary>
    public static readonly bool Trace = Environment.GetEnvironmentVariable("FUZZ_TRACE") == "1";

    public static Action<byte[]> Get(string name) => name switch
    {
        "ninep" => NineP,
        "virtio-blk" => VirtioBlock,
        "virtio-9p" => VirtioNineP,
        "virtio-rng" => VirtioRng,
        "virtio-net" => VirtioNet,
        "elf" => Elf,
        "loader" => Loader,
        "cmdline" => CommandLine,
        "net" => Network,
        "http" => Http,
        _ => throw new ArgumentException($"unknown fuzz target '{name}'", nameof(name)),
    };

    // ---- 9P: a stream of messages, each delimited by its own size[4] field -------------------------

    public const uint NinePMessageSize = 8192;

    /// <summary>
    /// A 9P2000.L session on a <see cref="MemoryFileSystem"/> holding /file and /dir/inner. The input is
    /// a sequence of messages as a client sends them; each is cut at its size field (clamped to what is
    /// left, at least a header), so real sessions are valid inputs and a bad size shifts the rest.
    /// </summary>
    public static void NineP(byte[] input)
    {
        var server = new NinePServer(NewFileSystem(), NinePMessageSize);
        var reply = new byte[NinePMessageSize];
        var s = input.AsSpan();
        while (s.Length >= 7)
        {
            int n = (int)Math.Clamp(BinaryPrimitives.ReadUInt32LittleEndian(s), 7u, (uint)s.Length);
            int length = server.Handle(s[..n], reply);
            if (length < 7 || length > reply.Length)
                throw new InvalidOperationException($"reply of {length} bytes to a {n}-byte request");
            s = s[n..];
        }
    }

    private static MemoryFileSystem NewFileSystem()
    {
        var fs = new MemoryFileSystem(capacity: 1 << 20);
        fs.WriteFile("/file", "0123456789abcdef"u8);
        fs.WriteFile("/dir/inner", "inner"u8);
        return fs;
    }

    // ---- virtio: one split queue whose rings and descriptors come from the input -------------------

    public const ulong RamBase = 0x8000_0000;
    public const int RamSize = 0x10000;
    public const ulong DescTable = RamBase, AvailRing = RamBase + 0x100, UsedRing = RamBase + 0x200;
    public const int VirtioHeader = 2;

    // Register offsets (virtio spec 1.2, 4.2.2).
    private const ulong DeviceFeatures = 0x10, DeviceFeaturesSel = 0x14, DriverFeatures = 0x20, DriverFeaturesSel = 0x24,
        QueueSel = 0x30, QueueNum = 0x38, QueueReady = 0x44, QueueNotify = 0x50, InterruptStatus = 0x60,
        InterruptAck = 0x64, Status = 0x70, QueueDescLow = 0x80, QueueDriverLow = 0x90, QueueDeviceLow = 0xA0;

    private sealed class NullSink : IInterruptSink
    {
        public void SetIrq(int number, bool level) { }
    }

    private static PhysicalBus? s_bus;
    private static GuestRam? s_ram;

    public static void VirtioBlock(byte[] input) =>
        Virtio(new VirtioBlockDevice(new MemoryBlockBackend(64 * 1024), "fuzz", queueSize: 16), input);

    public static void VirtioNineP(byte[] input) =>
        Virtio(new VirtioNinePDevice(NewFileSystem(), "host", NinePMessageSize, queueSize: 16), input);

    public static void VirtioRng(byte[] input) =>
        Virtio(new VirtioRngDevice(span => span.Fill(0xA5), queueSize: 16), input);

    /// <summary>
    /// virtio-net's receive queue (queue 0) with every feature accepted, so mergeable receive buffers too: three
    /// frames (60, 1000 and 1514 bytes) wait for the guest's buffers, whatever shapes the input gives them.
    /// </summary>
    public static void VirtioNet(byte[] input)
    {
        var frames = new WaitingFrames();
        // The reset that starts the driver's sequence drops frames waiting for the guest: they arrive after it.
        Virtio(new VirtioNetDevice(frames, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], queueSize: 16), input, afterReset: frames.Arrive);
    }

    /// <summary>A link with frames for the guest and nowhere to send the guest's.</summary>
    private sealed class WaitingFrames : Wemu.Net.IEthernetLink
    {
        private readonly Queue<byte[]> _frames = new();

        public void Arrive()
        {
            _frames.Enqueue(new byte[60]);
            _frames.Enqueue(new byte[1000]);
            _frames.Enqueue(new byte[1514]);
        }

        public void ReceiveFrame(ReadOnlySpan<byte> frame)
        {
        }

        public int QueuedFrames => _frames.Count;

        public ReadOnlySpan<byte> PeekFrame() => _frames.Count > 0 ? _frames.Peek() : default;

        public void DequeueFrame() => _frames.TryDequeue(out _);

        public void Poll()
        {
        }

        public void Dispose()
        {
        }
    }

    /// <summary>
    /// The driver side of spec 3.1.1 (reset, features, queue 0 at fixed addresses, DRIVER_OK), with
    /// guest RAM (64 KiB at 0x80000000: descriptors at +0, avail ring at +0x100, used ring at +0x200,
    /// data from +0x400) taken from the input. Input: queue size[1], notifies[1], then RAM bytes.
    /// Each notify after the first makes one more avail entry visible; then the device is reset.
    /// </summary>
    public static void Virtio(IVirtioDevice device, byte[] input, Action? afterReset = null)
    {
        if (s_ram == null)
        {
            s_bus = new PhysicalBus();
            s_ram = s_bus.AddRam(RamBase, RamSize);
        }
        var ram = s_ram.AsSpan();
        ram.Clear();
        if (input.Length < VirtioHeader)
            return;
        input.AsSpan(VirtioHeader, Math.Min(input.Length - VirtioHeader, RamSize)).CopyTo(ram);
        var t = new VirtioMmioTransport(s_bus!, new IrqLine(new NullSink(), 1), device);
        void W(ulong offset, uint value) => t.Write(offset, 4, value);
        uint R(ulong offset) => (uint)t.Read(offset, 4);
        void Address(ulong low, ulong address)
        {
            W(low, (uint)address);
            W(low + 4, (uint)(address >> 32));
        }

        W(Status, 0);
        afterReset?.Invoke();
        W(Status, 1);
        W(Status, 1 | 2);
        W(DeviceFeaturesSel, 0);
        uint f0 = R(DeviceFeatures);
        W(DeviceFeaturesSel, 1);
        uint f1 = R(DeviceFeatures);
        W(DriverFeaturesSel, 0);
        W(DriverFeatures, f0);
        W(DriverFeaturesSel, 1);
        W(DriverFeatures, f1);
        W(Status, 1 | 2 | 8);
        W(QueueSel, 0);
        W(QueueNum, input[0]);
        Address(QueueDescLow, DescTable);
        Address(QueueDriverLow, AvailRing);
        Address(QueueDeviceLow, UsedRing);
        W(QueueReady, 1);
        W(Status, 1 | 2 | 8 | 4);
        int notifies = 1 + (input[1] & 3);
        for (int i = 0; i < notifies; i++)
        {
            if (i > 0)
            {
                var idx = ram.Slice((int)(AvailRing - RamBase) + 2, 2);
                BinaryPrimitives.WriteUInt16LittleEndian(idx, (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(idx) + 1));
            }
            W(QueueNotify, 0);
            W(InterruptAck, R(InterruptStatus));
        }
        if (Trace)
            Console.Error.WriteLine($"virtio: used idx {BinaryPrimitives.ReadUInt16LittleEndian(ram[0x202..])}, device status 0x{R(Status):x}");
        W(Status, 0);
    }

    // ---- images ----------------------------------------------------------------------------------

    /// <summary>The ELF parser alone: a malformed file must be a <see cref="FormatException"/>.</summary>
    public static void Elf(byte[] input)
    {
        try
        {
            var elf = ElfImage.Parse(input);
            if (Trace)
                Console.Error.WriteLine($"elf: {elf.Segments.Count} segments, {elf.Symbols.Count} symbols");
        }
        catch (FormatException e) when (!Trace || Say("elf", e))
        {
        }
    }

    public const ulong LoaderMemory = 16UL << 20;

    /// <summary>
    /// The virt machine's loaders (firmware ELF or raw, kernel ELF or Image, initrd, device tree) on a
    /// 16 MiB machine with the interpreter, or with flag bit 2 the x86 microvm's (bzImage or vmlinux,
    /// zero page, page tables, MP and ACPI tables; bit 3: acpi=off). Input: flags[1] (bit 0: the image is
    /// firmware, else the kernel with -bios none; bit 1: the last initrd[2] bytes-long tail is an initrd,
    /// its length in the two bytes after the flags), then the image. Bad images must be a <see cref="ConfigException"/>.
    /// </summary>
    public static void Loader(byte[] input)
    {
        if (input.Length < 3)
            return;
        byte flags = input[0];
        int initrdLength = (flags & 2) != 0 ? Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(1)), input.Length - 3) : 0;
        byte[] image = input.AsSpan(3, input.Length - 3 - initrdLength).ToArray();
        byte[]? initrd = initrdLength > 0 ? input.AsSpan(input.Length - initrdLength).ToArray() : null;
        var config = (flags & 4) != 0
            ? new MachineConfig { Arch = "x86_64", MachineType = "microvm", MemorySize = LoaderMemory, Accelerator = "interp", Acpi = (flags & 8) == 0 }
            : new MachineConfig { MemorySize = LoaderMemory, Accelerator = "interp", NoFirmware = (flags & 1) == 0 };
        var images = new MachineImages
        {
            Firmware = (flags & 1) != 0 ? image : null,
            Kernel = (flags & 1) == 0 ? image : null,
            Initrd = initrd,
            Entropy = span => span.Clear(),
        };
        try
        {
            using var machine = MachineFactory.Create(config, images);
            if (Trace)
                Console.Error.WriteLine("loader: loaded");
        }
        catch (ConfigException e) when (!Trace || Say("loader", e))
        {
        }
    }

    // ---- the command line ---------------------------------------------------------------------------

    /// <summary>
    /// QEMU flags as the CLI gets them (input starting with NUL: NUL-separated words) or as the page
    /// gets them (a ?args= string split by <see cref="ShellWords"/>). Bad flags must be a
    /// <see cref="ConfigException"/>. A configuration the parser accepts must also be one the devices
    /// it configures accept: each share's mount tag goes to a <see cref="VirtioNinePDevice"/>.
    /// </summary>
    public static void CommandLine(byte[] input)
    {
        string text = Encoding.UTF8.GetString(input);
        MachineConfig config;
        try
        {
            List<string> words = text.StartsWith('\0') ? [.. text[1..].Split('\0')] : ShellWords.Split(text);
            config = QemuCommandLine.Parse(words);
        }
        catch (ConfigException e) when (!Trace || Say("cmdline", e))
        {
            return;
        }
        if (Trace)
            Console.Error.WriteLine($"cmdline: accepted, {config.Drives.Count} drives, {config.SharedFolders.Count} shares");
        foreach (var share in config.SharedFolders)
            _ = new VirtioNinePDevice(new MemoryFileSystem(capacity: 4096), share.MountTag);
    }

    // ---- the user network: Ethernet frames from the guest --------------------------------------------

    /// <summary>
    /// A <see cref="Net.UserNetwork"/> on a scripted host whose TCP connects succeed at once with data to read
    /// and whose names all resolve. The input is a sequence of frames, each a big-endian u16 length and that
    /// many bytes (clamped to what is left); between frames the clock moves 50 ms and the stack is polled, and
    /// every frame for the guest is taken off the queue. Nothing may throw.
    /// </summary>
    public static void Network(byte[] input)
    {
        var host = new FuzzNetworkHost();
        using var network = new Net.UserNetwork(new Net.UserNetworkOptions(), host);
        for (int o = 0; o + 2 <= input.Length;)
        {
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(o)), input.Length - o - 2);
            network.ReceiveFrame(input.AsSpan(o + 2, length));
            o += 2 + length;
            host.Now += 50_000;
            network.Poll();
            while (network.QueuedFrames > 0)
                network.DequeueFrame();
        }
        if (Trace)
            Console.Error.WriteLine($"net: {network.DroppedFrames} dropped, {network.TcpConnectionCount} tcp, {network.UdpBindingCount} udp");
    }

    // ---- HTTP in the page: the guest's requests to fetch(), the guest's responses to vm.fetch -----------

    /// <summary>
    /// The page network's two HTTP parsers as the guest drives them. The first byte picks the side: even, the
    /// bytes are what the guest writes on a connection to the gateway (requests, parsed and turned into fetches by
    /// <c>FetchProxyConnection</c>, which a scripted fetch answers: 200 with a body in pieces, or a failure every
    /// third time); odd, they are a guest server's answer to a <c>vm.fetch</c> request (<c>GuestHttpExchange</c>).
    /// The rest is chunks, each a u16 big-endian length then the bytes (clamped to what is left); after each, the
    /// stack's side reads everything there is. Nothing may throw.
    /// </summary>
    public static void Http(byte[] input)
    {
        if (input.Length == 0)
            return;
        var fetch = new FuzzFetchClient();
        var host = new Net.Fetch.FetchNetworkHost(fetch, "http://127.0.0.1:8000/", _ => { });
        Net.IHostTcpSocket socket;
        if ((input[0] & 1) == 0)
            socket = host.ConnectTcp(Net.UserNetwork.HostLoopback, 8000);
        else
        {
            var fields = new Net.Fetch.HttpFields();
            fields.Add("Accept", "*/*");
            socket = host.FetchIntoGuest(8080, new Net.Fetch.HttpRequest { Method = (input[0] & 2) != 0 ? "HEAD" : "GET", Target = "/", MinorVersion = 1, Fields = fields })!;
        }
        var buffer = new byte[4096];
        for (int o = 1; o + 2 <= input.Length;)
        {
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(o)), input.Length - o - 2);
            var chunk = input.AsSpan(o + 2, length);
            while (!chunk.IsEmpty)
            {
                int n = socket.Send(chunk);
                if (n <= 0)
                    break;
                chunk = chunk[n..];
            }
            o += 2 + length;
            for (int i = 0; i < 1000 && socket.Receive(buffer) > 0; i++)
            {
            }
        }
        socket.ShutdownSend();
        for (int i = 0; i < 1000 && socket.Receive(buffer) > 0; i++)
        {
        }
        socket.Dispose();
        if (host.ActiveFetches != 0)
            throw new InvalidOperationException($"{host.ActiveFetches} fetches still counted after the connection ended");
        if (Trace)
            Console.Error.WriteLine($"http: {fetch.Started} fetches");
    }

    private sealed class FuzzFetchClient : Net.Fetch.IFetchClient
    {
        public int Started;
        private readonly Dictionary<Net.Fetch.FetchExchange, int> _left = [];

        public void Start(Net.Fetch.FetchExchange exchange)
        {
            if (++Started % 3 == 0)
            {
                exchange.Fail("TypeError: Failed to fetch");
                return;
            }
            exchange.Respond(200, "OK", [new("Content-Type", "text/plain")], Started % 2 == 0 ? 3000 : -1);
            _left[exchange] = 3000;
        }

        public void ReadBody(Net.Fetch.FetchExchange exchange)
        {
            while (_left.TryGetValue(exchange, out int left))
            {
                if (left == 0)
                {
                    _left.Remove(exchange);
                    exchange.End();
                    return;
                }
                int n = Math.Min(left, 1000);
                _left[exchange] = left - n;
                if (!exchange.Body(new byte[n]))
                    return;
            }
        }

        public void Cancel(Net.Fetch.FetchExchange exchange) => _left.Remove(exchange);
    }

    private sealed class FuzzNetworkHost : Net.INetworkHost
    {
        public long Now = 1_000_000;

        public long Microseconds => Now;

        public Net.IHostTcpSocket ConnectTcp(uint address, ushort port) => new Tcp();

        public Net.IHostUdpSocket? OpenUdp() => new Udp();

        public Net.IHostTcpListener ListenTcp(uint address, ushort port) => throw new NotSupportedException();

        public Net.IHostUdpSocket ListenUdp(uint address, ushort port) => throw new NotSupportedException();

        public Net.IHostNameQuery ResolveName(string name) => new Query();

        private sealed class Tcp : Net.IHostTcpSocket
        {
            private int _left = 5000;

            public Net.HostSocketState State => Net.HostSocketState.Connected;

            public int Receive(Span<byte> buffer)
            {
                int n = Math.Min(buffer.Length, _left);
                buffer[..n].Fill(0x41);
                _left -= n;
                return n;
            }

            public int Send(ReadOnlySpan<byte> data) => data.Length;

            public void ShutdownSend()
            {
            }

            public void Dispose()
            {
            }
        }

        private sealed class Udp : Net.IHostUdpSocket
        {
            private bool _answered;

            public int ReceiveFrom(Span<byte> buffer, out uint address, out ushort port)
            {
                address = 0x08080808;
                port = 53;
                if (_answered || buffer.Length < 4)
                    return -1;
                _answered = true;
                buffer[..4].Fill(0x42);
                return 4;
            }

            public bool SendTo(ReadOnlySpan<byte> data, uint address, ushort port) => true;

            public void Dispose()
            {
            }
        }

        private sealed class Query : Net.IHostNameQuery
        {
            public bool IsCompleted => true;

            public IReadOnlyList<uint> Addresses => [0x5DB8D822];
        }
    }

    private static bool Say(string target, Exception e)
    {
        Console.Error.WriteLine($"{target}: {e.GetType().Name}: {e.Message}");
        return true;
    }
}
