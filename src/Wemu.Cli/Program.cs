using System.Security.Cryptography;
using Wemu.Devices;
using Wemu.Machines;

namespace Wemu.Cli;

/// <summary>
/// <c>wemu [riscv64] [QEMU flags]</c>: builds a machine from QEMU's flags and runs it with the
/// serial line on this terminal. User errors print one line and exit with status 2.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] is "-h" or "--help" or "-help")
        {
            Console.Out.Write(Usage.Replace("{boards}", Boards()));
            return 0;
        }
        if (args.Length > 0 && args[0] is "--version" or "-version")
        {
            Console.Out.WriteLine("wemu 0.1 (QEMU-compatible flags; riscv64 virt and spike, x86_64 microvm)");
            return 0;
        }
        AppDomain.CurrentDomain.UnhandledException += (_, e) => Fail(e.ExceptionObject as Exception);
        if (args.Length > 0 && args[0] == "relay")
            return RelayCommand.Run(args[1..]);
        MachineConfig? config = null;
        try
        {
            config = QemuCommandLine.Parse(args);
            var images = HostImages.Resolve(config, out var serial);
            s_images = images;
            using var signals = StopSignals.Register();
            return Run(config, images, serial);
        }
        catch (ConfigException e)
        {
            RestoreTerminal();
            CloseDrives();
            Console.Error.WriteLine($"wemu: {OneLine(e.Message)}");
            return 2;
        }
        catch (OutOfMemoryException) when (!s_started && config != null)
        {
            RestoreTerminal();
            CloseDrives();
            Console.Error.WriteLine($"wemu: not enough host memory for this machine (-m {QemuCommandLine.FormatSize(config.MemorySize)})");
            return 2;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>
    /// The last resort for an exception nothing else handled, on any thread: the terminal back to cooked mode,
    /// the disks flushed as far as they can be, one line, and exit status 2 before the machine started, 1 after.
    /// </summary>
    private static int Fail(Exception? e)
    {
        int code = s_started ? 1 : 2;
        RestoreTerminal();
        CloseDrives();
        string what = e == null ? "unknown error" : $"{OneLine(e.Message)} ({e.GetType().Name})";
        Console.Error.WriteLine(s_started ? $"wemu: internal error: {what}" : $"wemu: {what}");
        Console.Error.Flush();
        // From the unhandled-exception event this ends the process before the runtime prints a stack trace.
        Environment.Exit(code);
        return code;
    }

    /// <summary>A stop signal the machine loop did not answer in time: restore, flush what can be, exit.</summary>
    internal static void Abandon(int? signal)
    {
        RestoreTerminal();
        CloseDrives();
        // The machine loop may have answered after all and only be slow to finish its flush (waited for above).
        if (!s_stopReported)
            Console.Error.WriteLine(signal != null ? $"wemu: terminating on signal {signal}" : "wemu: quit while the guest was busy");
        Console.Error.Flush();
        Environment.Exit(0);
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    /// <summary>Set once the guest starts running: failures after this exit with status 1.</summary>
    private static volatile bool s_started;

    private static RawTerminal? s_terminal;

    private static volatile bool s_stopReported;

    private static MachineImages? s_images;

    private static readonly Lock s_closeLock = new();
    private static bool s_drivesClosed;

    private static void RestoreTerminal() => s_terminal?.Dispose();

    /// <summary>
    /// Flushes and closes every disk once, each on its own: one failing disk does not keep the others unflushed.
    /// A second caller (the stop fallback) waits for the first to finish before the process exits.
    /// </summary>
    private static void CloseDrives()
    {
        lock (s_closeLock)
        {
            if (s_images == null || s_drivesClosed)
                return;
            s_drivesClosed = true;
            CloseDrives(s_images.Drives);
        }
    }

    private static void CloseDrives(IReadOnlyList<IBlockBackend> drives)
    {
        for (int i = 0; i < drives.Count; i++)
        {
            var d = drives[i];
            try
            {
                d.Flush();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"wemu: could not flush disk {i}: {OneLine(e.Message)}");
            }
            try
            {
                d.Dispose();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"wemu: could not close disk {i}: {OneLine(e.Message)}");
            }
        }
    }

    /// <summary>The running machine's configuration (for the monitor's named snapshots).</summary>
    private static MachineConfig? s_config;

    private static int Run(MachineConfig config, MachineImages images, StdioSerial? serial)
    {
        s_config = config;
        using var terminal = config.Serial == "none" ? null : RawTerminal.Enter();
        s_terminal = terminal;
        int exitCode;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var machine = MachineFactory.Create(config, images);
            if (config.Incoming is { } incoming)
            {
                // Resume instead of booting (only the first machine: a guest reset boots afresh, as in QEMU).
                if (!Resume(machine, incoming, config.ForceResume))
                    return 1;
                config.Incoming = null;
            }
            s_started = true;
            var status = RunUntilStopped(machine, serial, images.NetworkHost as HostSocketNetwork, s_relayLink?.FrameArrived);
            if (serial?.QuitRequested == true)
                s_stopReported = true;   // Ctrl-A x was answered: the fallback has nothing to say
            if (config.DebugItems.Contains("stats"))
            {
                double s = wall.Elapsed.TotalSeconds;
                ulong n = machine.InstructionsRetired;
                string engine = machine.EngineName;
                double idle = System.Diagnostics.Stopwatch.GetElapsedTime(0, s_idleTicks).TotalSeconds;
                Console.Error.WriteLine($"wemu: stats: {n} instructions in {s:F2} s ({n / s / 1e6:F1} M/s), {idle:F2} s idle (guest waiting), engine {engine}");
            }
            if (config.DebugItems.Contains("jit"))
                Console.Error.WriteLine(machine.JitStatistics is { } jit ? $"wemu: jit: {jit}" : $"wemu: jit: none (engine {machine.EngineName})");
            try
            {
                machine.Flush();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"wemu: could not flush the disks: {OneLine(e.Message)}");
            }
            serial?.Flush();
            if (StopSignals.Received is int signal)
            {
                // As QEMU: a termination signal is a clean exit, with the disks flushed.
                Console.Error.WriteLine($"wemu: terminating on signal {signal}");
                s_stopReported = true;
                exitCode = 0;
                break;
            }
            if (status == MachineStatus.ResetRequested && !config.NoReboot)
                continue;
            exitCode = status == MachineStatus.PoweredOff ? machine.ExitCode : 0;
            break;
        }
        CloseDrives();
        foreach (var f in images.SharedFolders)
            (f.FileSystem as IDisposable)?.Dispose();
        serial?.Flush();
        return exitCode;
    }

    /// <summary>Time spent waiting while the guest idles (WFI with nothing pending), for -d stats.</summary>
    private static long s_idleTicks;

    /// <summary>Longest sleep in select(2) while the guest idles with host sockets open (console latency).</summary>
    private static readonly TimeSpan NetworkIdleStep = TimeSpan.FromMilliseconds(10);

    /// <summary>The -nic websocket link of the machine running now (its frames wake the idle loop).</summary>
    internal static WebSocketEthernetLink? s_relayLink;

    private static MachineStatus RunUntilStopped(Machine machine, StdioSerial? serial, HostSocketNetwork? network, WaitHandle? frameArrived)
    {
        bool debug = Environment.GetEnvironmentVariable("WEMU_TRACE_STATE") == "1";
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (debug && sw.ElapsedMilliseconds > 2000)
            {
                sw.Restart();
                Console.Error.WriteLine($"[{machine.DescribeState()}]");
            }
            if (serial != null && (!serial.MonitorCommands.IsEmpty || s_paused))
            {
                RunMonitorCommands(machine, s_config!, serial);
                if (s_paused && serial.QuitRequested != true && StopSignals.Received == null)
                {
                    WaitHandle.WaitAny([serial.InputArrived, StopSignals.Arrived], 100);
                    continue;
                }
            }
            if (serial?.QuitRequested == true || StopSignals.Received != null)
                return MachineStatus.PoweredOff;
            var status = machine.RunSlice(500_000);
            serial?.Flush();
            if (serial?.QuitRequested == true || StopSignals.Received != null)
                return MachineStatus.PoweredOff;
            switch (status)
            {
                case MachineStatus.PoweredOff:
                case MachineStatus.ResetRequested:
                    return status;
                case MachineStatus.Idle:
                    if (machine.Clock.Deterministic)
                    {
                        machine.SkipIdleTime();
                        break;
                    }
                    ulong deadline = machine.NextDeadline, now = machine.Clock.Now;
                    var wait = deadline <= now ? TimeSpan.Zero : machine.Clock.ToTimeSpan(deadline - now);
                    if (wait > TimeSpan.FromMilliseconds(50))
                        wait = TimeSpan.FromMilliseconds(50);
                    if (wait > TimeSpan.Zero)
                    {
                        long idleStart = System.Diagnostics.Stopwatch.GetTimestamp();
                        WaitHandle[] handles = serial != null ? [serial.InputArrived, StopSignals.Arrived] : [StopSignals.Arrived];
                        if (frameArrived != null)
                            handles = [.. handles, frameArrived];
                        if (network is { HasSockets: true })
                        {
                            // The guest waits, maybe for the network: sleep in select(2) on the host sockets, in
                            // short steps so the console and stop signals are still seen at once.
                            if (WaitHandle.WaitAny(handles, 0) == WaitHandle.WaitTimeout)
                                network.WaitForActivity(wait < NetworkIdleStep ? wait : NetworkIdleStep);
                        }
                        else if (wait >= TimeSpan.FromMilliseconds(1))
                            WaitHandle.WaitAny(handles, wait);   // (whole milliseconds: what is left comes back here below 1 ms)
                        else
                            LibC.SleepFor(wait);   // the last fraction of a millisecond: WaitAny would return at once and spin
                        s_idleTicks += System.Diagnostics.Stopwatch.GetTimestamp() - idleStart;
                    }
                    break;
            }
        }
    }

    /// <summary>Set by the monitor's <c>stop</c>: the machine does not run until <c>cont</c>.</summary>
    private static bool s_paused;

    /// <summary>Loads the snapshot at <paramref name="path"/> into the machine just built; false (after one line) if it cannot.</summary>
    private static bool Resume(Machine machine, string path, bool force)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"wemu: -incoming {path}: {OneLine(e.Message)}");
            return false;
        }
        try
        {
            Wemu.Snapshot.MachineSnapshot.Load(machine, file, force, note => Console.Error.WriteLine($"wemu: -incoming {path}: {note}"));
            return true;
        }
        catch (Wemu.Snapshot.SnapshotException e)
        {
            Console.Error.WriteLine($"wemu: -incoming {path}: {e.Message}");
            return false;
        }
    }

    /// <summary>
    /// The monitor's commands (QEMU's spelling), carried out between slices: <c>migrate file:PATH</c> writes the
    /// running machine (it goes on running), <c>stop</c>/<c>cont</c>, <c>info status</c>, <c>quit</c>, <c>help</c>.
    /// </summary>
    private static void RunMonitorCommands(Machine machine, MachineConfig config, StdioSerial serial)
    {
        while (serial.MonitorCommands.TryDequeue(out var line))
        {
            var words = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string answer = words.Length == 0 ? "" : words[0] switch
            {
                "help" or "h" or "?" => """
                    cont|c -- resume emulation
                    delvm NAME -- delete the named snapshot (in -snapshot-dir)
                    help|? -- show this help
                    info snapshots -- list the named snapshots (in -snapshot-dir)
                    info status -- show the machine's state
                    migrate file:PATH -- save the running machine to PATH (it keeps running); resume with -incoming file:PATH
                    quit|q -- quit the emulator
                    savevm NAME -- save the running machine as NAME in -snapshot-dir; resume with -loadvm NAME
                    stop|s -- stop emulation

                    """,
                "stop" or "s" => Pause(true),
                "cont" or "c" => Pause(false),
                "info" when words.Length > 1 && words[1] == "status" => $"VM status: {(s_paused ? "paused" : "running")}\n",
                "info" when words.Length > 1 && words[1] == "snapshots" => ListSnapshots(config),
                "info" => "info status and info snapshots are the info commands Wemu has\n",
                "quit" or "q" => Quit(serial),
                "migrate" => Migrate(machine, words.Length > 1 ? words[1] : ""),
                "savevm" => Named(config, words, "savevm", file => Migrate(machine, "file:" + file, "savevm")),
                "delvm" => Named(config, words, "delvm", DeleteSnapshot),
                "loadvm" => "loadvm: a running machine is not replaced here; start wemu again with -loadvm NAME (and the same flags)\n",
                _ => $"unknown command: '{words[0]}' (help lists the commands)\n",
            };
            if (serial.QuitRequested)
                return;
            serial.MonitorWrite(answer + (serial.InMonitor ? "(qemu) " : ""));
        }
    }

    private static string Pause(bool paused)
    {
        s_paused = paused;
        return "";
    }

    private static string Quit(StdioSerial serial)
    {
        serial.QuitRequested = true;
        return "";
    }

    /// <summary>A command on a named snapshot: its file in -snapshot-dir, or why there is none.</summary>
    private static string Named(MachineConfig config, string[] words, string command, Func<string, string> run)
    {
        if (words.Length < 2)
            return $"{command}: a snapshot name is needed\n";
        string file;
        try
        {
            file = config.SnapshotFile(words[1]);
        }
        catch (ConfigException e)
        {
            return $"{command}: {e.Message}\n";
        }
        return run(file);
    }

    private static string DeleteSnapshot(string file)
    {
        if (!File.Exists(file))
            return $"delvm: there is no {Path.GetFileNameWithoutExtension(file)}\n";
        try
        {
            File.Delete(file);
            return "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"delvm: {OneLine(e.Message)}\n";
        }
    }

    /// <summary><c>info snapshots</c>: the named snapshots in -snapshot-dir, with their size and date.</summary>
    private static string ListSnapshots(MachineConfig config)
    {
        if (config.SnapshotDir == null)
            return "info snapshots: named snapshots need -snapshot-dir DIR\n";
        if (!Directory.Exists(config.SnapshotDir))
            return "There is no snapshot available.\n";
        var files = new DirectoryInfo(config.SnapshotDir).GetFiles("*.snap").OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            return "There is no snapshot available.\n";
        var sb = new System.Text.StringBuilder("List of snapshots present in " + config.SnapshotDir + ":\nTag                     Size        Date\n");
        foreach (var f in files)
            sb.Append($"{Path.GetFileNameWithoutExtension(f.Name),-24}{f.Length / 1e6,7:F1} MB  {f.LastWriteTime:yyyy-MM-dd HH:mm:ss}\n");
        return sb.ToString();
    }

    private static string Migrate(Machine machine, string uri, string command = "migrate")
    {
        if (!uri.StartsWith("file:", StringComparison.Ordinal) || uri.Length == 5)
            return "migrate: only file:PATH is supported\n";
        string path = uri[5..];
        var watch = System.Diagnostics.Stopwatch.StartNew();
        string temporary = path + ".part";
        try
        {
            if (Path.GetDirectoryName(path) is { Length: > 0 } directory && command == "savevm")
                Directory.CreateDirectory(directory);
            machine.Flush();   // disk writes the guest completed reach the image before the state that relies on them
            using (var f = new FileStream(temporary, FileMode.Create, FileAccess.Write))
                Wemu.Snapshot.MachineSnapshot.Save(machine, f);
            File.Move(temporary, path, overwrite: true);
            return $"{command}: wrote {path} ({new FileInfo(path).Length / 1e6:F1} MB in {watch.ElapsedMilliseconds} ms)\n";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Wemu.Snapshot.SnapshotException)
        {
            try { File.Delete(temporary); } catch (IOException) { }
            return $"{command}: {OneLine(e.Message)}\n";
        }
    }

    /// <summary>The boards of <see cref="BoardCatalog"/>, one line each, for the usage text.</summary>
    private static string Boards() => string.Join("\n", BoardCatalog.Boards.Select(b => $"      {b.Arch,-8} {b.Name,-8} {b.Description}"));

    private const string Usage = """
        usage: wemu [riscv64|x86_64] [options]
          With no -kernel, boots the bundled Linux guest (BusyBox shell on this terminal).
          -M, -machine TYPE[,acpi=on|off]   board, the first of its architecture by default:
        {boards}
          -cpu MODEL                 qemu64 (default) or max on x86_64
          -m SIZE                    RAM, e.g. 256M, 1G (default 256M)
          -smp 1                     number of harts
          -bios PATH|none|default    firmware (default: bundled OpenSBI fw_dynamic)
          -kernel PATH               Linux Image or ELF
          -initrd PATH               initramfs
          -append STRING             kernel command line
          -drive file=F,if=virtio,format=raw[,snapshot=on][,readonly=on]
          -snapshot                  snapshot=on for every disk (writes go to a temporary file)
          -incoming file:PATH        resume the machine saved in PATH (monitor: migrate file:PATH) instead of booting;
                                     the same flags as when it was saved (riscv64 virt, x86_64 microvm)
          -snapshot-dir DIR          where the monitor's savevm NAME writes (DIR/NAME.snap)
          -monitor stdio             QEMU's monitor alone on this terminal (with -serial none); else Ctrl-A c
          -loadvm NAME               resume DIR/NAME.snap (as -incoming) instead of booting
          -force-resume              resume even if a disk image changed since the save (refused by default)
          -virtfs local,path=DIR,mount_tag=TAG[,security_model=none|mapped-xattr][,readonly=on]
                                     share DIR over virtio-9p (guest: mount -t 9p TAG /mnt);
                                     the default guest mounts tag 'host' at /mnt/host;
                                     none: [,x-setid=on][,x-chown-root=on][,x-special-files=on]
          -fsdev local,id=X,path=DIR -device virtio-9p-device,fsdev=X,mount_tag=TAG   the same
          -nic user[,hostfwd=tcp:[ADDR]:PORT-[GUESTADDR]:PORT][,restrict=on][,mac=M]
                                     a virtio-net NIC on the user-mode NAT (guest 10.0.2.15 by DHCP,
                                     10.0.2.2 = the host's 127.0.0.1, DNS 10.0.2.3); hostfwd repeats
          -netdev user,id=N[,...] -device virtio-net-device,netdev=N   the same
          -nic websocket,url=ws://HOST:PORT/net[,mac=M]   a virtio-net NIC on a relay's NAT (wemu relay)
          -netdev websocket,id=N,url=... -device virtio-net-device,netdev=N   the same
          -nographic, -serial stdio  serial console on this terminal (the default)
          -no-reboot                 exit when the guest reboots
          -icount shift=N            deterministic time (1 tick per 2^N instructions)
          -d stats                   print instructions executed and speed at exit
          -d jit                     print JIT counters at exit (blocks, compile time, cache, fallbacks)
          -perfmap                   name generated code for Linux perf (/tmp/perf-PID.map)
          -accel tcg[,thresh=N][,tb-size=MB]   JIT (default): compile blocks after N runs
          -accel tcg,backend=native|il   x86-64 machine code (default where it runs) or IL
          -accel interp              interpreter only
        Ctrl-A x quits, Ctrl-A a sends Ctrl-A, Ctrl-A c switches to the monitor and back (help lists its commands).
        wemu relay [--port N] [--host ADDRESS] [--allow-origin ORIGIN]   a network relay for -nic websocket
                                     and the page: each client gets its own NAT (127.0.0.1:8081 by default)

        """;
}
