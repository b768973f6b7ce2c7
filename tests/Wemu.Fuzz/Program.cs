using SharpFuzz;
using Wemu.Fuzz;

// Wemu.Fuzz TARGET                    run under afl-fuzz (SharpFuzz's fork-server protocol, in-process loop)
// Wemu.Fuzz --replay TARGET FILE...   run inputs once each; prints and counts the ones that crash
// Wemu.Fuzz --seeds DIR               writes the seed corpus (DIR/<target>/...), as committed in corpus/
if (args.Length >= 2 && args[0] == "--seeds")
{
    int n = SeedCorpus.Write(args[1]);
    Console.WriteLine($"wrote {n} seed inputs under {args[1]}");
    return 0;
}
if (args.Length >= 2 && args[0] == "--replay" && FuzzTargets.Names.Contains(args[1]))
{
    var replay = FuzzTargets.Get(args[1]);
    int crashes = 0;
    foreach (string file in args.Skip(2))
    {
        try
        {
            replay(File.ReadAllBytes(file));
        }
        catch (Exception e)
        {
            crashes++;
            string where = e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains(" in ") || l.Contains("at Wemu."))?.Trim() ?? "";
            Console.WriteLine($"{file}: {e.GetType().FullName}: {e.Message}");
            Console.WriteLine($"    {where}");
        }
    }
    return crashes == 0 ? 0 : 1;
}
if (args.Length != 1 || !FuzzTargets.Names.Contains(args[0]))
{
    Console.Error.WriteLine("usage: Wemu.Fuzz TARGET | --replay TARGET FILE... | --seeds DIR");
    Console.Error.WriteLine($"targets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
var target = FuzzTargets.Get(args[0]);
Fuzzer.Run(stream =>
{
    using var ms = new MemoryStream();
    stream.CopyTo(ms);
    target(ms.ToArray());
});
return 0;
