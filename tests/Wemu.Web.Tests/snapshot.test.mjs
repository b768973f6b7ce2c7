// Browser test of snapshots (issue 14), the same file both ways: a machine saved natively (./wemu, the
// monitor's migrate file:) resumes in the page with ?args=-incoming URL (no boot; its marker file and shell
// variable are there), and a machine saved in the page (vm.save()) resumes natively. A damaged file is a
// visible one-line error. The same both ways for x86_64 (?arch=x86_64). Needs the site (src/Wemu.Web/build-site.sh) and ./wemu.
import { test, before, after } from 'node:test';
import { spawn } from 'node:child_process';
import os from 'node:os';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../../src/Wemu.Web/server.mjs';
import { saveAtPrompt } from '../../src/Wemu.Web/save-snapshot.mjs';
import { openPage, terminalText, waitForTerminal } from './page-terminal.mjs';

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

/** The page's running machine, saved with vm.save(), written to `file`. */
async function savePage(page, file) {
  const b64 = await page.evaluate(async () => {
    const bytes = new Uint8Array(await (await window.wemu.save()).arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  });
  fs.writeFileSync(file, Buffer.from(b64, 'base64'));
}

/** Runs ./wemu with `args` (a resume), types `command` at the shell it resumes, powers off; its output. */
async function resumeNatively(args, command) {
  const wemu = spawn(path.join(root, 'wemu'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  wemu.stdout.on('data', d => { out += d; });
  wemu.stderr.on('data', d => { out += d; });
  wemu.stdin.write(`${command}; echo DONE-$((2+2))\n`);
  const t0 = Date.now();
  while (!/DONE-4/.test(out) && wemu.exitCode == null && Date.now() - t0 < 60_000) await new Promise(r => setTimeout(r, 50));
  wemu.stdin.write('poweroff\n');
  await new Promise(resolve => wemu.on('exit', resolve));
  return out;
}

const openWithArgs = args => openPage(browser, base + '?args=' + encodeURIComponent(args));

test('a machine saved natively resumes in the page with -incoming: no boot, its files and its shell are there', { timeout: 240_000 }, async () => {
  const { page, context, log } = await openWithArgs(`-incoming ${snapshotName}`);
  try {
    await page.waitForFunction(() => window.wemu?.state === 'running' || window.wemu?.state === 'failed', null, { timeout: 120_000 });
    await page.evaluate(() => window.wemu.sendSerial('cat /tmp/marker; echo kept=$kept\n'));
    await waitForTerminal(page, new RegExp(`kept=42`), 60_000, log);
    const text = await terminalText(page);
    assert.match(text, new RegExp(`page-marker-${token}`));
    assert.doesNotMatch(text, /OpenSBI|Linux version/, 'the page booted instead of resuming');
    assert.match(await page.textContent('#summary'), new RegExp(`^riscv64 virt, 256M RAM, resumed from ${snapshotName}`));
    const stats = await page.evaluate(() => window.wemu.stats());
    assert.equal(stats.timings.prefetched, 1, 'the snapshot, and nothing else, is fetched while the runtime starts');
    await page.screenshot({ path: path.join(results, 'browser-snapshot-resume.png') });
  } finally {
    await context.close();
  }
});

test('a damaged snapshot is a visible one-line error', { timeout: 120_000 }, async () => {
  const { page, context } = await openWithArgs(`-incoming ${damagedName}`);
  try {
    await page.waitForFunction(() => window.wemu?.state === 'failed', null, { timeout: 90_000 });
    await page.waitForSelector('#error', { state: 'visible', timeout: 5_000 });
    assert.match(await page.textContent('#error-text'), /-incoming .*test-damaged.*damaged \(checksum mismatch\)/);
  } finally {
    await context.close();
  }
});

test('a machine saved in the page with vm.save() resumes natively, its files and shell there', { timeout: 300_000 }, async () => {
  const { page, context, log } = await openPage(browser, base);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wemu-page-save-'));
  const file = path.join(dir, 'page.snap');
  try {
    await waitForTerminal(page, /^\/ #[\s\u00a0]*$/m, 180_000, log);
    await page.evaluate(t => window.wemu.sendSerial(`echo saved-in-page-${t} > /tmp/marker; kept=$((7*8)); echo SET-$((1+1))\n`), token);
    await waitForTerminal(page, /^SET-2/m, 60_000, log);
    await savePage(page, file);
    assert.ok(fs.statSync(file).size > 1 << 20, 'the saved file is too small to be a machine');
    // Natively, with a share tagged "host" as the page's machine had (the guest has it mounted on /mnt/host).
    const out = await resumeNatively(['-virtfs', `local,path=${dir},mount_tag=host,security_model=none`, '-incoming', `file:${file}`],
      'cat /tmp/marker; echo kept=$kept; ls /mnt/host');
    assert.match(out, new RegExp(`saved-in-page-${token}`), out.slice(-2000));
    assert.match(out, /kept=56/);
    assert.match(out, /page\.snap/, 'the share the page had mounted is the native folder now');
    assert.doesNotMatch(out, /Linux version|Wemu guest ready/, 'the native machine booted instead of resuming');
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('x86_64 both ways: a machine saved natively resumes in the page, and the page saves it again for ./wemu', { timeout: 400_000 }, async () => {
  const name = `test-x86-${token}.snap`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wemu-page-save-x86-'));
  const file = path.join(dir, 'page-x86.snap');
  await saveAtPrompt(path.join(root, 'wemu'), path.join(site, name), `echo x86-marker-${token} > /tmp/marker; kept=$((6*7))`, ['x86_64']);
  const { page, context, log } = await openPage(browser, base + '?arch=x86_64&args=' + encodeURIComponent(`-incoming ${name}`));
  try {
    await page.waitForFunction(() => window.wemu?.state === 'running' || window.wemu?.state === 'failed', null, { timeout: 120_000 });
    await page.evaluate(() => window.wemu.sendSerial('cat /tmp/marker; echo kept=$kept; uname -m\n'));
    await waitForTerminal(page, /^x86_64/m, 60_000, log);
    const text = await terminalText(page);
    assert.match(text, new RegExp(`x86-marker-${token}`));
    assert.match(text, /kept=42/);
    assert.doesNotMatch(text, /Linux version/, 'the page booted instead of resuming');
    assert.match(await page.textContent('#summary'), new RegExp(`^x86_64 microvm, 256M RAM, resumed from ${name}`));
    // the page's machine goes on, changes, and is saved for the native CLI
    await page.evaluate(t => window.wemu.sendSerial(`echo again-in-page-${t} >> /tmp/marker; kept=$((kept+1)); echo SET-$((2+3))\n`), token);
    await waitForTerminal(page, /^SET-5/m, 60_000, log);
    await savePage(page, file);
    const out = await resumeNatively(['x86_64', '-incoming', `file:${file}`], 'cat /tmp/marker; echo kept=$kept');
    assert.match(out, new RegExp(`x86-marker-${token}`), out.slice(-2000));
    assert.match(out, new RegExp(`again-in-page-${token}`));
    assert.match(out, /kept=43/);
    assert.doesNotMatch(out, /Linux version|Wemu guest ready/, 'the native machine booted instead of resuming');
  } finally {
    await context.close();
    fs.rmSync(path.join(site, name), { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
