using System.Diagnostics;
using System.Text;
using Xunit;

namespace Wemu.Tests;

/// <summary>
/// Runs the real <c>wemu</c> command (the CLI built next to the tests) with the repository's
/// images, and talks to the guest through its serial line on stdin/stdout.
/// </summary>
public sealed class WemuProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly object _lock = new();
    private int _consumed;

    public WemuProcess(params string[] args)
        : this(terminal: false, args)
    {
    }

    /// <summary>
    /// Starts the CLI; with <paramref name="terminal"/>, on a pseudo-terminal (util-linux
    /// <c>script</c>), as a user at a terminal runs it: stdin is a tty the CLI puts in raw mode.
    /// </summary>
    public WemuProcess(bool terminal, params string[] args)
        : this(terminal, launcher: false, args)
    {
    }

    /// <summary>Runs the repository's <c>./wemu</c> launcher (the build users run: ahead-of-time compiled on x86-64 Linux; built first if stale).</summary>
    public static WemuProcess Launcher(params string[] args) => new(terminal: false, launcher: true, args);

    /// <summary>Runs the CLI from a bash that first runs <paramref name="setup"/> (resource limits, signal dispositions), then execs it.</summary>
    public static WemuProcess AfterShellSetup(string setup, params string[] args) => new(terminal: false, launcher: false, args, setup);

    private WemuProcess(bool terminal, bool launcher, string[] args, string? shellSetup = null)
    {
        string dll = launcher ? Path.Combine(RepoRoot, "wemu") : Path.Combine(AppContext.BaseDirectory, "Wemu.Cli.dll");
        var psi = new ProcessStartInfo(terminal ? "script" : launcher || shellSetup != null ? "bash" : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (terminal)
        {
            psi.ArgumentList.Add("-qfec");
            psi.ArgumentList.Add(string.Join(' ', new[] { "dotnet", dll }.Concat(args).Select(a => "'" + a.Replace("'", "'\\''") + "'")));
            psi.ArgumentList.Add("/dev/null");
        }
        else if (shellSetup != null)
        {
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(shellSetup + "\nexec dotnet \"$0\" \"$@\"");
            psi.ArgumentList.Add(dll);
            foreach (var a in args)
                psi.ArgumentList.Add(a);
        }
        else
        {
            psi.ArgumentList.Add(dll);
            foreach (var a in args)
                psi.ArgumentList.Add(a);
        }
        psi.Environment["WEMU_IMAGES"] = Path.Combine(RepoRoot, "images");
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { };
        var stdout = new Thread(() => Pump(_process.StandardOutput.BaseStream)) { IsBackground = true };
        var stderr = new Thread(() => Pump(_process.StandardError.BaseStream)) { IsBackground = true };
        stdout.Start();
        stderr.Start();
        _pumps = [stdout, stderr];
    }

    /// <summary>The threads copying stdout and stderr into the output (joined at exit, so nothing printed last is missed).</summary>
    private readonly Thread[] _pumps;

    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "images", "riscv64", "Image")))
                    return d.FullName;
            throw new InvalidOperationException("repository root with images/ not found");
        }
    }

    private void Pump(Stream s)
    {
        var buf = new byte[4096];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            lock (_lock)
                _output.Append(Encoding.UTF8.GetString(buf, 0, n));
        }
    }

    public string Output
    {
        get
        {
            lock (_lock)
                return _output.ToString();
        }
    }

    /// <summary>Waits until <paramref name="text"/> appears after what earlier waits consumed; returns the text in between.</summary>
    public string WaitFor(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            lock (_lock)
            {
                string all = _output.ToString();
                int i = all.IndexOf(text, _consumed, StringComparison.Ordinal);
                if (i >= 0)
                {
                    string between = all[_consumed..(i + text.Length)];
                    _consumed = i + text.Length;
                    return between;
                }
            }
            if (_process.HasExited)
            {
                Thread.Sleep(200);
                lock (_lock)
                    if (_output.ToString().IndexOf(text, _consumed, StringComparison.Ordinal) >= 0)
                        continue;
                Assert.Fail($"wemu exited ({_process.ExitCode}) before printing '{text}'. Output tail:\n{Tail()}");
            }
            Thread.Sleep(20);
        }
        Assert.Fail($"timed out after {timeout.TotalSeconds}s waiting for '{text}'. Output tail:\n{Tail()}");
        return "";
    }

    private string Tail()
    {
        string o = Output;
        return o.Length > 3000 ? o[^3000..] : o;
    }

    /// <summary>The process id of what was started (dotnet running the CLI, or script around it).</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The CLI's stdin, for raw bytes.</summary>
    public Stream Input => _process.StandardInput.BaseStream;

    /// <summary>Sends a POSIX signal (kill -SIGNAL pid).</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public void Send(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>
    /// Types <paramref name="command"/> at the guest's shell prompt and returns what it printed, up to a marker the
    /// shell echoes after it (the marker is split by quotes where it is typed, so the echo of the typing does not
    /// match); then waits for the next prompt.
    /// </summary>
    public string RunShellCommand(string command, TimeSpan timeout)
    {
        Send(command + "; echo cmd\"\"-done\n");
        string output = WaitFor("cmd-done", timeout);
        WaitFor("/ # ", timeout);
        return output;
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
            Assert.Fail($"wemu did not exit within {timeout.TotalSeconds}s. Output tail:\n{Tail()}");
        _process.WaitForExit();
        // The pumps read the pipes themselves (WaitForExit does not wait for them): the last lines, such as -d
        // jit's counters printed at exit, may still be on their way.
        foreach (var pump in _pumps)
            pump.Join(TimeSpan.FromSeconds(10));
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
