using System.Collections.Concurrent;

namespace Wemu.Cli;

/// <summary>
/// One worker thread, below the machine thread's priority, that runs queued work in order (the
/// JIT's compiles to native code). One thread rather than the pool: the machine thread keeps a
/// core to itself on small machines, and compiles do not pile up in parallel.
/// </summary>
internal sealed class BackgroundWorkQueue
{
    private readonly BlockingCollection<Action> _queue = [];

    public BackgroundWorkQueue()
    {
        var thread = new Thread(Work) { IsBackground = true, Name = "wemu-jit", Priority = ThreadPriority.BelowNormal };
        thread.Start();
    }

    public void Enqueue(Action work) => _queue.Add(work);

    private void Work()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
            work();
    }
}
