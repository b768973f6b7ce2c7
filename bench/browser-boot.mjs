// Boots the default guest on the default page (artifacts/site) in headless Chromium and prints
// JSON timings: {promptSeconds (navigation -> "/ # "), runtimeSeconds, downloadSeconds, createSeconds,
// guestSeconds (machine running -> prompt), instructions, mips, budget}.
// usage: node bench/browser-boot.mjs [SITE_DIR] [--runtime-option OPT]... [--query STRING]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveSite } from '../src/Wemu.Web/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
let site = path.join(root, 'artifacts/site');
const query = new URLSearchParams();
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--runtime-option') query.append('runtime-option', argv[++i]);
  else if (argv[i] === '--query') for (const [k, v] of new URLSearchParams(argv[++i])) query.append(k, v);
  else site = argv[i];
}
const { server, url } = await serveSite(site, 0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
    '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  // Timestamps taken inside the page, from navigation start: when the machine starts running and
  // when the serial line first ends in the shell prompt.
  await page.addInitScript(() => {
    window.__bench = {};
    const wait = setInterval(() => {
      const vm = window.wemu;
      if (!vm) return;
      clearInterval(wait);
      window.__bench.created = performance.now();
      let tail = '';
      vm.onProgress(p => { window.__bench.firstProgress ??= performance.now(); });
      vm.onState(s => { if (s === 'running') window.__bench.running = performance.now(); });
      vm.onSerial(t => {
        tail = (tail + t).slice(-16);
        if (!window.__bench.prompt && tail.endsWith('/ # ')) window.__bench.prompt = performance.now();
      });
    }, 1);
  });
  const q = query.toString();
  await page.goto(url + (q ? '?' + q : ''));
  await page.waitForFunction(() => window.__bench.prompt || window.wemu?.state === 'failed', null, { timeout: 600_000, polling: 50 });
  const r = await page.evaluate(async () => ({ ...window.__bench, state: window.wemu.state, error: window.wemu.error, stats: await window.wemu.stats() }));
  if (r.state === 'failed') throw new Error(r.error);
  const t = r.stats.timings;
  console.log(JSON.stringify({
    promptSeconds: r.prompt / 1000,
    runtimeSeconds: t.runtimeMs / 1000, downloadSeconds: t.downloadMs / 1000, createSeconds: t.createMs / 1000,
    guestSeconds: (r.prompt - r.running) / 1000,
    pageSeconds: r.created / 1000, workerStartSeconds: (r.firstProgress - r.created) / 1000, runningAtSeconds: r.running / 1000,
    instructions: r.stats.instructions, mips: r.stats.instructions / r.stats.seconds / 1e6, budget: r.stats.budget, loop: r.stats.loop,
  }));
} finally {
  await browser.close();
  server.close();
}
