namespace Wemu.Web;

/// <summary>
/// The WebAssembly app's entry point. The worker (wwwroot/worker.js) never runs it: it creates the
/// runtime and calls <see cref="WebMachine"/>'s exports directly, so nothing starts behind its back.
/// </summary>
public static class Program
{
    public static int Main() => 0;
}
