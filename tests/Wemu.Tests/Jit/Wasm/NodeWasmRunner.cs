using System.Diagnostics;
using Xunit;

namespace Wemu.Tests.Jit.Wasm;

/// <summary>
/// Runs WebAssembly modules from the backend in Node.js (V8, the engine Chromium runs them with):
/// each case is a set of modules (table index k+1 holds module k's <c>f</c>), a linear-memory
/// image, the context address and the module to enter. Node instantiates every module against one
/// memory and one function table, as the browser host does, calls <c>f(ctx, count)</c> (the case's count, 0 unless
/// given) and sends back
/// its result and the whole memory. One Node process per batch of cases.
/// </summary>
internal static class NodeWasmRunner
{
    public sealed record Case(byte[][] Modules, byte[] Memory, int Context, int Entry, int Count = 0);

    public sealed record Result(string? Error, int Count, byte[] Memory);

    private const string Script = """
        import fs from 'node:fs';
        const input = fs.readFileSync(process.argv[2]);
        const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
        let at = 0;
        const u32 = () => { const v = dv.getUint32(at, true); at += 4; return v; };
        const bytes = n => { const b = input.subarray(at, at + n); at += n; return b; };
        const cases = u32();
        const out = [];
        for (let c = 0; c < cases; c++) {
          const modules = [];
          for (let n = u32(), k = 0; k < n; k++) modules.push(bytes(u32()));
          const image = bytes(u32());
          const ctx = u32(), entry = u32(), first = dv.getInt32(at, true); at += 4;
          const memory = new WebAssembly.Memory({ initial: Math.ceil(image.length / 65536) });
          new Uint8Array(memory.buffer).set(image);
          const table = new WebAssembly.Table({ element: 'anyfunc', initial: modules.length + 1 });
          let error = '', count = 0;
          try {
            const fns = modules.map((m, k) => {
              const inst = new WebAssembly.Instance(new WebAssembly.Module(m), { m: { h: memory, t: table } });
              table.set(k + 1, inst.exports.f);
              return inst.exports.f;
            });
            count = fns[entry](ctx, first);
          } catch (e) {
            error = String(e && e.stack || e);
          }
          const err = Buffer.from(error, 'utf8');
          const head = Buffer.alloc(12);
          head.writeUInt32LE(err.length, 0); head.writeInt32LE(count, 4); head.writeUInt32LE(image.length, 8);
          out.push(head, err, Buffer.from(memory.buffer, 0, image.length));
        }
        fs.writeFileSync(process.argv[3], Buffer.concat(out));
        """;

    private static readonly string Dir = Directory.CreateTempSubdirectory("wemu-wasm-").FullName;
    private static int s_batch;

    public static IReadOnlyList<Result> Run(IReadOnlyList<Case> cases)
    {
        string script = Path.Combine(Dir, "run.mjs");
        if (!File.Exists(script))
            File.WriteAllText(script, Script);
        int batch = Interlocked.Increment(ref s_batch);
        string inPath = Path.Combine(Dir, $"in{batch}.bin"), outPath = Path.Combine(Dir, $"out{batch}.bin");
        using (var w = new BinaryWriter(File.Create(inPath)))
        {
            w.Write(cases.Count);
            foreach (var c in cases)
            {
                w.Write(c.Modules.Length);
                foreach (var m in c.Modules)
                {
                    w.Write(m.Length);
                    w.Write(m);
                }
                w.Write(c.Memory.Length);
                w.Write(c.Memory);
                w.Write(c.Context);
                w.Write(c.Entry);
                w.Write(c.Count);
            }
        }
        ProcessStartInfo psi;
        try
        {
            psi = new ProcessStartInfo("node", [script, inPath, outPath]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"node failed: {err}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail("node is missing: ./test.sh installs nodejs");
        }
        var results = new List<Result>();
        using (var r = new BinaryReader(File.OpenRead(outPath)))
        {
            foreach (var _ in cases)
            {
                int errLen = r.ReadInt32(), count = r.ReadInt32(), memLen = r.ReadInt32();
                string err = System.Text.Encoding.UTF8.GetString(r.ReadBytes(errLen));
                results.Add(new Result(err.Length > 0 ? err : null, count, r.ReadBytes(memLen)));
            }
        }
        File.Delete(inPath);
        File.Delete(outPath);
        return results;
    }
}
