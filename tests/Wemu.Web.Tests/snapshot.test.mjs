// Browser test of snapshots (issue 14): a machine saved natively (./wemu, the monitor's migrate file:) resumes
// in the page with ?args=-incoming URL: no boot, and the marker file and shell variable it had are there. A
// damaged file is a visible one-line error. Needs the site (src/Wemu.Web/build-site.sh) and ./wemu.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../../src/Wemu.Web/server.mjs';
import { saveAtPrompt } from '../../src/Wemu.Web/save-snapshot.mjs';
import { terminalText, waitForTerminal } from './page-terminal.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const site = process.env.WEMU_SITE || path.join(root, 'artifacts/site');
const results = path.join(root, 'artifacts/test-results');
const token = crypto.randomBytes(6).toString('hex');
const snapshotName = `test-resume-${token}.snap`, damagedName = `test-damaged-${token}.snap`;

let browser, server, base;

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'index.html')), `no site in ${site}: run src/Wemu.Web/build-site.sh`);
  fs.mkdirSync(results, { recursive: true });
  await saveAtPrompt(path.join(root, 'wemu'), path.join(site, snapshotName), `echo page-marker-${token} > /tmp/marker; kept=$((6*7))`);
  const bytes = fs.readFileSync(path.join(site, snapshotName));
  bytes[Math.floor(bytes.length / 2)] ^= 0x10;
  fs.writeFileSync(path.join(site, damagedName), bytes);
  ({ server, url: base } = await serveSite(site, 0, '127.0.0.1'));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
  for (const name of [snapshotName, damagedName]) fs.rmSync(path.join(site, name), { force: true });
});

async function openPage(args) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const log = [];
  page.on('console', m => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', e => log.push(`pageerror: ${e.message}`));
  await page.goto(base + '?args=' + encodeURIComponent(args));
  return { page, context, log };
}

test('a machine saved natively resumes in the page with -incoming: no boot, its files and its shell are there', { timeout: 240_000 }, async () => {
  const { page, context, log } = await openPage(`-incoming ${snapshotName}`);
  try {
    await page.waitForFunction(() => window.wemu?.state === 'running' || window.wemu?.state === 'failed', null, { timeout: 120_000 });
    await page.evaluate(() => window.wemu.sendSerial('cat /tmp/marker; echo kept=$kept\n'));
    await waitForTerminal(page, new RegExp(`kept=42`), 60_000, log);
    const text = await terminalText(page);
    assert.match(text, new RegExp(`page-marker-${token}`));
    assert.doesNotMatch(text, /OpenSBI|Linux version/, 'the page booted instead of resuming');
    const stats = await page.evaluate(() => window.wemu.stats());
    assert.equal(stats.timings.prefetched, 1, 'the snapshot, and nothing else, is fetched while the runtime starts');
    await page.screenshot({ path: path.join(results, 'browser-snapshot-resume.png') });
  } finally {
    await context.close();
  }
});

test('a damaged snapshot is a visible one-line error', { timeout: 120_000 }, async () => {
  const { page, context } = await openPage(`-incoming ${damagedName}`);
  try {
    await page.waitForFunction(() => window.wemu?.state === 'failed', null, { timeout: 90_000 });
    await page.waitForSelector('#error', { state: 'visible', timeout: 5_000 });
    assert.match(await page.textContent('#error-text'), /-incoming .*test-damaged.*damaged \(checksum mismatch\)/);
  } finally {
    await context.close();
  }
});
