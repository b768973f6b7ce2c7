// Sums up a Chromium trace (bench/browser-boot.mjs with BENCH_TRACE=FILE): for each thread and event name, how many
// complete events and their wall time, largest first. With --compile-times FILE instead: a Chromium log from
// CHROMIUM_FLAGS=--js-flags=--trace-wasm-compilation-times (DEBUG=pw:browser copies it to stderr), summed by module
// kind and tier: the runtime's own module (the one with the most functions), the JIT's regions (one function, index 0),
// and the rest (the jiterpreter's traces).
// usage: node bench/trace-summary.mjs TRACE.json [--thread NAME] [--top N]
//        node bench/trace-summary.mjs --compile-times LOG
import fs from 'node:fs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? argv.splice(i, 2)[1] : fallback; };
const compileLog = opt('--compile-times', null);
if (compileLog) {
  const rows = [...fs.readFileSync(compileLog, 'utf8').matchAll(/Compiled function (0x[0-9a-f]+)#(\d+) using (\w+), took (\d+) μs.*?bodysize (\d+)/g)]
    .map(m => ({ module: m[1], index: +m[2], tier: m[3], us: +m[4], body: +m[5] }));
  const functions = {};
  for (const r of rows) functions[r.module] = Math.max(functions[r.module] ?? 0, r.index);
  const runtime = Object.entries(functions).sort((a, b) => b[1] - a[1])[0]?.[0];
  const sums = {};
  for (const r of rows) {
    const kind = r.module === runtime ? 'runtime' : r.index === 0 ? 'regions' : 'other';
    const s = sums[`${kind} ${r.tier}`] ??= { n: 0, ms: 0, bytes: 0 };
    s.n++; s.ms += r.us / 1000; s.bytes += r.body;
  }
  for (const [k, s] of Object.entries(sums).sort())
    console.log(`${k.padEnd(20)} ${String(s.n).padStart(6)} functions ${s.ms.toFixed(0).padStart(7)} ms ${s.bytes} body bytes`);
  process.exit(0);
}
const thread = opt('--thread', null), top = +opt('--top', 40);
const t = JSON.parse(fs.readFileSync(argv[0], 'utf8'));
const events = Array.isArray(t) ? t : t.traceEvents;
const names = new Map();
for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}/${e.tid}`, e.args.name);
const sums = new Map();
for (const e of events) {
  if (e.ph !== 'X') continue;
  const th = names.get(`${e.pid}/${e.tid}`) ?? '?';
  if (thread && th !== thread) continue;
  const k = `${th}\t${e.name}`;
  const s = sums.get(k) ?? { n: 0, ms: 0 };
  s.n++; s.ms += (e.dur ?? 0) / 1000;
  sums.set(k, s);
}
for (const [k, s] of [...sums].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
  const [th, name] = k.split('\t');
  console.log(`${s.ms.toFixed(1).padStart(9)} ms ${String(s.n).padStart(7)}  ${th.slice(0, 28).padEnd(28)} ${name}`);
}
