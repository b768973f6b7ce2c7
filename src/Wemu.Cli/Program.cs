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
            Console.Out.Write(Usage);
            return 0;
        }
        if (args.Length > 0 && args[0] is "--version" or "-version")
        {
            Console.Out.WriteLine("wemu 0.1 (QEMU-compatible flags; riscv64 virt and spike)");
            return 0;
        }
        MachineConfig config;
        MachineImages images;
        try
        {
            config = QemuCommandLine.Parse(args);
            images = HostImages.Resolve(config, out var serial);
            return Run(config, images, serial);
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"wemu: {e.Message}");
            return 2;
        }
    }

    private static int Run(MachineConfig config, MachineImages images, StdioSerial? serial)
    {
        using var terminal = config.Serial == "none" ? null : RawTerminal.Enter();
        int exitCode;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var machine = MachineFactory.Create(config, images);
            var status = RunUntilStopped(machine, serial);
            if (config.DebugItems.Contains("stats"))
            {
                double s = wall.Elapsed.TotalSeconds;
                ulong n = machine.InstructionsRetired;
                string engine = (machine as RiscVMachine)?.Engine.Name ?? "?";
                double idle = System.Diagnostics.Stopwatch.GetElapsedTime(0, s_idleTicks).TotalSeconds;
                Console.Error.WriteLine($"wemu: stats: {n} instructions in {s:F2} s ({n / s / 1e6:F1} M/s), {idle:F2} s idle (guest waiting), engine {engine}");
            }
            if (config.DebugItems.Contains("jit") && machine is RiscVMachine { Engine: Wemu.Cpu.RiscV.RiscVJitEngine jit })
                Console.Error.WriteLine($"wemu: jit: {jit.Statistics}");
            machine.Flush();
            serial?.Flush();
            if (status == MachineStatus.ResetRequested && !config.NoReboot)
                continue;
            exitCode = status == MachineStatus.PoweredOff ? machine.ExitCode : 0;
            break;
        }
        foreach (var d in images.Drives)
            d.Dispose();
        foreach (var f in images.SharedFolders)
            (f.FileSystem as IDisposable)?.Dispose();
        serial?.Flush();
        return exitCode;
    }

    /// <summary>Time spent waiting while the guest idles (WFI with nothing pending), for -d stats.</summary>
    private static long s_idleTicks;

    private static MachineStatus RunUntilStopped(Machine machine, StdioSerial? serial)
    {
        bool debug = Environment.GetEnvironmentVariable("WEMU_TRACE_STATE") == "1";
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (debug && sw.ElapsedMilliseconds > 2000 && machine is RiscVMachine dm)
            {
                sw.Restart();
                var h = dm.Hart;
                h.TryReadCsr(0x344, out ulong mip); h.TryReadCsr(0x304, out ulong mie); h.TryReadCsr(0x300, out ulong ms);
                Console.Error.WriteLine($"[pc={h.ProgramCounter:x} priv={h.Privilege} wait={h.IsWaiting} mip={mip:x} mie={mie:x} mstatus={ms:x} instret={h.InstructionsRetired} now={machine.Clock.Now} deadline={machine.NextDeadline}] {(machine as RiscVVirtMachine)?.DescribeInterrupts()}");
            }
            var status = machine.RunSlice(500_000);
            serial?.Flush();
            if (serial?.QuitRequested == true)
                return MachineStatus.PoweredOff;
            switch (status)
            {
                case MachineStatus.PoweredOff:
                case MachineStatus.ResetRequested:
                    return status;
                case MachineStatus.Idle:
                    if (machine.Clock.Deterministic)
                    {
                        if (machine is RiscVMachine rv)
                            rv.SkipIdleTime();
                        break;
                    }
                    ulong deadline = machine.NextDeadline, now = machine.Clock.Now;
                    var wait = deadline <= now ? TimeSpan.Zero : machine.Clock.ToTimeSpan(deadline - now);
                    if (wait > TimeSpan.FromMilliseconds(50))
                        wait = TimeSpan.FromMilliseconds(50);
                    if (wait > TimeSpan.Zero)
                    {
                        long idleStart = System.Diagnostics.Stopwatch.GetTimestamp();
                        if (serial != null)
                            serial.InputArrived.WaitOne(wait);
                        else
                            Thread.Sleep(wait);
                        s_idleTicks += System.Diagnostics.Stopwatch.GetTimestamp() - idleStart;
                    }
                    break;
            }
        }
    }

    private const string Usage = """
        usage: wemu [riscv64] [options]
          With no -kernel, boots the bundled Linux guest (BusyBox shell on this terminal).
          -M, -machine virt|spike    board (default virt)
          -m SIZE                    RAM, e.g. 256M, 1G (default 256M)
          -smp 1                     number of harts
          -bios PATH|none|default    firmware (default: bundled OpenSBI fw_dynamic)
          -kernel PATH               Linux Image or ELF
          -initrd PATH               initramfs
          -append STRING             kernel command line
          -drive file=F,if=virtio,format=raw[,snapshot=on][,readonly=on]
          -snapshot                  keep all disk writes in memory
          -virtfs local,path=DIR,mount_tag=TAG[,security_model=none|mapped-xattr][,readonly=on]
                                     share DIR over virtio-9p (guest: mount -t 9p TAG /mnt);
                                     the default guest mounts tag 'host' at /mnt/host;
                                     none: [,x-setid=on][,x-chown-root=on][,x-special-files=on]
          -fsdev local,id=X,path=DIR -device virtio-9p-device,fsdev=X,mount_tag=TAG   the same
          -nographic, -serial stdio  serial console on this terminal (the default)
          -no-reboot                 exit when the guest reboots
          -icount shift=N            deterministic time (1 tick per 2^N instructions)
          -d stats                   print instructions executed and speed at exit
          -d jit                     print JIT counters at exit (blocks, compile time, cache, fallbacks)
          -accel tcg[,thresh=N][,tb-size=MB]   JIT (default): compile blocks after N runs
          -accel tcg,backend=native|il   x86-64 machine code (default where it runs) or IL
          -accel interp              interpreter only
        Ctrl-A x quits, Ctrl-A a sends Ctrl-A.

        """;
}
