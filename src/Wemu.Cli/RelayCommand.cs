using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Wemu.Cli;

/// <summary>
/// <c>wemu relay [--port N] [--host ADDRESS] [--allow-origin ORIGIN]...</c>: runs <see cref="NetworkRelay"/> until
/// SIGINT or SIGTERM. Listens on 127.0.0.1 unless told otherwise, and says where. Bad flags: one line, status 2;
/// an address or port that cannot be had: one line, status 1.
/// </summary>
public static class RelayCommand
{
    public const int DefaultPort = 8081;

    public const string Usage = "usage: wemu relay [--port N (default 8081, 0 = any free port)] [--host ADDRESS (default 127.0.0.1)] [--allow-origin ORIGIN]...";

    public static int Run(IReadOnlyList<string> args)
    {
        int port = DefaultPort;
        string host = "127.0.0.1";
        var origins = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string? Value()
            {
                int eq = a.IndexOf('=');
                if (eq > 0)
                    return a[(eq + 1)..];
                return i + 1 < args.Count ? args[++i] : null;
            }
            string name = a.Contains('=') ? a[..a.IndexOf('=')] : a;
            switch (name)
            {
                case "--port" or "-p":
                    if (!int.TryParse(Value(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) || port > 65535)
                        return Error("invalid --port (0-65535)");
                    break;
                case "--host":
                    host = Value() ?? "";
                    break;
                case "--allow-origin":
                    origins.Add(Value() ?? "");
                    break;
                case "-h" or "--help":
                    Console.Out.WriteLine(Usage);
                    return 0;
                default:
                    return Error($"unknown option '{a}'");
            }
        }
        IPAddress address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(host, out address!))
            return Error($"invalid --host '{host}' (an IP address, e.g. 127.0.0.1 or 0.0.0.0)");
        if (origins.Any(o => o.Length == 0))
            return Error("--allow-origin needs an origin (http://HOST:PORT, or * for any)");

        using var relay = new NetworkRelay(address, port, origins, Console.Out);
        try
        {
            relay.Start();
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"wemu relay: cannot listen on {host}:{port}: {e.Message}");
            return 1;
        }
        Console.Out.WriteLine($"wemu relay: listening on {relay.Url} (a NAT into this host's network)");
        if (!IPAddress.IsLoopback(address))
            Console.Out.WriteLine($"wemu relay: on {host}, every machine that reaches this port can use this host's network through it");
        var stopped = new TaskCompletionSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopped.TrySetResult(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopped.TrySetResult(); });
        var running = relay.RunAsync();
        Task.WaitAny(running, stopped.Task);
        relay.Dispose();
        Console.Out.WriteLine("wemu relay: stopped");
        return 0;
    }

    private static int Error(string message)
    {
        Console.Error.WriteLine($"wemu relay: {message} ({Usage})");
        return 2;
    }
}
