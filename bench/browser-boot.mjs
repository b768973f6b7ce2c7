// Boots the default guest on the default page (artifacts/site) in headless Chromium and prints
// JSON timings: {promptSeconds (navigation -> "/ # "), workerCpuSeconds (the page's worker threads' CPU time, from
// /proc: less noisy than wall time on a shared machine), runtimeSeconds, downloadSeconds, createSeconds,
// guestSeconds (machine running -> prompt), instructions, mips, budget, engine, jit counters}; with
// --workload, then types CMD at the prompt and adds workloadSeconds (sent -> "WORKDONE" printed),
// marks (for each line TIMEMARK<n> the workload prints, when it arrived, in seconds after the command was sent),
// workloadInstructions, workOutput and the counters at the end (after).
// --workload-timeout S: how long the workload may take (default 1200 s; the page's interpreter is slow).
// --setup CMD: run CMD to its end after the prompt, before any workload; the workload's counters start after it (the boot's
// instructions and counters then include it).
// Diagnostics (environment): BENCH_TRACE=FILE writes a Chromium trace of the boot (or with BENCH_TRACE_WORKLOAD=1 of
// the workload) to FILE, of BENCH_TRACE_CATEGORIES (default V8's compiles and GC; bench/trace-summary.mjs sums it up);
// BENCH_CONSOLE=1 copies the page's and its worker's console to stderr; BENCH_THREADS=1 prints every Chromium
// thread's CPU time and page faults at the end to stderr.
// --poke: press Enter when the machine starts running (a machine resumed with -incoming sits at its prompt).
// usage: node bench/browser-boot.mjs [SITE_DIR] [--runtime-option OPT]... [--query STRING] [--setup CMD] [--workload CMD]
//        [--workload-timeout S]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, launchPersistentChromium } from '../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../src/Wemu.Web/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
let site = path.join(root, 'artifacts/site');
let workload = null;
let setup = null;
let workloadTimeout = 1200;
let poke = false;
const query = new URLSearchParams();
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--runtime-option') {   // the page honours runtime-option only with debug=1
    if (!query.has('debug')) query.set('debug', '1');
    query.append('runtime-option', argv[++i]);
  }
  else if (argv[i] === '--query') for (const [k, v] of new URLSearchParams(argv[++i])) query.append(k, v);
  else if (argv[i] === '--workload') workload = argv[++i];
  else if (argv[i] === '--setup') setup = argv[++i];
  else if (argv[i] === '--workload-timeout') workloadTimeout = Number(argv[++i]);
  else if (argv[i] === '--poke') poke = true;
  else site = argv[i];
}
const { server, url } = await serveSite(site, Number(process.env.BENCH_PORT || 0));
// BENCH_PROFILE=DIR (with a fixed BENCH_PORT): the browser keeps its profile there, caches included, so a second run
// measures a returning visitor
const persistent = process.env.BENCH_PROFILE ? await launchPersistentChromium(process.env.BENCH_PROFILE) : null;
const browser = persistent ? persistent.browser() : await launchChromium();
try {
  const context = persistent ?? await browser.newContext();
  const page = await context.newPage();
  if (process.env.BENCH_CONSOLE) page.on('console', m => process.stderr.write('console: ' + m.text() + '\n'));
  // Timestamps taken inside the page, from navigation start: when the machine starts running and
  // when the serial line first ends in the shell prompt.
  await page.addInitScript(poke => {
    window.__bench = {};
    const wait = setInterval(() => {
      const vm = window.wemu;
      if (!vm) return;
      clearInterval(wait);
      window.__bench.created = performance.now();
      let tail = '';
      vm.onProgress(p => { window.__bench.firstProgress ??= performance.now(); });
      vm.onState(s => { if (s === 'running') { window.__bench.running = performance.now(); if (poke) vm.sendSerial('\n'); } });
      window.__bench.out = '';
      window.__bench.marks = {};
      let markTail = '';
      vm.onSerial(t => {
        if (window.__bench.prompt) {
          window.__bench.out += t;
          // a line TIMEMARK<n> the workload prints (echo TIMEMARK''1): when the page saw it, by the host's clock
          // (the whole chunk is searched: one chunk may carry a mark and more than 64 characters after it)
          const text = markTail + t;
          for (const m of text.matchAll(/TIMEMARK(\d+)\r?\n/g))
            window.__bench.marks[m[1]] ??= performance.now();
          markTail = text.slice(-64);
        }
        tail = (tail + t).slice(-16);
        if (!window.__bench.prompt && tail.endsWith('/ # ')) window.__bench.prompt = performance.now();
      });
    }, 1);
  }, poke);
  const q = query.toString();
  const traceBoot = process.env.BENCH_TRACE && !process.env.BENCH_TRACE_WORKLOAD, traceWork = process.env.BENCH_TRACE && process.env.BENCH_TRACE_WORKLOAD;
  const trace = () => browser.startTracing(page, { path: process.env.BENCH_TRACE,
    categories: (process.env.BENCH_TRACE_CATEGORIES || 'v8,v8.wasm,disabled-by-default-v8.gc').split(',') });
  if (traceBoot) await trace();
  await page.goto(url + (q ? '?' + q : ''));
  await page.waitForFunction(() => window.__bench.prompt || window.wemu?.state === 'failed', null, { timeout: 600_000, polling: 50 });
  if (traceBoot) await browser.stopTracing();
  if (setup) {
    // --setup: a command run (to its end) before the workload, outside its counters and times
    await page.evaluate(cmd => { window.wemu.sendSerial(cmd + '; echo SETUP""DONE\n'); }, setup);
    await page.waitForFunction(() => /SETUPDONE\r?\n/.test(window.__bench.out) || window.wemu?.state === 'failed', null, { timeout: workloadTimeout * 1000, polling: 20 });
    await page.evaluate(() => { window.__bench.out = ''; window.__bench.marks = {}; });
  }
  const r = await page.evaluate(async () => ({ ...window.__bench, state: window.wemu.state, error: window.wemu.error, stats: await window.wemu.stats() }));
  if (r.state === 'failed') throw new Error(r.error);
  const t = r.stats.timings;
  let work = {};
  if (workload) {
    if (traceWork) await trace();
    await page.evaluate(cmd => { window.__bench.sent = performance.now(); window.wemu.sendSerial(cmd + '; echo WORK""DONE\n'); }, workload);
    await page.waitForFunction(() => /WORKDONE\r?\n/.test(window.__bench.out) || window.wemu?.state === 'failed', null, { timeout: workloadTimeout * 1000, polling: 20 });
    if (traceWork) await browser.stopTracing();
    const w = await page.evaluate(async () => ({ at: performance.now(), sent: window.__bench.sent, out: window.__bench.out, marks: window.__bench.marks, stats: await window.wemu.stats() }));
    const done = w.out.search(/WORKDONE\r?\n/);
    const marks = Object.fromEntries(Object.entries(w.marks).map(([k, v]) => [k, (v - w.sent) / 1000]));
    work = { workloadSeconds: (w.at - w.sent) / 1000, marks, workloadInstructions: w.stats.instructions - r.stats.instructions,
      workOutput: w.out.slice(0, done + 8), after: { jit: w.stats.jit, instructions: w.stats.instructions } };
  }
  if (process.env.BENCH_THREADS) threadTimes();
  console.log(JSON.stringify({
    workerCpuSeconds: workerCpuSeconds(),
    promptSeconds: r.prompt / 1000,
    runtimeSeconds: t.runtimeMs / 1000, downloadSeconds: t.downloadMs / 1000, createSeconds: t.createMs / 1000,
    guestSeconds: (r.prompt - r.running) / 1000,
    // from the worker's runtime being up to the prompt: flags, the downloads still awaited, images handed over, the machine built, the guest
    afterRuntimeSeconds: ((t.configureMs || 0) + (t.downloadMs || 0) + (t.setImageMs || 0) + (t.createMs || 0) + (r.prompt - r.running)) / 1000,
    pageSeconds: r.created / 1000, workerStartSeconds: (r.firstProgress - r.created) / 1000, runningAtSeconds: r.running / 1000,
    instructions: r.stats.instructions, mips: r.stats.instructions / r.stats.seconds / 1e6, budget: r.stats.budget, loop: r.stats.loop,
    engine: r.stats.engine, jit: r.stats.jit, timings: t, buildMs: r.stats.buildMs, resumeMs: r.stats.resumeMs, resumeDetail: r.stats.resumeDetail, ...work,
  }));
} finally {
  await (persistent ?? browser).close();
  server.close();
}

// Every thread of the running Chromium, from /proc: {process (the --type of its process, or browser), name,
// user and system seconds (USER_HZ is 100 on Linux), minor faults}. Empty where there is no /proc.
function chromiumThreads() {
  const threads = [];
  let pids = [];
  try { pids = fs.readdirSync('/proc').filter(d => /^\d+$/.test(d)); } catch { return threads; }
  for (const pid of pids) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm !== 'chromium' && comm !== 'chrome') continue;
      const kind = (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').match(/--type=([\w-]+)/) || [, 'browser'])[1];
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        try {
          const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
          const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          threads.push({ process: kind, name, user: Number(f[11]) / 100, system: Number(f[12]) / 100, faults: Number(f[7]) });
        } catch { /* the thread ended */ }
      }
    } catch { /* the process ended */ }
  }
  return threads;
}

// The CPU time the page's Web Worker threads used (user + system, while the browser still runs; null where there is
// no /proc): what the machine's thread cost, less sensitive than wall time to the other threads sharing the cores
// (V8's compiler threads, the browser, this script's server). Timed at the end: the boot and any workload.
function workerCpuSeconds() {
  const workers = chromiumThreads().filter(t => t.name.startsWith('DedicatedWorker'));
  return workers.length ? workers.reduce((sum, t) => sum + t.user + t.system, 0) : null;
}

// BENCH_THREADS=1: the Chromium threads' CPU time (user, system) and minor faults to stderr, by process and name
function threadTimes() {
  const by = {};
  for (const t of chromiumThreads()) {
    const e = by[`${t.process}/${t.name}`] ??= { user: 0, system: 0, n: 0, faults: 0 };
    e.user += t.user; e.system += t.system; e.n++; e.faults += t.faults;
  }
  for (const [name, e] of Object.entries(by).sort((a, b) => b[1].user + b[1].system - a[1].user - a[1].system))
    if (e.user + e.system >= 0.05)
      process.stderr.write(`thread ${name} x${e.n}: user ${e.user.toFixed(2)} s, system ${e.system.toFixed(2)} s, ${e.faults} minor faults\n`);
}
