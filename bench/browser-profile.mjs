// A CPU profile of the page's worker (the .NET runtime and the machine) from navigation to the shell
// prompt, taken through the DevTools protocol (the worker is attached paused, profiled from its first
// line). Prints self time by kind of code and the generated WebAssembly modules that took the most:
// a module called from Mono's interpreter is a jiterpreter trace; the JIT's regions are modules too.
// Writes the profile to artifacts/browser-boot.cpuprofile (DevTools can open it).
// With --workload CMD, the profile covers CMD instead (typed at the prompt, until it has run) and the
// JIT's counters over it are printed too.
// --setup CMD runs first, outside the profile.
// usage: node bench/browser-profile.mjs [SITE_DIR] [--query STRING] [--setup CMD] [--workload CMD]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../src/Wemu.Web/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
let site = path.join(root, 'artifacts/site'), query = '', workload = null, setup = null;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--query') query = argv[++i];
  else if (argv[i] === '--workload') workload = argv[++i];
  else if (argv[i] === '--setup') setup = argv[++i];
  else site = argv[i];
}
const { server, url } = await serveSite(site, 0);
const browser = await launchChromium();
try {
  const page = await (await browser.newContext()).newPage();
  const cdp = await page.context().newCDPSession(page);
  let nextId = 0;
  const profiles = [];
  const waiting = [];
  cdp.on('Target.receivedMessageFromTarget', ev => {
    const m = JSON.parse(ev.message);
    if (m.result?.profile) (waiting.shift() ?? (p => profiles.push(p)))(m.result.profile);
  });
  const nextProfile = () => profiles.length ? Promise.resolve(profiles.shift()) : new Promise(resolve => waiting.push(resolve));
  const worker = new Promise(resolve => cdp.on('Target.attachedToTarget', async ev => {
    if (ev.targetInfo.type !== 'worker') return;
    const send = (method, params = {}) => cdp.send('Target.sendMessageToTarget',
      { sessionId: ev.sessionId, message: JSON.stringify({ id: ++nextId, method, params }) });
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 200 });
    await send('Profiler.start');
    await send('Runtime.runIfWaitingForDebugger');
    resolve(send);
  }));
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
  await page.addInitScript(() => {
    window.__prompt = 0;
    const wait = setInterval(() => {
      const vm = window.wemu;
      if (!vm) return;
      clearInterval(wait);
      let tail = '';
      window.__out = '';
      vm.onSerial(t => {
        if (window.__prompt) window.__out += t;
        tail = (tail + t).slice(-16); if (!window.__prompt && tail.endsWith('/ # ')) window.__prompt = performance.now();
      });
    }, 1);
  });
  await page.goto(url + (query ? '?' + query : ''));
  const send = await worker;
  await page.waitForFunction(() => window.__prompt || window.wemu?.state === 'failed', null, { timeout: 600_000, polling: 50 });
  await send('Profiler.stop');
  let p = await nextProfile();
  const prompt = await page.evaluate(() => window.__prompt);
  if (workload && setup) {
    await page.evaluate(cmd => window.wemu.sendSerial(cmd + '; echo SET""UP\n'), setup);
    await page.waitForFunction(() => /SETUP\r?\n/.test(window.__out), null, { timeout: 1_200_000, polling: 20 });
    await page.evaluate(() => { window.__out = ''; });
  }
  if (workload) {
    const before = await page.evaluate(() => window.wemu.stats());
    await send('Profiler.start');
    const sent = await page.evaluate(cmd => { window.wemu.sendSerial(cmd + '; echo WORK""DONE\n'); return performance.now(); }, workload);
    await page.waitForFunction(() => /WORKDONE\r?\n/.test(window.__out) || window.wemu?.state === 'failed', null, { timeout: 1_200_000, polling: 20 });
    const at = await page.evaluate(() => performance.now());
    await send('Profiler.stop');
    p = await nextProfile();
    const after = await page.evaluate(() => window.wemu.stats());
    const out = await page.evaluate(() => window.__out);
    console.log(out.slice(0, out.search(/WORKDONE\r?\n/)).split('\n').slice(-4).join('\n'));
    const d = k => typeof after.jit?.[k] === 'number' ? +(after.jit[k] - before.jit[k]).toFixed(1) : after.jit?.[k];
    console.log(`workload: ${((at - sent) / 1000).toFixed(2)} s wall, ${((after.instructions - before.instructions) / 1e6).toFixed(0)} M instructions; jit over it: ` +
      JSON.stringify(Object.fromEntries(Object.keys(after.jit || {}).map(k => [k, d(k)]))) + `; exits (chained,untranslated,stop,slow) before ${before.jit?.exits} after ${after.jit?.exits}; chained exits back to the host (budget,missing,stale) before ${before.jit?.chainReturns} after ${after.jit?.chainReturns}`);
  }
  fs.mkdirSync(path.join(root, 'artifacts'), { recursive: true });
  fs.writeFileSync(path.join(root, 'artifacts/browser-boot.cpuprofile'), JSON.stringify(p));

  const byId = new Map(p.nodes.map(n => [n.id, n]));
  const kinds = new Map(), modules = new Map();
  const add = (map, key, ms) => map.set(key, (map.get(key) || 0) + ms);
  for (let i = 0; i < p.samples.length; i++) {
    const f = byId.get(p.samples[i]).callFrame, ms = (p.timeDeltas[i + 1] || 0) / 1000;
    let kind;
    if (f.url.startsWith('wasm://wasm/') && !f.url.includes('dotnet')) { kind = 'generated wasm (jiterpreter traces, JIT regions)'; add(modules, f.url.slice(12), ms); }
    else if (/dotnet\.native\..*\.wasm$/.test(f.url)) kind = "dotnet.native.wasm (Mono's runtime and interpreter)";
    else if (f.url.includes('/_framework/')) kind = "the runtime's JS (dotnet*.js: start-up, jiterpreter code generation)";
    else if (f.url.endsWith('worker.js')) kind = 'worker.js';
    else kind = f.functionName || '(unnamed)';   // (idle), (program), Module (V8 compiling wasm), wasm-to-js, ...
    add(kinds, kind, ms);
  }
  const total = [...kinds.values()].reduce((a, b) => a + b, 0);
  console.log(`prompt at ${(prompt / 1000).toFixed(2)} s from navigation; ${workload ? 'workload' : 'worker'} profiled for ${(total / 1000).toFixed(2)} s (load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
  for (const [k, ms] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`${(ms / 1000).toFixed(2).padStart(7)} s ${(100 * ms / total).toFixed(1).padStart(5)} %  ${k}`);
  const top = [...modules].sort((a, b) => b[1] - a[1]);
  console.log(`generated modules with samples: ${top.length}; the largest: ${top.slice(0, 5).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(2)} s`).join(', ')}`);
} finally {
  await browser.close();
  server.close();
}
