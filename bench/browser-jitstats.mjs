// The jiterpreter's own counters over a page boot: how often its traces (the wasm it makes of hot C# running in Mono's
// interpreter) fall back to the interpreter, and why, by method. Boots the page with ?debug=1 and the runtime options
// --jiterpreter-stats-enabled --jiterpreter-count-bailouts (plus any --runtime-option given), waits for the shell
// prompt, asks the worker to print the counters (the jiterpreterStats call) and prints them: totals first, then the
// methods whose traces left most often. A measurement of where the page's C# loses time; see docs/PERFORMANCE.md
// (session 21). usage: node bench/browser-jitstats.mjs [SITE_DIR] [--query STRING] [--runtime-option OPT]... [--top N]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../src/Wemu.Web/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
let site = path.join(root, 'artifacts/site'), top = 12;
const query = new URLSearchParams({ debug: '1' });
const options = ['--jiterpreter-stats-enabled', '--jiterpreter-count-bailouts'];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--query') for (const [k, v] of new URLSearchParams(argv[++i])) query.append(k, v);
  else if (argv[i] === '--runtime-option') options.push(argv[++i]);
  else if (argv[i] === '--top') top = Number(argv[++i]);
  else site = argv[i];
}
for (const o of options) query.append('runtime-option', o);
const { server, url } = await serveSite(site, 0);
const browser = await launchChromium();
try {
  const page = await (await browser.newContext()).newPage();
  const lines = [];
  page.on('console', m => lines.push(m.text()));
  await page.addInitScript(() => {
    const wait = setInterval(() => {
      const vm = window.wemu;
      if (!vm) return;
      clearInterval(wait);
      let tail = '';
      vm.onSerial(t => { tail = (tail + t).slice(-16); if (tail.endsWith('/ # ')) window.__prompt = true; });
    }, 1);
  });
  await page.goto(url + '?' + query.toString());
  await page.waitForFunction(() => window.__prompt || window.wemu?.state === 'failed', null, { timeout: 600_000, polling: 50 });
  const st = await page.evaluate(async () => ({ state: window.wemu.state, error: window.wemu.error, stats: await window.wemu.stats() }));
  if (st.state === 'failed') throw new Error(st.error);
  const before = lines.length;
  await page.evaluate(() => window.wemu.call('jiterpreterStats', []));
  await page.waitForTimeout(1000);
  const out = lines.slice(before).map(l => l.replace(/^MONO_WASM: /, ''));
  console.log(`query: ${query.toString()}`);
  console.log(`guest instructions to the prompt: ${(st.stats.instructions / 1e6).toFixed(0)} M, engine ${st.stats.engine}`);
  for (const l of out) if (l.startsWith('//')) console.log(l);
  // "Method: N bailout(s)" then "  Reason xN" lines: the top methods
  const methods = [];
  for (const l of out) {
    const m = /^(\S+): (\d+) bailout\(s\)/.exec(l);
    if (m) methods.push({ name: m[1], count: Number(m[2]), reasons: [] });
    else if (methods.length && /^\s+\S+ x\d+/.test(l)) methods[methods.length - 1].reasons.push(l.trim());
  }
  methods.sort((a, b) => b.count - a.count);
  console.log(`top ${top} traces by bailouts:`);
  for (const m of methods.slice(0, top)) console.log(`  ${m.name}: ${m.count} (${m.reasons.join(', ')})`);
} finally {
  await browser.close();
  server.close();
}
